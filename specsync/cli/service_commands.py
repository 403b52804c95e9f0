"""apply: submit new and changed items to the service (or an emulator), record their ids."""

from __future__ import annotations

import dataclasses
import json
import sys
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from specsync.cli.console import counted
from specsync.cli.endpoint import api_endpoint, emulator_journal
from specsync.cli.exit_codes import EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK
from specsync.cli.options import (
    LOCKFILE_OPTION,
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    FiniteFloat,
    announce_compile,
    concurrency_option,
    emulator_flag,
    format_option,
    mode_lockfile,
    target_option,
)
from specsync.cli.progress import BarProgress, LogProgress
from specsync.cli.report_json import apply_document
from specsync.cli.report_markdown import apply_markdown
from specsync.cli.report_text import apply_summary, plan_summary
from specsync.manifests.pipeline import load_items
from specsync.plan import estimated_minutes, make_plan, pending_outside, require_matches
from specsync.saved_plan import read_saved_plan
from specsync.service import client as client_mod
from specsync.service.account import check_models_before_apply
from specsync.service.apply import MAX_IN_FLIGHT, ApplyOptions, run_apply, select
from specsync.state.journal import read_lock_view

if TYPE_CHECKING:
    from specsync.model import Item
    from specsync.saved_plan import SavedPlan
    from specsync.service.apply_prepare import ApplyOptions
    from specsync.service.apply_report import ApplyReport, Progress


APPLY_HELP = """Submit new and changed items, record every projectId/taskId in the lockfile.

Each request is journalled in .specsync/ before it is sent and its answer the moment it
arrives, so a crash or a killed job loses nothing; a request whose answer never came is
`uncertain` (see below). An item whose script is that of an earlier export is made
current again with no request (`reuse`). One apply at a time per lockfile.

On a terminal, apply shows the plan's summary and asks before sending anything
(`Export 3 items, about 4 minutes of video? [y/N]`; also with --plan FILE); "no" sends
nothing and exits 1. --yes skips the question; without a terminal (CI) and with
--emulator it never asks. Exit 0 when everything is exported; 1 when anything failed
or is uncertain (what succeeded is recorded either way).

\b
Items whose outcome is unknown (`uncertain`):
  first ask the account which exist (sends nothing): specsync reconcile
  find the video in AI Studios and record it: specsync adopt ITEM --project-id ID
  or resubmit it (may pay twice):              specsync apply --retry-uncertain
  or drop it from the lockfile:                specsync forget ITEM

\b
Credentials (environment only): AISTUDIOS_API_KEY, or AISTUDIOS_APP_ID and
AISTUDIOS_USER_KEY; SPECSYNC_API_BASE overrides the address.

\b
Examples:
  specsync apply --emulator
  specsync apply --target 'welcome/*' --rate 2
  specsync apply --replace 'welcome/ko'
  specsync apply --format json > apply-report.json
  specsync apply --max-items 50 --max-minutes 30
  specsync plan --out reviewed.plan && specsync apply --plan reviewed.plan
"""


@click.command(help=APPLY_HELP)
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
@LOCKFILE_OPTION
@target_option("Only items whose id matches GLOB; repeatable.")
@click.option(
    "--replace",
    "replace",
    multiple=True,
    metavar="GLOB",
    help="Also re-export matching items although unchanged (a bad render); repeatable.",
)
@click.option(
    "--retry-uncertain",
    is_flag=True,
    help="Resubmit items whose earlier request has an unknown outcome (may duplicate them).",
)
@concurrency_option(
    "Requests in flight at most. Default: as many as --rate needs at the service's observed "
    "latency (rate x latency), up to 512; 8 until the first answers show that latency, and "
    "apply stops sending after 5 requests in a row get no answer.",
    default=None,
    maximum=512,
)
@click.option(
    "--rate",
    type=FiniteFloat(min=0.01),
    default=5.0,
    show_default=True,
    metavar="R",
    help="Requests per second at most: the service's limit (apply keeps this pace at any latency).",
)
@emulator_flag(
    "Rehearse against the built-in emulator on a free loopback port (no account, no key; "
    "nothing is really exported), recording into .specsync/emulator.lock (git-ignored), "
    "never specsync.lock."
)
@click.option(
    "--max-items",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Refuse to start when more than N exports would be submitted.",
)
@click.option(
    "--max-minutes",
    type=FiniteFloat(min=0),
    default=None,
    metavar="M",
    help="Refuse to start when the exports add up to more than about M minutes of video "
    "(estimated from text length and language, as plan shows).",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Send exactly the plan saved by `specsync plan --out FILE`; refused, with nothing "
    "sent, when the lockfile or any rendered request changed since. Its targets are its "
    "own: not with --target, --replace or --retry-uncertain.",
)
@format_option(
    ("text", "json", "markdown"),
    "json: what was submitted, failed and left uncertain, on stdout alone; "
    "markdown: a table of the same for a job summary, on stdout.",
)
@click.option(
    "--yes",
    "-y",
    "assume_yes",
    is_flag=True,
    help="Do not ask before sending (apply asks only on a terminal, never with --emulator).",
)
def apply(
    paths: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    lockfile: str,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    retry_uncertain: bool,
    concurrency: int | None,
    rate: float,
    use_emulator: bool,
    max_items: int | None,
    max_minutes: float | None,
    plan_file: str | None,
    output_format: str,
    assume_yes: bool,
) -> int:
    chosen_lockfile = lockfile
    lockfile = mode_lockfile(lockfile, use_emulator)
    saved = read_plan_file(plan_file, targets, replace, retry_uncertain)
    targets = targets if saved is None else saved.targets
    options = ApplyOptions(
        saved_plan=saved,
        saved_plan_name=plan_file or "",
        targets=targets,
        replace=replace,
        retry_uncertain=retry_uncertain,
        concurrency=concurrency or MAX_IN_FLIGHT,
        rate=rate,
        emulator=use_emulator,
        max_items=max_items,
        max_minutes=max_minutes,
    )
    progress = BarProgress() if sys.stderr.isatty() else LogProgress()
    # Manifests first: their problems need no network, no credentials and no emulator,
    # and are what the user must see, whatever else is missing.
    items = load_items(paths, root=root, use_cache=not no_cache, on_compile=announce_compile)
    ids = [item.id for item in items]
    require_matches("--target", targets, ids)
    require_matches("--replace", replace, ids)
    # The rehearsal's .specsync/ folder, made only once the manifests are known good.
    lockfile = mode_lockfile(chosen_lockfile, use_emulator, create=True)
    if not (use_emulator or assume_yes) and _on_a_terminal():
        agreed = _confirmed(items, Path(lockfile), options)
        if agreed is None:
            return EXIT_INVALID
        options = agreed
    report = submit(items, lockfile, options, progress, use_emulator)
    print_apply(report, output_format, lockfile, targets, use_emulator)
    if report.interrupted:
        # Ctrl-C (or a cancelled job's SIGTERM) exits 130, as README says, after recording.
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_INVALID


