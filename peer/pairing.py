"""Adopting a factory-state host with its pairing code: both HTTP sides.

The factory host (``Pairing`` in ``ctx.services["pairing"]`` while it is in
factory state) answers ``POST /cluster/adopt/hello`` with its proof of the
code and accepts ``POST /cluster/adopt`` only with the adopter's proof; the
member's side is ``adopt_with_code``. The protocol and why it holds are in
discovery/pairing.py; the pinning in peer/peertls.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from discovery.adopt import AdoptPayload, unwrap_secret, wrap_secret
from discovery.errors import DiscoveryError, PairingError
from discovery.handshake import new_nonce
from discovery.model import CLUSTER_ID_RE, CLUSTER_NAME_RE, NODE_ID_RE
from discovery.pairing import (
    PairingBook,
    check_factory_proof,
    mac,
    normalize_code,
    pairing_key,
)
from peer.api.errors import ApiError, BadRequest, Forbidden, Unavailable
from peer.api.routes import ApiRequest, Reply, Routes
from peer.join import check_hello_rate
from peer.logs import kv
from peer.peertls import normalize_fp, peer_cert_fp, pinned

log = logging.getLogger("peer.pairing")

routes = Routes(tag="cluster")

AdoptionHook = Callable[[AdoptPayload], Awaitable[None]]

# As strict as the parsers behind them (the same patterns), like peer/join.py's.
# challenge/proof are optional in the schema on purpose: a body without a
# proof of the pairing code is a 403 ``pairing_refused``, not a 422.
_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_NODE_ID = {"type": "string", "pattern": NODE_ID_RE.pattern}
HELLO = {
    "type": "object",
    "required": ["nonce"],
    "properties": {"v": {"type": "integer", "enum": [1]}, "nonce": _HEX},
    "additionalProperties": False,
}
HELLO_REPLY = {
    "type": "object",
    "required": ["node_id", "nonce", "proof"],
    "properties": {
        "node_id": {"type": "string"},
        "nonce": {"type": "string"},
        "proof": {"type": "string"},
    },
}
ADOPT_BODY = {
    "type": "object",
    "required": ["v", "cluster_name", "cluster_id", "sponsor", "secret"],
    "properties": {
        "v": {"type": "integer", "enum": [1, 2]},
        "cluster_name": {"type": "string", "pattern": CLUSTER_NAME_RE.pattern},
        "cluster_id": {"type": "string", "pattern": CLUSTER_ID_RE.pattern},
        "sponsor": _NODE_ID,
        "sponsor_fp": _HEX,
        "secret": {"type": "string", "pattern": "^[^\\x00-\\x1f\\x7f]{12,256}$"},
        "challenge": _HEX,
        "proof": _HEX,
    },
    "additionalProperties": False,
}
ADOPTED = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "cluster_name": {"type": "string"}},
}


class NotFactory(ApiError):
    """This host already belongs to a cluster (or is joining one)."""

    status = 409
    code = "not_factory"


@dataclass
class Pairing:
    """The factory host's pairing state: its code (shown on the console) and book."""

    code: str
    book: PairingBook
    accept: AdoptionHook


def _pairing(req: ApiRequest) -> Pairing:
    p = req.ctx.services.get("pairing")
    if not isinstance(p, Pairing):
        raise NotFactory("this host already belongs to a cluster: it cannot be adopted")
    return p


@routes.post(
    "/cluster/adopt/hello",
    role=None,
    summary="Pairing, step 1: this factory host proves the code on its console",
    body=HELLO,
    response=HELLO_REPLY,
)
async def adopt_hello(req: ApiRequest) -> Reply:
    """Open while in factory state; rate-limited per source."""
    pairing = _pairing(req)
    check_hello_rate(req)
    try:
        nonce_f, proof = pairing.book.answer(req.body["nonce"], time.monotonic())
    except DiscoveryError as e:
        raise BadRequest(str(e)) from None
    return Reply({"node_id": pairing.book.factory_id, "nonce": nonce_f, "proof": proof})


