"""apply and status: the commands that talk to the service (or an emulator)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from specsync.cli.endpoint import api_endpoint, emulator_journal, polling_client
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
from specsync.cli.pull_command import max_bytes_option, out_option, terminate_as_interrupt
from specsync.errors import UserError

if TYPE_CHECKING:
    from specsync.model import Item
    from specsync.saved_plan import SavedPlan
    from specsync.service.apply_prepare import ApplyOptions
    from specsync.service.apply_report import ApplyReport, Progress
    from specsync.service.pull import PullReport
    from specsync.service.status import StatusOptions, StatusReport
    from specsync.state.lockfile_data import Lockfile


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
    from specsync.cli.progress import BarProgress, LogProgress
    from specsync.manifests.pipeline import load_items
    from specsync.plan import require_matches
    from specsync.service.apply import MAX_IN_FLIGHT, ApplyOptions

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
    from specsync.saved_plan import read_saved_plan

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
    from specsync.service import client as client_mod
    from specsync.service.account import check_models_before_apply
    from specsync.service.apply import run_apply

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
    from specsync.cli.report_json import apply_document
    from specsync.cli.report_text import apply_summary
    from specsync.plan import pending_outside

    if output_format == "json":
        click.echo(json.dumps(apply_document(report), ensure_ascii=False, indent=2))
    elif output_format == "markdown":
        from specsync.cli.report_markdown import apply_markdown

        click.echo(apply_markdown(report), nl=False)
    click.echo(apply_summary(report, use_emulator or report.emulator), nl=False, err=True)
    if use_emulator:
        click.echo(
            f"  (rehearsal recorded in {lockfile}, git-ignored; specsync.lock is untouched)",
            err=True,
        )
    outside = pending_outside(report.plan, targets)
    if outside:
        from specsync.cli.console import counted

        lie = "lies" if outside == 1 else "lie"
        click.echo(f"  {counted(outside, 'more pending item')} {lie} outside --target", err=True)


def _on_a_terminal() -> bool:
    """Whether a person can answer: stdin and stderr (where the question goes) are TTYs."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _confirmed(items: Any, lockfile: Path, options: Any) -> Any:
    """Ask before anything is sent; the options, bounded by what the person agreed to
    (None: they said no).

    The plan is read here, before apply takes its lock: `--max-items` becomes the count
    agreed to, so a run that finds more to send under the lock (another apply landed
    meanwhile) refuses with nothing sent rather than send what nobody agreed to.
    """
    from specsync.cli.console import counted
    from specsync.cli.report_text import plan_summary
    from specsync.plan import estimated_minutes, make_plan
    from specsync.service.apply import select
    from specsync.state.journal import read_lock_view

    plan = make_plan(items, read_lock_view(lockfile))
    chosen = select(plan, options)
    if not chosen:
        return options  # nothing to send: nothing to ask
    minutes = sum(estimated_minutes(p.item.request) for p, _ in chosen if p.item is not None)
    length = "under a minute" if minutes < 0.5 else f"about {counted(round(minutes), 'minute')}"
    click.echo(plan_summary(plan), err=True)
    question = f"Export {counted(len(chosen), 'item')}, {length} of video?"
    if not click.confirm(question, default=False, err=True):
        click.echo("Nothing was sent (answer y, or run with --yes, to send).", err=True)
        return None
    agreed = len(chosen) if options.max_items is None else min(options.max_items, len(chosen))
    return dataclasses.replace(options, max_items=agreed)


@click.command()
@LOCKFILE_OPTION
@click.option("--wait", is_flag=True, help="Poll until every render is done or failed.")
@click.option(
    "--timeout",
    type=FiniteFloat(min=0),
    # Renders take 1 to 10 minutes plus queueing (vendor docs): half an hour by default.
    default=1800.0,
    show_default=True,
    metavar="S",
    help="With --wait: give up after S seconds (exit 1). Polls thin out from every second "
    "to every 30 s.",
)
@format_option(
    ("text", "json"),
    "json: {items: [{id, projectId, state, progress, downloadUrl}]} on stdout alone.",
)
@concurrency_option("Progress requests in flight at once.")
@emulator_flag("Ask a built-in emulator about the rehearsal lockfile (.specsync/emulator.lock).")
@click.option(
    "--pull",
    "then_pull",
    is_flag=True,
    help="Also download each video whose render this run sees finish, as `specsync pull` "
    "does (exit 1 too when one is not on disk and verified). Videos done before are left "
    "to `specsync pull`.",
)
@out_option()
@max_bytes_option()
def status(
    lockfile: str,
    wait: bool,
    timeout: float,
    output_format: str,
    concurrency: int,
    use_emulator: bool,
    then_pull: bool,
    out_dir: str | None,
    max_bytes: int,
) -> int:
    """Bring render results into the lockfile: progress, done/failed, download URLs.

    Polls the progress of every exported item whose render is not finished. "done" and
    "failed" are recorded in the lockfile (under the apply lock; fingerprints untouched);
    progress and download URLs (short-lived) are kept in .specsync/status.json only. A
    projectId the service does not know (HTTP 404) is reported, not polled again. Exit 0
    when everything is done or still rendering; 1 when anything failed, is unknown, could
    not be read, or --wait timed out.

    \b
    Credentials (environment only): AISTUDIOS_API_KEY, or AISTUDIOS_APP_ID and
    AISTUDIOS_USER_KEY; SPECSYNC_API_BASE overrides the address.

    \b
    Examples:
      specsync status
      specsync status --wait --timeout 900
      specsync status --emulator --wait
      specsync status --wait --pull --out videos
      specsync status --format json | jq -r '.items[] | select(.state == "done") | .downloadUrl'
    """
    from specsync.service import credentials as credentials_mod
    from specsync.service.status import StatusOptions, check_service
    from specsync.state.journal import LockBusy, read_lock_view

    lockfile = mode_lockfile(lockfile, use_emulator)
    path = Path(lockfile)
    # With the journal of an interrupted apply folded in: exports it recorded before it
    # died are polled too, before the next apply writes them into the lockfile.
    lock = read_lock_view(path)
    try:
        api_base = None if use_emulator else credentials_mod.api_base_from_env(os.environ)
        check_service(lock, lockfile, api_base)
        options = StatusOptions(wait=wait, timeout=timeout, concurrency=concurrency)
        pull = PullSettings(out_dir, max_bytes) if then_pull else None
        report, pulled = poll(path, lock, use_emulator, options, pull)
    except LockBusy as error:
        raise UserError(
            f"{error} (status records results under the same lock; try again when it ends)"
        ) from None
    if use_emulator:
        drop_emulator_urls(report, then_pull)
    print_status(report, pulled, output_format)
    all_ok = report.ok and (pulled is None or pulled.ok)
    return EXIT_OK if all_ok else EXIT_INVALID


