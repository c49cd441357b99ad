"""Joining: the HTTP side of the join handshake (discovery/handshake.py) and adoption.

Responder (any member): ``POST /api/v1/cluster/join/hello`` answers a hello with
its proof; ``POST /api/v1/cluster/join/prove`` checks the joiner's proof, records
the host in the ``nodes`` table as a non-voting replica and answers with the
current voters. The joiner then starts its Raft node as a read-only replica and
catches up; the leader's membership manager (peer/membership.py) promotes
replicas to voters while the cluster has fewer than it should.

Both proofs are bound to the responder's TLS certificate as the joiner saw it,
so a man in the middle cannot relay the handshake. A refusal carries a reason
that both sides log and show in their status.

Adopting a factory-state host (with its pairing code) is peer/pairing.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import aiohttp

from discovery.errors import DiscoveryError
from discovery.handshake import (
    ChallengeBook,
    JoinChallenge,
    JoinHello,
    JoinProve,
    derive_key,
    finish_join,
    start_join,
)
from discovery.model import CLUSTER_NAME_RE, HOSTNAME_RE, NODE_ID_RE
from peer.api.errors import BadRequest, Forbidden, TooManyRequests, Unavailable
from peer.api.routes import ApiRequest, Reply, Routes
from peer.logs import kv
from peer.peertls import normalize_fp, peer_cert_fp, pinned
from peer.ratelimit import RateLimiter
from raft.store import put

log = logging.getLogger("peer.join")

routes = Routes(tag="cluster")

_OBJ = {"type": "object", "additionalProperties": True}
# The schemas say what discovery's parsers accept (the same patterns): the guard
# refuses a malformed body before any handshake code sees it, and a body the
# document calls valid is not then refused as malformed.
_V = {"type": "integer", "enum": [1]}
_NODE_ID = {"type": "string", "pattern": NODE_ID_RE.pattern}
_CLUSTER = {"type": "string", "pattern": CLUSTER_NAME_RE.pattern}
_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
HELLO = {
    "type": "object",
    "required": ["cluster", "node_id", "raft_addr", "nonce"],
    "properties": {
        "v": _V,
        "cluster": _CLUSTER,
        "node_id": _NODE_ID,
        "raft_addr": {"type": "string", "pattern": "^[0-9.]{7,15}:[0-9]{1,5}$"},
        "nonce": _HEX64,
    },
    "additionalProperties": False,
}
PROVE = {
    "type": "object",
    "required": ["node_id", "nonce", "challenge", "proof", "host"],
    "properties": {
        "v": _V,
        "node_id": _NODE_ID,
        "nonce": _HEX64,
        "challenge": _HEX64,
        "proof": _HEX64,
        "host": {
            "type": "object",
            "required": ["hostname", "address", "api_port", "raft_port"],
            "properties": {
                "hostname": {"type": "string", "pattern": HOSTNAME_RE.pattern},
                "address": {"type": "string", "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$"},
                "api_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "raft_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "version": {"type": "string", "pattern": "^[A-Za-z0-9.+_-]{0,32}$"},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
ADMITTED = {
    "type": "object",
    "properties": {
        "cluster_id": {"type": "string"},
        "voters": {"type": "array", "items": {"type": "string"}},
        "leader": {"type": ["string", "null"]},
    },
}
# Open handshake routes (join and pairing hellos) per source address: a burst
# for a host retrying, then one a second — online guessing stays slow, and the
# cached KDF means an answer costs the responder only HMACs.
HELLO_RATE, HELLO_BURST = 1.0, 20


def check_hello_rate(req: ApiRequest) -> None:
    """429 ``rate_limited`` when this source sent too many hellos."""
    limiter = req.ctx.services.get("hello_limiter")
    if not isinstance(limiter, RateLimiter):
        limiter = req.ctx.services["hello_limiter"] = RateLimiter(HELLO_RATE, HELLO_BURST)
    source = req.remote or "?"
    if not limiter.allow(source, time.monotonic()):
        wait = round(limiter.retry_after(source), 1)
        raise TooManyRequests(
            f"too many handshake attempts from {source}; retry in {wait} s", retry_after_s=wait
        )


class JoinRefused(Exception):
    """The other side refused us (or could not prove the secret); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Refusal:
    at: float
    node_id: str
    address: str
    reason: str


