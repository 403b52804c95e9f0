"""pull: download the finished videos, verified, and record their hashes."""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from specsync.cli.console import shown
from specsync.cli.endpoint import lazy_endpoint, polling_client
from specsync.cli.exit_codes import EXIT_INVALID, EXIT_OK
from specsync.cli.options import (
    LOCKFILE_OPTION,
    concurrency_option,
    emulator_flag,
    format_option,
    mode_lockfile,
    target_option,
)
from specsync.cli.report_json import pull_document
from specsync.errors import UserError
from specsync.plan import require_matches
from specsync.project_names import project_folder
from specsync.service import credentials as credentials_mod
from specsync.service.client import request_deadline_from_env
from specsync.service.download import DEADLINE_GRACE, DownloadLimits
from specsync.service.pull import (
    DEFAULT_OUT,
    DOWNLOADED,
    FAILED_OUTCOME,
    SKIPPED,
    PullOptions,
    failing,
    run_pull,
    verify_files,
)
from specsync.service.signals import signals_interrupt
from specsync.service.status import check_service
from specsync.state.journal import LockBusy, read_lock_view

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.decorators import FC

MAX_BYTES_DEFAULT = 2 * 1024**3
DEFAULT_MIN_RATE = 64 * 1024  # bytes/s; service.download.DEFAULT_MIN_RATE
MIN_RATE_ENV = "SPECSYNC_DOWNLOAD_MIN_RATE"


def out_option() -> Callable[[FC], FC]:
    return click.option(
        "--out",
        "out_dir",
        default=None,
        metavar="DIR",
        help="Where the videos go, as DIR/<video>/<locale>.mp4 (default: videos/ in the "
        "project root, beside the lockfile).",
    )


def max_bytes_option() -> Callable[[FC], FC]:
    return click.option(
        "--max-bytes",
        type=click.IntRange(min=1),
        default=MAX_BYTES_DEFAULT,
        show_default=True,
        metavar="N",
        help="Refuse a video larger than N bytes (announced or streamed).",
    )


def min_rate_option() -> Callable[[FC], FC]:
    return click.option(
        "--min-rate",
        type=click.FloatRange(min=1, min_open=False),
        default=None,
        metavar="BYTES/S",
        help="Give up a download slower than this on average, after a grace of "
        "SPECSYNC_REQUEST_DEADLINE or 30 s (its part is kept for the next pull): each file's "
        "deadline is the grace plus its size (else --max-bytes) over this rate. Default: "
        f"SPECSYNC_DOWNLOAD_MIN_RATE, else {DEFAULT_MIN_RATE}.",
    )


@click.command()
@LOCKFILE_OPTION
@out_option()
@target_option()
@concurrency_option("Downloads at once.")
@max_bytes_option()
@min_rate_option()
@click.option(
    "--verify",
    is_flag=True,
    help="Only check the files on disk against the lockfile's hashes; no download, no "
    "request. Exit 1 naming every missing or changed file.",
)
@format_option(
    ("text", "json"),
    "json: {items: [{id, path, bytes, sha256, outcome, message}]} on stdout alone.",
)
@emulator_flag(
    "Ask a built-in emulator for the URLs of the rehearsal lockfile (.specsync/emulator.lock)."
)
def pull(
    lockfile: str,
    out_dir: str | None,
    targets: tuple[str, ...],
    concurrency: int,
    max_bytes: int,
    min_rate: float | None,
    verify: bool,
    output_format: str,
    use_emulator: bool,
) -> int:
    """Download every finished video to DIR/<video>/<locale>.mp4, verified, and record
    its sha256 and bytes in the lockfile.

    Only items whose render is recorded as done (`specsync status`) are pulled. Items not
    done yet (rendering, failed, uncertain, never exported) are listed as skipped with the
    reason and do not make the exit 1 by themselves. A file whose hash matches the lockfile
    is skipped without a request; a missing, partial or changed one is fetched again (a
    partial one resumed with HTTP Range, only for the same export). Only an MP4 is
    recorded: an error page, JSON or an empty body is refused with nothing kept. A download
    slower than --min-rate is given up (its part kept); Ctrl-C or SIGTERM ends the run
    within about 2 s, keeping the parts. Download URLs come from .specsync/status.json or
    the progress endpoint (an expired one is refreshed once); the key is never sent to the
    download host. Exit 0 when every done item is on disk and verified; 1 otherwise.

    \b
    Credentials (only when a URL must be asked for): AISTUDIOS_API_KEY, or
    AISTUDIOS_APP_ID and AISTUDIOS_USER_KEY; SPECSYNC_API_BASE overrides the address.

    \b
    Examples:
      specsync status --wait && specsync pull
      specsync pull --out build/videos --target 'welcome/*'
      specsync pull --verify
      specsync pull --format json > pulled.json
    """

    path = Path(mode_lockfile(lockfile, use_emulator))
    options = pull_options(path, out_dir, targets, concurrency, max_bytes, min_rate)
    lock = read_lock_view(path)
    require_matches("--target", targets, lock.entries)
    if verify:
        report = verify_files(path, options)
    else:
        report = pull_with_client(path, options, use_emulator, lock)
    return show_report(report, output_format, verify)


