"""Run inside a lab namespace: the thread-safe (sync) Discovery API, driven by stdin lines.

Lines: ``update ROLE CLUSTER_ID`` re-announces; ``stop`` says goodbye and exits.
Prints ``ready`` once announcing, ``updated`` after each update.
"""

from __future__ import annotations

import sys

from discovery import Announcement, Discovery


def main() -> None:
    node_id, address = sys.argv[1], sys.argv[2]
    me = Announcement(node_id=node_id, cluster_name="prod", api_port=8443, raft_port=8444,
                      version="1", role="joining")  # fmt: skip
    d = Discovery(me, address, ttl=5)
    d.start()
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd[0] == "update":
            d.update(role=cmd[1], cluster_id=cmd[2])
            print("updated", flush=True)
        elif cmd[0] == "stop":
            break
    d.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
