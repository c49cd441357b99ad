"""A RaftStore in its own process, driven by JSON lines on stdin; and the
client side that starts and drives a few of them (functional tests, bench).

Run one by hand::

    RAFT_SECRET=... python -m testkit.raftnode --addr 127.0.0.1:7001 \\
        --peers 127.0.0.1:7002,127.0.0.1:7003 --data /tmp/n1

It prints ``{"event": "ready", ...}`` once started (or ``{"event": "error",
"code": ...}`` and exits non-zero), then answers one JSON line per request,
``{"id": N, "op": "put", ...}`` → ``{"id": N, "ok": true, ...}`` or
``{"id": N, "ok": false, "code": "...", "message": "..."}``. Requests run
concurrently; answers carry the request id.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from raft.errors import CorruptJournal, StoreError

SECRET_ENV = "RAFT_SECRET"  # noqa: S105 - the name of a variable, not a secret


# -- the node process ---------------------------------------------------------


def _record(r: Any) -> Any:
    return (
        None
        if r is None
        else {"key": r.key, "version": r.version, "revision": r.revision, "value": r.value}
    )


def _percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return 0.0
    i = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return round(sorted_ms[i], 3)


def _vm_value(i: int, size: int) -> dict[str, Any]:
    """A record shaped like a VM spec, about ``size`` bytes when packed."""
    v: dict[str, Any] = {
        "name": f"vm-{i}",
        "vcpus": 2,
        "memory_mib": 2048,
        "disks": [{"id": "d0", "pool": "local", "volume": f"vol-{i}", "size_gib": 20}],
        "nics": [
            {
                "network": "default",
                "mac": f"52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
            }
        ],
        "desired": "running",
        "placement": None,
        "ha": {"enabled": True, "priority": 100},
    }
    pad = size - 300
    if pad > 0:
        v["labels"] = {"note": "x" * pad}
    return v


class NodeServer:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.out_lock = asyncio.Lock()

    async def reply(self, obj: dict[str, Any]) -> None:
        async with self.out_lock:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()

    async def handle(self, req: dict[str, Any]) -> None:
        rid = req.get("id")
        try:
            fn = getattr(self, "op_" + str(req.get("op")))
            res = await fn(req)
            await self.reply({"id": rid, "ok": True, **(res or {})})
        except StoreError as e:
            await self.reply({"id": rid, "ok": False, "code": e.code, "message": e.message})
        except Exception as e:  # report, keep serving
            await self.reply({"id": rid, "ok": False, "code": "exception", "message": repr(e)})

    async def op_status(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"status": self.store.status()}

    async def op_put(self, req: dict[str, Any]) -> dict[str, Any]:
        res = await self.store.commit(
            [
                {
                    "op": "put",
                    "table": req.get("table", "registers"),
                    "key": req["key"],
                    "value": req.get("value", {}),
                    "expect": req.get("expect"),
                }
            ],
            op_id=req.get("op_id"),
            timeout=req.get("timeout", 5.0),
            raise_conflict=False,
        )
        return {"result": res}

    async def op_get(self, req: dict[str, Any]) -> dict[str, Any]:
        table = req.get("table", "registers")
        if req.get("consistent"):
            rec = await self.store.get_consistent(table, req["key"])
        else:
            rec = self.store.get(table, req["key"])
        return {"record": _record(rec)}

    async def op_keys(self, req: dict[str, Any]) -> dict[str, Any]:
        recs = self.store.scan(req.get("table", "registers"), req.get("prefix", ""))
        return {"keys": {r.key: r.version for r in recs}}

    async def op_hash(self, req: dict[str, Any]) -> dict[str, Any]:
        return {
            "hash": self.store.state_hash(),
            "revision": self.store.revision,
            "count": self.store.count(req.get("table", "registers")),
        }

    async def op_barrier(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"revision": await self.store.barrier(req.get("timeout", 5.0))}

    async def op_add_voter(self, req: dict[str, Any]) -> dict[str, Any]:
        await self.store.add_voter(req["addr"], req.get("timeout", 15.0))
        return {"voters": self.store.voters()}

    async def op_remove_voter(self, req: dict[str, Any]) -> dict[str, Any]:
        await self.store.remove_voter(req["addr"], req.get("timeout", 15.0))
        return {"voters": self.store.voters()}

    async def op_promote(self, req: dict[str, Any]) -> dict[str, Any]:
        await self.store.promote(req.get("timeout", 15.0))
        return {"voters": self.store.voters()}

    async def op_step_down(self, req: dict[str, Any]) -> dict[str, Any]:
        await self.store.step_down()
        return {}

    async def op_compact(self, req: dict[str, Any]) -> dict[str, Any]:
        before = self.store.status()["snapshots_written"]
        self.store.compact()
        for _ in range(400):
            await asyncio.sleep(0.025)
            st = self.store.status()
            if st["snapshots_written"] > before:
                return {"status": st}
        raise StoreError("no snapshot was written within 10s")

    async def op_latency(self, req: dict[str, Any]) -> dict[str, Any]:
        """Sequential writes; latency of each, measured in this process."""
        n, size, prefix = req.get("n", 200), req.get("size", 1500), req.get("prefix", "lat")
        lat: list[float] = []
        for i in range(n):
            t0 = time.perf_counter()
            await self.store.put("vms", f"{prefix}-{i:06d}", _vm_value(i, size))
            lat.append((time.perf_counter() - t0) * 1000)
        lat.sort()
        return {
            "n": n,
            "p50_ms": _percentile(lat, 50),
            "p99_ms": _percentile(lat, 99),
            "max_ms": round(lat[-1], 3),
        }

    async def op_bulk(self, req: dict[str, Any]) -> dict[str, Any]:
        """``n`` writes with ``concurrency`` in flight; returns the rate."""
        n, size = req.get("n", 1000), req.get("size", 1500)
        conc, prefix = req.get("concurrency", 64), req.get("prefix", "bulk")
        table = req.get("table", "vms")
        nxt = 0

        async def worker() -> None:
            nonlocal nxt
            while nxt < n:
                i = nxt
                nxt += 1
                await self.store.put(table, f"{prefix}-{i:06d}", _vm_value(i, size), timeout=30.0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        secs = time.perf_counter() - t0
        return {"n": n, "seconds": round(secs, 3), "wps": round(n / secs, 1)}

    async def op_quit(self, req: dict[str, Any]) -> dict[str, Any]:
        asyncio.get_running_loop().call_later(0.05, lambda: os.kill(os.getpid(), signal.SIGTERM))
        return {}


async def _serve(args: argparse.Namespace) -> int:
    from raft.node import RaftStore, Tuning

    secret = os.environ.get(SECRET_ENV)
    tuning = Tuning(**json.loads(args.tuning)) if args.tuning else Tuning()
    try:
        store = RaftStore(
            args.addr,
            [p for p in args.peers.split(",") if p],
            args.data,
            secret,
            voter=not args.replica,
            tuning=tuning,
        )
        t0 = time.perf_counter()
        await store.start()
    except StoreError as e:
        print(json.dumps({"event": "error", "code": e.code, "message": e.message}), flush=True)
        return 3 if isinstance(e, CorruptJournal) else 2
    print(
        json.dumps(
            {
                "event": "ready",
                "pid": os.getpid(),
                "load_s": time.perf_counter() - t0,
                "status": store.status(),
            }
        ),
        flush=True,
    )
    server = NodeServer(store)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task[None]] = set()

    async def read_requests() -> None:
        while True:
            line = await reader.readline()
            if not line:
                stop.set()
                return
            t = asyncio.create_task(server.handle(json.loads(line)))
            tasks.add(t)
            t.add_done_callback(tasks.discard)

    rt = asyncio.create_task(read_requests())
    await stop.wait()
    rt.cancel()
    await store.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testkit.raftnode")
    ap.add_argument("--addr", required=True)
    ap.add_argument("--peers", default="")
    ap.add_argument("--data", required=True)
    ap.add_argument("--replica", action="store_true")
    ap.add_argument("--tuning", default="", help="JSON object of raft.node.Tuning fields")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return asyncio.run(_serve(args))


# -- the client side ------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (kernel-chosen, high range)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class NodeError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class NodeProcess:
    """One ``python -m testkit.raftnode`` child and a JSON-lines client for it."""

    def __init__(
        self,
        addr: str,
        peers: list[str],
        data: Path,
        secret: str,
        *,
        replica: bool = False,
        tuning: dict[str, Any] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.addr = addr
        self.peers = peers
        self.data = data
        self.secret = secret
        self.replica = replica
        self.tuning = tuning
        self.log_path = (log_dir or data.parent) / f"{addr.replace(':', '_')}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self._futs: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0
        self._reader: asyncio.Task[None] | None = None
        self.ready: asyncio.Future[dict[str, Any]] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, wait: bool = True, timeout: float = 30.0) -> dict[str, Any]:
        cmd = [
            sys.executable,
            "-m",
            "testkit.raftnode",
            "--addr",
            self.addr,
            "--peers",
            ",".join(self.peers),
            "--data",
            str(self.data),
        ]
        if self.replica:
            cmd.append("--replica")
        if self.tuning:
            cmd += ["--tuning", json.dumps(self.tuning)]
        env = dict(os.environ, **{SECRET_ENV: self.secret})
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logf = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=logf,
            env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
            limit=64 * 1024 * 1024,
        )
        logf.close()
        self.ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        if not wait:
            return {}
        return await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float = 30.0) -> dict[str, Any]:
        assert self.ready is not None
        ev: dict[str, Any] = await asyncio.wait_for(asyncio.shield(self.ready), timeout)
        if ev.get("event") != "ready":
            raise NodeError(ev.get("code", "error"), ev.get("message", str(ev)))
        return ev

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            msg = json.loads(line)
            if "event" in msg:
                if self.ready is not None and not self.ready.done():
                    self.ready.set_result(msg)
                continue
            fut = self._futs.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        await self.proc.wait()
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(
                {
                    "event": "exit",
                    "code": "exited",
                    "message": f"exited with {self.proc.returncode}",
                }
            )
        for fut in self._futs.values():
            if not fut.done():
                fut.set_exception(NodeError("node_died", f"{self.addr} exited"))
        self._futs.clear()

    async def call(self, op: str, wait: float = 20.0, **kw: Any) -> dict[str, Any]:
        """Send a request; return the answer, or raise NodeError for an error answer."""
        if not self.alive:
            raise NodeError("node_died", f"{self.addr} is not running")
        assert self.proc is not None and self.proc.stdin is not None
        self._next += 1
        rid = self._next
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._futs[rid] = fut
        try:
            self.proc.stdin.write((json.dumps({"id": rid, "op": op, **kw}) + "\n").encode())
            await self.proc.stdin.drain()
        except (ConnectionError, RuntimeError) as e:
            self._futs.pop(rid, None)
            raise NodeError("node_died", f"{self.addr}: {e}") from None
        try:
            res = await asyncio.wait_for(fut, wait)
        finally:
            self._futs.pop(rid, None)
        if not res.get("ok"):
            raise NodeError(res.get("code", "error"), res.get("message", ""))
        return res

    async def status(self) -> dict[str, Any]:
        st: dict[str, Any] = (await self.call("status"))["status"]
        return st

    def kill(self) -> None:
        """kill -9."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()

    async def wait_exit(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        rc = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 2)
        return rc

    async def stop(self) -> None:
        if self.alive:
            with contextlib.suppress(Exception):
                await self.call("quit", wait=5)
            try:
                await self.wait_exit(10)
            except TimeoutError:
                self.kill()
                await self.wait_exit(5)


