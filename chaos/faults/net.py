"""Network faults inside the hosts' namespaces: partitions (nftables), link flapping,
``tc netem`` delay/loss/reordering. Every nftables rule lives in the table
``quantix_chaos`` and carries the comment ``quantix-chaos``; healing deletes the table."""

from __future__ import annotations

import subprocess
from typing import Any

from chaos.faults.base import TABLE, TAG, Fault
from chaos.lab import Lab

IFACE = "eth0"


def _run(argv: list[str], stdin: str | None = None, check: bool = True) -> None:
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=30)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {res.stderr.strip()}")


def nft_ruleset(drop_from: list[str], drop_to: list[str]) -> str:
    """The chaos table for one namespace: drop packets from / to these addresses. Pure."""
    lines = [f"table inet {TABLE} {{"]
    lines.append("  chain input {\n    type filter hook input priority -10; policy accept;")
    if drop_from:
        lines.append(f'    ip saddr {{ {", ".join(drop_from)} }} drop comment "{TAG}"')
    lines.append("  }")
    lines.append("  chain output {\n    type filter hook output priority -10; policy accept;")
    if drop_to:
        lines.append(f'    ip daddr {{ {", ".join(drop_to)} }} drop comment "{TAG}"')
    lines.append("  }\n}\n")
    return "\n".join(lines)


def remove_table(netns: str) -> None:
    _run(["ip", "netns", "exec", netns, "nft", "delete", "table", "inet", TABLE], check=False)


def partition_rules(
    groups: list[list[str]], addresses: dict[str, str], oneway: bool
) -> dict[str, tuple[list[str], list[str]]]:
    """Per host: (drop from, drop to). Symmetric: no traffic between groups.
    One-way (two groups): packets from the first group to the second are dropped,
    the other direction still flows. Pure."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    if oneway:
        senders, receivers = groups[0], groups[1]
        for h in receivers:
            out[h] = (sorted(addresses[s] for s in senders), [])
        return out
    for g in groups:
        others = sorted(addresses[h] for o in groups if o is not g for h in o)
        for h in g:
            out[h] = (others, others)
    return out


class Partition(Fault):
    """Split the hosts into groups (symmetric), or cut one direction between two groups."""

    kind = "partition"

    def __init__(self, lab: Lab, groups: list[list[str]], oneway: bool = False) -> None:
        super().__init__(sorted(h for g in groups for h in g))
        self.lab = lab
        self.groups = groups
        self.oneway = oneway
        if oneway:
            self.kind = "partition_oneway"

    def params(self) -> dict[str, Any]:
        return {"groups": self.groups, "oneway": self.oneway}

    def up_hosts(self, everyone: list[str]) -> list[str]:
        # The majority side: the largest group holding more than half of everyone.
        big = max(self.groups, key=len)
        return sorted(big) if len(big) * 2 > len(everyone) else []

    def inject(self) -> None:
        addrs = {h.name: h.address for h in self.lab.hosts()}
        for h, (src, dst) in partition_rules(self.groups, addrs, self.oneway).items():
            ns = self.lab.host(h).netns
            remove_table(ns)
            _run(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin=nft_ruleset(src, dst))

    def heal(self) -> None:
        for h in self.hosts:
            remove_table(self.lab.host(h).netns)


class Flap(Fault):
    """The hosts' link goes down and up every ``period_s``; up on heal."""

    kind = "flap"

    def __init__(self, lab: Lab, hosts: list[str], period_s: float = 1.5) -> None:
        super().__init__(hosts)
        self.lab = lab
        self.period_s = period_s
        self.down = False
        self.flips = 0

    def params(self) -> dict[str, Any]:
        return {"period_s": self.period_s, "flips": self.flips}

    def up_hosts(self, everyone: list[str]) -> list[str]:
        return [h for h in everyone if h not in self.hosts]

    def _set(self, down: bool) -> None:
        for h in self.hosts:
            ns = self.lab.host(h).netns
            _run(["ip", "-n", ns, "link", "set", IFACE, "down" if down else "up"])
        self.down = down
        self.flips += 1

    def inject(self) -> None:
        self._set(True)

    def tick(self, elapsed: float) -> None:
        want_down = int(elapsed / self.period_s) % 2 == 0
        if want_down != self.down:
            self._set(want_down)

    def heal(self) -> None:
        self._set(False)


def loss_ruleset(loss_pct: float) -> str:
    """Random loss both ways with nftables (``numgen``), for kernels without netem. Pure."""
    pct = max(1, min(99, round(loss_pct)))
    chains = []
    for chain, hook in (("input", "input"), ("output", "output")):
        chains.append(
            f"  chain {chain} {{\n    type filter hook {hook} priority -10; policy accept;\n"
            f'    numgen random mod 100 < {pct} drop comment "{TAG}"\n  }}'
        )
    return f"table inet {TABLE} {{\n" + "\n".join(chains) + "\n}\n"


class Netem(Fault):
    """Delay, loss and reordering on the hosts' link (``tc qdisc ... netem``).

    Kernels without ``sch_netem`` (this lab machine's: tc answers "Specified qdisc
    kind is unknown") get the nearest thing they can do: a token-bucket rate limit
    (queueing delay under load) and random loss both ways with nftables; no
    fixed delay and no reordering. ``notes`` says which one ran."""

    kind = "netem"

    def __init__(
        self,
        lab: Lab,
        hosts: list[str],
        delay_ms: int = 80,
        jitter_ms: int = 40,
        loss_pct: float = 3.0,
        reorder_pct: float = 10.0,
    ) -> None:
        super().__init__(hosts)
        self.lab = lab
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms
        self.loss_pct, self.reorder_pct = loss_pct, reorder_pct
        self.mode = "netem"

    def params(self) -> dict[str, Any]:
        return {
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
            "loss_pct": self.loss_pct,
            "reorder_pct": self.reorder_pct,
            "mode": self.mode,
        }

    def up_hosts(self, everyone: list[str]) -> list[str]:
        return list(everyone)  # slow and lossy, not cut off

    def netem_args(self) -> list[str]:
        return [
            "delay",
            f"{self.delay_ms}ms",
            f"{self.jitter_ms}ms",
            "loss",
            f"{self.loss_pct}%",
            "reorder",
            f"{self.reorder_pct}%",
            "50%",
        ]

    def fallback_args(self) -> list[str]:
        # About 1 Mbit/s, with a queue as deep as the wanted delay (x4).
        return ["tbf", "rate", "1mbit", "burst", "16kb", "latency", f"{4 * self.delay_ms}ms"]

    def inject(self) -> None:
        for h in self.hosts:
            ns = self.lab.host(h).netns
            tc = ["tc", "-n", ns, "qdisc", "replace", "dev", IFACE, "root"]
            res = subprocess.run(
                [*tc, "netem", *self.netem_args()], capture_output=True, text=True, check=False
            )
            if res.returncode == 0:
                continue
            if "unknown" not in res.stderr.lower():
                raise RuntimeError(f"tc netem on {h}: {res.stderr.strip()}")
            self.mode = "tbf+nft-loss"
            _run([*tc, *self.fallback_args()])
            remove_table(ns)
            _run(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin=loss_ruleset(self.loss_pct))
        if self.mode != "netem":
            self.notes.append(
                "no sch_netem in this kernel: rate limit + random loss, no delay/reorder"
            )

    def heal(self) -> None:
        for h in self.hosts:
            ns = self.lab.host(h).netns
            _run(["tc", "-n", ns, "qdisc", "del", "dev", IFACE, "root"], check=False)
            if self.mode != "netem":
                remove_table(ns)
