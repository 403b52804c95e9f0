"""Journal: crash-safe records, tolerant reading, idempotent folding, and the apply lock."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from specsync.state.journal import (
    Journal,
    JournalMismatch,
    JournalWriteError,
    LockBusy,
    _unresolved_intents,
    check_journal_service,
    fold,
    hold_apply_lock,
    journal_path,
    journal_service,
    read_journal,
    state_dir,
)
from specsync.state.lockfile_data import empty
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import submitted_entry, with_entries
from specsync.state.lockfile_write import write_lockfile

FP1 = "1" * 64
FP2 = "2" * 64
T0 = "2026-11-25T12:00:00Z"
T1 = "2026-11-25T12:00:01Z"


# the .specsync folder --------------------------------------------------------------------


def test_state_dir_is_created_with_its_own_gitignore(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    assert state_dir(lockfile, create=False) == tmp_path / ".specsync"
    assert journal_path(lockfile, create=False).parent == tmp_path / ".specsync"
    assert read_journal(journal_path(lockfile, create=False)) == []  # what plan does
    assert not (tmp_path / ".specsync").exists()
    path = journal_path(lockfile)
    assert path == tmp_path / ".specsync" / "specsync.lock.journal"
    assert (tmp_path / ".specsync" / ".gitignore").read_text(encoding="utf-8") == "*\n"


def test_git_add_all_stages_only_the_lockfile(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    lockfile = tmp_path / "specsync.lock"
    exported = submitted_entry(None, "a/en", FP1, "P", "T", T0)
    write_lockfile(lockfile, with_entries(empty(), [exported]))
    with Journal(journal_path(lockfile)) as journal:
        journal.intent("a/en", FP1, T0)
    with hold_apply_lock(lockfile):
        subprocess.run([*git, "-C", str(tmp_path), "add", "-A"], check=True)
    staged = subprocess.run(
        [*git, "-C", str(tmp_path), "diff", "--cached", "--name-only"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert staged == ["specsync.lock"]


# writing and reading ---------------------------------------------------------------------


def test_records_round_trip_in_order(tmp_path: Path) -> None:
    path = journal_path(tmp_path / "specsync.lock")
    journal = Journal(path)
    journal.intent("a/en", FP1, T0)
    journal.accepted("a/en", FP1, "P1", "T1", T1)
    journal.intent("b/ko", FP2, T0)
    journal.failed("b/ko", FP2, "HTTP 400: bad model", T1)
    journal.intent("c/ja", FP2, T0)
    journal.uncertain("c/ja", FP2, "read timeout", T1)
    journal.close()
    journal.close()  # twice is fine
    records = read_journal(path)
    assert [(r["event"], r["id"]) for r in records] == [
        ("intent", "a/en"),
        ("accepted", "a/en"),
        ("intent", "b/ko"),
        ("failed", "b/ko"),
        ("intent", "c/ja"),
        ("uncertain", "c/ja"),
    ]
    assert records[1] == {
        "event": "accepted",
        "id": "a/en",
        "fingerprint": FP1,
        "projectId": "P1",
        "taskId": "T1",
        "at": T1,
    }
    with pytest.raises(ValueError, match="closed"):
        journal.intent("d/en", FP1, T0)


def test_every_record_is_on_disk_when_the_call_returns(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = Journal(path)
    journal.intent("a/en", FP1, T0)
    assert read_journal(path)[0]["event"] == "intent"  # before close: written, not buffered
    journal.close()


def test_missing_journal_reads_empty(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "nope") == []


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j"
    with Journal(path) as journal:
        journal.intent("a/en", FP1, T0)
        journal.accepted("a/en", FP1, "P1", "T1", T1)
    whole = path.read_bytes()
    torn = json.dumps({"event": "accepted", "id": "b/en", "fingerprint": FP2}).encode()
    path.write_bytes(whole + torn[:25])
    assert [r["event"] for r in read_journal(path)] == ["intent", "accepted"]
    # A torn multi-byte character is no worse.
    path.write_bytes(whole + '{"event": "intent", "id": "비'.encode()[:-1])
    assert len(read_journal(path)) == 2


def test_reopening_after_a_torn_line_keeps_new_records_whole(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(b'{"event": "intent", "id": "a/en", "fingerp')
    with Journal(path) as journal:
        journal.intent("b/en", FP1, T0)
    assert [r["id"] for r in read_journal(path)] == ["b/en"]


def test_writes_from_many_threads_stay_whole(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = Journal(path)

    def work(n: int) -> None:
        for k in range(25):
            journal.intent(f"v{n}-{k}/en" + "x" * 500, FP1, T0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 8 * 25 + 1
    assert len(read_journal(path)) == 8 * 25


# folding ---------------------------------------------------------------------------------


def journal_records(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "j"
    with Journal(path) as journal:
        journal.intent("new/en", FP1, T0)
        journal.accepted("new/en", FP1, "P-new", "T-new", T1)
        journal.intent("upd/en", FP2, T0)
        journal.accepted("upd/en", FP2, "P-upd-2", "T-upd-2", T1)
        journal.intent("fail/en", FP2, T0)
        journal.failed("fail/en", FP2, "HTTP 400", T1)
        journal.intent("unk/en", FP1, T0)
        journal.uncertain("unk/en", FP1, "timeout", T1)
        journal.intent("open/en", FP2, T0)  # killed before an answer arrived
    return read_journal(path)


def start_lock() -> object:
    upd = submitted_entry(None, "upd/en", FP1, "P-upd-1", "T-upd-1", T0)
    fail = submitted_entry(None, "fail/en", FP1, "P-fail", "T-fail", T0)
    return with_entries(empty(), [upd, fail])


def test_fold_applies_every_outcome(tmp_path: Path) -> None:
    lock = fold(start_lock(), journal_records(tmp_path))  # type: ignore[arg-type]
    entries = lock.entries
    assert (entries["new/en"].project_id, entries["new/en"].state) == ("P-new", None)
    assert entries["upd/en"].project_id == "P-upd-2"
    assert [s.project_id for s in entries["upd/en"].history] == ["P-upd-1"]
    assert entries["fail/en"] == start_lock().entries["fail/en"]  # type: ignore[attr-defined]
    assert entries["unk/en"].state == "uncertain" and entries["unk/en"].project_id is None
    assert entries["open/en"].state == "uncertain"
    assert entries["open/en"].fingerprint == FP2 and entries["open/en"].attempted_at == T0


def test_fold_is_idempotent(tmp_path: Path) -> None:
    records = journal_records(tmp_path)
    once = fold(start_lock(), records)  # type: ignore[arg-type]
    twice = fold(once, records)
    assert twice == once
    first, second = tmp_path / "1.lock", tmp_path / "2.lock"
    write_lockfile(first, once)
    write_lockfile(second, twice)
    assert first.read_bytes() == second.read_bytes()


def test_fold_keeps_a_known_render_state_when_refolded(tmp_path: Path) -> None:
    # Crash after the lockfile was written but before the journal was removed; `status`
    # then recorded "done"; the next apply folds the same journal again.
    records = journal_records(tmp_path)
    once = fold(start_lock(), records)  # type: ignore[arg-type]
    from specsync.state.lockfile_update import with_state

    done = with_state(once, "new/en", "done")
    assert fold(done, records).entries["new/en"].state == "done"


def test_intent_without_outcome_is_uncertain_and_pending(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    exported = submitted_entry(None, "a/en", FP1, "P1", "T1", T0)
    write_lockfile(lockfile, with_entries(empty(), [exported]))
    with Journal(journal_path(lockfile)) as journal:
        journal.intent("a/en", FP2, T1)
    records = read_journal(journal_path(lockfile))
    assert _unresolved_intents(records) == [True]
    entry = fold(read_lockfile(lockfile), records).entries["a/en"]
    assert entry.state == "uncertain" and entry.fingerprint == FP2
    assert (entry.project_id, entry.task_id) == ("P1", "T1")  # the earlier export is kept
    assert [s.project_id for s in entry.history] == ["P1"]


def test_outcome_must_match_the_fingerprint_of_the_intent() -> None:
    records = [
        {"event": "intent", "id": "a/en", "fingerprint": FP1, "at": T0},
        {"event": "intent", "id": "a/en", "fingerprint": FP2, "at": T0},
        {"event": "accepted", "id": "a/en", "fingerprint": FP2, "projectId": "P", "taskId": "T",
         "at": T1},
    ]  # fmt: skip
    assert _unresolved_intents(records) == [True, False, False]  # the FP1 intent is open
    assert _unresolved_intents(records[1:]) == [False, False]
    assert _unresolved_intents([*records, {"event": "failed", "id": "a/en", "fingerprint": FP1,
                                           "message": "", "at": T1}]) == [False] * 4  # fmt: skip


def test_fold_ignores_malformed_records() -> None:
    records = [{"event": "accepted", "id": "a/en"}, {"event": "teleport"}, "junk"]
    assert fold(empty(), records) == empty()  # type: ignore[arg-type]


# the apply lock --------------------------------------------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from specsync.state.journal import hold_apply_lock
with hold_apply_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def start_holder(lockfile: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lockfile)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def test_second_process_fails_fast_naming_the_holder(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    proc = start_holder(lockfile)
    try:
        started = time.monotonic()
        with pytest.raises(LockBusy) as caught, hold_apply_lock(lockfile):
            pass
        assert time.monotonic() - started < 2
        message = str(caught.value)
        assert caught.value.pid == proc.pid
        assert message.startswith(f"another specsync apply holds {lockfile} (pid {proc.pid} since ")
        assert message.endswith(" UTC); wait for it or stop it")
    finally:
        stop(proc)


def test_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    proc = start_holder(lockfile)
    os.kill(proc.pid, signal.SIGKILL)
    stop(proc)
    with hold_apply_lock(lockfile):
        owner = json.loads((tmp_path / ".specsync" / "specsync.lock.lock.owner").read_text())
        assert owner["pid"] == os.getpid()
    assert not (tmp_path / ".specsync" / "specsync.lock.lock.owner").exists()


def test_lock_is_released_after_the_block_even_on_error(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    with pytest.raises(RuntimeError), hold_apply_lock(lockfile):
        raise RuntimeError("boom")
    with hold_apply_lock(lockfile):
        pass


# hostile conditions ----------------------------------------------------------------------


def test_a_record_the_disk_refuses_is_raised_and_kept(tmp_path: Path) -> None:
    # A full file system (a real tmpfs, filled up): the real errno through the real write
    # path. (/dev/full is refused as a journal's place: it is no regular file.)
    from tests.helpers.tmpfs import tmpfs

    with tmpfs(tmp_path / "small", "size=64k") as folder:
        journal = Journal(folder / "j")
        filler = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError):
                while True:
                    os.write(filler, b"x" * 4096)
        finally:
            os.close(filler)
        try:
            with pytest.raises(JournalWriteError) as caught:
                journal.accepted("a/en", "f" * 64, "P-1", "T-1", "2026-11-25T12:00:00Z")
        finally:
            journal.close()
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.record["projectId"] == "P-1"
    assert journal.unwritten == [caught.value.record]


def test_a_device_at_the_journals_place_is_refused_not_written(tmp_path: Path) -> None:
    from specsync.errors import UserError

    with pytest.raises(UserError, match="not a regular file \\(a character device\\)"):
        Journal(Path("/dev/full"))
    fifo = tmp_path / "j"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="a FIFO"):
        read_journal(fifo)


def test_a_new_journal_names_its_service_first(tmp_path: Path) -> None:
    path = tmp_path / "j"
    with Journal(path, {"emulator": True, "host": "127.0.0.1:9"}) as journal:
        journal.intent("a/en", "f" * 64, "2026-11-25T12:00:00Z")
    assert journal_service(path) == {"emulator": True, "host": "127.0.0.1:9"}
    assert [r["event"] for r in read_journal(path)] == ["intent"]  # not a fold record
    with pytest.raises(JournalMismatch, match="interrupted `apply --emulator`"):
        check_journal_service(path, tmp_path / "specsync.lock", False, "api.example")
    check_journal_service(path, tmp_path / "specsync.lock", True, "127.0.0.1:10")


def test_the_lock_and_journal_follow_the_resolved_lockfile(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "specsync.lock"
    target.write_bytes(b"")
    (tmp_path / "link.lock").symlink_to(target)
    assert journal_path(tmp_path / "link.lock") == journal_path(target)
    assert journal_path(target).parent == tmp_path / "real" / ".specsync"
    with (
        hold_apply_lock(target),
        pytest.raises(LockBusy),
        hold_apply_lock(tmp_path / "link.lock"),
    ):
        pass
