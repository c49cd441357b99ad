"""Contexts (a URL, a token, how to trust its certificate) in
``~/.config/quantix/config.yaml``, written with mode 0600 because it holds tokens.
``QUANTIX_CONFIG`` points elsewhere (tests, several setups)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from peer.cli.errors import EXIT_USAGE, CliError


def config_path() -> Path:
    env = os.environ.get("QUANTIX_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "quantix" / "config.yaml"


@dataclass
class Context:
    url: str
    token: str | None = None
    user: str | None = None
    insecure: bool = False
    # sha256 of the server certificate (hex, with or without colons): pinning
    # for the self-signed certificate every peer makes on first start.
    fingerprint: str | None = None
    socket: str | None = None  # a local unix socket instead of the URL's host


@dataclass
class Config:
    current: str | None
    contexts: dict[str, Context]

    def get(self, name: str | None) -> Context:
        name = name or self.current
        if not name or name not in self.contexts:
            hint = (
                "run 'quantix login URL' first"
                if not self.contexts
                else (f"known contexts: {', '.join(sorted(self.contexts))}")
            )
            raise CliError(f"no context {name or '(current)'!r}: {hint}", exit_code=EXIT_USAGE)
        return self.contexts[name]


def load(path: Path | None = None) -> Config:
    path = path or config_path()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return Config(None, {})
    except (OSError, yaml.YAMLError) as e:
        raise CliError(f"cannot read {path}: {e}") from None
    contexts: dict[str, Context] = {}
    for name, c in (raw.get("contexts") or {}).items():
        if isinstance(c, dict) and isinstance(c.get("url"), str):
            known = {k: v for k, v in c.items() if k in Context.__dataclass_fields__}
            contexts[str(name)] = Context(**known)
    return Config(raw.get("current_context"), contexts)


def save(cfg: Config, path: Path | None = None) -> Path:
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data: dict[str, Any] = {
        "current_context": cfg.current,
        "contexts": {
            n: {k: v for k, v in asdict(c).items() if v not in (None, False)}
            for n, c in sorted(cfg.contexts.items())
        },
    }
    tmp = path.with_suffix(".tmp")
    # Created 0600 from the start: the token is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
