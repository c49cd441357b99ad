"""Serving an app on a real loopback port from a background thread (for tools
that speak plain HTTP synchronously: schemathesis, the CLI tests, the bench)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from aiohttp import web


class ServedApp:
    """``with ServedApp(make_app) as s: s.url`` — ``make_app`` runs on the server's loop."""

    def __init__(self, make_app: Callable[[], web.Application]) -> None:
        self._make_app = make_app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _start(self) -> str:
        self._runner = web.AppRunner(self._make_app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def run(self, coro_fn: Callable[[], object]) -> object:
        """Run ``coro_fn()`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result(30)  # type: ignore[arg-type]

    def __enter__(self) -> ServedApp:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
