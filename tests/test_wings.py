"""The wings' import direction (README, "Where the code lives"), read from the source.

cli → service → plan, state, manifests → render → model; the emulator imports only
`model`, `regular_files` and itself; nothing below cli imports click.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "specsync"


@functools.cache
def parsed(path: Path) -> ast.Module:
    """A module's syntax tree, parsed once for all the checks below (the tests only read it)."""
    return ast.parse(path.read_text(encoding="utf-8"))


SHARED = {
    "model",
    "item_words",
    "errors",
    "atomic",
    "regular_files",
    "project_names",
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
    "plan": {"plan", "state", *SHARED},
    "saved_plan": {"plan", "state", *SHARED},
    "state": {"state", *SHARED},
    "manifests": {"manifests", "render", *SHARED},
    "render": {"render", *SHARED},
    "scaffold": {"scaffold", "manifests", *SHARED},
    "review": {"review", "plan", "state", *SHARED},
    "emulator": {"emulator", "model", "regular_files", "specsync"},
    "model": {"item_words", "errors"},
    "item_words": set(),
    "errors": set(),
    "atomic": {"regular_files"},
    "regular_files": set(),
    "project_names": set(),
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
        tree = parsed(path)
        for imported in sorted(imported_wings(tree)):
            if imported == "click" and wing != "cli":
                offences.append(f"{path.relative_to(ROOT)} imports click")
            elif imported not in ("click", "__version__") and imported not in ALLOWED[wing]:
                offences.append(f"{path.relative_to(ROOT)} ({wing}) imports specsync.{imported}")
    assert offences == []


def test_the_check_sees_imports_at_any_depth() -> None:
    tree = ast.parse("def f():\n    from specsync.service import client\n    import click\n")
    assert imported_wings(tree) == {"service", "click"}


# -- module size, private names and cycles (issue 24) ---------------------------------------
# Each allow-list below names offenders in areas other work is still rewriting (the CLI
# commands, manifests). It only shrinks: a new offender fails the test, and so
# does an entry that no longer offends (remove it).

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
# tools/gen_schema_check.py writes them
GENERATED = {"specsync/manifests/schema_check.py", "specsync/manifests/project_schema_check.py"}

LONG_MODULES_ALLOWED: set[str] = set()
LONG_FUNCTIONS_ALLOWED: set[str] = set()
# "importer: module.name" for each private name imported from another module.
PRIVATE_IMPORTS_ALLOWED: set[str] = set()
CYCLES_ALLOWED: set[str] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def source_name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def specsync_imports(tree: ast.AST) -> Iterator[tuple[str, str | None]]:
    """(module, name) for each `from specsync.x import name` at any depth, and (module,
    None) for each `import specsync.x`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "specsync":
                for alias in node.names:
                    yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "specsync":
                    yield alias.name, None


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """(qualified name, node) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def import_graph() -> dict[str, set[str]]:
    """Each module's specsync modules: `from specsync.a import b` counts as an import of
    specsync.a.b when that is a module, else of specsync.a."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for module, imported in specsync_imports(parsed(path)):
            submodule = f"{module}.{imported}"
            targets.add(submodule if submodule in MODULES else module)
        graph[name] = {target for target in targets if target in MODULES and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> set[str]:
    """The strongly connected groups of more than one module (Tarjan), each as its sorted
    names joined by ' <-> '."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[str] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.add(" <-> ".join(sorted(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def assert_within(offenders: set[str], allowed: set[str]) -> None:
    assert sorted(offenders - allowed) == [], "new offenders"
    assert sorted(allowed - offenders) == [], "no longer offending: remove from the allow-list"


def test_no_module_is_over_500_lines() -> None:
    offenders = {
        source_name(path)
        for path in MODULES.values()
        if source_name(path) not in GENERATED
        and len(path.read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES
    }
    assert_within(offenders, LONG_MODULES_ALLOWED)


def test_no_function_is_over_60_lines() -> None:
    offenders = set()
    for path in MODULES.values():
        if source_name(path) in GENERATED:
            continue
        for name, node in functions(parsed(path)):
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            # From `def` to the last line: a command's option decorators are declarations.
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                offenders.add(f"{source_name(path)}:{name}")
    assert_within(offenders, LONG_FUNCTIONS_ALLOWED)


def test_no_private_name_is_imported_from_another_module() -> None:
    offenders = set()
    for name, path in MODULES.items():
        for module, imported in specsync_imports(parsed(path)):
            private = imported is not None and imported.startswith("_")
            if private and not imported.startswith("__") and module != name:
                offenders.add(f"{name}: {module}.{imported}")
    assert_within(offenders, PRIVATE_IMPORTS_ALLOWED)


def test_no_import_cycle_between_modules() -> None:
    assert_within(cycles(import_graph()), CYCLES_ALLOWED)


def test_the_checks_see_long_functions_private_names_and_cycles() -> None:
    source = "class C:\n    def m(self):\n        def inner():\n            pass\n"
    assert [name for name, _ in functions(ast.parse(source))] == ["C.m", "C.m.inner"]
    tree = ast.parse("def f():\n    from specsync.service.replies import _Reply, parse\n")
    assert list(specsync_imports(tree)) == [
        ("specsync.service.replies", "_Reply"),
        ("specsync.service.replies", "parse"),
    ]
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == {"a <-> b <-> c"}
    assert cycles({"a": {"b"}, "b": set()}) == set()


# -- the service wing's HTTP sub-wing --------------------------------------------------------

SERVICE = PACKAGE / "service"


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
    return {module_name(path): parsed(path) for path in sorted(SERVICE.rglob("*.py"))}


def test_the_http_sub_wing_imports_only_itself_and_the_service_errors() -> None:
    modules = service_modules()
    known = set(modules) | {"specsync.errors"}
    offences = [
        f"{name} imports {module}"
        for name, tree in modules.items()
        if name.startswith("specsync.service.http")
        for module in imported_modules(tree, known)
        if not module.startswith("specsync.service.http") and module != "specsync.service.errors"
    ]
    assert offences == []
