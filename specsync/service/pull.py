"""`specsync pull`: download every finished video to `DIR/<video>/<locale>.mp4`, verified,
and record its `sha256` and `bytes` in the lockfile.

Which items: those whose lockfile entry says `done` (what `status` records). Others are
listed as skipped with the reason and do not fail the run: a render still going is not an
error of pull's. A file whose hash already matches the lockfile costs no request; any other
is fetched (see `download`). The URL comes from `.specsync/status.json` (what `status` last
saw) or, when missing or refused by the download host (expired), from the progress
endpoint, once. The lockfile is updated under the apply lock only after the downloads, and
only for entries that still name the export that was downloaded.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specsync.plan import matches
from specsync.service import download as transport
from specsync.service.errors import ClientError
from specsync.service.status import (
    DONE,
    FAILED,
    UNCERTAIN,
    ItemStatus,
    ProgressClient,
    interpret,
    read_cache,
)
from specsync.state import journal
from specsync.state.lockfile_data import Entry, Lockfile
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import with_download
from specsync.state.lockfile_write import write_lockfile

# What became of one item; `--format json` prints these words.
DOWNLOADED = "downloaded"  # fetched (or resumed) and verified
UNCHANGED = "unchanged"  # already on disk with the recorded hash: no request
FAILED_OUTCOME = "failed"  # done, but not on disk and verified
INTERRUPTED = "interrupted"  # stopped by a signal; its part is kept for the next pull
SKIPPED = "skipped"  # not done (rendering, failed, uncertain, never exported): not an error
# `--verify`
VERIFIED = "verified"
MISSING = "missing"
CHANGED = "changed"

FAILING = (FAILED_OUTCOME, INTERRUPTED, MISSING, CHANGED)
# After SIGINT/SIGTERM, how long the downloads under way get to let go (their sockets are
# shut at once; this bounds a thread stuck elsewhere).
STOP_GRACE_SECONDS = 1.5
DEFAULT_OUT = "videos"

# The shapes of a video id and a locale (README, "Manifests"): anything else in a lockfile
# is not made into a path.
_VIDEO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_LOCALE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}\Z")


@dataclass(frozen=True)
class PullOptions:
    out_dir: Path
    targets: tuple[str, ...] = ()
    concurrency: int = 4
    limits: transport.DownloadLimits = field(default_factory=transport.DownloadLimits)
    only: frozenset[str] | None = None  # these ids alone (status --wait --pull)


@dataclass(frozen=True)
class PulledItem:
    id: str
    outcome: str
    path: str | None = None
    size: int | None = None
    sha256: str | None = None
    message: str = ""
    resumed_from: int = 0


@dataclass
class PullReport:
    items: list[PulledItem] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # ids whose hash was written
    not_recorded: str = ""  # why the lockfile could not be updated (the apply lock)

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    @property
    def ok(self) -> bool:
        """Every done item is on disk and verified (skipped ones do not count)."""
        return not self.not_recorded and not any(i.outcome in FAILING for i in self.items)


def video_path(out_dir: Path, item_id: str) -> Path | None:
    """`out_dir/<video>/<locale>.mp4`; None for an id that is no video/locale pair."""
    video, _, locale = item_id.partition("/")
    if not _VIDEO.match(video) or not _LOCALE.match(locale):
        return None
    return out_dir / video / f"{locale}.mp4"


def selected(lock: Lockfile, options: PullOptions) -> list[Entry]:
    entries = [lock.entries[key] for key in sorted(lock.entries)]
    if options.targets:
        entries = [e for e in entries if matches(e.id, options.targets)]
    if options.only is not None:
        entries = [e for e in entries if e.id in options.only]
    return entries


def why_not_done(entry: Entry) -> str | None:
    """Why an entry has no video to pull yet; None when its render is done."""
    if entry.state == UNCERTAIN:
        return "the last export request's outcome is unknown (see `apply --retry-uncertain`)"
    if entry.project_id is None:
        return "never exported"
    if entry.is_export is False:
        return "a preview (isExport: false): the service never renders it, nothing to download"
    if entry.state == FAILED:
        return "the render failed (see `apply --replace`)"
    if entry.state != DONE:
        return "not done yet: no final state recorded (run `specsync status --wait`)"
    return None


def _shown_path(path: Path) -> str:
    """The path as people type it: relative to the current folder when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