class JoinResponder:
    """Member side of joining; lives in ``ctx.services["join"]``."""

    def __init__(self, cluster: str, cluster_id: str, node_id: str, secret: str, cert_fp: str):
        self.book = ChallengeBook(cluster, node_id, cluster_id)
        self.secret = secret
        self.cert_fp = cert_fp
        self.refusals: deque[Refusal] = deque(maxlen=20)

    def refuse(self, node_id: str, address: str, reason: str) -> Forbidden:
        self.refusals.append(Refusal(time.time(), node_id, address, reason))
        log.warning("join refused", extra=kv(node=node_id, remote=address, reason=reason))
        return Forbidden(reason, code="join_refused")

    def status(self) -> dict[str, Any]:
        return {
            "join_refusals": [
                {"at": r.at, "node_id": r.node_id, "address": r.address, "reason": r.reason}
                for r in self.refusals
            ]
        }


def _responder(req: ApiRequest) -> JoinResponder:
    r = req.ctx.services.get("join")
    if not isinstance(r, JoinResponder):
        raise Unavailable("this host is not a cluster member yet", code="not_member")
    return r


@routes.post(
    "/cluster/join/hello",
    role=None,
    summary="Join handshake, step 1: the joiner's hello",
    body=HELLO,
    response=_OBJ,
)
async def join_hello(req: ApiRequest) -> Reply:
    """Open: the answer carries this member's proof of the cluster secret."""
    responder = _responder(req)
    check_hello_rate(req)
    try:
        hello = JoinHello.from_dict(req.body)
        challenge = responder.book.answer(responder.secret, hello, time.time(), responder.cert_fp)
    except DiscoveryError as e:
        raise responder.refuse(str(req.body.get("node_id")), req.remote or "?", str(e)) from None
    return Reply(challenge.to_dict())


@routes.post(
    "/cluster/join/prove",
    role=None,
    summary="Join handshake, step 2: the joiner's proof; admits it as a replica",
    body=PROVE,
    response=ADMITTED,
)
async def join_prove(req: ApiRequest) -> Reply:
    """Open: admits only a joiner that proved the cluster secret."""
    responder = _responder(req)
    host = req.body["host"]
    body = {k: v for k, v in req.body.items() if k != "host"}
    try:
        prove = JoinProve.from_dict(body)
        hello = responder.book.verify(responder.secret, prove, time.time(), responder.cert_fp)
    except DiscoveryError as e:
        raise responder.refuse(str(body.get("node_id")), req.remote or "?", str(e)) from None
    if hello.raft_addr != f"{host['address']}:{host['raft_port']}":
        raise BadRequest("raft_addr does not match the host's address and raft port")
    nid = hello.node_id
    old = req.store.get("nodes", nid)
    value = dict(old.value) if old else {"state": "active", "labels": {}, "voter": False}
    value.update(
        hostname=host["hostname"],
        address=host["address"],
        api_port=host["api_port"],
        raft_port=host["raft_port"],
        raft_addr=hello.raft_addr,
        version_string=host.get("version", ""),
        joined_at=value.get("joined_at") or time.time(),
    )
    if value.get("state") == "removed":
        value["state"] = "active"
    await req.commit(
        [put("nodes", nid, value, expect=old.version if old else "absent")],
        event=("node.joined", "nodes", nid, f"{host['hostname']} ({nid}) joined the cluster"),
    )
    log.info("admitted host", extra=kv(node=nid, raft=hello.raft_addr))
    st = req.store.status()
    voters = list(getattr(req.store, "voters", lambda: st.get("voters", []))())
    return Reply(
        {"cluster_id": responder.book.cluster_id, "voters": voters, "leader": st.get("leader")}
    )


ABORT = {
    "type": "object",
    "required": ["node_id", "challenge", "reason"],
    "properties": {
        "node_id": _NODE_ID,
        "challenge": _HEX64,
        "reason": {"type": "string", "maxLength": 300},
    },
    "additionalProperties": False,
}


