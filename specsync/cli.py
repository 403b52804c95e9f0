"""Command-line layer: parse arguments, call the core, print. No logic lives here.

Exit codes: 0 success, 1 the user's input or a submission failed, 2 `plan
--detailed-exitcode` found changes, 3 a bug in specsync, 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from specsync import __version__

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_CHANGES = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def not_implemented(command: str) -> None:
    click.echo(f"specsync {command}: not implemented yet", err=True)
    sys.exit(EXIT_INVALID)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="specsync")
@click.option("--debug", is_flag=True, help="Show full tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Avatar videos as code: validate YAML manifests, plan and apply AI Studios exports.

    \b
    specsync validate            check manifests/ (no network)
    specsync plan                what apply would submit, against specsync.lock
    specsync apply --emulator    try the whole job on the built-in emulator
    """
    ctx.obj = {"debug": debug}


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
def validate(paths: tuple[str, ...]) -> None:
    """Check manifests: YAML, schema, ids, templates. No network."""
    not_implemented("validate")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
def render(paths: tuple[str, ...]) -> None:
    """Print each item's exact request body."""
    not_implemented("render")


@cli.command()
def schema() -> None:
    """Print the manifest JSON Schema (draft 2020-12)."""
    not_implemented("schema")


@cli.command()
def plan() -> None:
    """Show what apply would do. No network."""
    not_implemented("plan")


@cli.command()
def apply() -> None:
    """Submit new and changed items and record their ids in the lockfile."""
    not_implemented("apply")


@cli.command()
def status() -> None:
    """Bring render progress and results into the lockfile."""
    not_implemented("status")


@cli.command()
def forget() -> None:
    """Drop lockfile entries matching a glob (their ids stay in history)."""
    not_implemented("forget")


@cli.command("merge-driver")
def merge_driver() -> None:
    """Git merge driver for specsync.lock."""
    not_implemented("merge-driver")


@cli.command()
def emulator() -> None:
    """Run the built-in AI Studios emulator on loopback."""
    not_implemented("emulator")


def main() -> None:
    cli()
