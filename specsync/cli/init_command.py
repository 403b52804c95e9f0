"""init: scaffold a project that validates and applies on the emulator at once."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from specsync.cli.exit_codes import EXIT_INVALID, EXIT_OK
from specsync.cli.options import format_option
from specsync.scaffold.project import Action, scaffold_project


@click.command()
@click.argument("directory", default=".", metavar="[DIR]")
@format_option(
    ("text", "json"),
    "json: {directory, ok, steps: [{action, what}], next: [command]} on stdout alone.",
)
def init(directory: str, output_format: str) -> int:
    """Start a specsync project in DIR (default: here). Never overwrites a file.

    \b
    Writes what is missing:
      specsync.yaml                  the project file: marks the project root
      manifests/welcome.yaml         one commented video in two locales
      manifests/snippets/outro.j2    a snippet it includes
      schemas/manifest.schema.json   the schema editors read (see the manifest's first line)
      .pre-commit-config.yaml        validate on every commit
      .github/workflows/specsync.yml plan on pull requests, apply on main; it installs
                                     the specsync running now (index pin or git commit)
      .gitattributes, .gitignore     the lockfile merge driver; .specsync/, videos/ and
                                     review/ kept out of git
    and, in a git repository, sets this clone's lockfile merge driver (with this
    interpreter's absolute path, so any git client finds it).

    The example video is written only when the project has no lockfile and no YAML under
    manifests/ (it would be a new export on the next apply). Nothing is written through a
    symbolic link that leads outside DIR. Exit 1 when a step failed (the rest is done).

    \b
    Examples:
      specsync init
      specsync init my-videos && cd my-videos && specsync apply --emulator
    """

    root = Path(directory)
    steps = scaffold_project(root, sys.executable)
    failed = any(step.action is Action.FAILED for step in steps)
    wrote = sum(step.action not in (Action.KEPT, Action.SKIPPED) for step in steps)
    where = [] if directory == "." else [f"cd {directory}"]
    commands = [*where, "specsync validate", "specsync apply --emulator"]
    if output_format == "json":
        document = {
            "directory": directory,
            "ok": not failed,
            "steps": [{"action": step.action.name.lower(), "what": step.what} for step in steps],
            "next": commands,
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        for step in steps:
            click.echo(f"{step.action.value:<22} {step.what}", err=True)
        where_line = "" if directory == "." else f"cd {directory}\n  "
        click.echo(
            ("Nothing to do: everything was already there.\n" if not wrote else "")
            + "Next:\n"
            + f"  {where_line}specsync validate          # check the manifests (no network)\n"
            + "  specsync apply --emulator  # the whole job on the built-in emulator, "
            "no account;\n"
            + "                             # recorded in .specsync/emulator.lock (git-ignored)\n"
            + "Then a first real export: set AISTUDIOS_APP_ID and AISTUDIOS_USER_KEY (README:\n"
            + '"Your first real export"), run `specsync doctor` and `specsync plan` (every item\n'
            + "is new: the rehearsal never touches specsync.lock), apply, and commit "
            "specsync.lock.",
            err=True,
        )
    return EXIT_INVALID if failed else EXIT_OK
