"""The OVSDB adapter: the one module that imports the ``ovs`` library.

It speaks OVSDB's JSON-RPC (RFC 7047) over ``ovs.stream``: ``transact`` with
plain operation dicts, ``select`` to read a table. Both Open vSwitch's own
database (``Open_vSwitch``) and OVN's northbound one (``OVN_Northbound``) are
written this way. A whole projection is one transaction, which is why the raw
protocol is used rather than the IDL: the IDL keeps a replica of the database
in memory and wants an event loop, while the reconciler reads once and writes
once per pass. Every library error becomes an ``OvsdbError``.

Values in OVSDB's JSON notation: ``["set", [...]]``, ``["map", [[k, v], ...]]``,
``["uuid", "..."]``, ``["named-uuid", "..."]``; ``omap``/``oset``/``ouuid``
build them and ``pymap``/``pyset`` read them back.
"""

from __future__ import annotations

import contextlib
import errno
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import ovs.poller
import ovs.stream

from hypervisor.errors import HypervisorError


class OvsdbError(HypervisorError):
    """An OVSDB server could not be reached or refused a transaction."""

    status = 503
    code = "ovsdb_error"


def omap(d: Mapping[str, Any]) -> list[Any]:
    return ["map", [[str(k), v] for k, v in sorted(d.items())]]


def oset(items: Iterable[Any]) -> list[Any]:
    return ["set", list(items)]


def ouuid(u: str) -> list[str]:
    return ["uuid", u]


def named(n: str) -> list[str]:
    return ["named-uuid", n]


def pymap(v: Any) -> dict[str, Any]:
    """An OVSDB map value as a dict."""
    if isinstance(v, list) and len(v) == 2 and v[0] == "map":
        return {str(k): _scalar(x) for k, x in v[1]}
    return {}


def pyset(v: Any) -> list[Any]:
    """An OVSDB set (or a lone atom, a one-element set) as a list."""
    if isinstance(v, list) and len(v) == 2 and v[0] == "set":
        return [_scalar(x) for x in v[1]]
    return [_scalar(v)]


def _scalar(v: Any) -> Any:
    if isinstance(v, list) and len(v) == 2 and v[0] in ("uuid", "named-uuid"):
        return v[1]
    return v


