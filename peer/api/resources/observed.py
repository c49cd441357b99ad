"""How the API shows a VM's observed status: ``vm_status`` as its host last
reported it, unless that host has gone silent (peer.ha.manager.silent_hosts)."""

from __future__ import annotations

from typing import Any

from peer.api.routes import ApiRequest

# States that claim the guest is alive: not believed from a host that went silent.
ALIVE_STATES = frozenset({"running", "paused", "shutting_down", "defining", "migrating"})


def silent_hosts(req: ApiRequest) -> set[str]:
    """Hosts whose lease this peer has seen unchanged for longer than fence_after
    (peer.ha.manager): they have fenced themselves, or this peer is cut off."""
    ha = req.ctx.services.get("ha")
    return set(ha.silent_hosts()) if ha is not None else set()


def status_view(status: dict[str, Any] | None, silent: set[str]) -> dict[str, Any] | None:
    """The observed status as the API shows it: a report of a live guest from a
    host gone silent is not current (a fenced host's guests are killed), so it
    reads ``unknown`` until that host or another reports again."""
    if status is None:
        return None
    out = dict(status)
    if out.get("node") in silent and out.get("state") in ALIVE_STATES:
        out.update(state="unknown", reason="host_silent", last_state=out.get("state"))
    return out
