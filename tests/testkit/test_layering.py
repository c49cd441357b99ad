"""What ships never leans on scaffolding: no product package imports ``testkit``
or ``tests``, and no bench imports ``tests`` (benches share ``testkit`` with the
tests instead)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["raft", "discovery", "peer", "hypervisor", "agent", "console", "chaos"]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def sources(pkg: str) -> list[Path]:
    return sorted((ROOT / pkg).rglob("*.py")) if (ROOT / pkg).is_dir() else []


@pytest.mark.parametrize("pkg", PRODUCT)
def test_a_product_package_imports_no_scaffolding(pkg: str) -> None:
    bad = {str(p.relative_to(ROOT)): imported(p) & {"testkit", "tests"} for p in sources(pkg)}
    assert {k: v for k, v in bad.items() if v} == {}


def test_benches_do_not_import_the_test_suite() -> None:
    bad = [str(p.relative_to(ROOT)) for p in sources("bench") if "tests" in imported(p)]
    assert bad == []
