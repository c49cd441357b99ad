"""Make OVN's northbound database hold exactly the projected rows.

``plan(desired, actual)`` is pure: from the desired rows (peer.net.project) and
the rows the database holds, the OVSDB operations of one transaction that
inserts what is missing, updates what differs and deletes what the cluster state
no longer implies. Rows are matched by ``external_ids:qx-key``; a root row
without one is not ours and goes (the cluster state is the only source of
truth); non-root rows go when nothing refers to them. ``sync(client, rows)``
reads, plans and writes; on an empty database it rebuilds everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypervisor.ovsdb import OvsdbClient
from peer.net.project import Ref, Row

DB = "OVN_Northbound"
KEY = "qx-key"
# Written in this order so every row is read before anything refers to it.
TABLES = (
    "DHCP_Options",
    "DNS",
    "Logical_Router_Port",
    "Logical_Router",
    "Logical_Switch_Port",
    "Logical_Switch",
    "ACL",
    "Port_Group",
)
# The columns the projection writes: only these are read back and compared.
COLUMNS = {
    "DHCP_Options": ["cidr", "options"],
    "DNS": ["records"],
    "Logical_Router_Port": ["name", "mac", "networks"],
    "Logical_Router": ["name", "ports"],
    "Logical_Switch_Port": [
        "name",
        "type",
        "addresses",
        "port_security",
        "dhcpv4_options",
        "options",
        "tag_request",
    ],
    "Logical_Switch": ["name", "ports", "dns_records"],
    "ACL": ["direction", "priority", "match", "action"],
    "Port_Group": ["name", "ports", "acls"],
}
ROOT = {"DHCP_Options", "DNS", "Logical_Router", "Logical_Switch", "Port_Group"}


def _atom(v: Any) -> Any:
    if isinstance(v, list) and len(v) == 2 and v[0] in ("uuid", "named-uuid"):
        return (v[0], v[1])
    return v


def _canon(v: Any) -> Any:
    """One form for equal OVSDB values (a one-element set comes back as the atom);
    frozensets, as order does not matter and sorting 10,000 ports' values would."""
    if isinstance(v, list) and len(v) == 2 and v[0] == "set":
        return frozenset(_atom(x) for x in v[1])
    if isinstance(v, list) and len(v) == 2 and v[0] == "map":
        return ("map", frozenset((str(k), _atom(x)) for k, x in v[1]))
    return frozenset([_atom(v)])


def _ext(v: Any) -> dict[str, str]:
    if isinstance(v, list) and len(v) == 2 and v[0] == "map":
        return {str(k): str(x) for k, x in v[1]}
    return {}


def plan(
    desired: Mapping[tuple[str, str], Row], actual: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    have: dict[tuple[str, str], dict[str, Any]] = {}
    for table, rows in actual.items():
        for r in rows:
            key = _ext(r.get("external_ids")).get(KEY)
            if key is None or (table, key) in have:
                if table in ROOT:
                    ops.append({"op": "delete", "table": table, "where": _by_uuid(r)})
                continue
            have[(table, key)] = r
    ident: dict[tuple[str, str], list[str]] = {}
    for i, (tk, _row) in enumerate(sorted(desired.items())):
        cur = have.get(tk)
        ident[tk] = ["uuid", _uuid(cur)] if cur is not None else ["named-uuid", f"r{i}"]

    def resolve(v: Any) -> Any:
        if isinstance(v, Ref):
            return ident[(v.table, v.key)]
        if isinstance(v, list):
            return [resolve(x) for x in v]
        return v

    by_table: dict[str, list[tuple[str, Row]]] = {}
    for (t, key), row in sorted(desired.items()):
        by_table.setdefault(t, []).append((key, row))
    for t in TABLES:
        for key, row in by_table.get(t, []):
            cols = {k: resolve(v) for k, v in row.cols.items() if k != "external_ids"}
            ext = dict(row.cols.get("external_ids") or {})
            ext[KEY] = key
            cols["external_ids"] = ["map", [[k, v] for k, v in sorted(ext.items())]]
            cur = have.get((t, key))
            if cur is None:
                ops.append(
                    {"op": "insert", "table": t, "row": cols, "uuid-name": ident[(t, key)][1]}
                )
                continue
            changed = {k: v for k, v in cols.items() if _canon(cur.get(k)) != _canon(v)}
            if changed:
                ops.append({"op": "update", "table": t, "where": _by_uuid(cur), "row": changed})
    for (t, key), r in sorted(have.items()):
        if (t, key) not in desired and t in ROOT:
            ops.append({"op": "delete", "table": t, "where": _by_uuid(r)})
    return ops


def _uuid(r: Mapping[str, Any]) -> str:
    u = r["_uuid"]
    return str(u[1] if isinstance(u, list) else u)


def _by_uuid(r: Mapping[str, Any]) -> list[Any]:
    return [["_uuid", "==", ["uuid", _uuid(r)]]]


def read(client: OvsdbClient) -> dict[str, list[dict[str, Any]]]:
    """The managed tables' rows (one transaction, so one consistent view)."""
    ops = [
        {"op": "select", "table": t, "where": [], "columns": ["_uuid", "external_ids", *COLUMNS[t]]}
        for t in TABLES
    ]
    res = client.transact(DB, ops)
    return {t: list(r.get("rows", [])) for t, r in zip(TABLES, res, strict=True)}


def sync(client: OvsdbClient, desired: Mapping[tuple[str, str], Row]) -> int:
    """Write the difference; returns the number of operations written."""
    ops = plan(desired, read(client))
    if ops:
        client.transact(DB, ops)
    return len(ops)
