"""The installed CLI against a fake that answers as the vendor's public pages describe."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SPECSYNC, run
from service.vendor_fake import VendorFake, running_vendor_fake

from specsync.state.lockfile_read import read_lockfile


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
    fake.models = [{"modelId": "M1"}, {"modelId": "M9"}]  # listed, refused on export
    done = run([SPECSYNC, "apply", "--format", output], project, _env(fake))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    shown = done.stdout if output != "text" else done.stderr
    assert "MODEL_NOT_FOUND" in shown
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
    done = run([SPECSYNC, "apply", "--concurrency", "1"], project, env)
    assert done.returncode == 1
    assert "AISTUDIOS_APP_ID and AISTUDIOS_USER_KEY" in done.stderr
    assert "stopped early" in done.stderr
    assert "wrong-user-key-123" not in done.stderr + done.stdout
    assert fake.requests.count("POST /api/odin/v3/auth/token") == 1
    assert fake.exports == []


@pytest.mark.slow
def test_tokens_expiring_every_second_lose_no_item_and_bill_none_twice(tmp_path: Path) -> None:
    videos = "".join(f"  v{n:02}: {{script: hello {n}}}\n" for n in range(30))
    project = _project(tmp_path, "defaults: {model: M1, locales: [en]}\nvideos:\n" + videos)
    with running_vendor_fake(VendorFake(token_ttl=1.0)) as fake:
        # 30 requests at 10 a second: three seconds, so tokens expire mid-run.
        done = run([SPECSYNC, "apply", "--rate", "10", "--format", "json"], project, _env(fake))
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
        applied = run([SPECSYNC, "apply", "--rate", "50"], project, env)
        assert applied.returncode == 0, applied.stderr
        first = run([SPECSYNC, "status"], project, env)
        assert first.returncode == 0, first.stderr
        assert "37.5%" in first.stderr and "[processing]" in first.stderr
        waited = run([SPECSYNC, "status", "--wait", "--timeout", "60"], project, env)
        assert waited.returncode == 0, waited.stderr
        shown = run([SPECSYNC, "status", "--format", "json"], project, env)
    items = json.loads(shown.stdout)["items"]
    assert {i["state"] for i in items} == {"done"}
    assert {i["serviceState"] for i in items} == {"finish"}
    assert all(i["downloadUrl"].endswith(f"{i['projectId']}.mp4") for i in items)
    assert "[finish]" in waited.stderr
    lock = read_lockfile(project / "specsync.lock")
    assert {e.state for e in lock.entries.values()} == {"done"}
    assert len(lock.entries) == len(fake.exports) == 4
    cache = json.loads((project / ".specsync" / "status.json").read_text(encoding="utf-8"))
    assert {v["serviceState"] for v in cache["items"].values()} == {"finish"}
