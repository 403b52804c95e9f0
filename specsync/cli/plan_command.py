"""plan: what apply would do, from the manifests and the lockfile; no network."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from specsync.cli.exit_codes import EXIT_CHANGES, EXIT_OK
from specsync.cli.options import (
    LOCKFILE_OPTION,
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    announce_compile,
    emulator_flag,
    format_option,
    mode_lockfile,
    target_option,
)
from specsync.item_words import PlanAction
from specsync.model import InputError

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
    from specsync.plan import make_plan, pending_outside, require_matches, restricted

    lockfile = mode_lockfile(lockfile, use_emulator)
    # JSON names every item's export and --out digests every entry: for them the entries
    # are made as read; text and Markdown never look at an unchanged item's entry.
    on_demand = output_format != "json" and out is None
    items, lock = load_plan_inputs(paths, root, no_cache, Path(lockfile), on_demand)
    require_matches("--target", targets, (item.id for item in items))
    full = make_plan(items, lock)
    result = restricted(full, targets)
    outside = pending_outside(full, targets)
    print_plan(result, output_format, show_all)
    if out is not None:
        save_plan(full, items, lock, targets, paths, out)
    print_plan_notes(lockfile, len(items), outside, lock.emulator)
    return EXIT_CHANGES if detailed_exitcode and result.has_changes else EXIT_OK


def load_plan_inputs(
    paths: tuple[str, ...], root: str | None, no_cache: bool, lockfile: Path, on_demand: bool
) -> tuple[list[Item], Lockfile]:
    """The manifests' items and the lockfile read knowing them (the entries of unchanged
    exports made only when asked for, if `on_demand`)."""
    # The manifests first: the lockfile is then read knowing every item's fingerprint, so
    # only the entries of items that differ are read whole, and those of unchanged exports
    # are only checked (one CPU is enough: no second process, no pickling of 10,000
    # entries). A broken lockfile is still reported when the manifests have problems too,
    # first, as it always was.
    from specsync.cli.console import print_warnings
    from specsync.manifests.pipeline import load_items
    from specsync.model import Problem
    from specsync.state.journal import read_lock_view

    warnings: list[Problem] = []
    try:
        items = load_items(
            paths,
            root=root,
            use_cache=not no_cache,
            on_compile=announce_compile,
            warnings=warnings,
        )
    except InputError:
        read_lock_view(lockfile)
        raise
    print_warnings(warnings)
    known = {item.id: item.fingerprint for item in items}
    return items, read_lock_view(lockfile, known, on_demand=on_demand)


def print_plan(result: Plan, output_format: str, show_all: bool) -> None:
    """The plan on stdout, as JSON, Markdown or text."""
    if output_format == "json":
        from specsync.cli.report_json import plan_document

        click.echo(json.dumps(plan_document(result), ensure_ascii=False, indent=2))
    elif output_format == "markdown":
        from specsync.cli.report_markdown import plan_markdown

        click.echo(plan_markdown(result), nl=False)
    else:
        from specsync.cli.console import use_colour
        from specsync.cli.report_text import plan_text

        text = plan_text(result, colour=use_colour(sys.stdout), show_unchanged=show_all)
        click.echo(text, nl=False)


def save_plan(
    full: Plan,
    items: list[Item],
    lock: Lockfile,
    targets: tuple[str, ...],
    paths: tuple[str, ...],
    out: str,
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


def print_plan_notes(lockfile: str, item_count: int, outside: int, emulator: bool) -> None:
    """The notes on stderr: no lockfile yet, pending items outside --target, a rehearsal."""
    from specsync.cli.console import counted

    if not Path(lockfile).exists():
        new = "the 1 item is new" if item_count == 1 else f"all {item_count} items are new"
        click.echo(f"note: no lockfile yet ({lockfile}): {new}", err=True)
    if outside:
        lie = "lies" if outside == 1 else "lie"
        click.echo(
            f"note: {counted(outside, 'more pending item')} {lie} outside --target", err=True
        )
    if emulator:
        click.echo(f"note: {lockfile} was written by `apply --emulator` runs", err=True)