def pull_options(
    lockfile: Path,
    out_dir: str | None,
    targets: tuple[str, ...],
    concurrency: int,
    max_bytes: int,
    min_rate: float | None = None,
) -> Any:
    read_timeout = download_read_timeout()
    return PullOptions(
        out_dir=resolve_out(out_dir, lockfile),
        targets=targets,
        concurrency=concurrency,
        limits=DownloadLimits(
            max_bytes=max_bytes,
            read_timeout=read_timeout,
            min_rate=min_rate if min_rate is not None else min_rate_from_env(),
            grace=min(DEADLINE_GRACE, read_timeout),
        ),
    )


def min_rate_from_env() -> float:
    """SPECSYNC_DOWNLOAD_MIN_RATE (bytes/s, at least 1), else the default."""
    raw = os.environ.get(MIN_RATE_ENV, "").strip()
    if not raw:
        return DEFAULT_MIN_RATE
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= 1 or value == float("inf"):
        raise UserError(f"{MIN_RATE_ENV}={raw[:40]!r} is not a rate in bytes/s (at least 1)")
    return value


def resolve_out(out_dir: str | None, lockfile: Path) -> Path:
    """--out as given, else videos/ of the project root: beside the lockfile, or beside the
    `.specsync/` folder that holds the rehearsal lockfile of `--emulator` runs."""
    if out_dir is not None:
        return Path(out_dir)
    return project_folder(lockfile) / DEFAULT_OUT


def download_read_timeout() -> float:
    """Each read of a download waits at most this long: SPECSYNC_REQUEST_DEADLINE (the
    client's per-request bound) or 60 s, the smaller."""

    return min(60.0, request_deadline_from_env(os.environ))


def pull_with_client(path: Path, options: Any, use_emulator: bool, lock: Any) -> Any:
    """run_pull with a progress client for URLs (an emulator's with --emulator)."""

    api_base = None if use_emulator else credentials_mod.api_base_from_env(os.environ)
    check_service(lock, str(path), api_base, "pull")
    progress = PullProgress(sys.stderr)
    try:
        with lazy_endpoint(use_emulator) as endpoint, signals_interrupt():

            def make_client() -> Any:
                base, credentials = endpoint()
                return polling_client(base, credentials, lambda line: progress.note(shown(line)))

            report = run_pull(
                path,
                options,
                make_client,
                lock=lock,
                on_item=progress.item,
                on_start=progress.start,
            )
    except LockBusy as error:
        raise UserError(str(error)) from None
    return report


class PullProgress:
    """A redrawn `[n/total]` line on a terminal; one plain line per item in CI."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.total = 0
        self.count = 0
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        self.total = total
        if total:
            self.note(f"downloading {total} video{'s' if total != 1 else ''}")

    def item(self, item: Any) -> None:
        with self._lock:
            if item.outcome in (DOWNLOADED, FAILED_OUTCOME):
                self.count += 1
            line = f"{item.outcome:<10} {shown(item.id)}"
            if item.path:
                line += f" -> {shown(item.path)}"
            if item.size is not None and item.outcome == DOWNLOADED:
                line += f" ({item.size:,} bytes"
                line += f", resumed at {item.resumed_from:,})" if item.resumed_from else ")"
            if item.message:
                line += f": {shown(item.message)}"
            if self.tty and self.total:
                line = f"[{self.count}/{self.total}] {line}"
            self.note(line)

    def note(self, message: str) -> None:
        prefix = "\r\x1b[K" if self.tty else ""
        print(prefix + message, file=self.stream, flush=True)


def show_report(report: Any, output_format: str, verify: bool) -> int:
    """The document or the summary; the exit code: 1 unless every done item is on disk and
    verified."""
    if output_format == "json":
        click.echo(json.dumps(pull_document(report), ensure_ascii=False, indent=2))
    pull_summary(report, verify)
    return EXIT_OK if report.ok else EXIT_INVALID


def pull_summary(report: Any, verify: bool) -> None:
    """What happened, on stderr: checked files (--verify), counts, what is not on disk."""

    if verify:
        for item in report.items:
            if item.outcome != SKIPPED:
                click.echo(
                    f"{item.outcome:<9} {shown(item.id)} {shown(item.path or '')}"
                    + (f": {item.message}" if item.message else ""),
                    err=True,
                )
    counts = collections.Counter(item.outcome for item in report.items)
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    click.echo(f"{'Verify' if verify else 'Pull'}: {summary or 'nothing to do'}.", err=True)
    if report.not_recorded:
        click.echo(f"Error: {shown(report.not_recorded)}", err=True)
    bad = failing(report)
    if bad:
        names = ", ".join(shown(item.path or item.id) for item in bad)
        click.echo(f"not on disk and verified: {names}", err=True)
