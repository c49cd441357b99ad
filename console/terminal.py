"""The one module that uses asciimatics: draws lines, reads keys, steps aside
for the emergency shell. Colours where the terminal has them."""

from __future__ import annotations

import subprocess
import sys
import time

from asciimatics.event import KeyboardEvent
from asciimatics.screen import Screen

from console.app import App
from console.ui import Line

MIN_W, MIN_H = 80, 24

_COLOURS = {
    "normal": (Screen.COLOUR_WHITE, Screen.A_NORMAL),
    "title": (Screen.COLOUR_CYAN, Screen.A_BOLD),
    "dim": (Screen.COLOUR_BLUE, Screen.A_BOLD),
    "ok": (Screen.COLOUR_GREEN, Screen.A_BOLD),
    "warn": (Screen.COLOUR_YELLOW, Screen.A_BOLD),
    "error": (Screen.COLOUR_RED, Screen.A_BOLD),
    "key": (Screen.COLOUR_BLACK, Screen.A_NORMAL),
    "focus": (Screen.COLOUR_YELLOW, Screen.A_BOLD),
    "label": (Screen.COLOUR_WHITE, Screen.A_NORMAL),
}
_BG = {"key": Screen.COLOUR_CYAN}
_KEYS = {
    Screen.KEY_ESCAPE: "ESC",
    Screen.KEY_UP: "UP",
    Screen.KEY_DOWN: "DOWN",
    Screen.KEY_LEFT: "LEFT",
    Screen.KEY_RIGHT: "RIGHT",
    Screen.KEY_TAB: "TAB",
    Screen.KEY_BACK_TAB: "BTAB",
    Screen.KEY_BACK: "BACKSPACE",
    Screen.KEY_DELETE: "BACKSPACE",
    Screen.KEY_PAGE_UP: "PGUP",
    Screen.KEY_PAGE_DOWN: "PGDN",
    10: "ENTER",
    13: "ENTER",
    127: "BACKSPACE",
    8: "BACKSPACE",
    9: "TAB",
    3: "CTRL_C",
}
_KEYS.update({getattr(Screen, f"KEY_F{i}"): f"F{i}" for i in range(1, 13)})


def key_name(code: int) -> str | None:
    if code in _KEYS:
        return _KEYS[code]
    if 32 <= code < 0x110000:
        return chr(code)
    return None


def draw(screen: Screen, lines: list[Line]) -> None:
    width = screen.width
    colours = screen.colours >= 8
    screen.clear_buffer(Screen.COLOUR_WHITE, Screen.A_NORMAL, Screen.COLOUR_BLACK)
    for y, line in enumerate(lines[: screen.height]):
        fg, attr = _COLOURS.get(line.style, _COLOURS["normal"])
        bg = _BG.get(line.style, Screen.COLOUR_BLACK)
        if not colours:
            fg, bg = Screen.COLOUR_WHITE, Screen.COLOUR_BLACK
            attr = Screen.A_REVERSE if line.style in ("title", "key", "focus") else Screen.A_NORMAL
        text = line.text.ljust(width) if line.style in ("title", "key") else line.text
        screen.print_at(text[:width], 0, y, colour=fg, attr=attr, bg=bg)
    screen.refresh()


class Terminal:
    """The terminal the app draws on; steps aside for an external command."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.screen = Screen.open(catch_interrupt=True)
        app.external = self.external

    def close(self) -> None:
        self.screen.close()

    def external(self, argv: list[str], banner: str) -> int:
        """Hand the terminal to ``argv`` (the emergency shell) and take it back."""
        self.screen.close()
        print(banner, flush=True)
        try:
            rc = subprocess.call(argv)
        except OSError as e:
            print(f"cannot start {argv[0]}: {e}", file=sys.stderr)
            rc = 127
        self.screen = Screen.open(catch_interrupt=True)
        return rc

    def loop(self) -> None:
        app = self.app
        last_draw, dirty = 0.0, True
        while not app.quit:
            if self.screen.has_resized():
                self.screen.close()
                self.screen = Screen.open(catch_interrupt=True)
                dirty = True
            app.tick()
            ev = self.screen.get_event()
            if isinstance(ev, KeyboardEvent):
                name = key_name(ev.key_code)
                if name is not None:
                    app.key(name)
                    dirty = True
            now = time.monotonic()
            if dirty or now - last_draw > 0.5:
                w, h = self.screen.width, self.screen.height
                if w < MIN_W or h < MIN_H:
                    msg = f"The console needs {MIN_W}x{MIN_H}; this terminal is {w}x{h}."
                    draw(self.screen, [Line(msg, "warn")])
                else:
                    draw(self.screen, app.frame(w, h))
                last_draw, dirty = now, False
            if ev is None:
                time.sleep(0.05)


def run(app: App) -> int:
    """Run the console until the process is stopped (it has no quit key)."""
    term = Terminal(app)
    try:
        term.loop()
    finally:
        term.close()
    return 0
