"""Login abuse limits, kept by each peer in memory (docs/security.md).

- A wrong password counts against the pair (user, source address): the fifth
  locks that pair for 15 minutes. Someone failing from elsewhere cannot lock
  ``admin`` out for everyone: the admin's own address is another pair.
- Each source may fail 20 times per 10 minutes in all, whatever the user names
  (429 ``too_many_attempts``), which bounds guessing across many user names.
- When failures pile up on this peer from many sources, every failed answer is
  delayed (the global slow-down), and only a few password checks run at once.
- An attempt is *reserved* before the password is checked: parallel guesses
  count while they are being checked, so they cannot exceed the limit.

Failures are not committed to the replicated state (a stranger could fill it):
each peer counts what it sees, so with N peers a source has at most N times
these budgets. Pure: the clock is an argument; the tables are bounded.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field


class Throttled(Exception):
    """The attempt is refused before any password check."""

    def __init__(self, message: str, code: str, status: int, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after


@dataclass
class _Pair:
    failures: int = 0
    pending: int = 0
    locked_until: float = 0.0


@dataclass
class _Source:
    failures: deque[float] = field(default_factory=deque)
    pending: int = 0


@dataclass(frozen=True)
class Ticket:
    user: str
    source: str


@dataclass
class LoginThrottle:
    pair_limit: int = 5
    lock_s: float = 15 * 60
    source_limit: int = 20
    window_s: float = 10 * 60
    # Failures per minute on this peer above which failed answers are slowed.
    global_limit: int = 60
    slow_s: float = 2.0
    max_entries: int = 20_000
    _pairs: OrderedDict[tuple[str, str], _Pair] = field(default_factory=OrderedDict)
    _sources: OrderedDict[str, _Source] = field(default_factory=OrderedDict)
    _recent: deque[float] = field(default_factory=deque)

    def reserve(self, user: str, source: str, now: float) -> Ticket:
        """Count this attempt as a failure until it proves otherwise, or raise
        Throttled (423 for a locked pair, 429 for a source over its budget)."""
        pair = self._pair(user, source)
        if pair.locked_until > now:
            wait = int(pair.locked_until - now) + 1
            raise Throttled(
                f"too many failed logins for {user} from {source}: locked for {wait} more seconds",
                "account_locked",
                423,
                wait,
            )
        src = self._source(source)
        while src.failures and src.failures[0] <= now - self.window_s:
            src.failures.popleft()
        if len(src.failures) + src.pending >= self.source_limit:
            wait = int(src.failures[0] + self.window_s - now) + 1 if src.failures else 1
            raise Throttled(
                f"too many failed logins from {source}; try again in {wait} seconds",
                "too_many_attempts",
                429,
                wait,
            )
        if pair.failures + pair.pending >= self.pair_limit:
            # Only reservations in flight fill the pair: refuse like a lock.
            raise Throttled(f"too many logins in flight for {user}", "account_locked", 423, 1)
        pair.pending += 1
        src.pending += 1
        return Ticket(user, source)

    def succeeded(self, t: Ticket) -> None:
        pair, src = self._pair(t.user, t.source), self._source(t.source)
        src.pending = max(0, src.pending - 1)
        pair.pending = max(0, pair.pending - 1)
        pair.failures = 0

    def failed(self, t: Ticket, now: float) -> bool:
        """Record the failure; True when it locked the pair."""
        pair, src = self._pair(t.user, t.source), self._source(t.source)
        src.pending = max(0, src.pending - 1)
        pair.pending = max(0, pair.pending - 1)
        src.failures.append(now)
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - 60:
            self._recent.popleft()
        pair.failures += 1
        if pair.failures >= self.pair_limit:
            pair.failures = 0
            pair.locked_until = now + self.lock_s
            return True
        return False

    def slowdown(self, now: float) -> float:
        """Seconds to hold a failed answer back: 0 unless failures pile up here."""
        recent = sum(1 for t in self._recent if t > now - 60)
        return self.slow_s if recent > self.global_limit else 0.0

    def unlock(self, user: str, before: float | None = None) -> None:
        """An admin lifts the locks of ``user`` (those earned before ``before``,
        the replicated ``unlocked_at``, so every peer honours one unlock)."""
        for (u, _), pair in self._pairs.items():
            if u != user:
                continue
            if before is None or pair.locked_until - self.lock_s <= before:
                pair.locked_until = 0.0
                pair.failures = 0

    def locked_until(self, user: str, now: float) -> float | None:
        until = max((p.locked_until for (u, _), p in self._pairs.items() if u == user), default=0)
        return until if until > now else None

    # Bounded tables: the least recently used entries go first (an idle pair
    # that is not locked loses nothing worth keeping).
    def _pair(self, user: str, source: str) -> _Pair:
        key = (user, source)
        pair = self._pairs.get(key)
        if pair is None:
            pair = self._pairs[key] = _Pair()
            while len(self._pairs) > self.max_entries:
                self._pairs.popitem(last=False)
        else:
            self._pairs.move_to_end(key)
        return pair

    def _source(self, source: str) -> _Source:
        src = self._sources.get(source)
        if src is None:
            src = self._sources[source] = _Source()
            while len(self._sources) > self.max_entries:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(source)
        return src