class LocalCluster:
    """N test nodes on loopback in ``root`` (voters, plus optional replicas)."""

    def __init__(
        self,
        root: Path,
        voters: int = 3,
        secret: str = "test-cluster-secret-0123",  # noqa: S107 - test clusters only
        tuning: dict[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.secret = secret
        self.tuning = tuning
        ports = free_ports(voters)
        self.voter_addrs = [f"127.0.0.1:{p}" for p in ports]
        self.nodes: dict[str, NodeProcess] = {}
        for a in self.voter_addrs:
            self.nodes[a] = self.make_node(a, self.voter_addrs)

    def make_node(
        self, addr: str, peers: list[str], *, replica: bool = False, secret: str | None = None
    ) -> NodeProcess:
        data = self.root / addr.replace(":", "_")
        return NodeProcess(
            addr,
            [p for p in peers if p != addr],
            data,
            secret or self.secret,
            replica=replica,
            tuning=self.tuning,
            log_dir=self.root,
        )

    def add_node(
        self, *, replica: bool = False, secret: str | None = None, peers: list[str] | None = None
    ) -> NodeProcess:
        addr = f"127.0.0.1:{free_ports(1)[0]}"
        node = self.make_node(addr, peers or self.current_voters(), replica=replica, secret=secret)
        self.nodes[addr] = node
        return node

    def current_voters(self) -> list[str]:
        return list(self.voter_addrs)

    @property
    def alive(self) -> list[NodeProcess]:
        return [n for n in self.nodes.values() if n.alive]

    async def start(self, nodes: list[NodeProcess] | None = None) -> None:
        todo = nodes if nodes is not None else list(self.nodes.values())
        for n in todo:
            await n.start(wait=False)
        await asyncio.gather(*(n.wait_ready() for n in todo))

    async def leader(
        self, timeout: float = 15.0, among: list[NodeProcess] | None = None
    ) -> NodeProcess:
        """The node every live voter agrees leads (and that says so itself)."""
        deadline = time.monotonic() + timeout
        while True:
            pool = among or self.alive
            try:
                sts = await asyncio.gather(*(n.status() for n in pool))
                leaders = {s["address"] for s in sts if s["role"] == "leader"}
                named = {s["leader"] for s in sts if s["role"] != "replica"}
                if len(leaders) == 1 and named == leaders:
                    return self.nodes[leaders.pop()]
            except NodeError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("no agreed leader")
            await asyncio.sleep(0.05)

    async def wait_converged(
        self,
        nodes: list[NodeProcess] | None = None,
        timeout: float = 20.0,
        revision: int | None = None,
    ) -> str:
        """Wait until the nodes report the same state hash (at ``revision`` if
        given); return it."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            pool = nodes or self.alive
            hs = await asyncio.gather(*(n.call("hash") for n in pool))
            last = [(h["hash"], h["revision"]) for h in hs]
            if len(set(last)) == 1 and (revision is None or last[0][1] == revision):
                return str(last[0][0])
            if time.monotonic() > deadline:
                raise TimeoutError(f"nodes did not converge: {last}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await asyncio.gather(*(n.stop() for n in self.nodes.values()), return_exceptions=True)

    def kill_all(self) -> None:
        for n in self.nodes.values():
            n.kill()


async def retrying_put(
    nodes: Callable[[], list[NodeProcess]],
    key: str,
    value: dict[str, Any],
    op_id: str,
    deadline: float,
    table: str = "registers",
    on_try: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """A client that retries one write with the same op id, through any live
    node, until ``deadline`` (time.monotonic); returns the result."""
    i = 0
    while True:
        pool = nodes()
        if pool:
            node = pool[i % len(pool)]
            try:
                res = await node.call(
                    "put", table=table, key=key, value=value, op_id=op_id, timeout=3.0, wait=10.0
                )
                return dict(res["result"])
            except (NodeError, TimeoutError):
                pass
        i += 1
        if time.monotonic() > deadline:
            raise TimeoutError(f"write {op_id} not acknowledged")
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