@routes.post(
    "/cluster/join/abort",
    role=None,
    summary="Join handshake: the joiner could not verify this member's proof",
    body=ABORT,
    status=204,
)
async def join_abort(req: ApiRequest) -> None:
    """Open: lets a refusal be seen on the member's side too (wrong secret).
    Only an outstanding challenge of that node id is recorded, once."""
    responder = _responder(req)
    pending = responder.book._pending.pop(req.body["challenge"], None)
    if pending is not None and pending.hello.node_id == req.body["node_id"]:
        responder.refuse(
            req.body["node_id"],
            req.remote or "?",
            "the joining host could not verify our proof: its cluster secret differs "
            f"({req.body['reason'][:200]})",
        )


# -- the joiner's side ------------------------------------------------------


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url, json=body) as resp:
        try:
            data: Any = await resp.json(content_type=None)
        except ValueError:
            data = {}
        if resp.status >= 400:
            msg = data.get("message") if isinstance(data, dict) else None
            raise JoinRefused(f"{url}: HTTP {resp.status}: {msg or 'no reason given'}")
        if not isinstance(data, dict):
            raise JoinRefused(f"{url}: answer is not a JSON object")
        return data


async def request_join(
    api_url: str,
    cluster: str,
    secret: str,
    node_id: str,
    host: dict[str, Any],
    timeout: float = 10.0,
    expect_fp: str | None = None,
) -> dict[str, Any]:
    """Run the handshake against the member at ``api_url``; return its admission
    (``cluster_id``, ``voters``, ``leader``). Raises JoinRefused with the reason.

    Every request goes to the certificate read first (pinned): the member's
    proof is bound to that certificate, so a man in the middle either shows its
    own (and the proof fails) or cannot read the connection. ``expect_fp``: the
    certificate the member must show (an adopted host knows its sponsor's)."""
    raft_addr = f"{host['address']}:{host['raft_port']}"
    hello, state = start_join(cluster, node_id, raft_addr)
    # The slow KDF (cached after the first time), off the event loop.
    await asyncio.to_thread(derive_key, secret, cluster)
    try:
        fp = await peer_cert_fp(api_url)
    except (OSError, TimeoutError, ssl.SSLError) as e:
        raise JoinRefused(f"{api_url}: cannot reach it ({type(e).__name__}: {e})") from None
    if expect_fp is not None and fp != normalize_fp(expect_fp):
        raise JoinRefused(f"{api_url}: its certificate is not the one we were told to expect")
    to = aiohttp.ClientTimeout(total=timeout)
    conn = aiohttp.TCPConnector(ssl=pinned(fp), limit=1, force_close=False)
    async with aiohttp.ClientSession(timeout=to, connector=conn) as session:
        try:
            data = await _post(session, f"{api_url}/api/v1/cluster/join/hello", hello.to_dict())
            try:
                challenge = JoinChallenge.from_dict(data)
                prove = finish_join(secret, state, challenge, fp)
            except DiscoveryError as e:
                if isinstance(data, dict) and isinstance(data.get("nonce"), str):
                    # Tell the member, so the refusal shows on both sides.
                    abort = {"node_id": node_id, "challenge": data["nonce"], "reason": str(e)}
                    with contextlib.suppress(JoinRefused):
                        await _post(session, f"{api_url}/api/v1/cluster/join/abort", abort)
                raise JoinRefused(str(e)) from None
            body = {**prove.to_dict(), "host": host}
            admitted = await _post(session, f"{api_url}/api/v1/cluster/join/prove", body)
        except aiohttp.ServerFingerprintMismatch:
            raise JoinRefused(f"{api_url}: its certificate changed during the join") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise JoinRefused(f"{api_url}: cannot reach it ({type(e).__name__}: {e})") from None
    voters = admitted.get("voters")
    if not isinstance(voters, list) or not voters or not all(isinstance(v, str) for v in voters):
        raise JoinRefused(f"{api_url}: the admission lists no voters")
    return admitted