@routes.post(
    "/cluster/adopt",
    role=None,
    summary="Pairing, step 2: adopt this factory host (the adopter proves the code)",
    body=ADOPT_BODY,
    response=ADOPTED,
    status=202,
)
async def adopt_me(req: ApiRequest) -> Reply:
    """Open only while this host is in factory state (409 ``not_factory`` after);
    403 ``pairing_refused`` without a proof of this host's pairing code."""
    pairing = _pairing(req)
    try:
        payload, challenge, proof = unwrap_secret(req.body)
        pairing.book.verify(challenge, proof, payload.adoption, time.monotonic())
    except PairingError as e:
        log.warning("adoption refused", extra=kv(remote=req.remote or "?", reason=e.message))
        raise Forbidden(e.message, code=e.code) from None
    except DiscoveryError as e:
        raise BadRequest(str(e)) from None
    await pairing.accept(payload)
    return Reply({"status": "joining", "cluster_name": payload.cluster_name}, status=202)


# -- the adopting member's side ---------------------------------------------------


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url, json=body) as resp:
        try:
            data: Any = await resp.json(content_type=None)
        except ValueError:
            data = {}
        if resp.status >= 400:
            msg = data.get("message") if isinstance(data, dict) else None
            code = data.get("code") if isinstance(data, dict) else None
            err = ApiError(
                f"the host refused: {msg or f'HTTP {resp.status}'}",
                code=str(code or "adoption_refused"),
            )
            err.status = 403 if resp.status == 403 else 409 if resp.status == 409 else 502
            raise err
        if not isinstance(data, dict):
            raise ApiError("the host's answer is not a JSON object", code="adoption_refused")
        return data


async def adopt_with_code(
    api_url: str,
    factory_id: str,
    code: str,
    payload: AdoptPayload,
    announced_fp: str | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Prove ``code`` to the factory host at ``api_url``, pin the certificate that
    proved it back, then hand it the cluster secret over that pinned connection.
    Raises ApiError (403 ``pairing_refused`` for a wrong code or an impostor)."""
    try:
        normalize_code(code)
    except PairingError as e:
        raise Forbidden(e.message, code=e.code) from None
    try:
        fp = await peer_cert_fp(api_url)
    except (OSError, TimeoutError) as e:
        raise Unavailable(f"cannot reach {api_url}: {e}", code="unreachable") from None
    if announced_fp and normalize_fp(announced_fp) != fp:
        # mDNS is only a hint, but a mismatch means something else answers there.
        raise Forbidden(
            f"{api_url} shows a certificate other than the one the host announces",
            code="pairing_refused",
        )
    key = await asyncio.to_thread(pairing_key, code, factory_id)
    nonce_m = new_nonce()
    to = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(
        timeout=to, connector=aiohttp.TCPConnector(ssl=pinned(fp))
    ) as session:
        try:
            hello = await _post(
                session, f"{api_url}/api/v1/cluster/adopt/hello", {"nonce": nonce_m}
            )
            nonce_f, proof_f = str(hello.get("nonce", "")), str(hello.get("proof", ""))
            if hello.get("node_id") != factory_id:
                raise Forbidden(f"{api_url} is not host {factory_id}", code="pairing_refused")
            try:
                check_factory_proof(key, factory_id, fp, nonce_m, nonce_f, proof_f)
                proof_m = mac(key, "adopter", factory_id, fp, nonce_m, nonce_f, payload.adoption)
            except PairingError as e:
                raise Forbidden(e.message, code=e.code) from None
            # Only now, to the certificate that proved the code: the secret.
            body = wrap_secret(payload, nonce_f, proof_m)
            return await _post(session, f"{api_url}/api/v1/cluster/adopt", body)
        except aiohttp.ServerFingerprintMismatch:
            raise Forbidden(
                f"{api_url} changed its certificate during pairing", code="pairing_refused"
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise Unavailable(f"cannot reach {api_url}: {e}", code="unreachable") from None
