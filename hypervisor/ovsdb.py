"""The OVSDB adapter: the one module that imports the ``ovs`` library.

It speaks OVSDB's JSON-RPC (RFC 7047) through ``ovs.jsonrpc``: ``transact`` with
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
import time
from collections.abc import Iterable, Mapping
from typing import Any

import ovs.jsonrpc
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
    Blocking: call it from a thread when on an event loop."""

    def __init__(self, remote: str, timeout: float = 5.0) -> None:
        self.remote = remote
        self.timeout = timeout
        self._conn: ovs.jsonrpc.Connection | None = None

    def _connect(self) -> ovs.jsonrpc.Connection:
        if self._conn is not None:
            return self._conn
        deadline = time.monotonic() + self.timeout
        err, stream = ovs.stream.Stream.open(self.remote)
        if err:
            raise OvsdbError(f"cannot open {self.remote}: {errno.errorcode.get(err, err)}")
        while True:
            err = stream.connect()
            if err != errno.EAGAIN:
                break
            if time.monotonic() > deadline:
                stream.close()
                raise OvsdbError(f"{self.remote}: connection timed out")
            poller = ovs.poller.Poller()
            stream.run_wait(poller)
            stream.connect_wait(poller)
            poller.timer_wait(100)
            poller.block()
        if err:
            stream.close()
            raise OvsdbError(f"cannot connect to {self.remote}: {errno.errorcode.get(err, err)}")
        self._conn = ovs.jsonrpc.Connection(stream)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> OvsdbClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, params: list[Any]) -> Any:
        conn = self._connect()
        req = ovs.jsonrpc.Message.create_request(method, params)
        err = conn.send(req)
        deadline = time.monotonic() + self.timeout
        while not err:
            conn.run()
            err, msg = conn.recv()
            if err == errno.EAGAIN:
                if time.monotonic() > deadline:
                    self.close()
                    raise OvsdbError(f"{self.remote}: no answer to {method} in {self.timeout} s")
                poller = ovs.poller.Poller()
                conn.wait(poller)
                conn.recv_wait(poller)
                poller.timer_wait(100)
                poller.block()
                err = 0
                continue
            if err or msg is None:
                break
            if msg.type == ovs.jsonrpc.Message.T_REQUEST and msg.method == "echo":
                conn.send(ovs.jsonrpc.Message.create_reply(msg.params, msg.id))
                continue
            if msg.id != req.id:
                continue
            if msg.error is not None:
                raise OvsdbError(f"{self.remote}: {method} failed: {msg.error}")
            return msg.result
        self.close()
        raise OvsdbError(f"{self.remote}: connection lost ({errno.errorcode.get(err, err)})")

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
