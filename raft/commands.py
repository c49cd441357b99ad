"""The replicated state machine: pure, deterministic apply functions.

A *command* is plain data (msgpack-able dict)::

    {"id": "<op id>", "ts": <float, proposer's clock>, "ops": [op, ...]}

and each op is one of::

    {"op": "put",    "table": T, "key": K, "value": {...}, "expect": E}
    {"op": "delete", "table": T, "key": K, "expect": E}
    {"op": "check",  "table": T, "key": K, "expect": E}     # precondition only
    {"op": "trim",   "table": T, "keep": N}                  # drop the oldest records

where ``E`` is ``None`` (no condition), ``"absent"``, ``"present"`` or an int
version. A command applies as a whole when every precondition holds and not
at all otherwise. Time enters only as ``ts`` inside the command, so every
replica computes the same state.

Exactly-once: the result of each applied op id is remembered (bounded LRU); a
retried command with a known id returns the original result and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import msgpack

from raft.errors import InvalidCommand

# How many op ids are remembered for exactly-once. A retry arrives within
# seconds of the original; 100k ids covers minutes of a heavy write stream.
OP_CACHE_SIZE = 100_000

TABLE_NAMES = frozenset(
    {
        "meta",
        "nodes",
        "vms",
        "vm_status",
        "volumes",
        "pools",
        "images",
        "networks",
        "users",
        "tokens",
        "sessions",
        "events",
        "audit",
        "leases",
        "tasks",
        "discovered",
        "groups",
        "registers",  # chaos workloads' CAS registers
        "ovn",  # QuantumNet: the central host, each host's tunnel address
        "secgroups",  # QuantumNet: security groups (stateful rules on NICs)
    }
)

Value = dict[str, Any]


@dataclass(frozen=True)
class Record:
    """One stored record: its data plus the version and the revision that wrote it."""

    table: str
    key: str
    version: int
    revision: int
    value: Value

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version,
            "revision": self.revision,
            "value": self.value,
        }


@dataclass(frozen=True)
class Change:
    """What one command did to one record; ``value is None`` means deleted."""

    table: str
    key: str
    revision: int
    version: int
    value: Value | None


_SCALARS = frozenset({str, bool, int, float, type(None)})
_MAX_DEPTH = 32


def _is_plain(v: Any, depth: int = 0) -> bool:
    """Plain data only (str, bool, int, float, None, lists, dicts with str keys),
    nested at most ``_MAX_DEPTH`` deep. Runs on every command twice (submit and
    apply, on every replica), so scalars are tested by exact type first."""
    if depth > _MAX_DEPTH:
        return False
    if type(v) in _SCALARS or isinstance(v, (str, bool, int, float)):
        return True
    if isinstance(v, list):
        items: Any = v
    elif isinstance(v, dict):
        for k in v:
            if type(k) is not str and not isinstance(k, str):
                return False
        items = v.values()
    else:
        return False
    for x in items:
        if type(x) in _SCALARS and depth < _MAX_DEPTH:
            continue
        if not _is_plain(x, depth + 1):
            return False
    return True


def validate_command(cmd: Any) -> None:
    """Raise InvalidCommand unless ``cmd`` is a well-formed command. Pure."""
    if not isinstance(cmd, dict):
        raise InvalidCommand("a command must be a mapping")
    if not isinstance(cmd.get("id"), str) or not cmd["id"]:
        raise InvalidCommand("a command needs a non-empty op id")
    if not isinstance(cmd.get("ts"), (int, float)):
        raise InvalidCommand("a command needs a numeric timestamp")
    ops = cmd.get("ops")
    if not isinstance(ops, list):
        raise InvalidCommand("a command needs a list of ops")
    for op in ops:
        if not isinstance(op, dict):
            raise InvalidCommand("an op must be a mapping")
        kind = op.get("op")
        table = op.get("table")
        if table not in TABLE_NAMES:
            raise InvalidCommand(f"unknown table {table!r}")
        if kind == "trim":
            if not isinstance(op.get("keep"), int) or op["keep"] < 0:
                raise InvalidCommand("trim needs a non-negative 'keep'")
            continue
        if kind not in ("put", "delete", "check"):
            raise InvalidCommand(f"unknown op {kind!r}")
        if not isinstance(op.get("key"), str) or not op["key"]:
            raise InvalidCommand("an op needs a non-empty string key")
        exp = op.get("expect")
        if not (exp is None or exp in ("absent", "present") or type(exp) is int):
            raise InvalidCommand(f"bad expectation {exp!r}")
        if kind == "put" and not (isinstance(op.get("value"), dict) and _is_plain(op["value"])):
            raise InvalidCommand("a put needs a value made of plain data")


class StateMachine:
    """Tables of versioned records, a global revision and the op-id cache.

    ``apply`` is the only mutator; it is deterministic given the command.
    """

    def __init__(self) -> None:
        # table -> key -> [version, revision, value]
        self.tables: dict[str, dict[str, list[Any]]] = {}
        self.revision = 0
        self.last_ts = 0.0
        self._ops: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # -- reads -------------------------------------------------------------
    def get(self, table: str, key: str) -> Record | None:
        e = self.tables.get(table, {}).get(key)
        if e is None:
            return None
        return Record(table, key, e[0], e[1], e[2])

    def scan(self, table: str, prefix: str = "") -> list[Record]:
        t = self.tables.get(table, {})
        return [
            Record(table, k, e[0], e[1], e[2]) for k, e in sorted(t.items()) if k.startswith(prefix)
        ]

    def count(self, table: str) -> int:
        return len(self.tables.get(table, {}))

    def op_result(self, op_id: str) -> dict[str, Any] | None:
        return self._ops.get(op_id)

    # -- the apply function -------------------------------------------------
    def apply(self, cmd: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
        """Apply a command; return (result, changes).

        The result is ``{"ok": True, "revision": R, "versions": [...]}`` or
        ``{"ok": False, "revision": R, "conflict": {...}}``. A malformed command
        is refused the same way (``"invalid": message``) rather than raised, so
        that a bad entry in the log cannot stop a replica.
        """
        op_id = cmd.get("id") if isinstance(cmd, dict) else None
        if isinstance(op_id, str) and op_id in self._ops:
            self._ops.move_to_end(op_id)
            return dict(self._ops[op_id], duplicate=True), []
        try:
            validate_command(cmd)
        except InvalidCommand as e:
            return {"ok": False, "revision": self.revision, "invalid": e.message}, []
        self.last_ts = max(self.last_ts, float(cmd["ts"]))
        if not cmd["ops"]:
            # A barrier (linearizable read): it changes nothing, so it neither bumps
            # the revision nor takes a slot in the op-id cache.
            return {"ok": True, "revision": self.revision, "versions": []}, []
        conflict = self._check(cmd["ops"])
        if conflict is not None:
            result: dict[str, Any] = {"ok": False, "revision": self.revision, "conflict": conflict}
            self._remember(cmd["id"], result)
            return result, []
        self.revision += 1
        rev = self.revision
        changes: list[Change] = []
        versions: list[int | None] = []
        for op in cmd["ops"]:
            t = self.tables.setdefault(op["table"], {})
            kind = op["op"]
            if kind == "put":
                old = t.get(op["key"])
                ver = (old[0] + 1) if old else 1
                t[op["key"]] = [ver, rev, op["value"]]
                changes.append(Change(op["table"], op["key"], rev, ver, op["value"]))
                versions.append(ver)
            elif kind == "delete":
                old = t.pop(op["key"], None)
                if old is not None:
                    changes.append(Change(op["table"], op["key"], rev, old[0], None))
                versions.append(None)
            elif kind == "trim":
                excess = len(t) - op["keep"]
                if excess > 0:
                    # Oldest first by the revision that wrote them, then key.
                    victims = sorted(t.items(), key=lambda kv: (kv[1][1], kv[0]))[:excess]
                    for k, entry in victims:
                        del t[k]
                        changes.append(Change(op["table"], k, rev, entry[0], None))
                versions.append(None)
            else:  # check
                versions.append(t[op["key"]][0] if op["key"] in t else None)
        result = {"ok": True, "revision": rev, "versions": versions}
        self._remember(cmd["id"], result)
        return result, changes

    def _check(self, ops: list[dict[str, Any]]) -> dict[str, Any] | None:
        for op in ops:
            exp = op.get("expect")
            if op["op"] == "trim" or exp is None:
                continue
            cur = self.tables.get(op["table"], {}).get(op["key"])
            have = cur[0] if cur else None
            ok = (
                (exp == "absent" and cur is None)
                or (exp == "present" and cur is not None)
                or (type(exp) is int and have == exp)
            )
            if not ok:
                return {"table": op["table"], "key": op["key"], "expected": exp, "actual": have}
        return None

    def _remember(self, op_id: str, result: dict[str, Any]) -> None:
        self._ops[op_id] = result
        while len(self._ops) > OP_CACHE_SIZE:
            self._ops.popitem(last=False)

    # -- snapshots ----------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain data (for a snapshot file or a hash)."""
        return {
            "revision": self.revision,
            "last_ts": self.last_ts,
            "tables": self.tables,
            "ops": list(self._ops.items()),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.revision = int(snap["revision"])
        self.last_ts = float(snap.get("last_ts", 0.0))
        self.tables = {t: dict(rows) for t, rows in snap["tables"].items()}
        self._ops = OrderedDict((k, v) for k, v in snap["ops"])

    def state_hash(self) -> str:
        """A hash of the tables and revision: equal on replicas that agree."""
        body = msgpack.packb(
            [self.revision, sorted((t, sorted(r.items())) for t, r in self.tables.items())],
            use_bin_type=True,
        )
        return hashlib.sha256(body).hexdigest()[:16]
