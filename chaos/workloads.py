"""Client workloads: each a thread bound to one peer (its unix socket), recording
every operation in the history as invoke, then ok / fail / unknown.

- registers: ``networks/reg-<k>`` records; the register's value is the network's
  ``vlan`` (the API has no registers resource yet, and networks are written by
  the API alone, so nothing else bumps their versions). Reads are
  ``?consistent=true``; a CAS reads the record, then PATCHes with ``If-Match``:
  if the version still matched, the value was still the one read, so it is
  ``cas(old, new)``; a 412 means it had no effect. Every written value is new.
- sets: networks ``set-<process>-<n>`` created and some deleted (names never reused).
- VM lifecycle: create, start, stop, delete of short-lived VMs through rotating peers.
- migrations: live-migrate the HA VMs (the scheduler picks the target) now and
  then, through rotating peers, so faults also strike moves in flight.
"""

from __future__ import annotations

import itertools
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from chaos.client import FAIL, OK, PeerClient, Reply
from chaos.history import History, Op

MAX_VLAN = 4094


def complete(history: History, op: Op, r: Reply, value: Any = None, keep: bool = False) -> None:
    err = None if r.outcome == OK else r.code
    history.complete(op, r.outcome, value, err, keep=keep)


def etag_version(r: Reply) -> int | None:
    tag = r.headers.get("etag", "").strip('"')
    return int(tag) if tag.isdigit() else None


class Values:
    """Fresh values per register (thread-safe)."""

    def __init__(self) -> None:
        self._c: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def next(self, key: str) -> int | None:
        with self._lock:
            v = next(self._c.setdefault(key, itertools.count(1)))
        return v if v <= MAX_VLAN else None


class Worker(threading.Thread, ABC):
    def __init__(
        self, name: str, history: History, stop: threading.Event, seed: int, pace_s: float
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.history = history
        self.stop = stop
        self.rng = random.Random(seed)  # noqa: S311 (replayable workload, not secrets)
        self.pace_s = pace_s

    def run(self) -> None:
        while not self.stop.is_set():
            self.step()
            self.stop.wait(self.pace_s * self.rng.uniform(0.5, 1.5))

    @abstractmethod
    def step(self) -> None:
        """One operation of this workload, recorded in the history."""


class RegisterWorker(Worker):
    def __init__(
        self,
        name: str,
        history: History,
        stop: threading.Event,
        seed: int,
        client: PeerClient,
        keys: list[str],
        values: Values,
        pace_s: float = 0.15,
    ) -> None:
        super().__init__(name, history, stop, seed, pace_s)
        self.client, self.keys, self.values = client, keys, values

    def read(self, key: str) -> Op:
        op = self.history.invoke(self.name, self.client.host, "read", key)
        r = self.client.get(f"/networks/{key}?consistent=true")
        value = r.body.get("vlan") if r.outcome == OK and isinstance(r.body, dict) else None
        complete(self.history, op, r, value)
        return op

    def step(self) -> None:
        key = self.rng.choice(self.keys)
        x = self.rng.random()
        if x < 0.4:
            self.read(key)
            return
        new = self.values.next(key)
        if new is None:
            return
        if x < 0.9:
            cur = self.client.get(f"/networks/{key}")
            version = etag_version(cur)
            if cur.outcome != OK or version is None or not isinstance(cur.body, dict):
                return
            op = self.history.invoke(
                self.name, self.client.host, "cas", key, [cur.body.get("vlan"), new]
            )
            r = self.client.request("PATCH", f"/networks/{key}", {"vlan": new}, if_match=version)
        else:
            op = self.history.invoke(self.name, self.client.host, "write", key, new)
            r = self.client.request("PATCH", f"/networks/{key}", {"vlan": new})
        complete(self.history, op, r, keep=True)


class SetWorker(Worker):
    def __init__(
        self,
        name: str,
        history: History,
        stop: threading.Event,
        seed: int,
        client: PeerClient,
        pace_s: float = 0.4,
    ) -> None:
        super().__init__(name, history, stop, seed, pace_s)
        self.client = client
        self.n = itertools.count(1)
        self.created: list[str] = []

    def step(self) -> None:
        if self.created and self.rng.random() < 0.3:
            name = self.created.pop(self.rng.randrange(len(self.created)))
            op = self.history.invoke(self.name, self.client.host, "delete", name)
            complete(self.history, op, self.client.request("DELETE", f"/networks/{name}"))
            return
        name = f"set-{self.name}-{next(self.n)}"
        op = self.history.invoke(self.name, self.client.host, "create", name)
        r = self.client.request("POST", "/networks", {"name": name, "bridge": "brset"})
        complete(self.history, op, r)
        if r.outcome != FAIL:
            self.created.append(name)


class RotatingWorker(Worker, ABC):
    """A workload whose every call goes through the next peer in turn."""

    def __init__(
        self,
        name: str,
        history: History,
        stop: threading.Event,
        seed: int,
        clients: list[PeerClient],
        pace_s: float,
    ) -> None:
        super().__init__(name, history, stop, seed, pace_s)
        self.clients = clients
        self.turn = itertools.cycle(clients)

    def call(self, f: str, key: str, fn: Callable[[PeerClient], Reply]) -> Reply:
        c = next(self.turn)
        op = self.history.invoke(self.name, c.host, f, key)
        r = fn(c)
        complete(self.history, op, r)
        return r


class VmWorker(RotatingWorker):
    """Create, start, stop and delete one short-lived VM at a time, each call through
    the next peer in turn."""

    def __init__(
        self,
        name: str,
        history: History,
        stop: threading.Event,
        seed: int,
        clients: list[PeerClient],
        pace_s: float = 1.0,
    ) -> None:
        super().__init__(name, history, stop, seed, clients, pace_s)
        self.n = itertools.count(1)
        self.vm: tuple[str, str] | None = None  # (name, id)
        self.phase = 0

    def step(self) -> None:
        if self.vm is None:
            name = f"lc-{self.name}-{next(self.n)}"
            spec = {"name": name, "vcpus": 1, "memory_mib": 32, "desired": "stopped"}
            r = self.call("vm_create", name, lambda c: c.request("POST", "/vms", spec))
            if r.outcome == OK and isinstance(r.body, dict):
                self.vm, self.phase = (name, str(r.body["id"])), 0
            return
        name, vm_id = self.vm
        action = ["start", "stop", "delete"][self.phase]
        if action == "delete":
            r = self.call(
                "vm_delete", name, lambda c: c.request("DELETE", f"/vms/{vm_id}?force=true")
            )
            if r.outcome == OK or r.status == 404:
                self.vm = None
            return
        r = self.call(f"vm_{action}", name, lambda c: c.request("POST", f"/vms/{vm_id}/{action}"))
        if r.outcome == OK:
            self.phase += 1


class MigrateWorker(RotatingWorker):
    """Ask for a live migration of one of ``vms`` at a time (target left to the
    scheduler), through the next peer in turn. A refusal (409: already moving,
    nowhere to go) is an answer, not an outage."""

    def __init__(
        self,
        name: str,
        history: History,
        stop: threading.Event,
        seed: int,
        clients: list[PeerClient],
        vms: list[str],
        pace_s: float = 8.0,
    ) -> None:
        super().__init__(name, history, stop, seed, clients, pace_s)
        self.vms = vms

    def step(self) -> None:
        if self.vms:
            vm = self.rng.choice(self.vms)
            self.call(
                "vm_migrate", vm, lambda c: c.request("POST", f"/vms/{vm}/migrate", {"live": True})
            )
