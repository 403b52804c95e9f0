"""The test helpers themselves: an in-process run is a faithful stand-in for a real one, and
the helpers are imported one way (tests/helpers/), never through conftest or sys.path."""

from __future__ import annotations

import ast
import gc
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, SPECSYNC, run, specsync

GOOD = "specsync: 1\ndefaults: {model: M1, locales: [en, ko]}\nvideos:\n  hi: {script: Hello.}\n"
BAD = "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  hi: {scrip: Hello.}\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "good.yaml").write_text(GOOD, "utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "manifests/bad.yaml"],
        ["render", "--format", "json"],
        ["plan", "--format", "json"],
        ["plan", "--detailed-exitcode"],
        ["validate", "--no-such-option"],
        ["--version"],
    ],
)
def test_an_in_process_run_answers_as_a_real_process(project: Path, args: list[str]) -> None:
    (project / "manifests" / "bad.yaml").write_text(BAD, "utf-8")
    real = run([SPECSYNC, *args], project)
    here = specsync(args, project)
    assert (here.returncode, here.stdout, here.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )


def process_state() -> tuple[object, ...]:
    """What a run in this process could change and must put back."""
    return (
        os.getcwd(),
        dict(os.environ),
        sys.argv,
        (sys.stdin, sys.stdout, sys.stderr),
        signal.getsignal(signal.SIGINT),
        signal.getsignal(signal.SIGTERM),
        gc.isenabled(),
        gc.get_threshold(),
        gc.get_freeze_count(),
    )


def test_an_in_process_run_puts_the_process_back(project: Path) -> None:
    before = process_state()
    # main tunes the collector; apply sets signal handlers; the environment is replaced for
    # the run.
    env = {**os.environ, "SPECSYNC_TEST_ONLY": "1"}
    assert specsync(["plan"], project, env).returncode == 0
    assert specsync(["apply", "--emulator"], project, env).returncode == 0
    after = process_state()
    assert after == before


def test_an_in_process_run_sees_exactly_the_environment_given(project: Path) -> None:
    # No API key in the environment given: apply must refuse as a real process would,
    # even though this process's environment has one.
    os.environ["AISTUDIOS_API_KEY"] = "key-of-the-test-process"
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AISTUDIOS_")}
        env["SPECSYNC_API_BASE"] = "http://127.0.0.1:9"
        refused = specsync(["apply"], project, env)
    finally:
        del os.environ["AISTUDIOS_API_KEY"]
    assert refused.returncode == 1
    assert "AISTUDIOS_API_KEY" in refused.stderr


# -- one way to the helpers ------------------------------------------------------------------

TESTS = ROOT / "tests"
# Shared code that is not yet in tests/helpers/ (none left).
HELPERS_ELSEWHERE: set[str] = set()


def test_helpers_live_in_tests_helpers_and_are_imported_one_way() -> None:
    misplaced, wrong_imports = [], []
    for path in sorted(TESTS.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        is_test = path.name.startswith("test_") or path.name in ("conftest.py", "__init__.py")
        if not is_test and path.parent.name != "helpers" and name not in HELPERS_ELSEWHERE:
            misplaced.append(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top = node.module.split(".")[0]
                if top == "conftest" or (top not in ("tests", "specsync") and _is_local(top)):
                    wrong_imports.append(f"{name}: from {node.module} import ...")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "conftest" or _is_local(alias.name):
                        wrong_imports.append(f"{name}: import {alias.name}")
            elif (
                isinstance(node, ast.Attribute)
                and node.attr == "path"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                wrong_imports.append(f"{name}: uses sys.path")
    assert misplaced == []
    assert wrong_imports == []


def _is_local(module: str) -> bool:
    """A name that only imports because some folder of tests/ is on sys.path."""
    top = module.split(".")[0]
    return any((folder / f"{top}.py").exists() or (folder / top).is_dir() for folder in _FOLDERS)


_FOLDERS = [TESTS, *(path for path in TESTS.iterdir() if path.is_dir())]


# -- README's test command and slow marks are what CI runs and what is marked ----------------

NUMBER_WORDS = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
NUMBER_WORDS += "fifteen sixteen seventeen eighteen nineteen twenty"
NUMBERS = {word: number for number, word in enumerate(NUMBER_WORDS.split(), start=1)}


def test_ci_runs_exactly_readmes_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"python -m pytest[^`\n]*", ci)
    assert commands == ["python -m pytest -q -n auto"]
    assert f"pip install -e '.[test]' && {commands[0]}\n" in readme
    assert f"`{commands[0]}` runs everything" in readme


def test_readme_counts_the_tests_marked_slow() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    said = re.search(r'-m "not slow"` skips the (\w+) tests\s+marked slow', readme)
    assert said is not None
    # Decorated tests, and parametrized cases given the mark (`[pytest.mark.slow] if`,
    # `pytest.param(..., marks=pytest.mark.slow)`).
    slow = r"@pytest\.mark\.slow|\[pytest\.mark\.slow\] if|marks=pytest\.mark\.slow\b"
    marked = sum(
        len(re.findall(slow, path.read_text("utf-8")))
        for path in TESTS.rglob("test_*.py")
        if path.name != "test_helpers.py"
    )
    count = said.group(1)
    assert (int(count) if count.isdigit() else NUMBERS[count]) == marked
