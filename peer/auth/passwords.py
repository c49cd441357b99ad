"""Password hashing with scrypt (stdlib): salted, parameters stored with the hash.

Format: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so the cost can be raised
later without invalidating stored hashes. Hashing is CPU-bound (tens of ms):
async callers run it in a thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

# Four times the old cost (n=2^14): n=2^16, r=8 (64 MiB), p=1. OWASP's 2^17
# doubles that again; on a shared 2-core host under load a login would then take
# seconds. Logins run at most two at a time (peer/api/resources/auth.py); the
# per-request path (tokens, sessions) never hashes a password. Figures:
# docs/security.md. A stored hash keeps its own cost, so this can be raised.
N, R, P, DKLEN = 2**16, 8, 1, 32
# scrypt needs 128 * r * n bytes; allow twice that.
_MAXMEM = 256 * R * N


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=DKLEN, maxmem=max(_MAXMEM, 256 * r * n)
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(dk)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong password or a
    malformed hash (never raises on bad input)."""
    try:
        scheme, n_s, r_s, p_s, salt_s, dk_s = stored.split("$")
        if scheme != "scrypt":
            return False
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt, want = base64.b64decode(salt_s), base64.b64decode(dk_s)
        got = hashlib.scrypt(
            password.encode(),
            salt=salt,
            n=n,
            r=r,
            p=p,
            dklen=len(want),
            maxmem=max(_MAXMEM, 256 * r * n),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# A hash to verify against when the user does not exist, so that "no such user"
# and "wrong password" take the same time. Made on first use, not at import.
_DUMMY: list[str] = []


def _dummy() -> str:
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY[0]


async def averify_password(password: str, stored: str | None) -> bool:
    target = stored if stored is not None else await asyncio.to_thread(_dummy)
    ok = await asyncio.to_thread(verify_password, password, target)
    return ok and stored is not None


async def ahash_password(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)
