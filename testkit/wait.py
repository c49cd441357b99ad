"""Waiting on a condition with a deadline: the one helper tests and benches use.

Both forms poll ``predicate`` until it returns something truthy and return that
value; an exception from ``predicate`` counts as "not yet" (the thing may not be
up) and is chained to the timeout. When the deadline passes they raise
``WaitTimeout``, an ``AssertionError`` so pytest reports it as a failed check,
naming ``what`` was awaited and, when ``explain`` is given, what it returns
then (a log tail, the cluster's health: whatever tells why).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not hold before its deadline."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    what: str = "condition",
    interval: float = 0.1,
    explain: Callable[[], object] | None = None,
) -> T:
    """Block (sleeping ``interval`` s between tries) until ``predicate()`` is truthy."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # the thing may not be up yet
            last_exc = e
        if time.monotonic() > deadline:
            raise WaitTimeout(_message(timeout, what, explain)) from last_exc
        time.sleep(interval)


async def async_wait_for(
    predicate: Callable[[], T],
    timeout: float,
    what: str = "condition",
    interval: float = 0.01,
    explain: Callable[[], object] | None = None,
) -> T:
    """As ``wait_for``, yielding to the event loop between tries (for predicates
    over state that tasks on the same loop change)."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # the thing may not be up yet
            last_exc = e
        if time.monotonic() > deadline:
            raise WaitTimeout(_message(timeout, what, explain)) from last_exc
        await asyncio.sleep(interval)


def _message(timeout: float, what: str, explain: Callable[[], object] | None) -> str:
    msg = f"timed out after {timeout}s waiting for {what}"
    if explain is not None:
        try:
            msg += f": {explain()}"
        except Exception as e:  # the explanation must not hide the timeout
            msg += f" (and explaining it failed: {e!r})"
    return msg
