"""Issue 26's "Done when", through the installed CLI against the emulator (or the vendor
fake where only it can say `success: false` on a poll). Export requests are counted on the
service's own journal in every test.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import requests

from specsync.emulator import EmulatorConfig, running_emulator
from tests.helpers import assert_not_a_crash, env_for, specsync, tomllib
from tests.helpers.vendor_fake import VendorFake, running_vendor_fake

MANIFEST = """specsync: 1
defaults: {{model: M1, locales: [en]}}
videos:
  welcome: {{script: "Hello and welcome."{extra}}}
  pricing: {{script: "Our prices are simple."}}
"""


def project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "manifests").mkdir(exist_ok=True)
    (tmp_path / "manifests" / "videos.yaml").write_text(MANIFEST.format(extra=extra), "utf-8")
    return tmp_path


def lock_items(path: Path) -> dict:
    return tomllib.loads(path.read_text("utf-8"))["items"]


def test_models_missing_from_the_list_still_export_with_a_warning(tmp_path: Path) -> None:
    root = project(tmp_path)
    with running_emulator(EmulatorConfig(unlisted_models=True)) as emu:
        applied = specsync(["apply", "--rate", "100"], root, env_for(emu.url))
        doctor = specsync(["doctor"], root, env_for(emu.url))
        assert emu.export_count() == 2
    assert applied.returncode == 0, applied.stderr
    words = "model 'M1' is not among the 1 models the account lists"
    assert f"warning: {words}" in applied.stderr
    assert "custom avatars may be missing from that list" in applied.stderr
    # doctor says it in the same words, as a warning.
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"warn  model: {words}" in doctor.stdout


def test_a_success_false_poll_leaves_the_item_not_failed(tmp_path: Path) -> None:
    root = project(tmp_path)
    with running_vendor_fake(VendorFake(refused_polls=(1,))) as fake:
        env = env_for(fake.url)
        env.pop("AISTUDIOS_API_KEY")
        env.update({"AISTUDIOS_APP_ID": fake.app_id, "AISTUDIOS_USER_KEY": fake.user_key})
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        first = specsync(["status"], root, env)
        states = {e.get("state") for e in lock_items(root / "specsync.lock").values()}
        waited = specsync(["status", "--wait", "--timeout", "30"], root, env)
        exports = len(fake.exports)
    # Unknown this time, with the service's words; polled again, never `failed`.
    assert first.returncode == 1
    assert "success: false" in first.stderr and "progress is not available" in first.stderr
    assert "failed" not in states
    assert waited.returncode == 0, waited.stderr
    assert {e["state"] for e in lock_items(root / "specsync.lock").values()} == {"done"}
    assert exports == 2


def test_a_preview_ends_status_wait_at_once_and_pull_skips_it(tmp_path: Path) -> None:
    root = project(tmp_path, extra=", isExport: false")
    with running_emulator(EmulatorConfig(render_seconds=0.2)) as emu:
        env = env_for(emu.url)
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 0
        started = time.monotonic()
        waited = specsync(["status", "--wait", "--timeout", "60", "--format", "json"], root, env)
        seconds = time.monotonic() - started
        pulled = specsync(["pull", "--format", "json"], root, env)
        assert emu.export_count() == 2
    assert waited.returncode == 0, waited.stderr
    assert seconds < 20
    states = {i["id"]: i["state"] for i in json.loads(waited.stdout)["items"]}
    assert states == {"welcome/en": "preview", "pricing/en": "done"}
    assert pulled.returncode == 0, pulled.stderr
    rows = {i["id"]: i for i in json.loads(pulled.stdout)["items"]}
    assert rows["welcome/en"]["outcome"] == "skipped"
    assert "preview" in rows["welcome/en"]["message"]


def test_writing_out_the_default_resolution_plans_nothing(tmp_path: Path) -> None:
    root = project(tmp_path)
    with running_emulator(EmulatorConfig()) as emu:
        assert specsync(["apply", "--rate", "100"], root, env_for(emu.url)).returncode == 0
        project(tmp_path, extra=", resolution: '1080'")
        planned = specsync(["plan", "--detailed-exitcode"], root)
        again = specsync(["apply", "--rate", "100"], root, env_for(emu.url))
        assert emu.export_count() == 2  # nothing exported again
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert again.returncode == 0, again.stderr
    # Other values still change the video.
    project(tmp_path, extra=", resolution: '720'")
    assert specsync(["plan", "--detailed-exitcode"], root).returncode == 2


def test_adopt_of_a_failed_export_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path)
    config = EmulatorConfig(render_seconds=0.1, render_fail_rate=1.0, drop_rate=1.0)
    with running_emulator(config) as emu:
        env = env_for(emu.url)
        assert specsync(["apply", "--rate", "100"], root, env).returncode == 1  # both uncertain
        time.sleep(0.2)
        made = emu.records("export")[0]
        before = (root / "specsync.lock").read_bytes()
        refused = specsync(["adopt", "welcome/en", "--project-id", made["projectId"]], root, env)
        assert emu.export_count() == 2
    assert refused.returncode == 1
    assert "failed export is not adopted" in refused.stderr
    assert (root / "specsync.lock").read_bytes() == before


def _uncertain_project(tmp_path: Path, emu_url: str) -> tuple[Path, dict[str, str]]:
    root = project(tmp_path)
    env = env_for(emu_url)
    applied = specsync(["apply", "--rate", "100"], root, env)
    assert applied.returncode == 1, applied.stderr
    # The summary points to reconcile first.
    assert "specsync reconcile" in applied.stderr
    assert applied.stderr.index("specsync reconcile") < applied.stderr.index("specsync adopt")
    return root, env


def test_reconcile_records_the_one_match_and_sends_no_export(tmp_path: Path) -> None:
    with running_emulator(EmulatorConfig(render_seconds=0.1, drop_rate=1.0)) as emu:
        root, env = _uncertain_project(tmp_path, emu.url)
        sent = emu.export_count()
        dry = specsync(["reconcile", "--dry-run", "--format", "json"], root, env)
        settled = specsync(["reconcile", "--yes"], root, env)
        planned = specsync(["plan", "--detailed-exitcode"], root, env)
        made = {r["body"]["text"]: r["projectId"] for r in emu.records("export")}
        assert emu.export_count() == sent == 2  # 0 export requests by reconcile
    assert dry.returncode == 0, dry.stderr
    document = json.loads(dry.stdout)
    assert {i["outcome"] for i in document["items"]} == {"match"}
    assert document["recorded"] == [] and document["exportRequests"] == 0
    assert settled.returncode == 0, settled.stderr
    assert "0 export requests" in settled.stderr
    entries = lock_items(root / "specsync.lock")
    assert entries["welcome/en"]["projectId"] == made["Hello and welcome."]
    assert entries["pricing/en"]["projectId"] == made["Our prices are simple."]
    assert {e.get("state") for e in entries.values()} <= {None, "done"}
    assert planned.returncode == 0, planned.stdout + planned.stderr


def test_reconcile_records_nothing_when_two_projects_match(tmp_path: Path) -> None:
    with running_emulator(EmulatorConfig(render_seconds=0.1, drop_rate=1.0)) as emu:
        root, env = _uncertain_project(tmp_path, emu.url)
        before = (root / "specsync.lock").read_bytes()
        # The same video made twice (a second click in AI Studios, say).
        body = {"language": "en", "text": "Hello and welcome.", "model": "M1"}
        url = emu.url + "/api/odin/v3/simple/custom"
        # Dropped after being processed, like the others.
        with contextlib.suppress(requests.exceptions.ConnectionError):
            requests.post(url, json=body, headers={"Authorization": "k"}, timeout=5)
        sent = emu.export_count()
        settled = specsync(["reconcile", "welcome/en", "--yes"], root, env)
        assert emu.export_count() == sent == 3
    assert settled.returncode == 1
    assert "welcome/en: several: 2 projects match" in settled.stderr
    assert (root / "specsync.lock").read_bytes() == before


def test_reconcile_says_never_created_and_the_next_apply_sends_it_once(tmp_path: Path) -> None:
    with running_emulator(EmulatorConfig(render_seconds=0.1, drop_rate=1.0)) as first:
        root, env = _uncertain_project(tmp_path, first.url)
    # Another account's view: nothing was made there (same loopback host, new emulator).
    with running_emulator(EmulatorConfig(render_seconds=0.1)) as emu:
        env = env_for(emu.url)
        young = specsync(["reconcile", "--yes"], root, env)
        settled = specsync(["reconcile", "--yes", "--min-age", "0"], root, env)
        sent = emu.export_count()
        planned = specsync(["plan", "--format", "json"], root, env)
        applied = specsync(["apply", "--rate", "100"], root, env)
        exported = emu.export_count()
    assert young.returncode == 0, young.stderr
    assert "young" in young.stderr and "nothing recorded" in young.stderr
    assert settled.returncode == 0, settled.stderr
    assert "never created" in settled.stderr
    assert sent == 0
    actions = {i["id"]: i["action"] for i in json.loads(planned.stdout)["items"]}
    assert actions == {"welcome/en": "create", "pricing/en": "create"}
    assert applied.returncode == 0, applied.stderr
    assert exported == 2  # each sent once


def test_apply_emulator_twice_leaves_no_specsync_lock_and_real_plan_sees_all_new(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    first = specsync(["apply", "--rate", "100", "--emulator"], root)
    second = specsync(["apply", "--rate", "100", "--emulator"], root)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "2 submitted" in first.stderr and "0 submitted" in second.stderr
    made = (root / ".specsync" / ".specsync" / "emulator-projects.jsonl").read_text("utf-8")
    assert made.count('"event": "export"') == 2  # nothing sent the second time
    assert not (root / "specsync.lock").exists()
    assert (root / ".specsync" / "emulator.lock").exists()
    assert (root / ".specsync" / ".gitignore").read_text() == "*\n"
    assert ".specsync/emulator.lock" in first.stderr
    real = specsync(["plan", "--format", "json"], root)
    assert real.returncode == 0, real.stderr
    assert {i["action"] for i in json.loads(real.stdout)["items"]} == {"create"}
    rehearsed = specsync(["plan", "--emulator", "--detailed-exitcode"], root)
    assert rehearsed.returncode == 0, rehearsed.stdout + rehearsed.stderr
    # The rehearsal goes on with the same lockfile: status, adopt, reconcile, forget.
    assert specsync(["status", "--emulator"], root).returncode == 0
    assert specsync(["reconcile", "--emulator"], root).returncode == 0
    forgot = specsync(["forget", "--emulator", "pricing/en"], root)
    assert forgot.returncode == 0, forgot.stderr
    assert "pricing/en" not in lock_items(root / ".specsync" / "emulator.lock")
    assert not (root / "specsync.lock").exists()


def test_a_file_where_the_rehearsal_folder_goes_is_a_clear_error(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".specsync").write_text("not a folder", "utf-8")
    refused = specsync(["apply", "--rate", "100", "--emulator"], root)
    assert refused.returncode == 1
    assert "--lockfile" in refused.stderr
    assert_not_a_crash(refused)
    assert not (root / "specsync.lock").exists()


def test_a_fifo_where_the_emulator_keeps_what_it_made_never_hangs(tmp_path: Path) -> None:
    import os

    root = project(tmp_path)
    state = root / ".specsync" / ".specsync"
    state.mkdir(parents=True)
    os.mkfifo(state / "emulator-projects.jsonl")
    started = time.monotonic()
    refused = specsync(["apply", "--rate", "100", "--emulator"], root)
    assert time.monotonic() - started < 30
    assert refused.returncode == 1
    assert "not a regular file" in refused.stderr
    assert_not_a_crash(refused)
