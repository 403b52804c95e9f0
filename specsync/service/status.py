"""`specsync status`: ask the service how the recorded exports are rendering.

For every lockfile entry with a projectId whose render state is not final yet, the progress
endpoint is polled (bounded concurrency). Final states ("done"/"failed") are recorded in the
lockfile under the apply lock (fingerprints untouched, so `plan` still says unchanged).
Progress and download URLs (often signed and short-lived) stay out of the committed file:
they are cached in `.specsync/status.json`.

A projectId the service does not know (HTTP 404) is reported and never polled again in the
run. Other errors are reported; with `wait` they are retried on the next round (the pause
between rounds grows from about 1 s to 10 s) until the timeout passes.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from specsync.atomic import write_bytes_atomic
from specsync.errors import UserError
from specsync.item_words import RenderState
from specsync.regular_files import read_regular
from specsync.service.credentials import is_loopback_host
from specsync.service.env_settings import seconds_from_env
from specsync.service.errors import ClientError, ConfigError, RenderRefused
from specsync.state import journal
from specsync.state.lockfile_data import Lockfile, service_host
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import with_state
from specsync.state.lockfile_write import write_lockfile

SUBMITTED, RENDERING = RenderState.SUBMITTED, RenderState.RENDERING
DONE, FAILED, UNCERTAIN = RenderState.DONE, RenderState.FAILED, RenderState.UNCERTAIN
PREVIEW = RenderState.PREVIEW
FINAL = (DONE, FAILED)

CACHE_NAME = "status.json"
# Renders take 1 to 10 minutes plus queueing (vendor docs): the default --timeout leaves
# room for that, and polls thin out from 1 s to every 30 s.
DEFAULT_TIMEOUT = 1800.0
FIRST_INTERVAL = 1.0
MAX_INTERVAL = 30.0
INTERVAL_GROWTH = 1.5
# The first wait between polls, for whoever wants to see a short render sooner (and the
# tests, whose emulator renders in a second). Never 0: a zero interval never grows.
POLL_INTERVAL_ENV = "SPECSYNC_POLL_INTERVAL"
_WORD_LIMIT = 40

# The service's state words are undocumented (`finish` and `exported` appear in its pages):
# done is decided by progress >= 100 and a URL. A done word counts only when no progress
# comes with the URL; only these failure words, or `success: false`, fail an item.
_DONE_WORDS = {
    "done",
    "complete",
    "completed",
    "success",
    "succeeded",
    "finished",
    "finish",
    "exported",
}
_FAILED_WORDS = {"failed", "fail", "failure", "error", "errored", "cancelled", "canceled"}


@dataclass(frozen=True)
class ItemStatus:
    """What is known about one item's render."""

    id: str
    project_id: str | None
    state: RenderState
    progress: float | None = None  # 0-100; the service sends a float
    download_url: str | None = None
    message: str | None = None  # the last error, or why the item is not polled
    unknown: bool = False  # the service answered 404 for the projectId
    service_state: str | None = None  # the service's own state word, as it sent it

    @property
    def pending(self) -> bool:
        """Still worth polling."""
        return self.state in (SUBMITTED, RENDERING) and not self.unknown


@dataclass(frozen=True)
class StatusOptions:
    wait: bool = False
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = 4


@dataclass
class StatusReport:
    items: list[ItemStatus] = field(default_factory=list)
    timed_out: bool = False

    def count(self, state: str) -> int:
        return sum(1 for item in self.items if item.state == state)

    @property
    def ok(self) -> bool:
        """Exit 0: nothing failed, unknown or unreadable, and no timeout."""
        if self.timed_out:
            return False
        return not any(
            item.state == FAILED or item.unknown or (item.pending and item.message)
            for item in self.items
        )


class ServiceMismatch(UserError):
    """The lockfile's ids belong to another service than the one status would ask."""


