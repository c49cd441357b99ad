"""What screens draw (lines with a style) and a small form widget. Pure: no terminal."""

from __future__ import annotations

from dataclasses import dataclass, field

# Styles the terminal adapter maps to colours (or to nothing on a mono terminal).
STYLES = ("normal", "title", "dim", "ok", "warn", "error", "key", "focus", "label")


@dataclass(frozen=True)
class Line:
    text: str = ""
    style: str = "normal"


def kv(label: str, value: object, style: str = "normal", width: int = 16) -> Line:
    return Line(f"  {label + ':':<{width}} {value}", style)


@dataclass
class Field:
    name: str
    label: str
    value: str = ""
    secret: bool = False
    choices: list[str] = field(default_factory=list)
    help: str = ""

    def shown(self) -> str:
        if self.choices:
            return f"< {self.value} >"
        return "*" * len(self.value) if self.secret else self.value


class Form:
    """Fields edited in place: Up/Down/Tab move, Left/Right change a choice,
    typing edits text, Enter moves on and submits from the last field."""

    def __init__(self, fields: list[Field]) -> None:
        self.fields = fields
        self.focus = 0

    def __getitem__(self, name: str) -> str:
        for f in self.fields:
            if f.name == name:
                return f.value.strip() if not f.secret else f.value
        raise KeyError(name)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def visible(self) -> list[Field]:
        return self.fields

    def key(self, key: str) -> bool:
        """Handle a key; True when Enter was pressed on the last field (submit)."""
        fields = self.visible()
        if not fields:
            return key == "ENTER"
        self.focus = min(self.focus, len(fields) - 1)
        cur = fields[self.focus]
        if key in ("DOWN", "TAB"):
            self.focus = (self.focus + 1) % len(fields)
        elif key in ("UP", "BTAB"):
            self.focus = (self.focus - 1) % len(fields)
        elif key == "ENTER":
            if self.focus == len(fields) - 1:
                return True
            self.focus += 1
        elif key in ("LEFT", "RIGHT") and cur.choices:
            i = cur.choices.index(cur.value) if cur.value in cur.choices else 0
            step = 1 if key == "RIGHT" else -1
            cur.value = cur.choices[(i + step) % len(cur.choices)]
        elif key == "BACKSPACE" and not cur.choices:
            cur.value = cur.value[:-1]
        elif len(key) == 1 and key.isprintable() and not cur.choices:
            cur.value += key
        elif key == " " and cur.choices:
            return self.key("RIGHT")
        return False

    def lines(self, width: int = 18) -> list[Line]:
        out = []
        for i, f in enumerate(self.visible()):
            focused = i == self.focus
            cursor = "_" if focused and not f.choices else ""
            text = f"  {f.label + ':':<{width}} {f.shown()}{cursor}"
            if focused and f.help:
                text += f"   ({f.help})"
            out.append(Line(text, "focus" if focused else "label"))
        return out
