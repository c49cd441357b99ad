"""A msgpack subset in pure Python, the one codec both ends use.

The guest may have no ``msgpack`` package (python3-minimal has none), so the
agent ships this: nil, bool, int (-2**63 .. 2**64-1), float (64-bit), str
(UTF-8), bin, array and map, in the standard msgpack encoding, so any msgpack
library reads what it writes (tests compare with the real one). Extension
types and timestamps are refused. Decoding checks every length against the
bytes left and a depth limit, so a hostile frame costs at most its own size.
"""

from __future__ import annotations

import struct
from typing import Any

MAX_DEPTH = 32


class WireError(ValueError):
    """The bytes are not a message of this subset."""


def packb(obj: Any) -> bytes:
    out: list[bytes] = []
    _pack(obj, out, 0)
    return b"".join(out)


def _pack(obj: Any, out: list[bytes], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise WireError("nested too deep")
    if obj is None:
        out.append(b"\xc0")
    elif obj is True:
        out.append(b"\xc3")
    elif obj is False:
        out.append(b"\xc2")
    elif isinstance(obj, int):
        _pack_int(obj, out)
    elif isinstance(obj, float):
        out.append(b"\xcb" + struct.pack(">d", obj))
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        n = len(data)
        if n < 32:
            out.append(bytes([0xA0 | n]))
        elif n < 0x100:
            out.append(b"\xd9" + bytes([n]))
        elif n < 0x10000:
            out.append(b"\xda" + struct.pack(">H", n))
        else:
            out.append(b"\xdb" + struct.pack(">I", n))
        out.append(data)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        n = len(data)
        if n < 0x100:
            out.append(b"\xc4" + bytes([n]))
        elif n < 0x10000:
            out.append(b"\xc5" + struct.pack(">H", n))
        else:
            out.append(b"\xc6" + struct.pack(">I", n))
        out.append(data)
    elif isinstance(obj, (list, tuple)):
        n = len(obj)
        if n < 16:
            out.append(bytes([0x90 | n]))
        elif n < 0x10000:
            out.append(b"\xdc" + struct.pack(">H", n))
        else:
            out.append(b"\xdd" + struct.pack(">I", n))
        for item in obj:
            _pack(item, out, depth + 1)
    elif isinstance(obj, dict):
        n = len(obj)
        if n < 16:
            out.append(bytes([0x80 | n]))
        elif n < 0x10000:
            out.append(b"\xde" + struct.pack(">H", n))
        else:
            out.append(b"\xdf" + struct.pack(">I", n))
        for k, v in obj.items():
            _pack(k, out, depth + 1)
            _pack(v, out, depth + 1)
    else:
        raise WireError(f"cannot encode {type(obj).__name__}")


def _pack_int(n: int, out: list[bytes]) -> None:
    if 0 <= n < 0x80:
        out.append(bytes([n]))
    elif -32 <= n < 0:
        out.append(struct.pack(">b", n))
    elif 0 <= n < 0x100:
        out.append(b"\xcc" + bytes([n]))
    elif 0 <= n < 0x10000:
        out.append(b"\xcd" + struct.pack(">H", n))
    elif 0 <= n < 0x100000000:
        out.append(b"\xce" + struct.pack(">I", n))
    elif 0 <= n < 0x10000000000000000:
        out.append(b"\xcf" + struct.pack(">Q", n))
    elif -0x80 <= n < 0:
        out.append(b"\xd0" + struct.pack(">b", n))
    elif -0x8000 <= n < 0:
        out.append(b"\xd1" + struct.pack(">h", n))
    elif -0x80000000 <= n < 0:
        out.append(b"\xd2" + struct.pack(">i", n))
    elif -0x8000000000000000 <= n < 0:
        out.append(b"\xd3" + struct.pack(">q", n))
    else:
        raise WireError("integer out of range")


def unpackb(data: bytes) -> Any:
    """The one message in ``data``; trailing bytes are an error."""
    obj, pos = _unpack(memoryview(data), 0, 0)
    if pos != len(data):
        raise WireError(f"{len(data) - pos} bytes after the message")
    return obj


_FIXED = {
    0xCC: (">B", 1),
    0xCD: (">H", 2),
    0xCE: (">I", 4),
    0xCF: (">Q", 8),
    0xD0: (">b", 1),
    0xD1: (">h", 2),
    0xD2: (">i", 4),
    0xD3: (">q", 8),
    0xCA: (">f", 4),
    0xCB: (">d", 8),
}


def _take(buf: memoryview, pos: int, n: int) -> tuple[memoryview, int]:
    end = pos + n
    if end > len(buf):
        raise WireError("truncated message")
    return buf[pos:end], end


def _length(buf: memoryview, pos: int, size: int) -> tuple[int, int]:
    raw, pos = _take(buf, pos, size)
    return int.from_bytes(raw, "big"), pos


def _unpack(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise WireError("nested too deep")
    if pos >= len(buf):
        raise WireError("truncated message")
    b = buf[pos]
    pos += 1
    if b < 0x80:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if 0xA0 <= b <= 0xBF:
        return _str(buf, pos, b & 0x1F)
    if 0x90 <= b <= 0x9F:
        return _array(buf, pos, b & 0x0F, depth)
    if 0x80 <= b <= 0x8F:
        return _map(buf, pos, b & 0x0F, depth)
    if b == 0xC0:
        return None, pos
    if b == 0xC2:
        return False, pos
    if b == 0xC3:
        return True, pos
    if b in _FIXED:
        fmt, size = _FIXED[b]
        raw, pos = _take(buf, pos, size)
        return struct.unpack(fmt, raw)[0], pos
    if b in (0xD9, 0xDA, 0xDB):
        n, pos = _length(buf, pos, {0xD9: 1, 0xDA: 2, 0xDB: 4}[b])
        return _str(buf, pos, n)
    if b in (0xC4, 0xC5, 0xC6):
        n, pos = _length(buf, pos, {0xC4: 1, 0xC5: 2, 0xC6: 4}[b])
        raw, pos = _take(buf, pos, n)
        return bytes(raw), pos
    if b in (0xDC, 0xDD):
        n, pos = _length(buf, pos, 2 if b == 0xDC else 4)
        return _array(buf, pos, n, depth)
    if b in (0xDE, 0xDF):
        n, pos = _length(buf, pos, 2 if b == 0xDE else 4)
        return _map(buf, pos, n, depth)
    raise WireError(f"type byte 0x{b:02x} is not in the subset")


def _str(buf: memoryview, pos: int, n: int) -> tuple[str, int]:
    raw, pos = _take(buf, pos, n)
    try:
        return str(raw, "utf-8"), pos
    except UnicodeDecodeError:
        raise WireError("a string is not UTF-8") from None


def _array(buf: memoryview, pos: int, n: int, depth: int) -> tuple[list[Any], int]:
    if n > len(buf) - pos:  # every item takes at least one byte
        raise WireError("truncated message")
    items = []
    for _ in range(n):
        item, pos = _unpack(buf, pos, depth + 1)
        items.append(item)
    return items, pos


def _map(buf: memoryview, pos: int, n: int, depth: int) -> tuple[dict[Any, Any], int]:
    if 2 * n > len(buf) - pos:
        raise WireError("truncated message")
    out: dict[Any, Any] = {}
    for _ in range(n):
        key, pos = _unpack(buf, pos, depth + 1)
        if not isinstance(key, (str, int)):
            raise WireError("a map key is not a string or integer")
        out[key], pos = _unpack(buf, pos, depth + 1)
    return out, pos
