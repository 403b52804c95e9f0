"""reconcile: settle uncertain items from what the account holds (nothing is exported)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from specsync.cli.console import shown
from specsync.cli.endpoint import api_endpoint, emulator_journal, polling_client
from specsync.cli.exit_codes import EXIT_INVALID, EXIT_OK
from specsync.cli.options import (
    LOCKFILE_OPTION,
    NO_CACHE_OPTION,
    ROOT_OPTION,
    FiniteFloat,
    announce_compile,
    emulator_flag,
    format_option,
    mode_lockfile,
)
from specsync.manifests.pipeline import load_items
from specsync.manifests.project_root import default_manifest_paths
from specsync.service import credentials as credentials_mod
from specsync.service.reconcile import ReconcileOptions
from specsync.service.reconcile import reconcile as run_reconcile

if TYPE_CHECKING:
    from specsync.service.reconcile import ReconcileReport


@click.command()
@click.argument("only", nargs=-1, metavar="[ITEM]...")
@ROOT_OPTION
@NO_CACHE_OPTION
@LOCKFILE_OPTION
@click.option("--yes", is_flag=True, help="Record what was found without asking.")
@click.option("--dry-run", is_flag=True, help="Show what was found; record nothing.")
@click.option(
    "--min-age",
    type=FiniteFloat(min=0),
    default=15.0,
    show_default=True,
    metavar="MINUTES",
    help="Call an item never created only when its request is older than this (a render "
    "still going may not be listed yet).",
)
@click.option(
    "--clock-skew",
    type=FiniteFloat(min=0),
    default=120.0,
    show_default=True,
    metavar="S",
    help="Projects created up to S seconds before the request was journalled still count.",
)
@format_option(
    ("text", "json"),
    "json: {items: [{id, outcome, message, candidates}], recorded, exportRequests: 0}.",
)
@emulator_flag(
    "Rehearse on the built-in emulator and its lockfile (.specsync/emulator.lock), which "
    "remembers what earlier `apply --emulator` runs made."
)
def reconcile(
    only: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    lockfile: str,
    yes: bool,
    dry_run: bool,
    min_age: float,
    clock_skew: float,
    output_format: str,
    use_emulator: bool,
) -> int:
    """Settle uncertain items by asking the account what exists. Nothing is exported.

    An uncertain item is a request whose answer never came (a crash, a timeout): the video
    may or may not exist. reconcile reads the account's project list and each project made
    after the request was journalled, and compares its script, model and language:

    \b
      one match   shown, then recorded as `adopt` would (after a yes, or --yes)
      none        the request created nothing: recorded so that the next apply sends
                  the item once (after a yes, or --yes; only once the request is older
                  than --min-age)
      several     listed; nothing recorded for the item (adopt the right one); exit 1

    Without a terminal to ask, only --yes records. Items are ITEM ids or globs (default:
    every uncertain item). Exit 0 when nothing is left ambiguous; 1 otherwise.

    \b
    Credentials: as for apply (AISTUDIOS_API_KEY, or AISTUDIOS_APP_ID and
    AISTUDIOS_USER_KEY; SPECSYNC_API_BASE overrides the address).

    \b
    Examples:
      specsync reconcile --dry-run
      specsync reconcile welcome/ko --yes
      specsync reconcile --format json --dry-run
    """

    paths = default_manifest_paths(Path.cwd())
    items = load_items(paths, root=root, use_cache=not no_cache, on_compile=announce_compile)
    lockfile = mode_lockfile(lockfile, use_emulator, create=True)
    base = "" if use_emulator else credentials_mod.api_base_from_env(os.environ)
    confirm = confirmer(output_format, yes)
    with contextlib.ExitStack() as stack:
        url, client = open_client(stack, use_emulator, lockfile)
        host = urllib.parse.urlsplit(base or url).netloc
        options = ReconcileOptions(only, dry_run, clock_skew, min_age * 60, use_emulator, host)
        report = run_reconcile(items, Path(lockfile), client, options, confirm)
    print_reconcile(report, output_format, lockfile, dry_run)
    return EXIT_OK if report.ok else EXIT_INVALID


def confirmer(output_format: str, yes: bool) -> Callable[[ReconcileReport], bool]:
    """Whether to record what was found: --yes, else a yes at the terminal (none: no)."""

    interactive = sys.stdin.isatty() and sys.stderr.isatty()

    def confirm(report: ReconcileReport) -> bool:
        _show(report, output_format, shown, settled_only=True)
        if yes:
            return True
        if not interactive:
            click.echo("nothing recorded: pass --yes to record this (no terminal to ask)", err=True)
            return False
        return click.confirm("Record this in the lockfile?", default=False, err=True)

    return confirm


def open_client(
    stack: contextlib.ExitStack[Any], use_emulator: bool, lockfile: str
) -> tuple[str, Any]:
    """The service's address and a polling client to it, closed with the stack."""

    endpoint = api_endpoint(use_emulator, emulator_journal(lockfile) if use_emulator else None)
    url, credentials = stack.enter_context(endpoint)
    client = stack.enter_context(
        polling_client(url, credentials, lambda line: click.echo(line, err=True))
    )
    return url, client


def print_reconcile(
    report: ReconcileReport, output_format: str, lockfile: str, dry_run: bool
) -> None:
    """The JSON document on stdout, or (unless already shown for the question) the findings
    and a summary on stderr."""

    if output_format == "json":
        click.echo(json.dumps(_document(report), ensure_ascii=False, indent=2))
    else:
        if not report.asked:
            _show(report, output_format, shown, settled_only=False)
        _summary(report, lockfile, dry_run)


def _show(report: Any, output_format: str, shown: Any, *, settled_only: bool) -> None:
    if output_format == "json":
        return
    if not report.items:
        click.echo("no uncertain items: nothing to reconcile", err=True)
    for item in report.items:
        click.echo(f"{shown(item.id)}: {item.outcome}: {shown(item.message)}", err=True)
        for found in item.candidates:
            created = found.created_at.isoformat() if found.created_at else "creation time not said"
            charged = {True: "credit charged", False: "no credit charged", None: ""}[
                found.credit_charged
            ]
            details = ", ".join(
                p for p in (shown(found.state or "no state"), created, charged) if p
            )
            click.echo(f"    project {shown(found.project_id)} ({details})", err=True)


def _summary(report: Any, lockfile: str, dry_run: bool) -> None:
    if not report.items:
        return
    recorded = len(report.recorded)
    where = f"recorded {recorded} in {lockfile}" if recorded else "nothing recorded"
    if dry_run:
        where = "dry run: nothing recorded"
    click.echo(
        f"Reconcile: {len(report.items)} uncertain, read {report.listed} listed projects "
        f"({report.looked_at} one by one); {where}; 0 export requests.",
        err=True,
    )


def _document(report: Any) -> dict[str, Any]:
    return {
        "items": [
            {
                "id": item.id,
                "outcome": item.outcome,
                "message": item.message,
                "candidates": [
                    {
                        "projectId": found.project_id,
                        "state": found.state,
                        "createdAt": found.created_at.isoformat() if found.created_at else None,
                        "creditCharged": found.credit_charged,
                    }
                    for found in item.candidates
                ],
            }
            for item in report.items
        ],
        "recorded": report.recorded,
        "exportRequests": 0,
    }
