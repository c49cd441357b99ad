"""The southbound database's allowlist, as nft reads it (run in a scratch namespace)."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from peer.net.sbguard import remove_script, script


def test_the_script_names_only_the_tunnel_addresses():
    text = script(6642, ["10.78.0.3", "10.78.0.2", "10.78.0.2"])
    assert "tcp dport 6642 ip saddr @chassis accept" in text
    assert "tcp dport 6642 drop" in text
    assert text.endswith("add element inet quantix_ovn chassis { 10.78.0.2, 10.78.0.3 }\n")
    with pytest.raises(ValueError):
        script(6642, ["10.78.0.2; flush ruleset"])


def test_nft_accepts_it():
    ns = f"qxsb{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for text in (script(6642, ["10.78.0.2"]), script(6642, []), remove_script()):
            done = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text,
                                  capture_output=True, text=True, check=False)  # fmt: skip
            assert done.returncode == 0, done.stderr
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