class _Urls:
    """Download URLs: the cached one first, then the progress endpoint's (client made once)."""

    def __init__(self, lockfile_path: Path, make_client: Callable[[], ProgressClient]) -> None:
        self._cache = read_cache(lockfile_path)
        self._make_client = make_client
        self._client: ProgressClient | None = None
        self._lock = threading.Lock()

    def cached(self, entry: Entry) -> str | None:
        cached = self._cache.get(entry.id) or {}
        url = cached.get("downloadUrl")
        if cached.get("projectId") == entry.project_id and isinstance(url, str) and url:
            return url
        return None

    def fresh(self, entry: Entry) -> str | None:
        assert entry.project_id is not None
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            client = self._client
        data = client.progress(entry.project_id)
        item = interpret(ItemStatus(entry.id, entry.project_id, DONE), data)
        return item.download_url if item.state == DONE else None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _fetch(
    entry: Entry,
    target: Path,
    urls: _Urls,
    session: Any,
    options: PullOptions,
    stop: transport.DownloadStop,
) -> PulledItem:
    """Download one video: the cached URL, and a fresh one once when that is missing or
    refused. Auth errors of the progress endpoint propagate (they stop the run), and so
    does anything that is no outcome of a request (a bug: exit 3)."""
    shown = _shown_path(target)
    url = urls.cached(entry)
    refreshed = False
    for _ in range(2):
        if url is None and not refreshed:
            refreshed = True
            try:
                url = urls.fresh(entry)
            except ClientError as error:  # no answer, or an error status: this item
                return PulledItem(entry.id, FAILED_OUTCOME, shown, message=f"{error}")
        if url is None:
            return PulledItem(
                entry.id,
                FAILED_OUTCOME,
                shown,
                message="the service gives no download URL for this export (yet)",
            )
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.parent.is_symlink():
                raise transport.DownloadError(f"{target.parent} is a symlink; not followed")
            result = transport.download(
                session, url, target, options.limits, export=entry.project_id or "", stop=stop
            )
        except transport.Interrupted as error:
            return PulledItem(entry.id, INTERRUPTED, shown, message=str(error))
        except (transport.StaleLink, transport.Unreachable) as error:
            if refreshed:
                return PulledItem(entry.id, FAILED_OUTCOME, shown, message=str(error))
            url = None
            continue
        except transport.DownloadError as error:
            return PulledItem(entry.id, FAILED_OUTCOME, shown, message=str(error))
        except OSError as error:
            return PulledItem(
                entry.id,
                FAILED_OUTCOME,
                shown,
                message=f"cannot write {error.filename or target}: {error.strerror or error}",
            )
        return PulledItem(
            entry.id,
            DOWNLOADED,
            shown,
            result.size,
            result.sha256,
            resumed_from=result.resumed_from,
        )
    raise AssertionError("unreachable")  # pragma: no cover


