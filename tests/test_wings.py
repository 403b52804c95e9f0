"""The wings' import direction (README, "Where the code lives"), read from the source.

cli → service → plan, state, manifests → render → model; the emulator imports only
`model` and itself; nothing below cli imports click.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "specsync"
SHARED = {"model", "states", "errors", "atomic", "specsync"}  # `specsync`: __version__
ALLOWED: dict[str, set[str]] = {
    "cli": {
        "cli",
        "service",
        "plan",
        "state",
        "manifests",
        "render",
        "emulator",
        "scaffold",
        "saved_plan",
        "review",
        *SHARED,
    },
    "service": {
        "service",
        "plan",
        "saved_plan",
        "state",
        "manifests",
        "render",
        "emulator",
        *SHARED,
    },
    "plan": {"state", *SHARED},
    "saved_plan": {"plan", "state", *SHARED},
    "state": {"state", *SHARED},
    "manifests": {"manifests", "render", *SHARED},
    "render": {"render", *SHARED},
    "scaffold": {"scaffold", "manifests", *SHARED},
    "review": {"review", "plan", "state", *SHARED},
    "emulator": {"emulator", "model", "specsync"},
    "model": {"states", "errors"},
    "states": set(),
    "errors": set(),
    "atomic": set(),
}


def wing_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0] if parts[0] not in ("__init__", "__main__") else "cli"


def imported_wings(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "specsync":
                names = [f"specsync.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "click":
                found.add("click")
            elif parts[0] == "specsync":
                found.add(parts[1] if len(parts) > 1 else "specsync")
    return found


def test_every_module_imports_only_what_its_wing_may() -> None:
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        wing = wing_of(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for imported in sorted(imported_wings(tree)):
            if imported == "click" and wing != "cli":
                offences.append(f"{path.relative_to(ROOT)} imports click")
            elif imported not in ("click", "__version__") and imported not in ALLOWED[wing]:
                offences.append(f"{path.relative_to(ROOT)} ({wing}) imports specsync.{imported}")
    assert offences == []


def test_the_check_sees_imports_at_any_depth() -> None:
    tree = ast.parse("def f():\n    from specsync.service import client\n    import click\n")
    assert imported_wings(tree) == {"service", "click"}