def check_service(
    lock: Lockfile, lockfile: str, api_base: str | None, command: str = "status"
) -> None:
    """Emulator ids go only to an emulator, real ids never do.

    `api_base` is None for `--emulator`; an emulator lockfile may also be checked against
    an emulator the user runs on a loopback SPECSYNC_API_BASE. `command` names the command
    the messages tell the user to run again.
    """
    if api_base is None and lock.entries and not lock.emulator:
        raise ServiceMismatch(
            f"{lockfile} records real exports; the emulator does not know them. "
            f"Run `specsync {command}` without --emulator"
        )
    if api_base is None:
        return
    host = service_host(api_base)
    if not lock.emulator and lock.service and host and host != lock.service:
        raise ServiceMismatch(
            f"{lockfile} records exports applied against {lock.service}; {host} does not "
            f"know those ids. Set SPECSYNC_API_BASE back to {lock.service}, or pass "
            "--lockfile with the lockfile of this service"
        )
    if not lock.emulator:
        return
    if not is_loopback_host(urlsplit(api_base).hostname or ""):
        raise ServiceMismatch(
            f"{lockfile} was written by `apply --emulator`: its ids are not real "
            f"exports; run `specsync {command} --emulator --lockfile {lockfile}` (rehearsals "
            "now keep their own .specsync/emulator.lock: move this one away before the "
            "first real apply)"
        )


# interpreting answers ----------------------------------------------------------------------


