"""node.yaml: defaults, valid settings, and clear errors naming the setting."""

from pathlib import Path

import pytest

from peer.config import ConfigError, load_config, parse_config


def test_empty_file_means_every_default():
    c = parse_config("")
    assert c.api_port == 8443 and c.raft_port == 8444 and c.is_factory
    assert c.data_dir == Path("/var/lib/quantix") and not c.watchdog


def test_missing_file_means_every_default(tmp_path):
    assert load_config(tmp_path / "nope.yaml").is_factory


def test_cluster_and_settings():
    c = parse_config(
        "cluster:\n  name: prod\n  secret: 0123456789abcdef\n"
        "api_port: 9443\nfence_after: 8\nmgmt_address: 10.1.2.3\nlabels: {rack: a1}\n"
    )
    assert c.cluster_name == "prod" and c.cluster_secret == "0123456789abcdef"
    assert (c.api_port, c.fence_after, c.mgmt_address) == (9443, 8.0, "10.1.2.3")
    assert c.labels == {"rack": "a1"}
    assert "0123456789abcdef" not in repr(c)  # the secret never shows in logs


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("api_port: 70000", "api_port"),
        ("fence_after: -1", "fence_after"),
        ("bogus: 1", "bogus"),
        ("mgmt_address: not-an-ip", "mgmt_address"),
        ("cluster:\n  name: Bad_Name\n  secret: 0123456789abcdef", "cluster name"),
        ("cluster:\n  name: ok\n  secret: short", "secret"),
        ("cluster:\n  secret: 0123456789abcdef", "name"),
        ("watchdog: maybe", "watchdog"),
        ("[1, 2", "YAML"),
        ("- a list", "mapping"),
    ],
)
def test_bad_settings_are_named(text, names):
    with pytest.raises(ConfigError, match=names):
        parse_config(text)
