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

Adoption: ``POST /api/v1/cluster/adopt`` on a factory-state host takes the cluster
name and secret (inside the TLS body only) and makes the host join.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from discovery.adopt import AdoptPayload, unwrap_secret, wrap_secret
from discovery.errors import DiscoveryError
from discovery.handshake import (
    ChallengeBook,
    JoinChallenge,
    JoinHello,
    JoinProve,
    finish_join,
    start_join,
)
from discovery.model import CLUSTER_ID_RE, CLUSTER_NAME_RE, HOSTNAME_RE, NODE_ID_RE
from peer.api.errors import ApiError, BadRequest, Forbidden, Unavailable
from peer.api.routes import ApiRequest, Reply, Routes
from peer.logs import kv
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
ADOPT_BODY = {
    "type": "object",
    "required": ["v", "cluster_name", "cluster_id", "sponsor", "secret"],
    "properties": {
        "v": _V,
        "cluster_name": _CLUSTER,
        "cluster_id": {"type": "string", "pattern": CLUSTER_ID_RE.pattern},
        "sponsor": _NODE_ID,
        "secret": {"type": "string", "pattern": "^[^\\x00-\\x1f\\x7f]{12,256}$"},
    },
    "additionalProperties": False,
}


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


@routes.post(
    "/cluster/adopt",
    role=None,
    summary="Adopt this factory-state host into a cluster (called by a member)",
    body=ADOPT_BODY,
    response=_OBJ,
    status=202,
)
async def adopt_me(req: ApiRequest) -> Reply:
    """Open only while this host is in factory state; afterwards refused."""
    hook = req.ctx.services.get("accept_adoption")
    if hook is None:
        raise ApiError("this host already belongs to a cluster", code="not_factory", status=409)
    try:
        payload = unwrap_secret(req.body)
    except DiscoveryError as e:
        raise BadRequest(str(e)) from None
    await hook(payload)
    return Reply({"status": "joining", "cluster_name": payload.cluster_name}, status=202)


# -- the joiner's side ------------------------------------------------------


def client_ssl() -> ssl.SSLContext:
    """Peers use self-signed certificates: we do not verify the chain, but the
    join proofs are bound to the certificate we saw (see module docstring)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def peer_cert_fp(api_url: str, timeout: float = 5.0) -> str:
    """SHA-256 of the certificate the host at ``api_url`` presents.

    Read on its own TLS connection (aiohttp hides the one a request used): a
    man in the middle would have to present the same certificate on every
    connection, and then the responder's proofs, bound to its real
    certificate, no longer match.
    """
    url = URL(api_url)
    host, port = url.host or "", url.port or 443
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=client_ssl()), timeout
    )
    try:
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    return hashlib.sha256(der).hexdigest() if der else ""


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
) -> dict[str, Any]:
    """Run the handshake against the member at ``api_url``; return its admission
    (``cluster_id``, ``voters``, ``leader``). Raises JoinRefused with the reason."""
    raft_addr = f"{host['address']}:{host['raft_port']}"
    hello, state = start_join(cluster, node_id, raft_addr)
    to = aiohttp.ClientTimeout(total=timeout)
    conn = aiohttp.TCPConnector(ssl=client_ssl(), limit=1, force_close=False)
    async with aiohttp.ClientSession(timeout=to, connector=conn) as session:
        try:
            fp = await peer_cert_fp(api_url)
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
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise JoinRefused(f"{api_url}: cannot reach it ({type(e).__name__}: {e})") from None
    voters = admitted.get("voters")
    if not isinstance(voters, list) or not voters or not all(isinstance(v, str) for v in voters):
        raise JoinRefused(f"{api_url}: the admission lists no voters")
    return admitted


async def send_adoption(
    api_url: str, payload: AdoptPayload, timeout: float = 10.0
) -> dict[str, Any]:
    """Member side of adoption: hand the secret to a factory host over TLS."""
    to = aiohttp.ClientTimeout(total=timeout)
    conn = aiohttp.TCPConnector(ssl=client_ssl())
    async with aiohttp.ClientSession(timeout=to, connector=conn) as session:
        try:
            data = await _post(session, f"{api_url}/api/v1/cluster/adopt", wrap_secret(payload))
        except (aiohttp.ClientError, TimeoutError) as e:
            raise ValueError(f"cannot reach {api_url}: {e}") from None
        except JoinRefused as e:
            raise ValueError(e.reason) from None
    return data


AdoptionHook = Callable[[AdoptPayload], Awaitable[None]]
