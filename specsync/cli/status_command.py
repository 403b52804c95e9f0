"""status: bring render results into the lockfile (and, with --pull, the videos)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from specsync.cli.console import shown
from specsync.cli.endpoint import api_endpoint, polling_client
from specsync.cli.exit_codes import EXIT_INVALID, EXIT_OK
from specsync.cli.options import (
    LOCKFILE_OPTION,
    FiniteFloat,
    concurrency_option,
    emulator_flag,
    format_option,
    mode_lockfile,
)
from specsync.cli.pull_command import (
    PullProgress,
    max_bytes_option,
    out_option,
    pull_options,
    pull_summary,
)
from specsync.cli.report_json import pull_document, status_document
from specsync.cli.report_text import status_text
from specsync.errors import UserError
from specsync.service import credentials as credentials_mod
from specsync.service.pull import PullReport, run_pull
from specsync.service.signals import signals_interrupt
from specsync.service.status import StatusOptions, check_service, run_status
from specsync.state.journal import LockBusy, read_lock_view

if TYPE_CHECKING:
    from specsync.service.pull import PullReport
    from specsync.service.status import StatusOptions, StatusReport
    from specsync.state.lockfile_data import Lockfile


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

    with api_endpoint(use_emulator) as (base, credentials), signals_interrupt():

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

    if output_format == "json":
        document = status_document(report)
        if pulled is not None:
            document["pull"] = pull_document(pulled)
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    click.echo(status_text(report), nl=False, err=True)
    if pulled is not None:
        pull_summary(pulled, verify=False)


class _Puller:
    """`status --pull`: the videos of the renders this run sees finish, each round's at once.

    Items already done before the run are left to `specsync pull` (in CI, a fresh checkout
    would otherwise download every video ever made, on every run).
    """

    def __init__(self, path: Path, make_client: Any, out_dir: str | None, max_bytes: int):
        self.path = path
        self.make_client = make_client
        self.options = pull_options(path, out_dir, (), 4, max_bytes)
        self.progress = PullProgress(sys.stderr)
        self.items: dict[str, Any] = {}
        self.not_recorded = ""

    def pull_finished(self, done: list[Any]) -> None:
        """Downloads the renders this polling round saw finish."""

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

        items = [self.items[key] for key in sorted(self.items)]
        return PullReport(items=items, not_recorded=self.not_recorded)
