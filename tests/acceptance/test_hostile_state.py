"""The lockfile and journal under hostile conditions, through the installed CLI.

Each test produces its condition for real: symlinks, FIFOs, devices, missing folders,
read-only and full filesystems (tmpfs mounts, skipped where mounting is not permitted),
killed processes and concurrent runs against a real emulator over loopback.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from specsync.state.lockfile_data import Entry, Lockfile
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_write import write_lockfile
from tests.helpers import (
    SPECSYNC,
    assert_not_a_crash,
    env_for,
    git,
    new_repo,
    specsync,
    tomllib,
)
from tests.helpers.disguised_service import disguised
from tests.helpers.tmpfs import tmpfs

# helpers -------------------------------------------------------------------------------


def write_manifests(root: Path, videos: int, locales: tuple[str, ...] = ("en",)) -> list[str]:
    """One manifest of `videos` videos; returns the item ids."""
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    lines = ["specsync: 1", f"defaults: {{model: M1, locales: [{', '.join(locales)}]}}", "videos:"]
    ids = []
    for v in range(videos):
        lines.append(f"  v{v}: {{script: 'Script of video number {v}.'}}")
        ids += [f"v{v}/{lang}" for lang in locales]
    (root / "manifests" / "videos.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    return ids


def exported_ids(journal: Path) -> list[str]:
    """projectIds the emulator handed out (its own journal)."""
    if not journal.exists():
        return []
    records = [json.loads(line) for line in journal.read_text("utf-8").splitlines() if line]
    return [r["projectId"] for r in records if r["event"] == "export"]


def recorded_ids(lockfile: Path) -> set[str]:
    """Every projectId the lockfile holds: current, history and forgotten."""
    data = tomllib.loads(lockfile.read_text("utf-8"))
    ids: set[str] = set()
    for entry in data.get("items", {}).values():
        if "projectId" in entry:
            ids.add(entry["projectId"])
        ids |= {h["projectId"] for h in entry.get("history", [])}
    for entry in data.get("forgotten", {}).values():
        ids |= {h["projectId"] for h in entry.get("history", [])}
    return ids


def assert_clean_refusal(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert_not_a_crash(result)
    assert "internal error" not in result.stderr, result.stderr


# one apply per lockfile, by any path ------------------------------------------------------


def test_two_applies_through_a_symlink_are_serialised(tmp_path: Path) -> None:
    write_manifests(tmp_path, videos=6)
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "specsync.lock"
    write_lockfile(real, Lockfile())  # a lockfile with nothing exported yet
    (tmp_path / "link.lock").symlink_to(real)
    journal = tmp_path / "emulator.jsonl"
    # 6 answers 0.3 s apart: the first apply holds the lock for about 1.8 s.
    config = EmulatorConfig(latency=0.3, render_seconds=1.0, journal=str(journal))
    with running_emulator(config) as emu:
        env = env_for(emu.url)
        args = ["apply", "--concurrency", "1", "--rate", "100", "--lockfile"]
        first = subprocess.Popen(
            [SPECSYNC, *args, str(real)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        owner = tmp_path / "real" / ".specsync" / "specsync.lock.lock.owner"
        deadline = time.monotonic() + 15
        while not owner.exists():
            assert first.poll() is None, "first apply ended before taking the lock"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = specsync([*args, "link.lock"], tmp_path, env)
        _, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert_clean_refusal(second)
    assert "another specsync apply holds" in second.stderr, second.stderr
    handed_out = exported_ids(journal)
    assert len(handed_out) == 6, "an item was billed twice"
    assert recorded_ids(real) == set(handed_out)
    assert (tmp_path / "link.lock").is_symlink(), "the link must stay a link"
    assert not (tmp_path / ".specsync" / "link.lock.journal").exists()


@pytest.mark.parametrize("kind", ["fifo", "device-link", "dangling-link", "folder"])
def test_a_lockfile_that_is_not_a_regular_file_is_refused_before_sending(
    tmp_path: Path, kind: str
) -> None:
    write_manifests(tmp_path, videos=2)
    lockfile = tmp_path / "specsync.lock"
    device = tmp_path / "null"
    if kind == "fifo":
        os.mkfifo(lockfile)
    elif kind == "device-link":
        # A null device of the test's own: a regression replaces this node, not /dev/null.
        try:
            os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("creating a device node is not permitted here")
        lockfile.symlink_to(device)
    elif kind == "dangling-link":
        lockfile.symlink_to(tmp_path / "gone" / "specsync.lock")
    else:
        lockfile.mkdir()
    journal = tmp_path / "emulator.jsonl"
    with running_emulator(EmulatorConfig(journal=str(journal))) as emu:
        env = env_for(emu.url)
        # plan must answer at once, never hang on a FIFO
        plan = specsync(["plan"], tmp_path, env)
        applied = specsync(["apply", "--rate", "100"], tmp_path, env)
    for result in (plan, applied):
        assert_clean_refusal(result)
        assert "specsync.lock" in result.stderr
    assert exported_ids(journal) == [], "nothing may be sent"
    if kind == "device-link":
        assert device.is_char_device(), "the device was replaced by a file"
    if kind == "fifo":
        assert lockfile.is_fifo()
    if kind.endswith("link"):
        assert lockfile.is_symlink()


# emulator and real ids never mix ----------------------------------------------------------


def journal_records(root: Path) -> list[dict]:
    path = root / ".specsync" / "specsync.lock.journal"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def kill_when_accepted(proc: subprocess.Popen[str], root: Path, count: int) -> None:
    """SIGKILL `proc` once its journal holds `count` accepted answers."""
    deadline = time.monotonic() + 30
    try:
        while sum(r.get("event") == "accepted" for r in journal_records(root)) < count:
            assert proc.poll() is None, "apply ended before it could be killed"
            assert time.monotonic() < deadline, "apply recorded too little"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait(timeout=10)


EMULATED_ON_SPECSYNC_LOCK = [SPECSYNC, "apply", "--emulator", "--lockfile", "specsync.lock"]


def test_a_killed_emulator_journal_is_never_folded_into_a_real_lockfile(tmp_path: Path) -> None:
    ids = write_manifests(tmp_path, videos=13)
    lockfile = tmp_path / "specsync.lock"
    # A slow `apply --emulator` (3 requests/s) on specsync.lock (named on purpose, as
    # earlier versions did by default), killed after 3 answers.
    emulated = subprocess.Popen(
        [*EMULATED_ON_SPECSYNC_LOCK, "--concurrency", "1", "--rate", "3"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    kill_when_accepted(emulated, tmp_path, 3)
    journal = tmp_path / ".specsync" / "specsync.lock.journal"
    assert journal_records(tmp_path)[0]["event"] == "service"
    assert journal_records(tmp_path)[0]["emulator"] is True
    fake = {r["projectId"] for r in journal_records(tmp_path) if r["event"] == "accepted"}

    real_journal = tmp_path / "real-service.jsonl"
    with (
        running_emulator(EmulatorConfig(journal=str(real_journal))) as service,
        disguised(service.url) as real_url,  # answers as the real service would
    ):
        env = env_for(real_url)
        refused = specsync(["apply", "--rate", "100"], tmp_path, env)
        assert_clean_refusal(refused)
        assert str(journal) in refused.stderr and "--emulator" in refused.stderr
        assert exported_ids(real_journal) == [], "nothing may be sent"
        assert journal.exists(), "the journal must not be dropped silently"
        assert not lockfile.exists() or not recorded_ids(lockfile) & fake

        # Doing what the message says (move the journal away) exports every item for real.
        journal.rename(tmp_path / "emulator-run.journal")
        applied = specsync(["apply", "--rate", "100"], tmp_path, env)
        assert applied.returncode == 0, applied.stderr
    data = tomllib.loads(lockfile.read_text("utf-8"))
    assert data["emulator"] is False
    assert set(data["items"]) == set(ids)
    assert recorded_ids(lockfile) == set(exported_ids(real_journal))
    assert not recorded_ids(lockfile) & fake


def test_a_killed_real_journal_is_never_folded_by_apply_emulator(tmp_path: Path) -> None:
    write_manifests(tmp_path, videos=8)
    lockfile = tmp_path / "specsync.lock"
    real_journal = tmp_path / "real-service.jsonl"
    config = EmulatorConfig(latency=0.2, journal=str(real_journal))
    with running_emulator(config) as service, disguised(service.url) as real_url:
        env = env_for(real_url)
        real = subprocess.Popen(
            [SPECSYNC, "apply", "--concurrency", "1", "--rate", "100"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        kill_when_accepted(real, tmp_path, 3)
        journal = tmp_path / ".specsync" / "specsync.lock.journal"
        before = journal.read_bytes()

        emulated = specsync(
            ["apply", "--emulator", "--rate", "100", "--lockfile", "specsync.lock"],
            tmp_path,
        )
        assert_clean_refusal(emulated)
        assert str(journal) in emulated.stderr and "without --emulator" in emulated.stderr
        assert journal.read_bytes() == before, "the real ids must stay in the journal"

        # A real apply folds it: every id the service handed out is recorded, none resent.
        resumed = specsync(["apply", "--rate", "100"], tmp_path, env)
        assert_not_a_crash(resumed)
    handed_out = exported_ids(real_journal)
    # Only the request in flight at the kill may be unknown to specsync: it is uncertain.
    unknown = set(handed_out) - recorded_ids(lockfile)
    assert len(unknown) <= 1
    items = tomllib.loads(lockfile.read_text("utf-8"))["items"]
    if unknown:
        assert any(e.get("state") == "uncertain" for e in items.values())
    assert len(handed_out) <= 8 + len(unknown), "an accepted item was submitted again"
    assert tomllib.loads(lockfile.read_text("utf-8"))["emulator"] is False


def test_apply_emulator_keeps_forgotten_real_ids(tmp_path: Path) -> None:
    write_manifests(tmp_path, videos=1)
    lockfile = tmp_path / "specsync.lock"
    lockfile.write_text(
        'version = 1\nfingerprint = "sha256-json-v1"\nemulator = false\n\n'
        '[forgotten."old/en"]\nhistory = [\n'
        '  { projectId = "P-real", taskId = "T-real", submittedAt = "2026-11-25T12:00:00Z", '
        'fingerprint = "' + "1" * 64 + '" },\n]\n',
        "utf-8",
    )
    before = lockfile.read_bytes()
    # Named on purpose: an emulator run into a real lockfile is refused.
    result = specsync(
        ["apply", "--emulator", "--rate", "100", "--lockfile", "specsync.lock"],
        tmp_path,
    )
    assert_clean_refusal(result)
    assert lockfile.read_bytes() == before
    # By default the rehearsal has its own lockfile and leaves this one alone.
    rehearsed = specsync(["apply", "--emulator", "--rate", "100"], tmp_path)
    assert rehearsed.returncode == 0, rehearsed.stderr
    assert lockfile.read_bytes() == before


def test_a_real_apply_never_writes_into_an_emulator_lockfile(tmp_path: Path) -> None:
    write_manifests(tmp_path, videos=2)
    lockfile = tmp_path / "specsync.lock"
    lockfile.write_text('version = 1\nfingerprint = "sha256-json-v1"\nemulator = true\n', "utf-8")
    before = lockfile.read_bytes()
    service_journal = tmp_path / "service.jsonl"
    with (
        running_emulator(EmulatorConfig(journal=str(service_journal))) as service,
        disguised(service.url) as real_url,
    ):
        result = specsync(["apply", "--rate", "100"], tmp_path, env_for(real_url))
    assert_clean_refusal(result)
    assert "--emulator" in result.stderr
    assert exported_ids(service_journal) == []
    assert lockfile.read_bytes() == before


# a full disk ---------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (skipped where mounting is not permitted)."""
    with tmpfs(tmp_path / "disk", "size=64k,mode=0755") as disk:
        yield disk


