"""The installed CLI against a fake that answers as the vendor's public pages describe."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from specsync.state.lockfile_read import read_lockfile
from tests.helpers import assert_not_a_crash, specsync
from tests.helpers.vendor_fake import VendorFake, model_entry, running_vendor_fake


def _env(fake: VendorFake, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AISTUDIOS_", "SPECSYNC_"))}
    env.update(
        {
            "SPECSYNC_API_BASE": fake.url,
            "AISTUDIOS_APP_ID": fake.app_id,
            "AISTUDIOS_USER_KEY": fake.user_key,
            **extra,
        }
    )
    return env


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "v.yaml").write_text("specsync: 1\n" + body, encoding="utf-8")
    return tmp_path


@pytest.fixture
def fake() -> Iterator[VendorFake]:
    with running_vendor_fake(VendorFake(refuse_models=("M9",))) as served:
        yield served


REFUSED = (
    "defaults: {model: M1, locales: [en]}\n"
    "videos:\n"
    "  good: {script: hello}\n"
    "  bad: {script: hello, model: M9}\n"
)


@pytest.mark.parametrize("output", ["text", "json", "markdown"])
def test_a_refused_model_is_failed_with_the_services_code_and_message(
    tmp_path: Path, fake: VendorFake, output: str
) -> None:
    project = _project(tmp_path, REFUSED)
    fake.models = {"models": [model_entry("M1"), model_entry("M9")]}  # listed, refused
    done = specsync(["apply", "--rate", "100", "--format", output], project, _env(fake))
    assert done.returncode == 1, done.stderr
    assert_not_a_crash(done)
    shown = done.stdout if output != "text" else done.stderr
    # Markdown escapes what it would render as emphasis: MODEL\_NOT\_FOUND shows as the code.
    assert ("MODEL\\_NOT\\_FOUND" if output == "markdown" else "MODEL_NOT_FOUND") in shown
    assert "model M9 is not available to this account" in shown
    if output == "json":
        document = json.loads(done.stdout)
        assert [row["id"] for row in document["failed"]] == ["bad/en"]
        assert document["failed"][0]["code"] == "MODEL_NOT_FOUND"
        assert document["uncertain"] == []
        assert [row["id"] for row in document["submitted"]] == ["good/en"]
    lock = read_lockfile(project / "specsync.lock")
    assert lock.entries["good/en"].project_id == fake.exports[0]["projectId"]
    bad = lock.entries.get("bad/en")
    assert bad is None or (bad.state != "uncertain" and bad.project_id is None)
    assert len(fake.exports) == 1


def test_a_refused_user_key_stops_the_run_once_as_a_credentials_problem(
    tmp_path: Path, fake: VendorFake
) -> None:
    videos = "".join(f"  v{n}: {{script: hello {n}}}\n" for n in range(6))
    project = _project(tmp_path, "defaults: {model: M1, locales: [en]}\nvideos:\n" + videos)
    env = _env(fake, AISTUDIOS_USER_KEY="wrong-user-key-123")
    done = specsync(["apply", "--rate", "100", "--concurrency", "1"], project, env)
    assert done.returncode == 1
    assert "AISTUDIOS_APP_ID and AISTUDIOS_USER_KEY" in done.stderr
    assert done.stderr.count("AISTUDIOS_USER_KEY") == 1  # said once, not once per item
    assert "wrong-user-key-123" not in done.stderr + done.stdout
    assert fake.requests.count("POST /api/odin/v3/auth/token") == 1
    assert fake.exports == []


# Real-time expiry: a 3 s run so that 1 s tokens expire in the middle of it.
@pytest.mark.slow
def test_tokens_expiring_every_second_lose_no_item_and_bill_none_twice(tmp_path: Path) -> None:
    videos = "".join(f"  v{n:02}: {{script: hello {n}}}\n" for n in range(30))
    project = _project(tmp_path, "defaults: {model: M1, locales: [en]}\nvideos:\n" + videos)
    with running_vendor_fake(VendorFake(token_ttl=1.0)) as fake:
        # 30 requests at 10 a second: three seconds, so tokens expire mid-run.
        done = specsync(["apply", "--rate", "10", "--format", "json"], project, _env(fake))
    assert done.returncode == 0, done.stderr
    assert fake.token_fetches >= 3
    bodies = [e["text"] for e in fake.exports]
    assert sorted(bodies) == sorted(f"hello {n}" for n in range(30))  # each billed once
    lock = read_lockfile(project / "specsync.lock")
    recorded = {e.project_id for e in lock.entries.values()}
    assert recorded == {e["projectId"] for e in fake.exports}
    assert len(json.loads(done.stdout)["submitted"]) == 30


def test_every_accepted_export_reaches_done_under_status_wait(tmp_path: Path) -> None:
    body = (
        "defaults: {model: M1, locales: [en, ko]}\nvideos:\n  a: {script: hi}\n  b: {script: yo}\n"
    )
    project = _project(tmp_path, body)
    with running_vendor_fake() as fake:
        env = _env(fake)
        applied = specsync(["apply", "--rate", "50"], project, env)
        assert applied.returncode == 0, applied.stderr
        first = specsync(["status"], project, env)
        assert first.returncode == 0, first.stderr
        assert "37.5%" in first.stderr
        waited = specsync(["status", "--wait", "--timeout", "60"], project, env)
        assert waited.returncode == 0, waited.stderr
        shown = specsync(["status", "--format", "json"], project, env)
    items = json.loads(shown.stdout)["items"]
    assert {i["state"] for i in items} == {"done"}
    assert all(i["downloadUrl"].endswith(f"{i['projectId']}.mp4") for i in items)
    lock = read_lockfile(project / "specsync.lock")
    assert {e.state for e in lock.entries.values()} == {"done"}
    assert len(lock.entries) == len(fake.exports) == 4


UNKNOWN_MODEL = (
    "defaults: {model: M1, locales: [en]}\n"
    "videos:\n"
    "  good: {script: hello, workspaceId: W1}\n"
    "  bad: {script: hello, model: M404}\n"
)


def test_doctor_warns_of_an_unlisted_model_with_its_manifest_place(
    tmp_path: Path, fake: VendorFake
) -> None:
    # No page says custom avatars appear in the model list (docs/vendor.md): a warning.
    project = _project(tmp_path, UNKNOWN_MODEL)
    text = specsync(["doctor"], project, _env(fake))
    assert text.returncode == 0, text.stdout + text.stderr
    assert f"API base:    {fake.url}" in text.stdout
    assert "appId+userKey" in text.stdout
    assert fake.user_key not in text.stdout + text.stderr
    assert "ok    credentials: accepted" in text.stdout
    assert "model 'M404' is not among the 1 models the account lists" in text.stdout
    assert "custom avatars may be missing from that list" in text.stdout
    assert "manifests/v.yaml:" in text.stdout and "(bad/en)" in text.stdout
    assert "ok    workspace: W1: known to the account" in text.stdout
    shown = specsync(["doctor", "--format", "json"], project, _env(fake))
    document = json.loads(shown.stdout)
    assert document["ok"] is True
    models = [c for c in document["checks"] if c["name"] == "model"]
    assert [c["status"] for c in models if "M404" in c["detail"]] == ["warn"]
    assert [c["status"] for c in models if c["detail"].startswith("M1:")] == ["ok"]
    assert fake.exports == []


def test_doctor_is_happy_when_all_is_well_and_flags_refused_credentials(
    tmp_path: Path, fake: VendorFake
) -> None:
    project = _project(tmp_path, REFUSED.replace("model: M9", "model: M1"))
    well = specsync(["doctor"], project, _env(fake))
    assert well.returncode == 0, well.stdout + well.stderr
    assert "All is well." in well.stdout
    refused = specsync(["doctor"], project, _env(fake, AISTUDIOS_USER_KEY="nope-nope"))
    assert refused.returncode == 1
    assert "FAIL  credentials" in refused.stdout
    assert_not_a_crash(refused)


def test_doctor_flags_an_emulator_made_lockfile(tmp_path: Path, fake: VendorFake) -> None:
    project = _project(tmp_path, REFUSED.replace("model: M9", "model: M1"))
    (project / "specsync.lock").write_text(
        'version = 1\nfingerprint = "sha256-json-v2"\nemulator = true\n\n'
        '[items."good/en"]\nfingerprint = "abc"\nprojectId = "p"\ntaskId = "t"\n',
        encoding="utf-8",
    )
    shown = specsync(["doctor"], project, _env(fake))
    assert shown.returncode == 1
    assert "FAIL  lockfile" in shown.stdout and "--emulator" in shown.stdout


def test_apply_warns_of_unlisted_models_and_exports_them(tmp_path: Path, fake: VendorFake) -> None:
    project = _project(tmp_path, UNKNOWN_MODEL)
    done = specsync(["apply", "--rate", "100"], project, _env(fake))
    assert done.returncode == 0, done.stderr
    assert "manifests/v.yaml:" in done.stderr and "(bad/en)" in done.stderr
    # The same words as doctor's warning.
    assert "warning: model 'M404' is not among the 1 models the account lists" in done.stderr
    assert "custom avatars may be missing from that list" in done.stderr
    assert len(fake.exports) == 2


@pytest.mark.parametrize("listing", ["404", "429", "500", "garbage", "empty"])
def test_apply_warns_and_goes_on_when_the_model_list_is_unavailable(
    tmp_path: Path, fake: VendorFake, listing: str
) -> None:
    project = _project(tmp_path, UNKNOWN_MODEL.replace("model: M404", "model: M2"))
    if listing in ("404", "429", "500"):
        fake.model_list_status = int(listing)
    else:
        fake.models = [{"name": "no id"}] if listing == "garbage" else []
    started = time.monotonic()
    done = specsync(["apply", "--rate", "100"], project, _env(fake))
    assert done.returncode == 0, done.stderr
    # One attempt only: a check that may be skipped never waits out a Retry-After.
    assert time.monotonic() - started < 20
    assert fake.requests.count("GET /api/odin/v3/model") == 1
    assert "warning: could not check the model ids" in done.stderr
    assert len(fake.exports) == 2


def test_doctor_with_a_stale_pasted_key_says_so_without_showing_it(
    tmp_path: Path, fake: VendorFake
) -> None:
    project = _project(tmp_path, REFUSED.replace("model: M9", "model: M1"))
    env = _env(fake, AISTUDIOS_API_KEY="stale-pasted-token-123")
    shown = specsync(["doctor", "--format", "json"], project, env)
    assert shown.returncode == 1
    document = json.loads(shown.stdout)
    assert document["credentialMode"].startswith("API key (AISTUDIOS_API_KEY")
    check = next(c for c in document["checks"] if c["name"] == "credentials")
    assert check["status"] == "fail" and "24 hours" in check["detail"]
    assert "AISTUDIOS_APP_ID" in check["detail"]
    assert "stale-pasted-token-123" not in shown.stdout + shown.stderr
