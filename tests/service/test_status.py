"""`specsync status` end to end: the installed CLI against a real emulator."""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from specsync.item_words import RenderState
from specsync.service.errors import ConfigError
from specsync.service.status import (
    FIRST_INTERVAL,
    POLL_INTERVAL_ENV,
    ItemStatus,
    first_interval_from_env,
    interpret,
)
from specsync.state.lockfile_read import read_lockfile
from tests.helpers import assert_not_a_crash, specsync

MANIFEST = "specsync: 1\ndefaults: {model: M1, locales: [en, ko]}\nvideos:\n  a: {script: hello}\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "v.yaml").write_text(MANIFEST, encoding="utf-8")
    return tmp_path


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AISTUDIOS_", "SPECSYNC_"))}
    env.update(SPECSYNC_API_BASE=url, AISTUDIOS_API_KEY="anything")
    # The tests' first poll after 0.1 s (tests/conftest.py), not 1 s: the renders are short.
    env[POLL_INTERVAL_ENV] = os.environ.get(POLL_INTERVAL_ENV, "0.1")
    return env


@pytest.fixture
def emu_env() -> Iterator[dict[str, str]]:
    # Renders of 1 s: long enough that a status right after apply still sees them rendering.
    with running_emulator(EmulatorConfig(render_seconds=1.0)) as emu:
        yield _env(emu.url)


