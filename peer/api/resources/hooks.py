"""Calling the hooks the daemon provides in ``ctx.services`` (adopt, remove node).

A hook is an async callable; when the daemon did not provide one, the API says
so with 503 ``not_available`` rather than pretending it worked.
"""

from __future__ import annotations

import inspect
from typing import Any

from peer.api.errors import ApiError, Unavailable
from peer.context import PeerContext


async def call_hook(ctx: PeerContext, name: str, *args: Any) -> Any:
    hook = ctx.services.get(name)
    if hook is None or not callable(hook):
        raise Unavailable(
            f"this peer cannot do that: no {name!r} service is running", code="not_available"
        )
    try:
        result = hook(*args)
        if inspect.isawaitable(result):
            result = await result
    except ApiError:
        raise
    except ValueError as e:
        # Hooks refuse bad requests with ValueError; the message is for the user.
        raise ApiError(str(e), code=f"{name}_refused") from None
    return result
