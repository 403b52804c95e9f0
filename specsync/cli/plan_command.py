"""plan: what apply would do, from the manifests and the lockfile; no network."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import click

from specsync.cli.options import (
    LOCKFILE_OPTION,
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    emulator_flag,
    format_option,
    mode_lockfile,
    target_option,
)
from specsync.cli.plan_run import run_plan
from specsync.item_words import PlanAction

if TYPE_CHECKING:
    from specsync.model import Item
    from specsync.plan import Plan
    from specsync.state.lockfile_data import Lockfile


@click.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
@LOCKFILE_OPTION
@format_option(
    ("text", "json", "markdown"),
    "json: the documented document on stdout alone; markdown: for a PR comment or "
    "$GITHUB_STEP_SUMMARY.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when anything would be created, updated, reused or is uncertain "
    "(0: nothing to do).",
)
@click.option("--all", "show_all", is_flag=True, help="Also list unchanged items (text format).")
@target_option("Only items whose id matches GLOB (as apply --target); repeatable.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=False),
    default=None,
    metavar="FILE",
    help="Also save the plan to FILE for `specsync apply --plan FILE`, which sends exactly "
    "the reviewed requests or nothing at all.",
)
@emulator_flag(
    "Compare with the rehearsal lockfile of `apply --emulator` runs (.specsync/emulator.lock)."
)
def plan(
    paths: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    lockfile: str,
    output_format: str,
    detailed_exitcode: bool,
    show_all: bool,
    targets: tuple[str, ...],
    out: str | None,
    use_emulator: bool,
) -> int:
    """Show what apply would do, and why. No network; nothing is written but --out.

    The plan goes to stdout (`specsync plan > plan.txt`); notes go to stderr. Compares
    every rendered item with the lockfile: create (new), update (what changes the
    video changed: the text diff, model or isExport; a new webhookUrl never counts),
    reuse (the script is that of an earlier export: apply makes it current, sends nothing),
    unchanged, orphaned (in the lockfile, gone from the manifests: kept) and uncertain (sent,
    outcome unknown: `specsync adopt` records it once found in AI Studios; resubmitted only
    with `apply --retry-uncertain`).

    \b
    Examples:
      specsync plan
      specsync plan --detailed-exitcode || echo "exports pending"
      specsync plan --format markdown >> "$GITHUB_STEP_SUMMARY"
      specsync plan --format json | jq '.items[] | select(.action == "update")'
      specsync plan --out reviewed.plan && specsync apply --plan reviewed.plan

    A saved plan (--out) holds each item's action, fingerprint and whole request, digests of
    the lockfile and of every rendered request, and the specsync version; apply --plan
    refuses it, sending nothing, when any of them changed since.
    """
    lockfile = mode_lockfile(lockfile, use_emulator)
    save = None if out is None else functools.partial(save_plan, out, targets, paths)
    return run_plan(
        paths,
        root,
        no_cache,
        lockfile,
        output_format,
        detailed_exitcode,
        show_all,
        targets,
        click.echo,
        save,
    )


def save_plan(
    out: str,
    targets: tuple[str, ...],
    paths: tuple[str, ...],
    full: Plan,
    items: list[Item],
    lock: Lockfile,
) -> None:
    """Save the plan for `apply --plan` and say what it sends."""
    from specsync.cli.console import counted
    from specsync.saved_plan import make_saved_plan, write_saved_plan

    saved = make_saved_plan(full, items, lock, targets, paths)
    write_saved_plan(Path(out), saved)
    sends = len(saved.items) - len(saved.of(PlanAction.REUSE))
    click.echo(
        f"saved the plan to {out}: {counted(sends, 'export')} to send, "
        f"{len(saved.of(PlanAction.REUSE))} to reuse; "
        f"`specsync apply --plan {out}` sends exactly these",
        err=True,
    )
