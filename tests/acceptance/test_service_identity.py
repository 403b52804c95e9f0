"""Any emulator marks its lockfile; the lockfile names the service host (the installed CLI).

A standalone `specsync emulator` is reached through SPECSYNC_API_BASE (no --emulator), and
"the real service" is a small loopback server answering as the vendor does, without the
emulator's identity header. Every request either server gets is counted.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    SPECSYNC,
    assert_not_a_crash,
    env_for,
    specsync,
    tomllib,
)
from tests.helpers.fake_service import fake_service, standalone_emulator

MANIFEST = """\
specsync: 1
defaults: {model: M1, locales: [en, ko]}
videos:
  welcome: {script: "Welcome ({{ locale }})."}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "videos.yaml").write_text(MANIFEST, encoding="utf-8")
    return tmp_path


def lock_data(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "specsync.lock").read_text("utf-8"))


def assert_clean_refusal(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert_not_a_crash(result)


def test_an_emulator_via_api_base_marks_the_lockfile_and_a_real_apply_refuses_it(
    project: Path,
) -> None:
    with standalone_emulator() as url:
        applied = specsync(["apply", "--rate", "50"], project, env_for(url, NO_COLOR="1"))
        # Nothing to do the second time, and the emulator lockfile is fine with it.
        again = specsync(["apply", "--rate", "50"], project, env_for(url, NO_COLOR="1"))
    assert applied.returncode == 0, applied.stderr
    assert again.returncode == 0, again.stderr
    assert "answers as a specsync emulator" in applied.stderr
    assert "emulator run: nothing was really exported" in applied.stderr
    data = lock_data(project)
    assert data["emulator"] is True
    assert data["service"] == "127.0.0.1"
    assert set(data["items"]) == {"welcome/en", "welcome/ko"}
    before = (project / "specsync.lock").read_bytes()

    # The same host, now a real service: its `GET /` has no emulator mark, so the fake
    # ids are refused before a single export is sent (13 fake ids once went unexported).
    with fake_service() as real:
        refused = specsync(["apply", "--rate", "50"], project, env_for(real.url, NO_COLOR="1"))
    assert_clean_refusal(refused)
    assert "emulator" in refused.stderr and "--lockfile" in refused.stderr
    assert real.posts() == []
    assert real.seen == [("GET", "/")], "only the identity check, no key, no export"
    assert (project / "specsync.lock").read_bytes() == before


def test_an_apply_against_another_host_than_recorded_sends_nothing(project: Path) -> None:
    with fake_service() as real:
        first = specsync(["apply", "--rate", "50"], project, env_for(real.url, NO_COLOR="1"))
        assert first.returncode == 0, first.stderr
        assert lock_data(project)["service"] == "127.0.0.1"
        assert lock_data(project)["emulator"] is False
    before = (project / "specsync.lock").read_bytes()
    (project / "manifests" / "videos.yaml").write_text(
        MANIFEST + '  news: {script: "News."}\n', encoding="utf-8"
    )
    # 127.0.0.2 is loopback too: another host as far as the lockfile is concerned.
    with fake_service(host="127.0.0.2") as other:
        refused = specsync(["apply", "--rate", "50"], project, env_for(other.url, NO_COLOR="1"))
        status = specsync(["status"], project, env_for(other.url, NO_COLOR="1"))
    assert_clean_refusal(refused)
    assert "applied against 127.0.0.1" in refused.stderr
    assert "127.0.0.2" in refused.stderr and "--lockfile" in refused.stderr
    assert_clean_refusal(status)
    assert "applied against 127.0.0.1" in status.stderr
    assert other.seen == [], "nothing at all may be sent"
    assert (project / "specsync.lock").read_bytes() == before

    # Doing what the message says: another lockfile for that host.
    with fake_service(host="127.0.0.2") as other:
        moved = specsync(
            ["apply", "--rate", "50", "--lockfile", "other.lock"],
            project,
            env_for(other.url, NO_COLOR="1"),
        )
    assert moved.returncode == 0, moved.stderr
    assert len(other.posts()) == 4
    assert 'service = "127.0.0.2"' in (project / "other.lock").read_text("utf-8")


def test_an_older_lockfile_without_the_key_is_read_and_gains_it(project: Path) -> None:
    with fake_service() as real:
        first = specsync(["apply", "--rate", "50"], project, env_for(real.url, NO_COLOR="1"))
        assert first.returncode == 0, first.stderr
        lockfile = project / "specsync.lock"
        text = lockfile.read_text("utf-8")
        assert 'service = "127.0.0.1"\n' in text
        lockfile.write_text(text.replace('service = "127.0.0.1"\n', ""), "utf-8")
        assert "service" not in lock_data(project)

        (project / "manifests" / "videos.yaml").write_text(
            MANIFEST + '  news: {script: "News."}\n', encoding="utf-8"
        )
        again = specsync(["apply", "--rate", "50"], project, env_for(real.url, NO_COLOR="1"))
    assert again.returncode == 0, again.stderr
    assert len(real.posts()) == 4, "only the two new items are exported"
    data = lock_data(project)
    assert data["service"] == "127.0.0.1"
    ids = {e["projectId"] for e in data["items"].values()}
    assert ids == {"real-p1", "real-p2", "real-p3", "real-p4"}


def test_an_export_answered_as_an_emulator_in_a_real_run_stops_it_and_is_uncertain(
    project: Path,
) -> None:
    """The backstop: `GET /` looked real, the export answer says emulator."""
    with fake_service(mark_exports=True) as service:
        result = specsync(
            ["apply", "--rate", "50", "--concurrency", "1"],
            project,
            env_for(service.url, NO_COLOR="1"),
        )
    assert result.returncode == 1, result.stderr
    assert_not_a_crash(result)
    assert "answered as a specsync emulator" in result.stderr
    assert len(service.posts()) == 1, "the run stops at the first such answer"
    data = lock_data(project)
    assert data["emulator"] is False
    (entry,) = data["items"].values()
    assert entry["state"] == "uncertain"
    assert "projectId" not in entry, "fake ids never pass for a real export"
    # The next real apply does not skip it as unchanged: it is shown as uncertain.
    planned = specsync(["plan"], project, env_for(service.url, NO_COLOR="1"))
    assert "uncertain" in planned.stdout


def test_an_emulator_behind_the_api_base_never_writes_into_a_real_lockfile(
    project: Path,
) -> None:
    with fake_service() as real:
        first = specsync(["apply", "--rate", "50"], project, env_for(real.url, NO_COLOR="1"))
    assert first.returncode == 0, first.stderr
    before = (project / "specsync.lock").read_bytes()
    (project / "manifests" / "videos.yaml").write_text(
        MANIFEST + '  news: {script: "News."}\n', encoding="utf-8"
    )
    emulator_journal = project / "emulator.jsonl"
    with standalone_emulator("--journal", str(emulator_journal)) as url:
        refused = specsync(["apply", "--rate", "50"], project, env_for(url, NO_COLOR="1"))
    assert_clean_refusal(refused)
    assert "records real exports" in refused.stderr
    # The emulator's own record of exports: none was made.
    assert b'"export"' not in (emulator_journal.read_bytes() if emulator_journal.exists() else b"")
    assert (project / "specsync.lock").read_bytes() == before


def test_a_killed_run_against_an_emulator_behind_the_api_base_journals_it_as_one(
    project: Path,
) -> None:
    """The mode is decided before the first intent: a journal left by a kill says emulator."""
    videos = "".join(f'  v{n}: {{script: "Video {n}."}}\n' for n in range(10))
    (project / "manifests" / "videos.yaml").write_text(MANIFEST + videos, encoding="utf-8")
    journal = project / ".specsync" / "specsync.lock.journal"
    with standalone_emulator() as url:
        process = subprocess.Popen(
            [SPECSYNC, "apply", "--rate", "4", "--concurrency", "1"],
            cwd=project,
            env=env_for(url, NO_COLOR="1"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if journal.exists() and b'"event":"accepted"' in journal.read_bytes():
                    break
                time.sleep(0.05)
            process.kill()
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        first = json.loads(journal.read_text("utf-8").splitlines()[0])
        assert first == {"event": "service", "emulator": True, "host": first["host"]}
        assert first["host"].startswith("127.0.0.1:")
        # The next run against it folds those ids into an emulator lockfile.
        resumed = specsync(["apply", "--rate", "50"], project, env_for(url, NO_COLOR="1"))
    assert resumed.returncode == 0, resumed.stderr
    assert lock_data(project)["emulator"] is True
