"""The boot entries of the A/B slots (systemd-boot's Boot Loader Specification
type #1 files on the ESP) and the boot-counting rules. Pure.

An entry's file name is ``quantix-<generation>-<slot>[+<left>[-<done>]].conf``:

- the **generation** grows by one at every update, so the newest slot sorts first:
  systemd-boot boots the first entry of its menu, which is sorted newest id first
  with entries that have no tries left moved to the end (``loader.conf`` has no
  ``default``: a default would boot a slot with no tries left too);
- a counter ``+N`` means "not yet known good": systemd-boot renames the file to
  ``+(N-1)-1`` before booting it, and ``systemd-bless-boot`` drops the counter once
  the host reached ``boot-complete.target`` (the peer's health check passed);
- ``+0-…`` is a slot that used its tries without being blessed: it is **bad**, sorts
  last, and the previous generation boots again — the rollback needs nobody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from peer.osimage.layout import SLOTS

PREFIX = "quantix"
# Tries a new slot gets: one boot. A slot that does not come up healthy the first
# time is rolled back at once (a second try would double the rollback time).
UPDATE_TRIES = 1
_NAME_RE = re.compile(r"^quantix-(\d{6})-([ab])(?:\+(\d+)(?:-(\d+))?)?\.conf$")


class EntryError(ValueError):
    """A slot or generation out of range."""


@dataclass(frozen=True)
class Entry:
    generation: int
    slot: str
    tries_left: int | None = None  # None: no counter (known good)
    tries_done: int = 0

    @property
    def id(self) -> str:
        return f"{PREFIX}-{self.generation:06d}-{self.slot}"

    @property
    def filename(self) -> str:
        if self.tries_left is None:
            return f"{self.id}.conf"
        if self.tries_done:
            return f"{self.id}+{self.tries_left}-{self.tries_done}.conf"
        return f"{self.id}+{self.tries_left}.conf"

    @property
    def state(self) -> str:
        """``good``, ``trying`` (tries left, not yet blessed) or ``bad``."""
        if self.tries_left is None:
            return "good"
        return "trying" if self.tries_left > 0 else "bad"


def parse(filename: str) -> Entry | None:
    """The entry a file name describes, or None for any other file."""
    m = _NAME_RE.match(filename)
    if m is None:
        return None
    left = None if m.group(3) is None else int(m.group(3))
    done = int(m.group(4) or 0)
    return Entry(int(m.group(1)), m.group(2), left, done)


def entries(filenames: list[str]) -> list[Entry]:
    """Quantix entries among the files of ``loader/entries``, in boot-menu order."""
    found = [e for e in (parse(n) for n in filenames) if e is not None]
    return sorted(found, key=lambda e: (e.state == "bad", -e.generation))


def booted_first(filenames: list[str]) -> Entry | None:
    """The entry systemd-boot starts without anybody at the menu."""
    ordered = entries(filenames)
    return ordered[0] if ordered else None


def content(
    slot: str, version: str, *, disk: str = "", console: str = "ttyS0,115200", extra: str = ""
) -> str:
    """The text of a slot's entry: its kernel and initrd live under ``/<slot>/``."""
    if slot not in SLOTS:
        raise EntryError(f"slot must be one of {SLOTS}, got {slot!r}")
    options = (
        f"quantix.slot={slot} console=tty1 console={console} panic=10 quiet loglevel=3 "
        "systemd.show_status=false systemd.gpt_auto=0"
    )
    if disk:
        options += f" quantix.disk={disk}"
    if extra:
        options += " " + extra
    return (
        f"title Quantix-OS {version} (slot {slot.upper()})\n"
        f"version {version}\n"
        f"linux /{slot}/vmlinuz\n"
        f"initrd /{slot}/initrd.img\n"
        f"options {options}\n"
    )


@dataclass(frozen=True)
class UpdatePlan:
    slot: str  # the slot to write
    entry: Entry  # the new entry (with its tries)
    remove: tuple[str, ...]  # entry files to delete first (older entries of that slot)


def plan_update(filenames: list[str], running_slot: str) -> UpdatePlan:
    """Where an update goes: the slot that is not running, with the next generation
    and ``UPDATE_TRIES`` tries; the old entries of that slot are removed first, so
    the menu never points at a slot being written."""
    if running_slot not in SLOTS:
        raise EntryError(f"unknown running slot {running_slot!r}")
    target = "b" if running_slot == "a" else "a"
    found = [e for e in (parse(n) for n in filenames) if e is not None]
    generation = max((e.generation for e in found), default=0) + 1
    remove = tuple(e.filename for e in found if e.slot == target)
    return UpdatePlan(target, Entry(generation, target, UPDATE_TRIES), remove)


def rolled_back(filenames: list[str], running_slot: str) -> Entry | None:
    """A newer entry of the other slot that used its tries: the update that failed
    and was rolled back (None when the running slot is the newest)."""
    found = [e for e in (parse(n) for n in filenames) if e is not None]
    running = [e.generation for e in found if e.slot == running_slot]
    newest_running = max(running, default=0)
    bad = [e for e in found if e.state == "bad" and e.generation > newest_running]
    return max(bad, key=lambda e: e.generation) if bad else None
