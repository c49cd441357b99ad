"""A validator for the subset of JSON Schema (2020-12) the API's declarations use.

Why our own: the subset is small, and owning it lets us (1) refuse at import
time any schema keyword we do not enforce — so a declaration can never promise
a check that silently does not happen — and (2) default objects to *closed*:
an object schema with ``properties`` rejects unknown fields unless it says
``additionalProperties``. ``closed()`` writes that default into the schema
that OpenAPI publishes, so the document and the validator agree.

Supported keywords: type (string or list), properties, required,
additionalProperties (bool or schema), items, enum, const, minimum, maximum,
exclusiveMinimum, minLength, maxLength, pattern, minItems, maxItems,
uniqueItems, format (informational), description, default, examples, readOnly,
nullable-by-type-list (``["string", "null"]``), anyOf, $ref is *not* supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Schema = dict[str, Any]

_KNOWN = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "format",
        "description",
        "default",
        "examples",
        "readOnly",
        "anyOf",
        "title",
    }
)
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})


class SchemaDeclarationError(Exception):
    """A route declared a schema this validator cannot enforce (a programming error)."""


def closed(schema: Schema, *, close_objects: bool = True) -> Schema:
    """Check ``schema`` and return a copy in which every object with
    ``properties`` has ``additionalProperties: false`` unless it said otherwise.

    Response schemas pass ``close_objects=False``: a response may gain fields
    without breaking clients, a request may not carry fields we would ignore.
    """
    return _close(schema, "#", close_objects)


def _close(s: Schema, where: str, shut: bool = True) -> Schema:
    if not isinstance(s, dict):
        raise SchemaDeclarationError(f"{where}: a schema must be a mapping")
    unknown = set(s) - _KNOWN
    if unknown:
        raise SchemaDeclarationError(f"{where}: unsupported keywords {sorted(unknown)}")
    types = s.get("type")
    for t in [types] if isinstance(types, str) else types or []:
        if t not in _TYPES:
            raise SchemaDeclarationError(f"{where}: unknown type {t!r}")
    if "pattern" in s:
        pat = str(s["pattern"])
        re.compile(pat)
        # The validator matches whole strings (re.fullmatch); the published
        # pattern says so with its anchors, so clients and fuzzers read it alike.
        if not (pat.startswith("^") and pat.endswith("$")):
            raise SchemaDeclarationError(f"{where}: a pattern must be anchored ^...$ ({pat!r})")
    out = dict(s)
    if "properties" in s:
        out["properties"] = {k: _close(v, f"{where}/{k}", shut) for k, v in s["properties"].items()}
        if shut:
            out.setdefault("additionalProperties", False)
    if isinstance(s.get("additionalProperties"), dict):
        out["additionalProperties"] = _close(s["additionalProperties"], f"{where}/*", shut)
    if "items" in s:
        out["items"] = _close(s["items"], f"{where}/[]", shut)
    if "anyOf" in s:
        out["anyOf"] = [_close(x, f"{where}/anyOf", shut) for x in s["anyOf"]]
    for k in s.get("required", []):
        if k not in s.get("properties", {}):
            raise SchemaDeclarationError(f"{where}: required field {k!r} is not declared")
    return out


def validate(schema: Schema, value: Any) -> list[dict[str, str]]:
    """Return the problems with ``value`` (empty when valid), each
    ``{"path": "/disks/0/size_gib", "problem": "..."}``. Pure."""
    return list(_check(schema, value, ""))


def _type_ok(t: str, v: Any) -> bool:
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    return v is None  # "null"


def _check(s: Schema, v: Any, path: str) -> Iterator[dict[str, str]]:
    here = path or "/"
    types = s.get("type")
    if types is not None:
        tl = [types] if isinstance(types, str) else list(types)
        if not any(_type_ok(t, v) for t in tl):
            yield {"path": here, "problem": f"must be of type {' or '.join(tl)}"}
            return
    if "anyOf" in s and not any(not validate(x, v) for x in s["anyOf"]):
        yield {"path": here, "problem": "matches none of the allowed forms"}
        return
    if "const" in s and v != s["const"]:
        yield {"path": here, "problem": f"must be {s['const']!r}"}
    if "enum" in s and v not in s["enum"]:
        yield {"path": here, "problem": f"must be one of {', '.join(map(str, s['enum']))}"}
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"]:
            yield {"path": here, "problem": f"must be at least {s['minimum']}"}
        if "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
            yield {"path": here, "problem": f"must be greater than {s['exclusiveMinimum']}"}
        if "maximum" in s and v > s["maximum"]:
            yield {"path": here, "problem": f"must be at most {s['maximum']}"}
    if isinstance(v, str):
        if "minLength" in s and len(v) < s["minLength"]:
            yield {"path": here, "problem": f"must be at least {s['minLength']} characters"}
        if "maxLength" in s and len(v) > s["maxLength"]:
            yield {"path": here, "problem": f"must be at most {s['maxLength']} characters"}
        # fullmatch: with re.search, "$" also matches before a trailing newline.
        if "pattern" in s and not re.fullmatch(s["pattern"], v):
            yield {"path": here, "problem": f"must match {s['pattern']}"}
    if isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            yield {"path": here, "problem": f"needs at least {s['minItems']} items"}
        if "maxItems" in s and len(v) > s["maxItems"]:
            yield {"path": here, "problem": f"allows at most {s['maxItems']} items"}
        if s.get("uniqueItems") and len({repr(x) for x in v}) != len(v):
            yield {"path": here, "problem": "items must be unique"}
        if "items" in s:
            for i, x in enumerate(v):
                yield from _check(s["items"], x, f"{path}/{i}")
    if isinstance(v, dict):
        props: dict[str, Schema] = s.get("properties", {})
        for k in s.get("required", []):
            if k not in v:
                yield {"path": f"{path}/{k}", "problem": "is required"}
        extra = s.get("additionalProperties", True)
        for k, x in v.items():
            if k in props:
                yield from _check(props[k], x, f"{path}/{k}")
            elif extra is False:
                yield {"path": f"{path}/{k}", "problem": "is not a known field"}
            elif isinstance(extra, dict):
                yield from _check(extra, x, f"{path}/{k}")
