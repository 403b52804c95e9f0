"""The vendor's shapes: identity header, float progress, vendor state words, the sample's
endpoint and protocol, refused models, expiring tokens and download links, the lists."""

from __future__ import annotations

import json
import struct
import subprocess
import time
from typing import Any

import pytest
import requests

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator
from tests.helpers import SPECSYNC

EXPORT = "/api/odin/v3/simple/custom"
SAMPLE_EXPORT = "/api/odin/v3/simple/video"
PROGRESS = "/api/odin/v3/editor/progress/"
KEY = {"Authorization": "vendor-test-key"}
SAMPLE = {"language": "en", "text": "Sample Script", "model": "M000045058"}


def export(url: str, body: dict[str, Any] | None = None, path: str = EXPORT) -> requests.Response:
    return requests.post(url + path, json=body or SAMPLE, headers=KEY, timeout=5)


def progress(url: str, project_id: str) -> dict[str, Any]:
    r = requests.get(url + PROGRESS + project_id, headers=KEY, timeout=5)
    assert r.status_code == 200
    return r.json()["data"]


def finished_url(emu: RunningEmulator, project_id: str) -> str:
    """The download URL, polling as a client would (the vendor's comes a poll late)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        data = progress(emu.url, project_id)
        if data.get("downloadUrl"):
            return str(data["downloadUrl"])
        time.sleep(0.05)
    raise AssertionError("no downloadUrl within 5 s")


# the sample's endpoint and protocol ---------------------------------------------------------


def test_the_samples_endpoint_accepts_its_extra_clothes_field(emulator: RunningEmulator) -> None:
    body = {**SAMPLE, "clothes": "1"}

    r = export(emulator.url, body, path=SAMPLE_EXPORT)

    assert r.status_code == 200
    assert r.json()["success"] is True
    [record] = emulator.journal_records()
    assert record["projectId"] == r.json()["data"]["projectId"]
    assert record["body"] == body


def follow_the_sample_protocol(base: str, key: str, interval: float) -> bytes:
    """What the vendor's sample script does, step by step (written from its description)."""
    headers = {"Content-Type": "application/json", "Authorization": key}
    job = {**SAMPLE, "clothes": "1"}
    response = requests.post(base + SAMPLE_EXPORT, data=json.dumps(job), headers=headers)
    data = response.json()
    assert response.status_code == 200 and data.get("success")
    project_id = data["data"]["projectId"]
    for _ in range(100):
        time.sleep(interval)
        polled = requests.get(base + PROGRESS + project_id, headers=headers).json()
        if polled["data"]["progress"] >= 100 and polled["data"].get("downloadUrl"):
            break
    else:
        raise AssertionError("the render never finished")
    video = requests.get(polled["data"]["downloadUrl"])  # no Authorization header
    assert video.status_code == 200
    return video.content


def test_the_vendor_samples_protocol_runs_unchanged() -> None:
    config = EmulatorConfig(render_seconds=0.3, api_key="k")
    with running_emulator(config) as emu:
        video = follow_the_sample_protocol(emu.url, "k", interval=0.1)

        assert emu.export_count() == 1
    assert video[4:8] == b"ftyp"


# progress shapes --------------------------------------------------------------------------


def test_progress_is_a_float(emulator: RunningEmulator) -> None:
    project_id = export(emulator.url).json()["data"]["projectId"]
    time.sleep(0.3)

    value = progress(emulator.url, project_id)["progress"]

    assert isinstance(value, float)
    assert 20.0 <= value < 100.0


def test_progress_says_processing_then_finish_and_the_url_comes_a_poll_later() -> None:
    # The state words and the late URL are assumed (docs/vendor.md, "progress state words").
    with running_emulator(EmulatorConfig(render_seconds=0.3)) as emu:
        project_id = export(emu.url).json()["data"]["projectId"]
        during = progress(emu.url, project_id)
        time.sleep(0.35)
        first_at_100 = progress(emu.url, project_id)
        second_at_100 = progress(emu.url, project_id)

    assert during["state"] == "processing"
    assert during["progress"] < 100
    assert first_at_100 == {"progress": 100.0, "state": "finish"}
    assert second_at_100["state"] == "finish"
    assert second_at_100["downloadUrl"].startswith(f"{emu.url}/downloads/{project_id}.mp4?")


