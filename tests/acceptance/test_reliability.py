"""Reliability acceptance tests, run through the installed CLI against real HTTP.

1. apply killed (SIGKILL) at random instants against a faulty emulator: the lockfile always
   parses, nothing accepted is resubmitted, uncertain items are resubmitted only with
   --retry-uncertain, and in the end every item is recorded.
2. a second concurrent apply on the same lockfile fails fast and names the holder; a killed
   holder does not block the next run.
3. the git merge driver: two branches adding different items merge cleanly; the same item
   exported on both branches is a conflict that keeps both projectIds.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from specsync.manifests.pipeline import load_items
from tests.helpers import SPECSYNC, env_for, git, new_repo, run, specsync, tomllib

LOCALES = ("en", "ko", "ja")


# helpers -------------------------------------------------------------------------------


def write_manifests(root: Path, files: int, videos_per_file: int) -> dict[str, tuple[str, str]]:
    """Manifests under root/manifests; returns item id -> (language, text)."""
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    expected: dict[str, tuple[str, str]] = {}
    for f in range(files):
        lines = [
            "specsync: 1",
            f"defaults: {{model: M1, locales: [{', '.join(LOCALES)}]}}",
            "videos:",
        ]
        for v in range(videos_per_file):
            name = f"f{f}v{v}"
            script = f"Script number {v} of file {f}: welcome to video {name}."
            lines.append(f"  {name}: {{script: {json.dumps(script)}}}")
            for lang in LOCALES:
                expected[f"{name}/{lang}"] = (lang, script)
        (root / "manifests" / f"file{f}.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    return expected


def read_lock(path: Path) -> dict:
    return tomllib.loads(path.read_text("utf-8"))


def exports(journal: Path) -> list[dict]:
    if not journal.exists():
        return []
    records = [json.loads(line) for line in journal.read_text("utf-8").splitlines() if line]
    return [r for r in records if r["event"] == "export"]


def export_counts(journal: Path) -> Counter[tuple[str, str]]:
    return Counter((r["body"]["language"], r["body"]["text"]) for r in exports(journal))


def plan_json(root: Path, env: dict[str, str]) -> dict:
    result = specsync(["plan", "--format", "json"], root, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def start_emulator(root: Path, journal: Path, *flags: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [SPECSYNC, "emulator", "--port", "0", "--journal", str(journal), *flags],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    return proc, url


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


# 1. kill loop ---------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_loop_loses_nothing_and_never_resubmits_silently(tmp_path: Path) -> None:
    expected = write_manifests(tmp_path, files=4, videos_per_file=10)
    assert len(expected) == 120
    journal = tmp_path / "emulator.jsonl"
    lock = tmp_path / "specsync.lock"
    emu, url = start_emulator(
        tmp_path,
        journal,
        *("--throttle-rate", "0.15", "--fail-rate", "0.05", "--drop-rate", "0.03"),
        *("--latency", "0.05", "--seed", "7", "--retry-after", "0.1"),
    )
    env = env_for(url)
    apply = [SPECSYNC, "apply", "--concurrency", "8", "--rate", "200"]
    rng = random.Random(20261125)
    try:
        kills = 0
        for _ in range(10):
            proc = subprocess.Popen(
                apply, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.05, 1.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
            if lock.exists():
                read_lock(lock)  # parses, or raises
        processed_after_kills = len(exports(journal))

        # Finish without --retry-uncertain: nothing may be exported twice yet.
        for _ in range(8):
            result = run(apply, tmp_path, env)
            assert result.returncode in (0, 1), result.stderr
            if result.returncode == 0:
                break
            summary = plan_json(tmp_path, env)["summary"]
            if summary["create"] == 0 and summary["update"] == 0:
                break  # only uncertain items left: that is what --retry-uncertain is for
        read_lock(lock)
        counts = export_counts(journal)
        dupes_before_retry = {key: n for key, n in counts.items() if n > 1}
        assert dupes_before_retry == {}, dupes_before_retry
        # An item that never reached the emulator was killed between its journalled intent
        # and its request: it is uncertain (never silently forgotten), not recorded as done.
        plan = plan_json(tmp_path, env)
        actions = {i["id"]: i["action"] for i in plan["items"]}
        assert set(actions) == set(expected)
        assert set(actions.values()) <= {"unchanged", "uncertain"}, plan["summary"]
        never_sent = [i for i, key in expected.items() if key not in counts]
        assert all(actions[i] == "uncertain" for i in never_sent), never_sent

        # Resolve the uncertain ones; each resubmission is allowed one duplicate at most.
        uncertain_total = 0
        allowed: Counter[tuple[str, str]] = Counter()
        for _ in range(8):
            plan = plan_json(tmp_path, env)
            uncertain = [i["id"] for i in plan["items"] if i["action"] == "uncertain"]
            uncertain_total += len(uncertain)
            allowed.update(expected[i] for i in uncertain)
            result = run([*apply, "--retry-uncertain"], tmp_path, env)
            assert result.returncode in (0, 1), result.stderr
            if result.returncode == 0:
                break
        assert result.returncode == 0, result.stderr

        counts = export_counts(journal)
        duplicates = sum(n - 1 for n in counts.values())
        for key, n in counts.items():
            assert n - 1 <= allowed[key], f"{key} exported {n} times, uncertain {allowed[key]}"
        assert duplicates <= uncertain_total

        final = specsync(["plan", "--detailed-exitcode"], tmp_path, env)
        assert final.returncode == 0, final.stdout + final.stderr
        items = read_lock(lock)["items"]
        assert set(items) == set(expected)
        for item_id, entry in items.items():
            assert entry.get("projectId") and entry.get("taskId"), item_id
        # The recorded ids are ids the emulator handed out for that exact request.
        issued = {
            r["projectId"]: (r["body"]["language"], r["body"]["text"]) for r in exports(journal)
        }
        for item_id, entry in items.items():
            assert issued.get(entry["projectId"]) == expected[item_id], item_id

        print(
            f"\nkill-loop: {kills} kills, {len(exports(journal))} exports processed "
            f"({processed_after_kills} during the kill loop), {uncertain_total} uncertain "
            f"before retry ({len(never_sent)} of them never sent), {duplicates} duplicates"
        )
    finally:
        stop(emu)


# 2. one apply at a time -------------------------------------------------------------------


def test_second_apply_fails_fast_and_a_killed_holder_does_not_block(tmp_path: Path) -> None:
    # 30 items, 0.3 s each, one at a time: the first apply holds the lock for 9 s, longer
    # than the second apply and the plan below may take (3 s each); it is killed after them.
    write_manifests(tmp_path, files=1, videos_per_file=10)
    owner = tmp_path / ".specsync" / "specsync.lock.lock.owner"
    with running_emulator(EmulatorConfig(latency=0.3, render_seconds=1.0)) as emu:
        env = env_for(emu.url)
        first = subprocess.Popen(
            [SPECSYNC, "apply", "--concurrency", "1", "--rate", "100"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 15
            while not owner.exists():
                assert first.poll() is None, "first apply ended before taking the lock"
                assert time.monotonic() < deadline, "no lock owner note appeared"
                time.sleep(0.02)

            started = time.monotonic()
            second = specsync(["apply", "--rate", "100"], tmp_path, env)
            elapsed = time.monotonic() - started
            assert second.returncode == 1, second.stderr
            assert elapsed < 3, f"second apply took {elapsed:.1f} s"
            assert re.search(r"another apply|pid", second.stderr, re.IGNORECASE), second.stderr
            assert str(first.pid) in second.stderr, second.stderr
            assert first.poll() is None, "the first apply should still be running"

            # plan does not wait on the lock, and shows nothing as done that is not recorded.
            started = time.monotonic()
            during = specsync(["plan", "--format", "json"], tmp_path, env)
            assert time.monotonic() - started < 3
            assert during.returncode == 0, during.stderr
            summary = json.loads(during.stdout)["summary"]
            assert summary["create"] + summary["uncertain"] + summary["unchanged"] == 30, summary
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)

        # The stale owner note (a SIGKILLed holder cannot remove it) must not block anyone.
        after = specsync(
            ["apply", "--concurrency", "8", "--rate", "100", "--retry-uncertain"],
            tmp_path,
            env,
        )
        assert after.returncode == 0, after.stderr
        done = specsync(["plan", "--detailed-exitcode"], tmp_path, env)
        assert done.returncode == 0, done.stdout + done.stderr


# 3. git merge driver -----------------------------------------------------------------------


def emulator_apply(repo: Path) -> None:
    result = specsync(["apply", "--emulator", "--lockfile", "specsync.lock", "--rate", "100"], repo)
    assert result.returncode == 0, result.stderr


def add_video(repo: Path, name: str, script: str) -> None:
    (repo / "manifests" / f"{name}.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\n"
        f"videos:\n  {name}: {{script: {script!r}}}\n",
        "utf-8",
    )


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    staged = git(repo, "diff", "--cached", "--name-only").stdout.split()
    assert all(
        p == "specsync.lock" or p.startswith("manifests/") or p == ".gitattributes" for p in staged
    ), staged
    git(repo, "commit", "-q", "-m", message)


def test_git_merge_driver(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", merge_driver=True)
    (repo / "manifests").mkdir()
    add_video(repo, "base", "The base video.")
    emulator_apply(repo)
    commit_all(repo, "base")

    git(repo, "checkout", "-q", "-b", "a")
    add_video(repo, "a", "Video a.")
    emulator_apply(repo)
    commit_all(repo, "add a")

    git(repo, "checkout", "-q", "-b", "b", "main")
    add_video(repo, "b", "Video b.")
    emulator_apply(repo)
    commit_all(repo, "add b")

    git(repo, "checkout", "-q", "a")
    merged = git(repo, "merge", "--no-edit", "b", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    text = (repo / "specsync.lock").read_text("utf-8")
    assert not re.search(r"^(<<<<<<<|=======|>>>>>>>)", text, re.MULTILINE), text
    items = tomllib.loads(text)["items"]
    assert set(items) == {"base/en", "a/en", "b/en"}
    plan = specsync(["plan", "--detailed-exitcode", "--lockfile", "specsync.lock"], repo)
    assert plan.returncode == 0, plan.stdout + plan.stderr

    # The same new item exported on both branches: a real conflict, both ids kept.
    project_ids = []
    for branch in ("c1", "c2"):
        git(repo, "checkout", "-q", "-b", branch, "main")
        add_video(repo, "c", "Video c, exported twice.")
        emulator_apply(repo)
        commit_all(repo, f"add c on {branch}")
        project_ids.append(read_lock(repo / "specsync.lock")["items"]["c/en"]["projectId"])
    assert project_ids[0] != project_ids[1]
    git(repo, "checkout", "-q", "c1")
    conflict = git(repo, "merge", "--no-edit", "c2", check=False)
    assert conflict.returncode != 0, conflict.stdout + conflict.stderr
    assert "c/en" in conflict.stdout + conflict.stderr, "the driver names the conflicting item"
    text = (repo / "specsync.lock").read_text("utf-8")
    for project_id in project_ids:
        assert project_id in text, (project_id, text)
    unmerged = git(repo, "diff", "--name-only", "--diff-filter=U").stdout.split()
    assert unmerged == ["specsync.lock"], unmerged


# 4. a killed rehearsal is settled by reconcile ----------------------------------------------


@pytest.mark.slow
def test_reconcile_after_a_killed_apply_emulator_settles_it_and_nothing_is_made_twice(
    tmp_path: Path,
) -> None:
    # `apply --emulator` runs its emulator in-process and keeps what it made in
    # .specsync/.specsync/emulator-projects.jsonl; killed, the next `reconcile --emulator`
    # starts a fresh emulator that must still know those projects, so nothing the killed
    # run created is exported again.
    expected = write_manifests(tmp_path, files=2, videos_per_file=10)
    (tmp_path / "specsync.yaml").write_text("specsync: 1\n", encoding="utf-8")
    made = tmp_path / ".specsync" / ".specsync" / "emulator-projects.jsonl"
    apply = [SPECSYNC, "apply", "--emulator", "--concurrency", "8", "--rate", "10"]
    rng = random.Random(20261207)
    uncertain: list[str] = []
    for _ in range(40):  # kill until a run leaves requests with no answer recorded
        proc = subprocess.Popen(
            apply, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        before = made.stat().st_size if made.exists() else 0
        while proc.poll() is None and (made.stat().st_size if made.exists() else 0) == before:
            time.sleep(0.01)  # until this run has made a project
        time.sleep(rng.uniform(0.0, 0.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        plan = json.loads(specsync(["plan", "--emulator", "--format", "json"], tmp_path).stdout)
        uncertain = [i["id"] for i in plan["items"] if i["action"] == "uncertain"]
        if uncertain:
            break
    # Usually a kill leaves a request unanswered (uncertain); when none of them did, what
    # follows must hold all the same.
    issued = {r["projectId"]: (r["body"]["language"], r["body"]["text"]) for r in exports(made)}

    result = specsync(
        ["reconcile", "--emulator", "--yes", "--min-age", "0", "--format", "json"], tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcomes = {i["id"]: i["outcome"] for i in json.loads(result.stdout)["items"]}
    assert set(outcomes) == set(uncertain)
    lock = read_lock(tmp_path / ".specsync" / "emulator.lock")["items"]
    for item_id in uncertain:
        if expected[item_id] in issued.values():  # the emulator made it: found, recorded
            assert issued[lock[item_id]["projectId"]] == expected[item_id], outcomes[item_id]
        else:  # never reached the emulator: to be sent once by the next apply
            assert "projectId" not in lock.get(item_id, {}), outcomes[item_id]

    # The rehearsal lockfile reconcile wrote is still one (it was written unmarked, and
    # the next `apply --emulator` refused it as "records real exports").
    assert read_lock(tmp_path / ".specsync" / "emulator.lock").get("emulator") is True
    finished = run([SPECSYNC, "apply", "--emulator"], tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert set(read_lock(tmp_path / ".specsync" / "emulator.lock")["items"]) == set(expected)
    counts = export_counts(made)
    assert {key: n for key, n in counts.items() if n > 1} == {}  # nothing made twice
    assert set(counts) == set(expected.values())


def test_reconcile_of_a_first_killed_rehearsal_writes_a_rehearsal_lockfile(tmp_path: Path) -> None:
    # What a rehearsal killed before its first write leaves: no lockfile, a journal with
    # one request whose answer never came. reconcile settles it; the lockfile it writes
    # must be marked as the emulator's, as apply and adopt mark theirs.
    write_manifests(tmp_path, files=1, videos_per_file=1)
    (tmp_path / "specsync.yaml").write_text("specsync: 1\n", encoding="utf-8")
    state = tmp_path / ".specsync" / ".specsync"
    state.mkdir(parents=True)
    first = load_items([str(tmp_path / "manifests")], use_cache=False)[0]
    records = [
        {"event": "service", "emulator": True, "host": "127.0.0.1:1"},
        {
            "event": "intent",
            "id": first.id,
            "fingerprint": first.fingerprint,
            "at": "2026-12-07T08:00:00Z",
            "request": first.request,
        },
    ]
    journal = state / "emulator.lock.journal"
    journal.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    settled = specsync(["reconcile", "--emulator", "--yes", "--min-age", "0"], tmp_path)
    assert settled.returncode == 0, settled.stderr
    assert read_lock(tmp_path / ".specsync" / "emulator.lock").get("emulator") is True
    finished = specsync(["apply", "--emulator"], tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert "3 submitted" in finished.stderr