def test_wait_records_done_and_keeps_urls_out_of_the_lockfile(
    project: Path, emu_env: dict[str, str]
) -> None:
    applied = specsync(["apply", "--rate", "50"], project, emu_env)
    assert applied.returncode == 0, applied.stderr

    before = specsync(["status", "--format", "json"], project, emu_env)
    assert before.returncode == 0, before.stderr
    states = {item["state"] for item in json.loads(before.stdout)["items"]}
    assert states <= {"submitted", "rendering"}

    waited = specsync(["status", "--wait", "--timeout", "30"], project, emu_env)
    assert waited.returncode == 0, waited.stderr
    lock = read_lockfile(project / "specsync.lock")
    assert {e.state for e in lock.entries.values()} == {"done"}
    assert set(lock.entries) == {"a/en", "a/ko"}

    shown = specsync(["status", "--format", "json"], project, emu_env)
    assert shown.returncode == 0, shown.stderr
    items = json.loads(shown.stdout)["items"]
    assert [item["id"] for item in items] == ["a/en", "a/ko"]
    for item in items:
        assert item["state"] == "done"
        assert item["projectId"] == lock.entries[item["id"]].project_id
        assert re.match(r"https?://", item["downloadUrl"])
        assert item["progress"] == 100

    planned = specsync(["plan", "--detailed-exitcode"], project, emu_env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    text = (project / "specsync.lock").read_text(encoding="utf-8")
    assert "http" not in text
    assert "progress" not in text.lower()
    assert "downloadUrl" in (project / ".specsync" / "status.json").read_text(encoding="utf-8")

    # Nothing left to poll: the lockfile is not rewritten.
    mtime = (project / "specsync.lock").stat().st_mtime_ns
    again = specsync(["status"], project, emu_env)
    assert again.returncode == 0, again.stderr
    assert (project / "specsync.lock").stat().st_mtime_ns == mtime
    assert "2 done" in again.stderr


def test_failed_render_is_recorded_and_exits_1(project: Path) -> None:
    with running_emulator(EmulatorConfig(render_seconds=1.0, render_fail_rate=1.0)) as emu:
        env = _env(emu.url)
        assert specsync(["apply", "--rate", "50"], project, env).returncode == 0
        waited = specsync(["status", "--wait", "--timeout", "20", "--format", "json"], project, env)
        assert waited.returncode == 1, waited.stderr
        items = json.loads(waited.stdout)["items"]
        assert {item["state"] for item in items} == {"failed"}
        assert all(item["downloadUrl"] is None for item in items)
    lock = read_lockfile(project / "specsync.lock")
    assert {e.state for e in lock.entries.values()} == {"failed"}


@pytest.fixture
def quick_env() -> Iterator[dict[str, str]]:
    """An emulator rendering in 0.2 s, for tests that only wait for renders to end."""
    with running_emulator(EmulatorConfig(render_seconds=0.2)) as emu:
        yield _env(emu.url)


def test_unknown_project_id_is_reported_not_polled_forever(
    project: Path, quick_env: dict[str, str]
) -> None:
    emu_env = quick_env
    assert specsync(["apply", "--rate", "50"], project, emu_env).returncode == 0
    path = project / "specsync.lock"
    old = read_lockfile(path).entries["a/en"].project_id
    assert old is not None
    path.write_text(path.read_text(encoding="utf-8").replace(old, "emu-bogus-id"), "utf-8")
    started = time.monotonic()
    result = specsync(["status", "--wait", "--timeout", "5"], project, emu_env)
    assert result.returncode == 1
    assert time.monotonic() - started < 15
    assert "unknown to the service" in result.stderr
    assert "emu-bogus-id" in result.stderr
    # The other item still finished and was recorded; the unknown one keeps its state.
    entries = read_lockfile(path).entries
    assert entries["a/ko"].state == "done"
    assert entries["a/en"].state is None


def test_emulator_lockfile_is_not_sent_to_the_real_service(project: Path) -> None:
    env = _env("https://app.aistudios.com")
    # As earlier versions wrote it: an emulator-marked specsync.lock.
    old_way = ["--lockfile", "specsync.lock"]
    applied = specsync(["apply", "--emulator", "--rate", "50", *old_way], project, env)
    assert applied.returncode == 0, applied.stderr
    refused = specsync(["status"], project, env)
    assert refused.returncode == 1
    assert "status --emulator --lockfile specsync.lock" in refused.stderr
    shown = specsync(["status", "--emulator", "--format", "json", *old_way], project, env)
    assert shown.returncode == 0, shown.stderr
    assert len(json.loads(shown.stdout)["items"]) == 2


def test_apply_lock_busy_is_a_clear_error(project: Path, quick_env: dict[str, str]) -> None:
    from specsync.state.journal import hold_apply_lock

    emu_env = quick_env
    assert specsync(["apply", "--rate", "50"], project, emu_env).returncode == 0
    time.sleep(0.4)  # renders finish, so status has final states to record
    # The URL comes a poll after 100 (as the vendor's service): this poll sees 100 only.
    assert specsync(["status"], project, emu_env).returncode == 0
    with hold_apply_lock(project / "specsync.lock"):
        busy = specsync(["status"], project, emu_env)
    assert busy.returncode == 1
    assert "same lock" in busy.stderr
    assert_not_a_crash(busy)
    assert {e.state for e in read_lockfile(project / "specsync.lock").entries.values()} == {None}


def test_interpret_maps_answers_to_states() -> None:
    from specsync.service.status import ItemStatus, interpret

    item = ItemStatus("a/en", "p1", "submitted")
    assert interpret(item, {"progress": 0}).state == "submitted"
    assert interpret(item, {"progress": 40, "state": "rendering"}).state == "rendering"
    done = interpret(item, {"progress": 100, "state": "done", "downloadUrl": "https://x/v.mp4"})
    assert (done.state, done.progress, done.download_url) == ("done", 100, "https://x/v.mp4")
    assert interpret(item, {"progress": "100", "downloadUrl": "https://x/v.mp4"}).state == "done"
    assert interpret(item, {"progress": 50, "state": "failed"}).state == "failed"
    assert interpret(item, {"progress": "junk", "downloadUrl": "ftp://x"}).download_url is None


def test_exports_an_interrupted_apply_journalled_are_polled_too(
    project: Path, emu_env: dict[str, str]
) -> None:
    # An apply killed after the answers reached its journal, before the lockfile was
    # written: status must still know those projectIds.
    from specsync.state.journal import Journal, journal_path

    applied = specsync(["apply", "--rate", "50"], project, emu_env)
    assert applied.returncode == 0, applied.stderr
    lockfile = project / "specsync.lock"
    exported = read_lockfile(lockfile).entries
    lockfile.unlink()
    with Journal(journal_path(lockfile)) as log:
        for entry in exported.values():
            log.intent(entry.id, entry.fingerprint, "2026-11-25T12:00:00Z")
            assert entry.project_id is not None and entry.task_id is not None
            log.accepted(
                entry.id, entry.fingerprint, entry.project_id, entry.task_id, "2026-11-25T12:00:01Z"
            )

    shown = specsync(["status", "--format", "json"], project, emu_env)

    assert shown.returncode == 0, shown.stderr
    items = {item["id"]: item for item in json.loads(shown.stdout)["items"]}
    assert set(items) == set(exported)
    for item_id, entry in exported.items():
        assert items[item_id]["projectId"] == entry.project_id
        assert items[item_id]["state"] in {"submitted", "rendering", "done"}


@pytest.mark.parametrize(
    "progress",
    [
        math.inf,
        -math.inf,
        math.nan,
        "-inf",
        "inf",
        "nan",
        "1e999",
        "9" * 5000,
        pytest.param(10**5000, id="huge-int"),
    ],
)
def test_absurd_progress_values_are_unknown_progress_not_a_crash(progress: object) -> None:
    item = ItemStatus("a/en", "p-1", RenderState.SUBMITTED)
    assert interpret(item, {"progress": progress}).progress is None


def test_status_asks_only_the_host_the_lockfile_names() -> None:
    from specsync.service.status import ServiceMismatch, check_service
    from specsync.state.lockfile_data import Entry, Lockfile

    entry = Entry("a/en", "1" * 64, "P1", "T1", "2026-11-25T12:00:00Z")
    real = Lockfile({"a/en": entry}, service="app.aistudios.com")
    with pytest.raises(ServiceMismatch) as refused:
        check_service(real, "specsync.lock", "https://staging.example.com")
    assert "app.aistudios.com" in str(refused.value)
    assert "staging.example.com" in str(refused.value) and "--lockfile" in str(refused.value)
    # The same host (any port, user or path) and an older file without the key are asked.
    check_service(real, "specsync.lock", "https://u:p@APP.aistudios.com:443/x")
    check_service(Lockfile({"a/en": entry}), "specsync.lock", "https://staging.example.com")
    # An emulator lockfile is checked by its mark, not its host.
    fake = Lockfile({"a/en": entry}, emulator=True, service="127.0.0.1")
    check_service(fake, "specsync.lock", "http://localhost:8000")


def test_first_poll_interval_comes_from_the_environment() -> None:
    assert first_interval_from_env({}) == FIRST_INTERVAL
    assert first_interval_from_env({POLL_INTERVAL_ENV: " "}) == FIRST_INTERVAL
    assert first_interval_from_env({POLL_INTERVAL_ENV: "0.25"}) == 0.25
    assert first_interval_from_env({POLL_INTERVAL_ENV: "30"}) == 30.0


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "30.5", "soon", "1e999"])
def test_a_bad_poll_interval_is_refused(text: str) -> None:
    # 0 would never grow (a busy loop against the service); above 30 s is past the longest.
    with pytest.raises(ConfigError, match=POLL_INTERVAL_ENV):
        first_interval_from_env({POLL_INTERVAL_ENV: text})


def test_status_with_a_bad_poll_interval_exits_1_naming_it(
    project: Path, emu_env: dict[str, str]
) -> None:
    assert specsync(["apply", "--rate", "100"], project, emu_env).returncode == 0
    before = (project / "specsync.lock").read_bytes()
    result = specsync(["status", "--wait"], project, {**emu_env, POLL_INTERVAL_ENV: "0"})
    assert result.returncode == 1, result.stderr
    assert f"{POLL_INTERVAL_ENV} must be a number of seconds above 0" in result.stderr
    assert_not_a_crash(result)
    assert (project / "specsync.lock").read_bytes() == before
