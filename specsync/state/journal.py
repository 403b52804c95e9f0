"""Crash-safe record of one apply: intents and results, one JSON line each, fsynced.

The intent is written before a request is sent and its outcome as soon as it arrives, so
that killing apply at any instant loses no accepted id and never forgets a request whose
outcome is unknown. `fold` turns the records into lockfile entries (idempotently), and the
caller then writes the lockfile atomically and removes the journal.

Everything lives in `.specsync/` beside the lockfile; that folder carries a `.gitignore`
of `*`, so `git add -A` never stages it. One apply at a time holds `hold_apply_lock`.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specsync.atomic import fsync_dir, write_bytes_atomic
from specsync.errors import UserError
from specsync.item_words import Answer
from specsync.project_names import STATE_DIR_NAME
from specsync.regular_files import NotRegular, open_regular, read_regular
from specsync.state.lockfile_data import Entry, Lockfile, service_host
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import submitted_entry, uncertain_entry, with_entries

if TYPE_CHECKING:
    import filelock

    from specsync.state.lockfile_skim_memo import SkimMemo

# The events of a journal: the service record, an intent, and an answer (the words of
# `specsync.item_words.Answer`, defined there once; named here for the journal's readers).
SERVICE = "service"  # first record: which service the run talked to
INTENT = "intent"  # written before a request is sent
ACCEPTED, FAILED, UNCERTAIN = Answer.ACCEPTED, Answer.FAILED, Answer.UNCERTAIN
OUTCOMES: tuple[Answer, ...] = tuple(Answer)


def resolved(lockfile_path: Path) -> Path:
    """The lockfile's real path (symlinks followed): what the lock and journal are for.

    Two applies reaching one file through different paths (a symlink, `..`) must share
    one lock and one journal, or both would submit the same items.
    """
    return Path(os.path.realpath(lockfile_path))


def state_dir(lockfile_path: Path, create: bool = True) -> Path:
    """`.specsync/` beside the (resolved) lockfile, created (with a `.gitignore` of `*`) on
    first use.

    With `create=False` the path is only computed (for readers such as `plan`).
    """
    directory = resolved(lockfile_path).parent / STATE_DIR_NAME
    if create:
        directory.mkdir(exist_ok=True)
        ignore = directory / ".gitignore"
        if not ignore.exists():
            write_bytes_atomic(ignore, b"*\n")
    return directory


def journal_path(lockfile_path: Path, create: bool = True) -> Path:
    """Where the journal of an apply against this lockfile lives."""
    return state_dir(lockfile_path, create) / f"{resolved(lockfile_path).name}.journal"


class JournalWriteError(OSError):
    """A record could not be written (a full disk, EIO): `record` is what was lost."""

    def __init__(self, path: Path, record: dict[str, Any], error: OSError) -> None:
        super().__init__(error.errno, error.strerror or str(error), str(path))
        self.record = record


class Journal:
    """Append-only JSON lines, each written in one `write` and fsynced before returning.

    Thread-safe: apply's workers share one journal. A record that cannot be written raises
    JournalWriteError and is kept in `unwritten`, so that the caller can still record it
    elsewhere (or at least print it).
    """

    def __init__(self, path: Path, service: Mapping[str, Any] | None = None) -> None:
        """Open (or create) the journal. `service` ({"emulator": bool, "host": str}) is
        written as the first record of a new journal, so that a leftover journal is never
        folded into a lockfile of the other kind (emulator ids are fake)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self.unwritten: list[dict[str, Any]] = []
        existed = self.path.exists() and self.path.stat().st_size > 0
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        try:
            self._fd: int | None = open_regular(self.path, flags, mode=0o600)
        except NotRegular as error:
            raise _not_a_journal(self.path, error) from None
        try:
            if existed and self._ends_torn():
                # A run killed mid-write left half a line: end it, so the next record stays
                # whole.
                self._write(b"\n")
            if not existed:
                fsync_dir(self.path.parent)
                if service is not None:
                    self._record(SERVICE, **service)
        except BaseException:
            self.close()
            raise

    def _ends_torn(self) -> bool:
        with open(open_regular(self.path), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError("journal is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def _record(self, event: str, **fields: Any) -> None:
        record = {"event": event, **fields}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self._write(line.encode("utf-8"))
            except OSError as error:
                self.unwritten.append(record)
                raise JournalWriteError(self.path, record, error) from error

    def intent(
        self, id: str, fingerprint: str, at: str, request: Mapping[str, Any] | None = None
    ) -> None:
        """Call BEFORE sending the request: once this returns, the intent is on disk.

        `request` (the fingerprinted fields) lets the lockfile show later what changed.
        """
        if request is None:
            self._record(INTENT, id=id, fingerprint=fingerprint, at=at)
        else:
            self._record(INTENT, id=id, fingerprint=fingerprint, at=at, request=dict(request))

    def accepted(self, id: str, fingerprint: str, project_id: str, task_id: str, at: str) -> None:
        self._record(
            ACCEPTED, id=id, fingerprint=fingerprint, projectId=project_id, taskId=task_id, at=at
        )

    def failed(self, id: str, fingerprint: str, message: str, at: str) -> None:
        """The service certainly did not process the request."""
        self._record(FAILED, id=id, fingerprint=fingerprint, message=message, at=at)

    def uncertain(self, id: str, fingerprint: str, message: str, at: str) -> None:
        """The request was sent and its outcome is unknown."""
        self._record(UNCERTAIN, id=id, fingerprint=fingerprint, message=message, at=at)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's records in order; a missing file gives [].

    Tolerant: a line that is not a whole JSON object (the torn tail of a killed run) is
    skipped. Such a line was never fsynced, so no request was sent on its strength.
    """
    try:
        data = read_regular(path)
    except FileNotFoundError:
        return []
    except NotRegular as error:
        raise _not_a_journal(Path(path), error) from None
    records: list[dict[str, Any]] = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(record, dict) and _is_valid(record):
            records.append(record)
    return records


def journal_service(records_path: Path) -> dict[str, Any] | None:
    """The service a journal's run talked to ({"emulator", "host"}); None when the journal
    does not say (written by an older specsync) or is missing."""
    try:
        with open(open_regular(records_path), "rb") as handle:
            first = handle.readline()
    except FileNotFoundError:
        return None
    except NotRegular as error:
        raise _not_a_journal(Path(records_path), error) from None
    try:
        record = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("event") != SERVICE:
        return None
    if not isinstance(record.get("emulator"), bool):
        return None
    host = record.get("host")
    return {"emulator": record["emulator"], "host": host if isinstance(host, str) else ""}


def _not_a_journal(path: Path, error: NotRegular) -> UserError:
    # A FIFO there would block plan and apply forever; a device would feed them garbage.
    return UserError(
        f"{path}: the journal's place holds something that is {error}; move it away "
        "(a journal is a file specsync writes itself). Nothing was sent"
    )


class JournalMismatch(UserError):
    """A leftover journal is from the other kind of service: folding it would mix ids."""


def check_journal_service(path: Path, lockfile_path: Path, emulator: bool, host: str) -> None:
    """Refuse to fold a journal written against the other kind of service.

    The journal is never dropped silently: the message names it and says what to do.
    """
    service = journal_service(path)
    if service is None or service["emulator"] == emulator:
        if service is None or emulator or _hostname(service["host"]) == _hostname(host):
            return
        raise JournalMismatch(
            f"{path} is the journal of an interrupted apply against {service['host']}, "
            f"not {host}: run `specsync apply` against {service['host']} first to record "
            "its ids, or move the journal away if you know they are not needed"
        )
    if service["emulator"]:
        raise JournalMismatch(
            f"{path} is the journal of an interrupted `apply --emulator`: its ids are fake "
            f"and are not folded into the real lockfile {lockfile_path}. Nothing was sent. "
            "Move the journal away (nothing real was exported by that run) and apply again"
        )
    raise JournalMismatch(
        f"{path} holds real exports of an interrupted apply against {service['host']}: "
        f"run `specsync apply` without --emulator first, so that their ids are recorded "
        f"in {lockfile_path}. Nothing was sent"
    )


def _hostname(netloc: str) -> str:
    # The lockfile's own rule (service_host: the URL parser, so `[fd00::a]` stays whole);
    # hosts, not ports, since a loopback test service's port changes between runs.
    return service_host(netloc)


def _is_valid(record: dict[str, Any]) -> bool:
    event = record.get("event")
    if event not in (INTENT, *OUTCOMES):
        return False
    needed = ["id", "fingerprint", "at"]
    if event == ACCEPTED:
        needed += ["projectId", "taskId"]
    return all(isinstance(record.get(key), str) for key in needed)


def _unresolved_intents(records: list[dict[str, Any]]) -> list[bool]:
    """For each record: True when it is an intent with no later outcome for id+fingerprint."""
    later: set[tuple[str, str]] = set()
    flags = [False] * len(records)
    for index in range(len(records) - 1, -1, -1):
        record = records[index]
        key = (record["id"], record["fingerprint"])
        if record["event"] in OUTCOMES:
            later.add(key)
        elif record["event"] == INTENT:
            flags[index] = key not in later
    return flags


def fold(lock: Lockfile, records: Iterable[dict[str, Any]]) -> Lockfile:
    """Apply journal records to the lockfile, in order. Folding twice changes nothing more.

    accepted -> the new ids are recorded (old ones kept in history); uncertain, or an intent
    with no later outcome (the request may have been sent) -> the entry is `uncertain`;
    failed -> nothing (the item stays as it was and is created/updated next time).
    """
    valid = [r for r in records if isinstance(r, dict) and _is_valid(r)]
    requests = {
        (r["id"], r["fingerprint"]): r["request"]
        for r in valid
        if r["event"] == INTENT and isinstance(r.get("request"), dict)
    }
    changed: dict[str, Entry] = {}  # one copy of the lockfile at the end: linear, not quadratic
    for record, open_intent in zip(valid, _unresolved_intents(valid), strict=True):
        event, item_id = record["event"], record["id"]
        old = changed.get(item_id, lock.entries.get(item_id))
        if event == ACCEPTED:
            changed[item_id] = submitted_entry(
                old,
                item_id,
                record["fingerprint"],
                record["projectId"],
                record["taskId"],
                record["at"],
            )
        elif event == UNCERTAIN or (event == INTENT and open_intent):
            changed[item_id] = uncertain_entry(old, item_id, record["fingerprint"], record["at"])
        else:
            continue
        new = changed[item_id]
        request = requests.get((item_id, record["fingerprint"]))
        if request is not None:
            changed[item_id] = new.with_request(request)
        elif old is not None and old.fingerprint == new.fingerprint:
            changed[item_id] = new.with_request(old.exported)
    return with_entries(lock, changed.values()) if changed else lock


def read_lock_view(
    lockfile_path: Path,
    known: Mapping[str, str] | None = None,
    lock: Lockfile | None = None,
    *,
    on_demand: bool = True,
    memo: SkimMemo | None = None,
) -> Lockfile:
    """The lockfile as the next apply will see it: with any journal an interrupted run left
    folded in. Read-only: nothing is written and the apply lock is not waited for.
    `known`: plan's item fingerprints, to read matching entries the quick way (made only
    when asked for unless not `on_demand`; `memo`: where what was skimmed is remembered);
    `lock`: the lockfile when the caller has just read it (it is not read again)."""
    if lock is None:
        lock = read_lockfile(lockfile_path, known, on_demand=on_demand, memo=memo)
    path = journal_path(lockfile_path, create=False)
    records = read_journal(path)
    if not records:
        return lock
    service = journal_service(path)
    if service is not None and service["emulator"] != lock.emulator:
        if lock.entries or lock.forgotten:
            return lock  # apply refuses this journal; plan shows the lockfile as it is
        lock = replace(lock, emulator=service["emulator"])
    return fold(lock, records)


def check_writable_place(lockfile_path: Path) -> None:
    """Refuse, before anything is sent, a lockfile whose folder cannot take it.

    The folder must exist and accept a new file (a probe is created and removed: only
    trying tells a read-only mount or a full quota, and root ignores permission bits).
    """
    name = str(lockfile_path)
    folder = resolved(lockfile_path).parent
    if os.path.islink(lockfile_path) and not os.path.exists(lockfile_path):
        raise UserError(
            f"{name} is a symlink to {os.readlink(lockfile_path)}, which does not exist"
        )
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise UserError(f"cannot use lockfile {name}: its folder {folder} {what}")
    import tempfile  # only a run that writes probes its folder (~3 ms of start-up)

    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".specsync-probe-")
    except OSError as error:
        raise UserError(
            f"cannot write beside lockfile {name} in {folder}: {error.strerror or error}; "
            "nothing was submitted"
        ) from None
    os.close(fd)
    with suppress(OSError):
        os.unlink(probe)
    try:
        state_dir(lockfile_path)
    except OSError as error:
        raise UserError(
            f"cannot create {STATE_DIR_NAME}/ beside lockfile {name}: "
            f"{error.strerror or error}; nothing was submitted"
        ) from None


# the apply lock --------------------------------------------------------------------------


class LockBusy(UserError):
    """Another process holds the apply lock for this lockfile."""

    def __init__(self, lockfile_path: Path, pid: int | None, since: str | None) -> None:
        self.lockfile_path = Path(lockfile_path)
        self.pid = pid
        self.since = since
        holder = f"pid {pid}" if pid is not None else "pid unknown"
        if since:
            holder += f" since {since} UTC"
        super().__init__(
            f"another specsync apply holds {lockfile_path} ({holder}); wait for it or stop it"
        )


def apply_lock(lockfile_path: Path) -> filelock.FileLock:
    """The OS-level lock of one lockfile (released by the OS when its holder dies)."""
    import filelock  # here, not at the top: plan and status never lock, and it costs ~20 ms

    path = state_dir(lockfile_path) / f"{resolved(lockfile_path).name}.lock"
    return filelock.FileLock(str(path))


def _owner_path(lockfile_path: Path) -> Path:
    return state_dir(lockfile_path) / f"{resolved(lockfile_path).name}.lock.owner"


def _read_owner(path: Path) -> tuple[int | None, str | None]:
    try:
        data = json.loads(read_regular(path).decode("utf-8"))
        pid = data.get("pid")
        since = data.get("since")
        return (pid if isinstance(pid, int) else None, since if isinstance(since, str) else None)
    except (OSError, ValueError, AttributeError):
        return None, None


@contextmanager
def hold_apply_lock(lockfile_path: Path) -> Iterator[None]:
    """Hold the apply lock for the block, or raise LockBusy at once naming the holder."""
    import filelock  # as in apply_lock: only apply locks

    check_writable_place(lockfile_path)
    lock = apply_lock(lockfile_path)
    owner = _owner_path(lockfile_path)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        pid, since = _read_owner(owner)
        raise LockBusy(Path(lockfile_path), pid, since) from None
    try:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")
        info = json.dumps({"pid": os.getpid(), "since": now}) + "\n"
        with suppress(OSError):  # only for the "busy" message: a full disk must not stop us
            write_bytes_atomic(owner, info.encode("utf-8"), default_mode=0o600)
        yield
    finally:
        # Remove the owner note before releasing, so it never describes the next holder.
        with suppress(OSError):
            owner.unlink()
        lock.release()