class OvsdbClient:
    """One connection to an OVSDB server (``unix:/path`` or ``tcp:ip:port``).
    Blocking: call it from a thread when on an event loop.

    The transport is ``ovs.stream``; messages are parsed with the standard
    library's JSON decoder rather than ``ovs.jsonrpc``, whose pure-Python parser
    reads a 10,000-port database in ~18 s."""

    def __init__(self, remote: str, timeout: float = 5.0) -> None:
        self.remote = remote
        self.timeout = timeout
        self._stream: ovs.stream.Stream | None = None
        self._chunks: list[str] = []  # received, not yet tried
        self._pending = ""  # received and tried (or left after a message)
        self._next_id = 0

    def _wait(self, stream: ovs.stream.Stream, what: int, deadline: float) -> None:
        if time.monotonic() > deadline:
            self.close()
            raise OvsdbError(f"{self.remote}: no answer in {self.timeout} s")
        poller = ovs.poller.Poller()
        stream.run_wait(poller)
        if what == ovs.stream.Stream.W_CONNECT:
            stream.connect_wait(poller)
        elif what == ovs.stream.Stream.W_RECV:
            stream.recv_wait(poller)
        else:
            stream.send_wait(poller)
        poller.timer_wait(100)
        poller.block()

    def _connect(self) -> ovs.stream.Stream:
        if self._stream is not None:
            return self._stream
        deadline = time.monotonic() + self.timeout
        err, stream = ovs.stream.Stream.open(self.remote)
        if err:
            raise OvsdbError(f"cannot open {self.remote}: {errno.errorcode.get(err, err)}")
        self._stream = stream
        while True:
            err = stream.connect()
            if err != errno.EAGAIN:
                break
            self._wait(stream, ovs.stream.Stream.W_CONNECT, deadline)
        if err:
            self.close()
            raise OvsdbError(f"cannot connect to {self.remote}: {errno.errorcode.get(err, err)}")
        self._chunks, self._pending = [], ""
        return stream

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> OvsdbClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, stream: ovs.stream.Stream, msg: dict[str, Any], deadline: float) -> None:
        data = json.dumps(msg, separators=(",", ":")).encode()
        while data:
            stream.run()
            n = stream.send(data)
            if n > 0:
                data = data[n:]
            elif n == -errno.EAGAIN or n == 0:
                self._wait(stream, ovs.stream.Stream.W_SEND, deadline)
            else:
                self.close()
                raise OvsdbError(f"{self.remote}: send failed ({errno.errorcode.get(-n, n)})")

    def _recv(self, stream: ovs.stream.Stream, deadline: float) -> dict[str, Any]:
        """The next whole message. Decoding is tried when the socket has nothing
        more to give and the text so far ends like an object: a large answer is
        decoded once or twice, not once per chunk."""
        while True:
            if self._pending:
                text = self._pending
                try:
                    msg, end = json.JSONDecoder().raw_decode(text)
                except json.JSONDecodeError:
                    pass
                else:
                    self._pending = text[end:].lstrip()
                    if not isinstance(msg, dict):
                        raise OvsdbError(f"{self.remote}: unexpected message {msg!r:.100}")
                    return msg
            stream.run()
            err, data = stream.recv(1 << 20)
            if err == errno.EAGAIN:
                if self._chunks and self._chunks[-1].rstrip().endswith("}"):
                    self._pending += "".join(self._chunks)
                    self._chunks = []
                    continue
                self._wait(stream, ovs.stream.Stream.W_RECV, deadline)
                continue
            if err or not data:
                self.close()
                raise OvsdbError(f"{self.remote}: connection lost")
            if self._pending:  # an incomplete message: what follows belongs to it
                self._chunks.insert(0, self._pending)
                self._pending = ""
            self._chunks.append(data.decode() if isinstance(data, bytes) else data)

    def _request(self, method: str, params: list[Any]) -> Any:
        stream = self._connect()
        deadline = time.monotonic() + self.timeout
        self._next_id += 1
        rid = self._next_id
        self._send(stream, {"method": method, "params": params, "id": rid}, deadline)
        while True:
            msg = self._recv(stream, deadline)
            if msg.get("method") == "echo":
                self._send(stream, {"result": msg.get("params"), "error": None,
                                    "id": msg.get("id")}, deadline)  # fmt: skip
                continue
            if msg.get("id") != rid:
                continue
            if msg.get("error") is not None:
                raise OvsdbError(f"{self.remote}: {method} failed: {msg['error']}")
            return msg.get("result")

    def transact(self, db: str, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run ``ops`` as one transaction; raise OvsdbError if any op failed."""
        if not ops:
            return []
        result = self._request("transact", [db, *ops])
        if not isinstance(result, list):
            raise OvsdbError(f"{self.remote}: unexpected transact answer {result!r}")
        for i, r in enumerate(result):
            if isinstance(r, dict) and r.get("error"):
                what = ops[i] if i < len(ops) else {}
                raise OvsdbError(
                    f"{self.remote}: {r.get('error')}: {r.get('details', '')}",
                    op=str(what.get("op")),
                    table=str(what.get("table", "")),
                )
        return result

    def select(
        self, db: str, table: str, columns: list[str] | None = None, where: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` (all columns unless ``columns``; ``_uuid`` as a string)."""
        op: dict[str, Any] = {"op": "select", "table": table, "where": where or []}
        if columns is not None:
            op["columns"] = ["_uuid", *columns]
        rows = self.transact(db, [op])[0].get("rows", [])
        out = []
        for row in rows:
            r = dict(row)
            r["_uuid"] = _scalar(r.get("_uuid"))
            out.append(r)
        return out

    def ping(self) -> bool:
        with contextlib.suppress(OvsdbError):
            self._request("list_dbs", [])
            return True
        return False