# refused models --------------------------------------------------------------------------


def test_refused_models_get_http_200_with_success_false_and_are_not_processed() -> None:
    config = EmulatorConfig(refuse_models=("M0000*", "exact-model"))
    with running_emulator(config) as emu:
        refused = [export(emu.url, {**SAMPLE, "model": m}) for m in ("M000045058", "exact-model")]
        accepted = export(emu.url, {**SAMPLE, "model": "65f1a2b3c4d5e6f708192a3b"})

        assert emu.export_count() == 1
        assert len(emu.records("refused")) == 2
    for answer, model in zip(refused, ("M000045058", "exact-model"), strict=True):
        assert answer.status_code == 200
        assert answer.json() == {
            "success": False,
            "error": {"code": "model_refused", "msg": f"model {model} is not available"},
        }
    assert accepted.json()["success"] is True


# tokens and the auth endpoint ---------------------------------------------------------------


def test_tokens_expire_after_token_ttl_and_the_auth_endpoint_says_so() -> None:
    with running_emulator(EmulatorConfig(token_ttl=0.5, api_key="the-key")) as emu:
        issued = requests.post(
            emu.url + "/api/odin/v3/auth/token", json={"appId": "a", "userKey": "u"}, timeout=5
        ).json()["data"]
        token = {"Authorization": issued["token"]}
        auth_before = requests.get(emu.url + "/api/odin/v3/auth", headers=token, timeout=5)
        export_before = requests.post(emu.url + EXPORT, json=SAMPLE, headers=token, timeout=5)
        time.sleep(0.55)
        auth_after = requests.get(emu.url + "/api/odin/v3/auth", headers=token, timeout=5)
        export_after = requests.post(emu.url + EXPORT, json=SAMPLE, headers=token, timeout=5)
        wrong_key = requests.get(
            emu.url + "/api/odin/v3/auth", headers={"Authorization": "nope"}, timeout=5
        )

    assert auth_before.status_code == 200
    assert auth_before.json()["data"]["isAuthenticated"] is True
    assert export_before.status_code == 200
    assert auth_after.status_code == 401
    assert auth_after.json()["error"]["msg"] == "token expired: request a new one"
    assert export_after.status_code == 401
    assert wrong_key.status_code == 403


# downloads -----------------------------------------------------------------------------------


def mp4_boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """Top-level ISO BMFF boxes as (type, payload); fails on a malformed layout."""
    boxes, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert size >= 8 and offset + size <= len(data), f"bad box {kind!r} at {offset}"
        boxes.append((kind, data[offset + 8 : offset + size]))
        offset += size
    return boxes


def test_each_project_gets_its_own_small_valid_deterministic_mp4() -> None:
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        ids = [export(emu.url).json()["data"]["projectId"] for _ in range(2)]
        urls = [finished_url(emu, project_id) for project_id in ids]
        first, again = (requests.get(urls[0], timeout=5) for _ in range(2))
        other = requests.get(urls[1], timeout=5)

    assert first.headers["Content-Type"] == "video/mp4"
    assert first.headers["Accept-Ranges"] == "bytes"
    assert first.content == again.content != other.content
    assert len(first.content) < 4096
    kinds = [kind for kind, _ in mp4_boxes(first.content)]
    assert kinds[0] == b"ftyp" and b"moov" in kinds and b"mdat" in kinds
    assert dict(mp4_boxes(first.content))[b"free"].endswith(ids[0].encode())


def test_the_mp4_decodes_with_ffmpeg(tmp_path: Any) -> None:
    ffmpeg = pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        project_id = export(emu.url).json()["data"]["projectId"]
        (tmp_path / "v.mp4").write_bytes(requests.get(finished_url(emu, project_id)).content)
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(tmp_path / "v.mp4"), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_range_requests_get_206_and_the_right_bytes() -> None:
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        url = finished_url(emu, export(emu.url).json()["data"]["projectId"])
        whole = requests.get(url, timeout=5).content
        size = len(whole)
        head = requests.get(url, headers={"Range": "bytes=0-7"}, timeout=5)
        tail = requests.get(url, headers={"Range": "bytes=-16"}, timeout=5)
        rest = requests.get(url, headers={"Range": "bytes=100-"}, timeout=5)
        beyond = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=5)
        several = requests.get(url, headers={"Range": "bytes=0-1,4-5"}, timeout=5)
        headed = requests.head(url, timeout=5)

    assert (head.status_code, head.content) == (206, whole[:8])
    assert head.headers["Content-Range"] == f"bytes 0-7/{size}"
    assert (tail.status_code, tail.content) == (206, whole[-16:])
    assert (rest.status_code, rest.content) == (206, whole[100:])
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    assert (several.status_code, several.content) == (200, whole)
    assert headed.status_code == 200
    assert headed.headers["Content-Length"] == str(size)
    assert headed.content == b""


