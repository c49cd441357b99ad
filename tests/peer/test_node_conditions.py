"""Loud failures: what is wrong with a host is said, published and acted on."""

from __future__ import annotations

import pytest

from peer.api import app
from peer.node_record import disk_full_message


def test_a_resource_module_that_does_not_import_is_a_start_up_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        app, "RESOURCE_MODULES", (*app.RESOURCE_MODULES, "peer.api.resources.not_there")
    )
    with pytest.raises(ModuleNotFoundError):
        app.builtin_routes()


def test_disk_full_below_two_percent_free_at_most_256_mib() -> None:
    mib, gib = 1 << 20, 1 << 30
    assert disk_full_message(96 * mib, 0) == "the data disk is full: 0 MiB free of 96 MiB"
    assert disk_full_message(96 * mib, 10 * mib) is None
    assert disk_full_message(1000 * gib, 255 * mib) is not None
    assert disk_full_message(1000 * gib, 257 * mib) is None
