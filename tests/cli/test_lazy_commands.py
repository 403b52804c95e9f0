"""The command group loads a command's module only when that command runs, and every
command hands its exit code back to the one exit point, `main()`."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import specsync.cli
from specsync.cli import main as cli
from tests.helpers import ROOT
from tests.helpers.commands import modules_after_main

CLI_DIR = ROOT / "specsync" / "cli"


def _module_commands() -> dict[str, click.Command]:
    """Every click command a cli module defines at its top level, that no group holds."""
    found: dict[int, click.Command] = {}
    held: set[int] = set()
    for info in pkgutil.iter_modules(specsync.cli.__path__, "specsync.cli."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, click.Command) and value is not cli.cli:
                found[id(value)] = value
                if isinstance(value, click.Group):
                    held |= {id(sub) for sub in value.commands.values()}
    return {command.name or "": command for key, command in found.items() if key not in held}


def test_every_command_a_module_defines_is_in_the_lazy_table() -> None:
    # A command added to a module but not to COMMANDS would silently not exist.
    defined = _module_commands()
    assert sorted(defined) == sorted(cli.COMMANDS)
    context = click.Context(cli.cli)
    for name, command in defined.items():
        assert cli.cli.get_command(context, name) is command


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "specsync", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Commands:", 1)[1].split()
    assert all(name in listed for name in cli.COMMANDS)


def test_no_command_calls_sys_exit() -> None:
    # One exit point: commands return their code; main() alone ends the process.
    offences = []
    for path in sorted(CLI_DIR.glob("*.py")):
        if path.name == "main.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "exit"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "sys"
            ):
                offences.append(f"{path.name}:{node.lineno}")
    assert offences == []


MANIFEST = """\
specsync: 1
defaults: {model: M000045058, locales: [en, ko]}
videos:
  welcome:
    script: |
      Hello there,
      and welcome.
"""


@pytest.mark.parametrize(("flag", "expected"), [([], 0), (["--detailed-exitcode"], 2)])
def test_plan_returns_its_exit_code_to_main(tmp_path: Path, flag: list[str], expected: int) -> None:
    (tmp_path / "a.yaml").write_text(MANIFEST, encoding="utf-8")
    code, modules = modules_after_main(["plan", "--no-cache", *flag, "a.yaml"], tmp_path)
    assert code == expected
    assert "requests" not in modules