def test_download_links_expire_after_url_ttl_and_cannot_be_forged() -> None:
    with running_emulator(EmulatorConfig(render_seconds=0, url_ttl=0.5)) as emu:
        project_id = export(emu.url).json()["data"]["projectId"]
        url = finished_url(emu, project_id)
        fresh = requests.get(url, timeout=5)
        forged = requests.get(url.replace("expires=", "expires=f"), timeout=5)
        bare = requests.get(url.split("?")[0], timeout=5)
        time.sleep(0.55)
        expired = requests.get(url, timeout=5)
        renewed = requests.get(finished_url(emu, project_id), timeout=5)

    assert fresh.status_code == 200
    assert forged.status_code == 403
    assert bare.status_code == 403
    assert expired.status_code == 410
    assert "expired" in expired.json()["error"]["msg"]
    assert renewed.status_code == 200


# model and workspace lists --------------------------------------------------------------------


def test_model_and_workspace_lists_have_the_documented_shapes(emulator: RunningEmulator) -> None:
    models = requests.get(emulator.url + "/api/odin/v3/model", headers=KEY, timeout=5)
    dropdown = requests.get(emulator.url + "/api/odin/v3/dropdown/models", headers=KEY)
    spaces = requests.get(emulator.url + "/api/odin/v3/dropdown/workspaces", headers=KEY)
    unauthorized = requests.get(emulator.url + "/api/odin/v3/model", timeout=5)

    # reference/model-list.md: {models: [{id, label: {ko, en}, thumbnail, clothes}]}
    [model] = models.json()["data"]["models"]
    assert model["id"] == "M000045058"
    assert set(model["label"]) == {"ko", "en"}
    assert {"id", "label"} <= set(model["clothes"][0])
    # reference/models.md: id, label, avatarType
    assert dropdown.json()["data"] == [
        {"id": "M000045058", "label": "M000045058", "avatarType": "stock"}
    ]
    # reference/workspaces.md: workspaceId, workspaceName
    assert spaces.json()["data"] == [
        {"workspaceId": "emulator-workspace", "workspaceName": "emulator-workspace"}
    ]
    assert unauthorized.status_code == 401


def test_unlisted_models_leaves_every_model_but_the_stock_one_out() -> None:
    with running_emulator(EmulatorConfig(models=("m1",), unlisted_models=True)) as emu:
        models = requests.get(emu.url + "/api/odin/v3/model", headers=KEY, timeout=5).json()
        accepted = export(emu.url, {**SAMPLE, "model": "m1"})

    assert [m["id"] for m in models["data"]["models"]] == ["M000045058"]
    assert accepted.json()["success"] is True


def test_cli_flags_set_the_lists_and_refused_models() -> None:
    flags = ["--models", "m1, m2", "--workspaces", "w1", "--refuse-model", "m2"]
    process = subprocess.Popen(
        [SPECSYNC, "emulator", "--port", "0", *flags, "--render-seconds", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        models = requests.get(url + "/api/odin/v3/model", headers=KEY, timeout=5).json()
        spaces = requests.get(url + "/api/odin/v3/dropdown/workspaces", headers=KEY).json()
        refused = export(url, {**SAMPLE, "model": "m2"}).json()
        project_id = export(url, {**SAMPLE, "model": "m1"}).json()["data"]["projectId"]
        state = progress(url, project_id)["state"]
    finally:
        process.terminate()
        process.communicate(timeout=10)

    assert [m["id"] for m in models["data"]["models"]] == ["m1", "m2"]
    assert [w["workspaceId"] for w in spaces["data"]] == ["w1"]
    assert refused["success"] is False
    assert state == "finish"