@dataclasses.dataclass(frozen=True)
class PullSettings:
    """`status --pull`: where the videos go and how large one may be."""

    out_dir: str | None
    max_bytes: int


def poll(
    path: Path,
    lock: Lockfile,
    use_emulator: bool,
    options: StatusOptions,
    pull: PullSettings | None,
) -> tuple[StatusReport, PullReport | None]:
    """Poll the service (or a fresh emulator) once or until done, pulling what finishes
    when asked; the status report and what was pulled (None without --pull)."""
    from specsync.cli.console import shown
    from specsync.service.status import run_status

    with api_endpoint(use_emulator) as (base, credentials), terminate_as_interrupt():

        def log(line: str) -> None:
            click.echo(shown(line), err=True)

        def make_client() -> Any:
            return polling_client(base, credentials, log)

        puller = None if pull is None else _Puller(path, make_client, pull.out_dir, pull.max_bytes)
        report = run_status(
            path,
            make_client,
            options,
            log,
            lock=lock,
            on_done=None if puller is None else puller.pull_finished,
        )
        return report, None if puller is None else puller.report()


def drop_emulator_urls(report: StatusReport, then_pull: bool) -> None:
    """Forget the download URLs of an emulator that has stopped, saying so."""
    # This command's own emulator has stopped by now, and with it its download URLs
    # (and those an earlier one left in the cache): printing them hands out dead links.
    had_urls = any(item.download_url for item in report.items)
    report.items = [dataclasses.replace(item, download_url=None) for item in report.items]
    if had_urls and not then_pull:
        click.echo(
            "note: an emulator's download URLs end with it; "
            "`specsync status --emulator --wait --pull` downloads the videos while it runs",
            err=True,
        )


def print_status(report: StatusReport, pulled: PullReport | None, output_format: str) -> None:
    """The JSON document on stdout; the status text (and the pull's summary) on stderr."""
    from specsync.cli.report_json import status_document
    from specsync.cli.report_text import status_text

    if output_format == "json":
        document = status_document(report)
        if pulled is not None:
            from specsync.cli.report_json import pull_document

            document["pull"] = pull_document(pulled)
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    click.echo(status_text(report), nl=False, err=True)
    if pulled is not None:
        from specsync.cli.pull_command import pull_summary

        pull_summary(pulled, verify=False)


class _Puller:
    """`status --pull`: the videos of the renders this run sees finish, each round's at once.

    Items already done before the run are left to `specsync pull` (in CI, a fresh checkout
    would otherwise download every video ever made, on every run).
    """

    def __init__(self, path: Path, make_client: Any, out_dir: str | None, max_bytes: int):
        from specsync.cli.pull_command import PullProgress, pull_options

        self.path = path
        self.make_client = make_client
        self.options = pull_options(path, out_dir, (), 4, max_bytes)
        self.progress = PullProgress(sys.stderr)
        self.items: dict[str, Any] = {}
        self.not_recorded = ""

    def pull_finished(self, done: list[Any]) -> None:
        """Downloads the renders this polling round saw finish."""
        from specsync.service.pull import run_pull

        report = run_pull(
            self.path,
            dataclasses.replace(self.options, only=frozenset(item.id for item in done)),
            self.make_client,
            on_item=self.progress.item,
        )
        self.items.update((item.id, item) for item in report.items)
        self.not_recorded = report.not_recorded or self.not_recorded

    def report(self) -> Any:
        """What was pulled in all the rounds, as one pull report."""
        from specsync.service.pull import PullReport

        items = [self.items[key] for key in sorted(self.items)]
        return PullReport(items=items, not_recorded=self.not_recorded)
