"""Host management: what the host console (DCUI) changes on this host.

Network settings with a confirmation window, the SSH timer, console
authentication and lockout, first-boot setup, joining from factory state,
service restarts, power, diagnostics. Everything that must outlive the console
(timers, lockout, pending network changes) lives here, in the peer, and in a
0600 state file under ``<data_dir>/hostmgmt/``.

The daemon adds the routes with ``build_app(ctx, extra_routes=[..., *host_routes(ctx)])``;
``host_routes`` also starts the timers (and rolls back a network change that
was pending when the peer stopped).
"""

from __future__ import annotations

from peer.hostmgmt.routes import host_routes

__all__ = ["host_routes"]