def run_pull(
    lockfile_path: Path,
    options: PullOptions,
    make_client: Callable[[], ProgressClient],
    *,
    lock: Lockfile | None = None,
    on_item: Callable[[PulledItem], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> PullReport:
    """Download what is done and not on disk yet, then record the hashes (see module doc).

    `make_client` is called only when a URL must be asked for (never when every file is
    already on disk). `on_item` is called as each item is settled, from worker threads.
    """
    lockfile_path = Path(lockfile_path)
    if lock is None:
        lock = journal.read_lock_view(lockfile_path)
    report = PullReport()
    notify = on_item or (lambda item: None)
    jobs = _jobs(lock, options, report)
    for item in report.items:
        notify(item)
    if on_start is not None:
        on_start(len(jobs))
    if jobs:
        urls = _Urls(lockfile_path, make_client)
        session = transport.download_session()
        stop = transport.DownloadStop()
        settled: list[PulledItem] = []
        project_of = {entry.id: entry.project_id for entry, _ in jobs}

        def one(job: tuple[Entry, Path]) -> PulledItem:
            item = _fetch(job[0], job[1], urls, session, options, stop)
            settled.append(item)
            notify(item)
            return item

        try:
            fetched = _run_all(one, jobs, options.concurrency, stop)
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM: what is already on disk and verified is still recorded
            # (quickly, or not at all when another run holds the lock), then the run ends.
            with contextlib.suppress(journal.LockBusy, OSError):
                finished = [item for item in settled if item.outcome == DOWNLOADED]
                record_downloads(lockfile_path, finished, project_of)
            raise
        finally:
            session.close()
            urls.close()
        report.items.extend(fetched)
        _record(lockfile_path, fetched, project_of, report)
    report.items.sort(key=lambda item: item.id)
    return report


def _record(
    lockfile_path: Path,
    fetched: Sequence[PulledItem],
    project_of: dict[str, str | None],
    report: PullReport,
) -> None:
    """The hashes of what was downloaded into the lockfile; why not in `report` else."""
    done = [item for item in fetched if item.outcome == DOWNLOADED]
    try:
        report.recorded = record_downloads(lockfile_path, done, project_of)
    except journal.LockBusy as error:
        report.not_recorded = (
            f"{error}: the videos are on disk, but their hashes were not recorded; "
            "run `specsync pull` again when it ends (it fetches them again)"
        )
    except OSError as error:
        # A full disk (or a read-only one) while writing the lockfile: the videos are
        # fine, only their hashes are missing.
        on_disk = ", ".join(item.path or item.id for item in done)
        report.not_recorded = (
            f"cannot record the hashes in {lockfile_path}: {error.strerror or error}. "
            f"On disk and not recorded: {on_disk}; the next `specsync pull` records "
            "them (it fetches them again)"
        )


def _run_all(
    one: Callable[[tuple[Entry, Path]], PulledItem],
    jobs: Sequence[tuple[Entry, Path]],
    concurrency: int,
    stop: transport.DownloadStop,
) -> list[PulledItem]:
    """`one` over `jobs` on `concurrency` daemon threads; results in the order of `jobs`.
    An exception of `one` (an auth error of the progress endpoint, a bug) is raised once the
    downloads under way end; no new one starts after it.

    On KeyboardInterrupt (SIGINT, or SIGTERM made one), `stop` tells every download to let
    go (the stop shuts their sockets at once, their parts are kept); the threads get
    STOP_GRACE_SECONDS, and being daemons, none of them can hold the process after that.
    """
    results: list[PulledItem | None] = [None] * len(jobs)
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(jobs)):
        pending.put(index)
    errors: list[BaseException] = []

    def worker() -> None:
        while not stop.is_set() and not errors:
            try:
                index = pending.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = one(jobs[index])
            except BaseException as error:  # handed to the main thread, raised there
                errors.append(error)
                return

    threads = [
        threading.Thread(target=worker, name="specsync-pull", daemon=True)
        for _ in range(max(1, min(concurrency, len(jobs))))
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except BaseException:
        stop.set()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        raise
    if errors:
        raise errors[0]
    return [result for result in results if result is not None]


def _jobs(lock: Lockfile, options: PullOptions, report: PullReport) -> list[tuple[Entry, Path]]:
    """The entries to download; the others go into the report at once (skipped, not a
    video id, or already on disk with the recorded hash)."""
    jobs: list[tuple[Entry, Path]] = []
    for entry in selected(lock, options):
        why = why_not_done(entry)
        target = video_path(options.out_dir, entry.id)
        if why is not None:
            report.items.append(PulledItem(entry.id, SKIPPED, message=why))
        elif target is None:
            report.items.append(
                PulledItem(entry.id, FAILED_OUTCOME, message="not a VIDEO/LOCALE id")
            )
        elif entry.sha256 is not None and transport.file_digest(target, entry.size) == (
            entry.sha256,
            entry.size,
        ):
            report.items.append(
                PulledItem(entry.id, UNCHANGED, _shown_path(target), entry.size, entry.sha256)
            )
        else:
            jobs.append((entry, target))
    return jobs


def record_downloads(
    lockfile_path: Path, items: Iterable[PulledItem], project_of: dict[str, str | None]
) -> list[str]:
    """sha256 and bytes into the lockfile, under the apply lock, re-read there: only entries
    that still name the downloaded export. Ids of the entries changed."""
    items = [i for i in items if i.sha256 is not None and i.size is not None]
    if not items:
        return []
    changed = []
    with journal.hold_apply_lock(lockfile_path):
        lock = read_lockfile(lockfile_path)
        updated = lock
        for item in items:
            project_id = project_of.get(item.id)
            assert item.sha256 is not None and item.size is not None
            if project_id is None:
                continue
            after = with_download(updated, item.id, project_id, item.sha256, item.size)
            if after is not updated:
                changed.append(item.id)
            updated = after
        if changed:
            write_lockfile(lockfile_path, updated)
    return changed


def verify_files(lockfile_path: Path, options: PullOptions) -> PullReport:
    """`pull --verify`: the files on disk against the recorded hashes; no request at all.

    An entry without a recorded hash (never pulled) is skipped, not a failure.
    """
    lock = read_lockfile(Path(lockfile_path))
    report = PullReport()
    for entry in selected(lock, options):
        target = video_path(options.out_dir, entry.id)
        if entry.sha256 is None or target is None:
            report.items.append(PulledItem(entry.id, SKIPPED, message="no recorded hash"))
            continue
        shown = _shown_path(target)
        found = transport.file_digest(target, entry.size)
        if found is None:
            outcome, message = MISSING, "not on disk (or not a regular file)"
        elif found != (entry.sha256, entry.size):
            outcome, message = CHANGED, "differs from the recorded sha256/bytes"
        else:
            outcome, message = VERIFIED, ""
        size, sha = (found[1], found[0] or None) if found else (None, None)
        report.items.append(PulledItem(entry.id, outcome, shown, size, sha, message))
    return report


def failing(report: PullReport) -> Sequence[PulledItem]:
    return [item for item in report.items if item.outcome in FAILING]
