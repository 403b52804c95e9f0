"""init: scaffold a project that validates and applies on the emulator at once."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("directory", default=".", metavar="[DIR]")
def init(directory: str) -> None:
    """Start a specsync project in DIR (default: here). Never overwrites a file.

    \b
    Writes what is missing:
      manifests/welcome.yaml         one commented video in two locales
      manifests/snippets/outro.j2    a snippet it includes
      schemas/manifest.schema.json   the schema editors read (see the manifest's first line)
      .pre-commit-config.yaml        validate on every commit
      .github/workflows/specsync.yml plan on pull requests, apply on main
      .gitattributes, .gitignore     the lockfile merge driver; .specsync/ kept out of git
    and, in a git repository, sets this clone's lockfile merge driver (with this
    interpreter's absolute path, so any git client finds it).

    \b
    Examples:
      specsync init
      specsync init my-videos && cd my-videos && specsync apply --emulator
    """
    from specsync.scaffold.project import Action, scaffold_project

    root = Path(directory)
    steps = scaffold_project(root, sys.executable)
    for step in steps:
        click.echo(f"{step.action.value:<22} {step.what}", err=True)
    wrote = sum(step.action is not Action.KEPT for step in steps)
    where = "" if directory == "." else f"cd {directory}\n  "
    click.echo(
        ("Nothing to do: everything was already there.\n" if not wrote else "")
        + "Next:\n"
        + f"  {where}specsync validate          # check the manifests (no network)\n"
        + "  specsync apply --emulator  # the whole job on the built-in emulator, no account;\n"
        + "                             # recorded in .specsync/emulator.lock (git-ignored)\n"
        + "Then a first real export: set AISTUDIOS_APP_ID and AISTUDIOS_USER_KEY (README:\n"
        + '"Your first real export"), run `specsync doctor` and `specsync plan` (every item\n'
        + "is new: the rehearsal never touches specsync.lock), apply, and commit specsync.lock.",
        err=True,
    )
