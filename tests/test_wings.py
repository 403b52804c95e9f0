"""The wings' import direction (README, "Where the code lives"), read from the source.

cli → service → plan, state, manifests → render → model; the emulator imports only
`model` and itself; nothing below cli imports click.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "specsync"
SHARED = {
    "model",
    "states",
    "errors",
    "atomic",
    "regular_files",
    "specsync",
}  # `specsync`: __version__
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
    "atomic": {"regular_files"},
    "regular_files": set(),
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


# -- the service wing: split by job (issue 24) ------------------------------------------------

SERVICE = PACKAGE / "service"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST) -> list[tuple[str, str]]:
    """(module, name) of every `from specsync.x import name`, at any depth."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] == "specsync"
        ):
            found += [(node.module, alias.name) for alias in node.names]
    return found


def imported_modules(tree: ast.AST, known: set[str]) -> set[str]:
    """The specsync modules a module imports (a `from package import module` counts as
    the module), at any depth, TYPE_CHECKING blocks included."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return found & known


def service_modules() -> dict[str, ast.AST]:
    return {
        module_name(path): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(SERVICE.rglob("*.py"))
    }


def test_no_service_module_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in SERVICE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_service_function_is_over_60_lines() -> None:
    long = []
    for name, tree in service_modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert long == []


def test_no_private_name_is_imported_from_another_service_module() -> None:
    offences = [
        f"{name} imports {module}.{imported}"
        for name, tree in service_modules().items()
        for module, imported in imported_names(tree)
        if imported.startswith("_") and module != name
    ]
    assert offences == []


def test_no_import_cycle_between_service_modules() -> None:
    modules = service_modules()
    graph = {name: imported_modules(tree, set(modules)) - {name} for name, tree in modules.items()}

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        pending = list(graph[start])
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(graph[current])
        return seen

    in_cycles = sorted(name for name in graph if name in reachable(name))
    assert in_cycles == []


def test_the_http_sub_wing_imports_only_itself_and_the_service_errors() -> None:
    offences = [
        f"{name} imports {module}"
        for name, tree in service_modules().items()
        if name.startswith("specsync.service.http")
        for module in imported_modules(tree, set(service_modules()) | {"specsync.errors"})
        if not module.startswith("specsync.service.http") and module != "specsync.service.errors"
    ]
    assert offences == []
