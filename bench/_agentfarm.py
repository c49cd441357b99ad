"""``python -m bench._agentfarm DIR N``: N real guest agents (agent.guest's
Session and handlers, unchanged) each behind a unix socket ``DIR/<i>.sock``,
as QEMU's channel socket would be, for the host-CPU figure of ``bench agent``
without booting N guests. Runs until killed."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

from agent.guest.main import Session
from agent.guest.ops import Agent


def serve(path: Path) -> None:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    while True:
        conn, _ = srv.accept()
        agent = Agent(hooks_dir="/nonexistent")
        # These agents run on the host itself: never let one step its clock,
        # or power it off.
        for op in ("set_time", "shutdown", "reboot", "freeze", "thaw", "set_password"):
            agent.handlers.pop(op)
        try:
            Session(conn.fileno(), agent).loop()
        except OSError:
            pass
        finally:
            conn.close()


def main(argv: list[str]) -> int:
    where, n = Path(argv[0]), int(argv[1])
    for i in range(n):
        threading.Thread(target=serve, args=(where / f"{i}.sock",), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
