"""The agent's loop: open the port, read frames, answer requests.

One reader (this thread) decodes frames and hands each request to a worker
thread, so a long ``exec`` does not hold up ``ping``. One answer per request id:
a second request with an id still in flight is refused (``duplicate_id``), and
at most MAX_INFLIGHT run at once (``busy`` beyond). Frames are written whole
under a lock. When the host is not connected the port reads as end-of-file:
the reader forgets any partial frame and polls again.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from typing import Any

from agent import __version__
from agent.frames import FrameError, FrameReader, encode
from agent.guest.ops import Agent, OpError, log
from agent.guest.port import find_port
from agent.protocol import PORT_NAME, error, ok

MAX_INFLIGHT = 8
IDLE_POLL_S = 0.5


class Session:
    def __init__(self, fd: int, agent: Agent) -> None:
        self.fd = fd
        self.agent = agent
        self.reader = FrameReader()  # the guest always resyncs
        self._write_lock = threading.Lock()
        self._inflight: set[Any] = set()
        self._lock = threading.Lock()

    def send(self, msg: dict[str, Any]) -> None:
        try:
            data = encode(msg)
        except (FrameError, ValueError) as e:
            data = encode(error(int(msg.get("id") or 0), "too_large", str(e)))
        with self._write_lock:
            view = memoryview(data)
            try:
                while view:
                    n = os.write(self.fd, view)
                    view = view[n:]
            except OSError as e:
                # The host went away mid-answer: it will ask again.
                log(f"write failed: {e.strerror}")

    def dispatch(self, msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        if msg.get("t") != "req" or not isinstance(rid, int):
            return  # not a request: nothing to answer
        op, args = msg.get("op"), msg.get("args")
        handler = self.agent.handlers.get(op) if isinstance(op, str) else None
        if handler is None:
            self.send(error(rid, "unknown_op", f"this agent has no {op!r}"))
            return
        if not isinstance(args, dict):
            self.send(error(rid, "bad_args", "args must be a map"))
            return
        if op in ("ping", "hello"):
            self._run(rid, handler, args)  # cheap: answered in order, at once
            return
        with self._lock:
            if rid in self._inflight:
                self.send(error(rid, "duplicate_id", f"request {rid} is still running"))
                return
            if len(self._inflight) >= MAX_INFLIGHT:
                self.send(error(rid, "busy", f"{MAX_INFLIGHT} requests are running"))
                return
            self._inflight.add(rid)
        t = threading.Thread(target=self._worker, args=(rid, handler, args), daemon=True)
        t.start()

    def _worker(self, rid: int, handler: Any, args: dict[str, Any]) -> None:
        try:
            self._run(rid, handler, args)
        finally:
            with self._lock:
                self._inflight.discard(rid)

    def _run(self, rid: int, handler: Any, args: dict[str, Any]) -> None:
        try:
            self.send(ok(rid, handler(args)))
        except OpError as e:
            self.send(error(rid, e.code, e.message))
        except Exception as e:  # a bug in a handler must not end the agent
            log(f"request {rid} failed: {e!r}")
            self.send(error(rid, "internal", f"{type(e).__name__}: {e}"))

    def loop(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EINTR):
                    continue
                raise
            if not data:
                # No host on the other end: drop half a frame, wait for one.
                self.reader.reset()
                time.sleep(IDLE_POLL_S)
                continue
            for msg in self.reader.feed(data):
                self.dispatch(msg)


def open_port(name: str, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    while True:
        path = find_port(name)
        if path is not None:
            return os.open(path, os.O_RDWR)
        if time.monotonic() > deadline:
            raise SystemExit(f"quantix-agent: no virtio-serial port named {name}")
        time.sleep(0.5)


def main(argv: list[str]) -> int:
    name = PORT_NAME
    wait_s = 30.0
    hooks = None
    it = iter(argv)
    for a in it:
        if a == "--port":
            name = next(it)
        elif a == "--wait":
            wait_s = float(next(it))
        elif a == "--hooks":
            hooks = next(it)
        elif a == "--version":
            print(__version__)
            return 0
        else:
            print("usage: quantix-agent [--port NAME] [--wait SECONDS] [--hooks DIR]")
            return 2
    fd = open_port(name, wait_s)
    log(f"{__version__} serving {name}")
    agent = Agent(hooks) if hooks else Agent()
    Session(fd, agent).loop()
    return 0


def cli() -> int:
    """The wheel's ``quantix-agent`` entry point."""
    import sys

    return main(sys.argv[1:])
