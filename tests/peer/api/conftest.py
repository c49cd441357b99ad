"""Fixtures: an API app on a LocalStore, and tokens for each role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from peer.api.app import build_app
from peer.auth.passwords import hash_password
from peer.auth.roles import Role
from peer.auth.tokens import make_token
from peer.auth.users import user_value
from peer.config import NodeConfig
from peer.context import PeerContext
from raft.store import LocalStore, put

# Cheap scrypt parameters for test users: the real cost is for real passwords.
FAST = {"n": 2**4, "r": 1, "p": 1}


def make_ctx(store: LocalStore, tmp_path: Path, node_id: str = "n1") -> PeerContext:
    return PeerContext(
        config=NodeConfig(data_dir=tmp_path, cluster_name="test"),
        store=store,
        node_id=node_id,
        hostname=f"host-{node_id}",
        address="127.0.0.1",
    )


async def add_user(store: LocalStore, name: str, role: Role, password: str = "pw-" + "x" * 10):
    await store.commit([put("users", name, user_value(role, hash_password(password, **FAST)))])


async def add_token(store: LocalStore, user: str, role: Role, ttl: float | None = None) -> str:
    t = make_token(user, role, "test", ttl, created_by=user)
    await store.commit([put("tokens", t.id, t.value)])
    return t.token


@pytest.fixture
def store() -> LocalStore:
    return LocalStore("n1")


@pytest.fixture
def ctx(store: LocalStore, tmp_path: Path) -> PeerContext:
    return make_ctx(store, tmp_path)


@pytest.fixture
async def client(ctx: PeerContext, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]):
    return await aiohttp_client(build_app(ctx))


@pytest.fixture
async def tokens(store: LocalStore) -> dict[str, str]:
    """A bearer token for each role: {"admin": "qx_...", "operator": ..., "viewer": ...}."""
    out = {}
    for role in Role:
        await add_user(store, role.label, role)
        out[role.label] = await add_token(store, role.label, role)
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
