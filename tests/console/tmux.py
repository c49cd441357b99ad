"""Driving the real console in tmux: keys in, screen text out (polled, with a deadline)."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "console"


class TmuxConsole:
    """One ``quantix console`` in a detached 100x30 tmux session."""

    def __init__(self, sock: Path, *args: str, width: int = 100, height: int = 30) -> None:
        self.name = "qxc-" + secrets.token_hex(4)
        # LINES/COLUMNS (set by some runners) would override the pane's real size.
        cmd = ["env", "-u", "LINES", "-u", "COLUMNS", sys.executable, "-m", "console.main"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log = ARTIFACTS / f"{self.name}.log"  # the console's own errors, if any
        cmd += ["--socket", str(sock), "--log", str(self.log), *args]
        # Each console has its own tmux server (-L): tests on other workers that
        # end their last session cannot take this one's server down with them.
        self.tmux = ["tmux", "-L", self.name]
        size = ["-x", str(width), "-y", str(height)]
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-s", self.name, *size, "-c", str(REPO), *cmd],
            check=True,
        )

    def screen(self) -> str:
        res = subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=False,
        )
        return res.stdout

    def wait(self, pattern: str, timeout: float = 20.0) -> str:
        """The screen once ``pattern`` (a regex) is on it; AssertionError with the
        last screen after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not on the console after {timeout}s:\n{text}")

    def wait_gone(self, pattern: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if not re.search(pattern, text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} still on the console after {timeout}s:\n{text}")

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, "--", *keys], check=True)

    def type(self, text: str) -> None:
        # "--": a generated password may begin with "-", which tmux took for a flag.
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, "-l", "--", text], check=True)

    def save(self, name: str) -> str:
        """Keep the current screen as ``artifacts/console/<name>.txt``."""
        text = self.screen()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{name}.txt").write_text(text)
        return text

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, check=False)
        if self.log.exists() and self.log.stat().st_size == 0:
            self.log.unlink()  # keep only the logs that say something