def _progress_number(value: Any) -> float | None:
    """0-100 as sent (a float stays a float; 100.0 reads as 100), None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            return None
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%"))
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number):
        return None
    number = max(0.0, min(100.0, number))
    return int(number) if number.is_integer() else number


def show_progress(progress: float | None) -> str:
    """37.5 -> "37.5%", 100 -> "100%"; "-" when unknown."""
    if progress is None:
        return "-"
    return f"{progress:.0f}%" if float(progress).is_integer() else f"{progress:.1f}%"


def _word(data: Mapping[str, Any]) -> str | None:
    value = data.get("state") or data.get("status")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    text = "".join(c if c.isprintable() else " " for c in str(value)).strip()
    return text[:_WORD_LIMIT] or None


def _url(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    return None


def interpret(item: ItemStatus, data: Mapping[str, Any]) -> ItemStatus:
    """The item after one progress answer (`data` is the envelope's data)."""
    progress = _progress_number(data.get("progress"))
    url = _url(data.get("downloadUrl")) or _url(data.get("videoUrl")) or _url(data.get("url"))
    raw_word = _word(data)
    word = (raw_word or "").lower()
    message = None
    if word in _FAILED_WORDS:
        state = FAILED
        message = f"the service reports {raw_word!r}"
        detail = data.get("msg") or data.get("message")
        if isinstance(detail, str) and detail.strip():
            message += f": {_word({'state': detail})}"
    elif url and (
        (progress is not None and progress >= 100) or (progress is None and word in _DONE_WORDS)
    ):
        state = DONE
    elif progress:
        # Includes 100 without a URL yet: the URL may come a poll later.
        state = RENDERING
    else:
        state = RENDERING if word == RENDERING else SUBMITTED
    if state == DONE and progress is None:
        progress = 100
    return replace(
        item,
        state=state,
        progress=progress,
        download_url=url,
        message=message,
        unknown=False,
        service_state=raw_word,
    )


class ProgressClient(Protocol):
    """What status and pull need of a client (specsync.service.client.Client)."""

    def progress(self, project_id: str) -> dict[str, Any]: ...
    def close(self) -> None: ...


def poll_one(client: ProgressClient, item: ItemStatus) -> ItemStatus:
    """Ask once. Auth errors propagate (they stop the run); the client's errors (no
    answer, an error status) become the message; anything else is a bug and propagates."""
    assert item.project_id is not None
    try:
        data = client.progress(item.project_id)
    except RenderRefused as error:
        # `success: false` on a poll is no evidence that the render failed (the vendor's
        # sample treats it as a polling error; docs/vendor.md, row 19): unknown this time,
        # asked again, and the service's words shown.
        return replace(
            item, message=f"the service answered success: false ({error}); asked again later"
        )
    except ClientError as error:
        if error.status == 404:
            return replace(
                item,
                unknown=True,
                message=f"projectId {item.project_id} is unknown to the service (HTTP 404)",
            )
        return replace(item, message=str(error) or type(error).__name__)
    return interpret(item, data)


# the cache in .specsync/ -------------------------------------------------------------------


def cache_path(lockfile_path: Path, create: bool = True) -> Path:
    return journal.state_dir(lockfile_path, create=create) / CACHE_NAME


def read_cache(lockfile_path: Path) -> dict[str, dict[str, Any]]:
    """Cached status by item id ({} when missing or unreadable: it is only a cache)."""
    try:
        raw = json.loads(read_regular(cache_path(lockfile_path, create=False)).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    items = raw.get("items") if isinstance(raw, dict) else None
    if not isinstance(items, dict):
        return {}
    return {k: v for k, v in items.items() if isinstance(k, str) and isinstance(v, dict)}


def write_cache(lockfile_path: Path, items: Iterable[ItemStatus]) -> None:
    """Merge these items into `.specsync/status.json` (atomic; unchanged file not rewritten)."""
    cached = read_cache(lockfile_path)
    for item in items:
        if item.project_id is None or item.state == UNCERTAIN:
            continue
        cached[item.id] = {
            "projectId": item.project_id,
            "state": item.state,
            "progress": item.progress,
            "downloadUrl": item.download_url,
            "serviceState": item.service_state,
        }
    text = json.dumps({"items": dict(sorted(cached.items()))}, indent=2, ensure_ascii=False)
    write_bytes_atomic(cache_path(lockfile_path), (text + "\n").encode("utf-8"))


# the items of a lockfile -------------------------------------------------------------------


def initial_items(lock: Lockfile, cache: Mapping[str, Mapping[str, Any]]) -> list[ItemStatus]:
    """One ItemStatus per entry with a projectId (or marked uncertain), sorted by id."""
    result = []
    for key in sorted(lock.entries):
        entry = lock.entries[key]
        cached = cache.get(key) or {}
        same = entry.project_id is not None and cached.get("projectId") == entry.project_id
        progress = _progress_number(cached.get("progress")) if same else None
        url = _url(cached.get("downloadUrl")) if same else None
        word = _word({"state": cached.get("serviceState")}) if same else None
        if entry.state == UNCERTAIN:
            result.append(
                ItemStatus(
                    key,
                    entry.project_id,
                    UNCERTAIN,
                    message="the last request's outcome is unknown; not polled "
                    "(see `specsync apply --retry-uncertain`)",
                )
            )
        elif entry.project_id is None:
            continue
        elif entry.is_export is False:
            result.append(
                ItemStatus(
                    key,
                    entry.project_id,
                    PREVIEW,
                    message="a preview (isExport: false): shown on the dashboard, never "
                    "rendered; not polled",
                )
            )
        elif entry.state in FINAL:
            if entry.state == DONE and progress is None:
                progress = 100
            result.append(
                ItemStatus(
                    key,
                    entry.project_id,
                    RenderState(entry.state),
                    progress,
                    url,
                    service_state=word,
                )
            )
        else:
            state = str(cached.get("state")) if same else SUBMITTED
            if state not in (SUBMITTED, RENDERING):
                state = SUBMITTED  # a final state not yet in the lockfile: ask again
            result.append(
                ItemStatus(
                    key, entry.project_id, RenderState(state), progress, url, service_state=word
                )
            )
    return result


def record_final_states(lockfile_path: Path, items: Iterable[ItemStatus]) -> list[str]:
    """Write "done"/"failed" into the lockfile under the apply lock; ids of entries changed.

    An entry is changed only when it still names the same projectId and is not marked
    uncertain (an apply may have run meanwhile). Raises journal.LockBusy when apply runs.
    """
    finals = [item for item in items if item.state in FINAL and item.project_id]
    if not finals:
        return []
    changed = []
    with journal.hold_apply_lock(lockfile_path):
        lock = read_lockfile(lockfile_path)
        updated = lock
        for item in finals:
            entry = updated.entries.get(item.id)
            if entry is None or entry.project_id != item.project_id:
                continue
            if entry.state == UNCERTAIN or entry.state == item.state:
                continue
            updated = with_state(updated, item.id, item.state)
            changed.append(item.id)
        if changed:
            write_lockfile(lockfile_path, updated)
    return changed


# the run ------------------------------------------------------------------------------------


def _describe(item: ItemStatus) -> str:
    parts = [f"{item.id}: {item.state}"]
    if item.progress is not None:
        parts.append(show_progress(item.progress))
    if item.service_state:
        parts.append(f"[{item.service_state}]")
    if item.message:
        parts.append(f"({item.message})")
    return " ".join(parts)


def _changed(before: ItemStatus, after: ItemStatus) -> bool:
    """Worth a log line: the state, progress, message or 404 changed."""
    return (before.state, before.progress, before.message, before.unknown) != (
        after.state,
        after.progress,
        after.message,
        after.unknown,
    )


def first_interval_from_env(env: Mapping[str, str]) -> float:
    """The first poll interval: `SPECSYNC_POLL_INTERVAL` (above 0, at most MAX_INTERVAL)."""
    seconds = seconds_from_env(env, POLL_INTERVAL_ENV, FIRST_INTERVAL)
    if not 0 < seconds <= MAX_INTERVAL:
        raise ConfigError(
            f"{POLL_INTERVAL_ENV} must be a number of seconds above 0 and at most "
            f"{MAX_INTERVAL:g}, got {env.get(POLL_INTERVAL_ENV, '').strip()!r}"
        )
    return seconds


def run_status(
    lockfile_path: Path,
    make_client: Callable[[], ProgressClient],
    options: StatusOptions,
    log: Callable[[str], None],
    *,
    lock: Lockfile | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_done: Callable[[list[ItemStatus]], None] | None = None,
) -> StatusReport:
    """Poll until nothing is pending (or once, without `wait`); record what became final.

    `on_done` gets the items that became done in a round, once they are recorded
    (`status --wait --pull` downloads them then).
    """
    lockfile_path = Path(lockfile_path)
    first_interval = first_interval_from_env(os.environ)
    if lock is None:
        lock = journal.read_lock_view(lockfile_path)
    items = {item.id: item for item in initial_items(lock, read_cache(lockfile_path))}
    report = StatusReport()
    if not any(item.pending for item in items.values()):
        report.items = list(items.values())
        return report
    deadline = clock() + options.timeout
    interval = first_interval
    client = make_client()
    try:
        with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
            while True:
                pending = [item for item in items.values() if item.pending]
                answers = list(pool.map(lambda i: poll_one(client, i), pending))
                for before, after in zip(pending, answers, strict=True):
                    items[after.id] = after
                    # Without --wait the final table shows each item once: no change lines.
                    if options.wait and _changed(before, after):
                        log(_describe(after))
                _save(lockfile_path, answers)
                finished = [a for b, a in zip(pending, answers, strict=True) if a.state == DONE]
                if on_done is not None and finished:
                    on_done(finished)
                still = [item for item in items.values() if item.pending]
                if not options.wait or not still:
                    break
                remaining = deadline - clock()
                if remaining <= 0:
                    report.timed_out = True
                    log(
                        f"timed out after {options.timeout:g} s with {len(still)} item"
                        f"{'s' if len(still) != 1 else ''} not finished"
                    )
                    break
                sleep(min(interval, remaining))
                interval = min(MAX_INTERVAL, interval * INTERVAL_GROWTH)
    finally:
        client.close()
    report.items = sorted(items.values(), key=lambda i: i.id)
    return report


def _save(lockfile_path: Path, polled: list[ItemStatus]) -> None:
    """Cache what was polled, then record final states in the lockfile."""
    if polled:
        write_cache(lockfile_path, polled)
        record_final_states(lockfile_path, polled)
