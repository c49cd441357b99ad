"""Prometheus metrics (the one module that imports prometheus_client).

Each app gets its own registry, so several apps in one process (tests, the
in-process benchmark) do not collide. Cluster figures are read from the local
replica at scrape time rather than kept up to date on every change.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from peer.context import PeerContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _ClusterCollector(Collector):
    def __init__(self, ctx: PeerContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store = self.ctx.store
        st = store.status()
        role = GaugeMetricFamily(
            "quantix_raft_role", "1 for this peer's Raft role", labels=["role"]
        )
        for r in ("leader", "follower", "candidate"):
            role.add_metric([r], 1.0 if st.get("role") == r else 0.0)
        yield role
        yield GaugeMetricFamily("quantix_raft_term", "Raft term", value=float(st.get("term") or 0))
        commit = float(st.get("commit_index") or 0)
        yield GaugeMetricFamily("quantix_raft_commit_index", "Raft commit index", value=commit)
        applied = float(st.get("last_applied", st.get("commit_index") or 0) or 0)
        lag = float(st.get("apply_lag", max(0.0, commit - applied)) or 0)
        yield GaugeMetricFamily("quantix_raft_apply_lag", "committed but not applied", value=lag)
        yield GaugeMetricFamily(
            "quantix_store_revision", "applied revision", value=float(store.revision)
        )
        cpus = GaugeMetricFamily("quantix_node_cpus", "CPUs per node", labels=["node"])
        mem = GaugeMetricFamily("quantix_node_memory_mib", "memory per node", labels=["node"])
        up = GaugeMetricFamily("quantix_node_state", "node state", labels=["node", "state"])
        for rec in store.scan("nodes"):
            res = rec.value.get("resources") or {}
            cpus.add_metric([rec.key], float(res.get("cpus") or 0))
            mem.add_metric([rec.key], float(res.get("memory_mib") or 0))
            up.add_metric([rec.key, str(rec.value.get("state", "active"))], 1.0)
        yield cpus
        yield mem
        yield up
        status = {r.key: str(r.value.get("state")) for r in store.scan("vm_status")}
        counts = Tally(status.get(r.key, "pending") for r in store.scan("vms"))
        vms = GaugeMetricFamily("quantix_vms", "VMs by observed state", labels=["state"])
        for state, n in sorted(counts.items()):
            vms.add_metric([state], float(n))
        yield vms


class ApiMetrics:
    """The registry of one app: request counts/latency plus the cluster collector."""

    def __init__(self, ctx: PeerContext) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "quantix_api_requests",
            "API requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "quantix_api_request_seconds",
            "API request latency",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_ClusterCollector(ctx))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