def fill(disk: Path, leave_pages: int) -> Path:
    """Fill `disk` up, then free `leave_pages` pages; returns the filler file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave_pages * 4096))
    return filler


# How many pages are left decides which record meets the full disk: an intent (nothing more
# is sent) or an accepted answer (its ids exist only in memory and must be printed). Where
# each count lands depends on record sizes and the kernel's page accounting, so several
# are tried; every one must keep every id.
@pytest.mark.parametrize("leave_pages", [4, 5, 6, 7, 8])
def test_a_full_disk_while_journalling_stops_sending_and_keeps_every_id(
    tmp_path: Path, small_disk: Path, leave_pages: int
) -> None:
    (tmp_path / "manifests").mkdir()
    long_text = "A long script that makes every journal record large. " * 8
    lines = ["specsync: 1", "defaults: {model: M1, locales: [en]}", "videos:"]
    lines += [f"  v{n}: {{script: '{long_text} Number {n}.'}}" for n in range(30)]
    (tmp_path / "manifests" / "videos.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    lockfile = small_disk / "specsync.lock"
    journal = small_disk / ".specsync" / "specsync.lock.journal"
    filler = fill(small_disk, leave_pages)
    service_journal = tmp_path / "service.jsonl"
    with running_emulator(EmulatorConfig(journal=str(service_journal))) as service:
        env = env_for(service.url)
        args = ["apply", "--concurrency", "1", "--rate", "1000", "--lockfile", str(lockfile)]
        full = specsync([*args], tmp_path, env)
        assert_clean_refusal(full)
        assert "cannot write the journal" in full.stderr, full.stderr
        assert "No space left on device" in full.stderr, full.stderr
        assert f"safe in {journal}" in full.stderr, full.stderr
        handed_out = exported_ids(service_journal)
        assert 0 < len(handed_out) < 30, "it must stop sending at the first failed record"
        journalled = set()
        for line in journal.read_bytes().decode("utf-8", "replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the torn line the full disk cut: not a record
            if record.get("event") == "accepted":
                journalled.add(record["projectId"])
        on_disk = journalled | (recorded_ids(lockfile) if lockfile.exists() else set())
        for project_id in handed_out:
            assert project_id in on_disk or project_id in full.stderr, project_id

        # With space again, the next apply folds the journal: nothing accepted is resent.
        filler.unlink()
        again = specsync([*args], tmp_path, env)
        assert_not_a_crash(again)
    assert on_disk <= recorded_ids(lockfile)
    sent = exported_ids(service_journal)
    assert len(sent) == len(set(sent))
    bodies = [
        json.loads(line)["body"]["text"]
        for line in service_journal.read_text("utf-8").splitlines()
        if '"event": "export"' in line or '"event":"export"' in line
    ]
    assert len(bodies) == len(set(bodies)), "an accepted item was submitted twice"


# never exit 3 on bad input -----------------------------------------------------------------


@pytest.mark.parametrize("where", ["missing-folder", "under-a-file", "deep-nesting"])
def test_bad_lockfile_paths_and_contents_exit_1_and_send_nothing(
    tmp_path: Path, where: str
) -> None:
    write_manifests(tmp_path, videos=2)
    if where == "missing-folder":
        lockfile = tmp_path / "no-such-folder" / "specsync.lock"
    elif where == "under-a-file":
        (tmp_path / "a-file").write_text("x", "utf-8")
        lockfile = tmp_path / "a-file" / "specsync.lock"
    else:
        lockfile = tmp_path / "specsync.lock"
        lockfile.write_text(
            'version = 1\nfingerprint = "sha256-json-v1"\na = ' + "[" * 100_000 + "\n", "utf-8"
        )
    service_journal = tmp_path / "service.jsonl"
    with running_emulator(EmulatorConfig(journal=str(service_journal))) as service:
        env = env_for(service.url)
        applied = specsync(["apply", "--rate", "100", "--lockfile", str(lockfile)], tmp_path, env)
        plan = specsync(["plan", "--lockfile", str(lockfile)], tmp_path, env)
    assert_clean_refusal(applied)
    assert str(lockfile.parent) in applied.stderr or str(lockfile) in applied.stderr
    assert exported_ids(service_journal) == []
    if where == "missing-folder":
        assert plan.returncode == 2 or plan.returncode == 0, plan.stderr  # nothing recorded yet
        assert not lockfile.parent.exists()
    else:
        assert_clean_refusal(plan)


def test_a_read_only_project_folder_is_refused_before_sending(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "project", "size=1m") as project:
        write_manifests(project, videos=2)
        # Root ignores permission bits: only a read-only mount makes the folder read-only.
        subprocess.run(["mount", "-o", "remount,ro", str(project)], check=True)
        service_journal = tmp_path / "service.jsonl"
        with running_emulator(EmulatorConfig(journal=str(service_journal))) as service:
            result = specsync(["apply", "--rate", "100"], project, env_for(service.url))
        assert_clean_refusal(result)
        assert "Read-only file system" in result.stderr, result.stderr
        assert "nothing was submitted" in result.stderr
        assert exported_ids(service_journal) == []


def test_a_lockfile_replaced_by_a_folder_mid_run_keeps_the_ids_in_the_journal(
    tmp_path: Path,
) -> None:
    write_manifests(tmp_path, videos=6)
    lockfile = tmp_path / "specsync.lock"
    write_lockfile(lockfile, Lockfile())
    service_journal = tmp_path / "service.jsonl"
    # 6 answers 0.2 s apart: a second or so to swap the lockfile after the first is in.
    config = EmulatorConfig(latency=0.2, journal=str(service_journal))
    with running_emulator(config) as service:
        env = env_for(service.url)
        args = [SPECSYNC, "apply", "--concurrency", "1", "--rate", "100"]
        proc = subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        while not any(r.get("event") == "accepted" for r in journal_records(tmp_path)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        lockfile.unlink()
        lockfile.mkdir()
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 1, stderr
        assert_not_a_crash(stderr)
        journal = tmp_path / ".specsync" / "specsync.lock.journal"
        assert f"safe in {journal}" in stderr and "next apply folds them" in stderr, stderr
        assert lockfile.is_dir()
        handed_out = exported_ids(service_journal)
        assert len(handed_out) == 6

        # The folder is refused (located, exit 1); once it is gone the journal is folded.
        refused = specsync(args[1:], tmp_path, env)
        assert_clean_refusal(refused)
        lockfile.rmdir()
        folded = specsync(args[1:], tmp_path, env)
        assert folded.returncode == 0, folded.stderr
    assert recorded_ids(lockfile) == set(handed_out)
    assert len(exported_ids(service_journal)) == 6, "nothing accepted is resubmitted"


# truncation and git merges ------------------------------------------------------------------


FP_A = "a" * 64
FP_B = "b" * 64
T_0 = "2026-11-25T12:00:00Z"
T_1 = "2026-11-26T12:00:00Z"


def lock_with(*entries: Entry) -> Lockfile:
    return Lockfile({e.id: e for e in entries})


def commit_lock(repo: Path, lock: Lockfile, message: str) -> None:
    write_lockfile(repo / "specsync.lock", lock)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def entry_of(item: str, project: str, **kw: Any) -> Entry:
    return Entry(item, FP_A, project, f"T-{project}", T_0, **kw)


@pytest.mark.parametrize("driver", [False, True])
def test_two_branches_adding_different_items_merge_cleanly_with_the_end_line(
    tmp_path: Path, driver: bool
) -> None:
    repo = new_repo(tmp_path / "repo", merge_driver=driver)
    base = [entry_of("b/en", "P-b"), entry_of("d/en", "P-d"), entry_of("f/en", "P-f")]
    commit_lock(repo, lock_with(*base), "base")
    git(repo, "checkout", "-q", "-b", "x")
    # "a" before everything, "e" between d and f: one side's inserts
    commit_lock(repo, lock_with(*base, entry_of("a/en", "P-a"), entry_of("e/en", "P-e")), "x")
    git(repo, "checkout", "-q", "-b", "y", "main")
    # "c" between b and d, "g" after the last item (just above the end line)
    commit_lock(repo, lock_with(*base, entry_of("c/en", "P-c"), entry_of("g/en", "P-g")), "y")
    git(repo, "checkout", "-q", "x")
    merged = git(repo, "merge", "--no-edit", "y", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    lock = read_lockfile(repo / "specsync.lock")  # complete: the end line is there, once
    assert set(lock.entries) == {f"{c}/en" for c in "abcdefg"}
    assert (repo / "specsync.lock").read_text("utf-8").count("# end of specsync.lock") == 1


def test_a_reexport_merged_with_done_of_the_old_export_is_clean_in_git(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", merge_driver=True)
    old = entry_of("a/en", "P1")
    commit_lock(repo, lock_with(old, entry_of("b/en", "P-b")), "base")
    git(repo, "checkout", "-q", "-b", "reexport")
    sub = old.submission()
    assert sub is not None
    again = Entry("a/en", FP_B, "P2", "T-P2", T_1, history=(sub,))
    commit_lock(repo, lock_with(again, entry_of("b/en", "P-b")), "re-export a")
    git(repo, "checkout", "-q", "-b", "status", "main")
    commit_lock(repo, lock_with(old._replace(state="done"), entry_of("b/en", "P-b")), "a done")
    merged = git(repo, "merge", "--no-edit", "reexport", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    entry = read_lockfile(repo / "specsync.lock").entries["a/en"]
    assert (entry.project_id, entry.fingerprint) == ("P2", FP_B)
    assert [h.project_id for h in entry.history] == ["P1"]


def test_a_truncated_lockfile_is_refused_and_nothing_is_sent(tmp_path: Path) -> None:
    ids = write_manifests(tmp_path, videos=4)
    lockfile = tmp_path / "specsync.lock"
    service_journal = tmp_path / "service.jsonl"
    with running_emulator(EmulatorConfig(journal=str(service_journal))) as service:
        env = env_for(service.url)
        first = specsync(["apply", "--rate", "100"], tmp_path, env)
        assert first.returncode == 0, first.stderr
        lines = lockfile.read_text("utf-8").split("\n")
        # Cut after the second item's block: a valid-looking, smaller TOML file.
        cut = lines.index('[items."v2/en"]') - 1
        lockfile.write_text("\n".join(lines[:cut]) + "\n", "utf-8")
        plan = specsync(["plan"], tmp_path, env)
        applied = specsync(["apply", "--rate", "100"], tmp_path, env)
    for result in (plan, applied):
        assert_clean_refusal(result)
        assert f"specsync.lock:{cut}:1: the lockfile ends here" in result.stderr, result.stderr
    assert len(exported_ids(service_journal)) == len(ids), "nothing may be exported again"
