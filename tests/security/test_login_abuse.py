"""Hole 7: login abuse.

On the parent commit parallel wrong passwords were all checked (the lock was
looked at before the check, the failure counted after), and five failures from
anywhere locked ``admin`` for everyone. Now an attempt is reserved before its
check, the lock is per user *and* source address, and each source has a budget.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from peer.auth.roles import Role
from peer.auth.throttle import LoginThrottle, Throttled
from tests.peer.api.conftest import add_user, client, ctx, store  # noqa: F401

PASSWORD = "pw-" + "x" * 10


async def _login(session: aiohttp.ClientSession, url: str, user: str, pw: str) -> int:
    async with session.post(
        f"{url}/api/v1/auth/login", json={"username": user, "password": pw}
    ) as r:
        await r.read()
        return r.status


def _from(address: str) -> aiohttp.ClientSession:
    """A client whose requests come from ``address`` (any 127.x works on Linux)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))


async def test_parallel_guesses_cannot_exceed_the_limit(client, store):  # noqa: F811
    await add_user(store, "admin", Role.ADMIN)
    url = str(client.make_url("")).rstrip("/")
    async with _from("127.0.0.1") as s:
        codes = await asyncio.gather(*(_login(s, url, "admin", "guess") for _ in range(20)))
        # At most 5 guesses were checked (4 answered 401, the 5th locked);
        # the others were refused before any check.
        assert codes.count(401) <= 4, codes
        assert set(codes) <= {401, 423}
        assert await _login(s, url, "admin", PASSWORD) == 423


async def test_a_stranger_cannot_lock_admin_out_for_everyone(client, store):  # noqa: F811
    await add_user(store, "admin", Role.ADMIN)
    url = str(client.make_url("")).rstrip("/")
    async with _from("127.0.0.2") as stranger:
        codes = [await _login(stranger, url, "admin", "guess") for _ in range(8)]
        assert codes[-1] == 423
    async with _from("127.0.0.3") as admin:
        assert await _login(admin, url, "admin", PASSWORD) == 200


async def test_one_source_has_a_budget_across_user_names(client, store):  # noqa: F811
    for i in range(25):
        await add_user(store, f"user{i}", Role.VIEWER)
    url = str(client.make_url("")).rstrip("/")
    async with _from("127.0.0.4") as s:
        codes = [await _login(s, url, f"user{i}", "guess") for i in range(25)]
    assert codes[:20] == [401] * 20 and codes[20:] == [429] * 5


def test_reservations_count_while_in_flight_and_locks_are_per_pair():
    t = LoginThrottle()
    tickets = [t.reserve("admin", "10.0.0.9", 0.0) for _ in range(5)]
    with pytest.raises(Throttled):
        t.reserve("admin", "10.0.0.9", 0.0)  # five checks in flight: no sixth
    locked = [t.failed(x, 1.0) for x in tickets]
    assert locked == [False] * 4 + [True]
    with pytest.raises(Throttled) as e:
        t.reserve("admin", "10.0.0.9", 2.0)
    assert e.value.status == 423 and 890 < e.value.retry_after <= 900
    t.succeeded(t.reserve("admin", "10.0.0.1", 2.0))  # the admin, from elsewhere
    t.unlock("admin", before=3.0)
    t.reserve("admin", "10.0.0.9", 4.0)