def read_plan_file(
    plan_file: str | None,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    retry_uncertain: bool,
) -> SavedPlan | None:
    """The saved plan --plan names (None without --plan); refused with the options that
    would change it."""

    if plan_file is None:
        return None
    clashing = [
        flag
        for flag, given in (
            ("--target", targets),
            ("--replace", replace),
            ("--retry-uncertain", retry_uncertain),
        )
        if given
    ]
    if clashing:
        raise click.UsageError(
            f"--plan sends exactly the saved plan: {', '.join(clashing)} cannot change it "
            "(make a new plan with them: `specsync plan --target GLOB --out FILE`)"
        )
    return read_saved_plan(Path(plan_file))


def submit(
    items: list[Item], lockfile: str, options: ApplyOptions, progress: Progress, use_emulator: bool
) -> ApplyReport:
    """Run apply against the service (or a fresh emulator) and return its report."""

    journal = emulator_journal(lockfile) if use_emulator else None
    with api_endpoint(use_emulator, journal) as (base, credentials):

        def make_client() -> Any:
            return client_mod.Client(base, credentials, log=progress.note)

        return run_apply(
            items,
            Path(lockfile),
            make_client,
            # The journal names the service, so its ids never land in the other kind of file.
            dataclasses.replace(options, service_host=urllib.parse.urlsplit(base).netloc),
            progress,
            # Warns of models the account does not list (never refuses; docs/vendor.md).
            # The built-in emulator lists only a stock model: no warning for a rehearsal.
            preflight=None if use_emulator else check_models_before_apply,
        )


def print_apply(
    report: ApplyReport,
    output_format: str,
    lockfile: str,
    targets: tuple[str, ...],
    use_emulator: bool,
) -> None:
    """The report on stdout (JSON or Markdown), the summary and notes on stderr."""

    if output_format == "json":
        click.echo(json.dumps(apply_document(report), ensure_ascii=False, indent=2))
    elif output_format == "markdown":
        click.echo(apply_markdown(report), nl=False)
    click.echo(apply_summary(report, use_emulator or report.emulator), nl=False, err=True)
    if use_emulator:
        click.echo(
            f"  (rehearsal recorded in {lockfile}, git-ignored; specsync.lock is untouched)",
            err=True,
        )
    outside = pending_outside(report.plan, targets)
    if outside:
        lie = "lies" if outside == 1 else "lie"
        click.echo(f"  {counted(outside, 'more pending item')} {lie} outside --target", err=True)


def _on_a_terminal() -> bool:
    """Whether a person can answer: stdin and stderr (where the question goes) are TTYs."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _answered_yes(question: str) -> bool:
    """Ask on stderr, read a line: yes, or no by default. End of input (Ctrl-D) is "no"
    (exit 1), not Ctrl-C (exit 130): click.confirm reads both as Abort, so the few lines
    here instead."""
    while True:
        click.echo(f"{question} [y/N]: ", nl=False, err=True)
        line = sys.stdin.readline()
        if not line:
            click.echo("", err=True)
            return False
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        click.echo("Error: invalid input", err=True)


def _confirmed(items: Any, lockfile: Path, options: Any) -> Any:
    """Ask before anything is sent; the options, bounded by what the person agreed to
    (None: they said no).

    The plan is read here, before apply takes its lock: `--max-items` becomes the count
    agreed to, so a run that finds more to send under the lock (another apply landed
    meanwhile) refuses with nothing sent rather than send what nobody agreed to.
    """

    plan = make_plan(items, read_lock_view(lockfile))
    chosen = select(plan, options)
    if not chosen:
        return options  # nothing to send: nothing to ask
    minutes = sum(estimated_minutes(p.item.request) for p, _ in chosen if p.item is not None)
    length = "under a minute" if minutes < 0.5 else f"about {counted(round(minutes), 'minute')}"
    click.echo(plan_summary(plan), err=True)
    question = f"Export {counted(len(chosen), 'item')}, {length} of video?"
    if not _answered_yes(question):
        click.echo("Nothing was sent (answer y, or run with --yes, to send).", err=True)
        return None
    agreed = len(chosen) if options.max_items is None else min(options.max_items, len(chosen))
    return dataclasses.replace(options, max_items=agreed)
