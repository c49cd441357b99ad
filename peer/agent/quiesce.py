"""A snapshot with the guest's file systems frozen (``quiesce: true``).

The agent runs the guest's pre-freeze hooks and freezes its file systems; the
snapshot is taken; the agent thaws and runs the post-thaw hooks, also when the
snapshot failed. If the host dies in between, the agent thaws by itself after
FREEZE_LIMIT_S. No agent, no quiesced snapshot: the caller gets an error
rather than a snapshot silently taken without it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from hypervisor.errors import HypervisorError
from peer.agent.manager import AgentManager

log = logging.getLogger(__name__)

FREEZE_LIMIT_S = 60


async def quiesced(
    agents: AgentManager, vm_id: str, take: Callable[[], Any]
) -> tuple[Any, dict[str, Any]]:
    """Run ``take()`` (blocking; in a thread) between freeze and thaw."""
    frozen = await agents.call(vm_id, "freeze", {"timeout_s": FREEZE_LIMIT_S}, 90.0)
    thawed: Any = None
    try:
        result = await asyncio.to_thread(take)
    finally:
        try:
            thawed = await agents.call(vm_id, "thaw", {}, 90.0)
        except HypervisorError as e:
            log.error("VM %s: thaw after the snapshot failed: %s", vm_id, e.message)
            thawed = {"error": e.message}
    frozen = frozen if isinstance(frozen, dict) else {}
    thawed = thawed if isinstance(thawed, dict) else {}
    return result, {
        "frozen": frozen.get("frozen") or [],
        "skipped": frozen.get("skipped") or [],
        "freeze_hooks": frozen.get("hooks") or [],
        "thaw_hooks": thawed.get("hooks") or [],
        "thaw_error": thawed.get("error"),
    }
