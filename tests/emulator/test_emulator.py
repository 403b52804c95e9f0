"""The emulator speaks the export API (docs/vendor.md) over real HTTP: samples, validation,
auth, ids."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest
import requests

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator
from specsync.emulator.downloads import signed_path
from specsync.service.tokens import jwt_expiry

EXPORT = "/api/odin/v3/simple/custom"
TOKEN = "/api/odin/v3/auth/token"
PROGRESS = "/api/odin/v3/editor/progress/"
SAMPLE = {"language": "en", "text": "Sample Script", "model": "M000045058"}


def post_export(
    url: str, body: object, key: str | None = "test-key", **kwargs: object
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = key
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return requests.post(url + EXPORT, data=data, headers=headers, timeout=5, **kwargs)


def error_of(response: requests.Response) -> dict[str, object]:
    envelope = response.json()
    assert envelope["success"] is False
    assert envelope["error"]["code"] == response.status_code
    return envelope["error"]


def test_seed_python_sample_gets_project_and_task_ids(emulator: RunningEmulator) -> None:
    # The export page's Python sample (docs/vendor.md, row 1), unchanged but for key and address.
    url = emulator.url + "/api/odin/v3/simple/custom"
    body = {
        "language": "en",
        "text": "Sample Script",
        "model": "M000045058",
        "webhookUrl": "http://127.0.0.1:9/hook",
    }
    headers = {"Content-Type": "application/json", "Authorization": "my-api-token"}
    r = requests.post(url, data=json.dumps(body), headers=headers)

    assert r.status_code == 200
    data = r.json()["data"]
    assert r.json()["success"] is True
    assert data["projectId"] and data["taskId"]
    [record] = emulator.journal_records()
    assert record["projectId"] == data["projectId"]
    assert record["taskId"] == data["taskId"]
    assert record["body"] == body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_seed_curl_sample_gets_project_and_task_ids(emulator: RunningEmulator) -> None:
    script = f"""curl {emulator.url}/api/odin/v3/simple/custom \\
-H "Authorization: my-api-key" \\
-H "Content-Type: application/json" \\
-X POST \\
-d '{{
"language": "en",
"text": "Sample Script",
"model": "M000045058",
"webhookUrl": "http://127.0.0.1:9/hook"
}}'"""
    result = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=10, check=True
    )

    data = json.loads(result.stdout)["data"]
    assert data["projectId"] and data["taskId"]
    assert emulator.export_count() == 1


def test_identical_bodies_get_fresh_ids_each_time(emulator: RunningEmulator) -> None:
    answers = [post_export(emulator.url, SAMPLE).json()["data"] for _ in range(3)]

    assert len({a["projectId"] for a in answers}) == 3
    assert len({a["taskId"] for a in answers}) == 3
    assert emulator.export_count() == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"language": "en", "model": "M1"}, "'text' is required"),
        ({**SAMPLE, "text": "  "}, "'text' must not be empty"),
        ({**SAMPLE, "model": 45058}, "'model' must be a string"),
        ({**SAMPLE, "isExport": "yes"}, "'isExport' must be a boolean"),
        ({**SAMPLE, "webhookUrl": "ftp://x/y"}, "'webhookUrl' must be an absolute http(s) URL"),
        ({**SAMPLE, "resolution": "8k"}, "'resolution' must be one of 4k, 1080, 720, 480"),
        ({**SAMPLE, "workspaceId": 7}, "'workspaceId' must be a string"),
        (["en", "text"], "the request body must be a JSON object"),
        ('{"language": "en",', "the request body is not valid JSON"),
        (b"\xff\xfe", "the request body is not valid JSON"),
    ],
)
def test_bad_bodies_are_400_and_not_journalled(
    emulator: RunningEmulator, body: object, message: str
) -> None:
    r = post_export(emulator.url, body)

    assert r.status_code == 400
    assert error_of(r)["msg"] == message
    assert emulator.export_count() == 0


def test_all_problems_of_a_body_are_named_at_once(emulator: RunningEmulator) -> None:
    r = post_export(emulator.url, {"isExport": 1})

    assert error_of(r)["msg"] == (
        "'language' is required; 'text' is required; 'model' is required; "
        "'isExport' must be a boolean"
    )


def test_optional_and_unknown_fields_are_accepted(emulator: RunningEmulator) -> None:
    body = {
        **SAMPLE,
        "isExport": False,
        "resolution": "4k",
        "workspaceId": "ws-1",
        "somethingNew": 1,
    }

    assert post_export(emulator.url, body).status_code == 200
    assert emulator.journal_records()[0]["body"] == body


@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_is_401(emulator: RunningEmulator, key: str | None) -> None:
    r = post_export(emulator.url, SAMPLE, key=key)

    assert r.status_code == 401
    assert "missing Authorization header" in str(error_of(r)["msg"])
    assert emulator.export_count() == 0


def test_bearer_prefix_is_refused(emulator: RunningEmulator) -> None:
    r = post_export(emulator.url, SAMPLE, key="Bearer abc")

    assert r.status_code == 401
    assert error_of(r)["msg"] == "send the raw API key or token, without 'Bearer '"


def test_api_key_flag_accepts_only_that_key() -> None:
    with running_emulator(EmulatorConfig(api_key="right")) as emu:
        wrong = post_export(emu.url, SAMPLE, key="wrong")
        right = post_export(emu.url, SAMPLE, key="right")

        assert wrong.status_code == 403
        assert error_of(wrong)["msg"] == "API key not accepted"
        assert "wrong" not in wrong.text and "right" not in wrong.text
        assert right.status_code == 200
        assert emu.export_count() == 1


def test_wrong_method_is_405_with_allow(emulator: RunningEmulator) -> None:
    r = requests.get(emulator.url + EXPORT, headers={"Authorization": "k"}, timeout=5)

    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    assert error_of(r)["msg"] == f"GET is not allowed on {EXPORT}"
    assert requests.delete(emulator.url + EXPORT, timeout=5).status_code == 405
    assert emulator.export_count() == 0


def test_wrong_path_is_404(emulator: RunningEmulator) -> None:
    r = requests.post(
        emulator.url + "/api/odin/v3/simple/customs",
        data=json.dumps(SAMPLE),
        headers={"Authorization": "k"},
        timeout=5,
    )

    assert r.status_code == 404
    assert error_of(r)["msg"] == "no such endpoint: /api/odin/v3/simple/customs"
    assert emulator.export_count() == 0


def test_huge_body_is_413() -> None:
    with running_emulator(EmulatorConfig(max_body_bytes=1000)) as emu:
        r = post_export(emu.url, {**SAMPLE, "text": "x" * 2000})

        assert r.status_code == 413
        assert error_of(r)["msg"] == "request body over 1000 bytes"
        assert emu.export_count() == 0


def test_health_check(emulator: RunningEmulator) -> None:
    r = requests.get(emulator.url + "/", timeout=5)

    assert r.status_code == 200
    assert r.json()["success"] is True


def test_keep_alive_serves_many_requests_on_one_connection(emulator: RunningEmulator) -> None:
    with requests.Session() as session:
        for _ in range(20):
            r = session.post(
                emulator.url + EXPORT, data=json.dumps(SAMPLE), headers={"Authorization": "k"}
            )
            assert r.status_code == 200
            assert r.headers.get("Connection") != "close"
    assert emulator.export_count() == 20


# auth tokens ----------------------------------------------------------------------------


def get_token(url: str, app_id: str = "app", user_key: str = "user") -> requests.Response:
    return requests.post(url + TOKEN, json={"appId": app_id, "userKey": user_key}, timeout=5)


def test_token_works_as_authorization_until_it_expires() -> None:
    with running_emulator(EmulatorConfig(api_key="the-key", token_ttl=0.5)) as emu:
        r = get_token(emu.url)
        assert r.status_code == 200
        token = r.json()["data"]["token"]
        # The documented answer is the token alone (no expiresIn); its JWT says when.
        assert set(r.json()["data"]) == {"token"}
        assert jwt_expiry(token) == pytest.approx(time.time() + 0.5, abs=0.5)

        assert post_export(emu.url, SAMPLE, key=token).status_code == 200
        time.sleep(0.6)
        expired = post_export(emu.url, SAMPLE, key=token)
        assert expired.status_code == 401
        assert error_of(expired)["msg"] == "token expired: request a new one"

        fresh = get_token(emu.url).json()["data"]["token"]
        assert post_export(emu.url, SAMPLE, key=fresh).status_code == 200
        assert emu.export_count() == 2


def test_token_is_a_jwt_whose_exp_defaults_to_a_day(emulator: RunningEmulator) -> None:
    token = get_token(emulator.url).json()["data"]["token"]
    assert len(token.split(".")) == 3
    assert jwt_expiry(token) == pytest.approx(time.time() + 86400, abs=5)


def test_token_endpoint_checks_app_id_and_user_key() -> None:
    with running_emulator(EmulatorConfig(app_id="app-1", user_key="secret")) as emu:
        assert get_token(emu.url, "app-1", "wrong").status_code == 403
        assert get_token(emu.url, "app-2", "secret").status_code == 403
        assert get_token(emu.url, "app-1", "secret").status_code == 200
        missing = requests.post(emu.url + TOKEN, json={"appId": "app-1"}, timeout=5)
        assert missing.status_code == 400
        assert error_of(missing)["msg"] == "'userKey' is required (a non-empty string)"


def test_forged_token_is_just_a_wrong_key() -> None:
    with running_emulator(EmulatorConfig(api_key="the-key")) as emu:
        token = get_token(emu.url).json()["data"]["token"]
        forged = token[:-1] + ("0" if token[-1] != "0" else "1")

        assert post_export(emu.url, SAMPLE, key=forged).status_code == 403


# progress and downloads -----------------------------------------------------------------


def progress_of(url: str, project_id: str) -> requests.Response:
    return requests.get(url + PROGRESS + project_id, headers={"Authorization": "k"}, timeout=5)


def test_progress_rises_to_100_with_a_download_url(emulator: RunningEmulator) -> None:
    project_id = post_export(emulator.url, SAMPLE).json()["data"]["projectId"]

    early = progress_of(emulator.url, project_id).json()["data"]
    assert early["state"] == "processing"
    assert 0 <= early["progress"] < 100
    assert "downloadUrl" not in early
    time.sleep(1.05)
    # As the vendor's service: 100 first, the URL a poll later (docs/vendor.md).
    assert "downloadUrl" not in progress_of(emulator.url, project_id).json()["data"]
    done = progress_of(emulator.url, project_id).json()["data"]
    url = done.pop("downloadUrl")
    assert done == {"progress": 100.0, "state": "finish"}
    assert url.startswith(f"{emulator.url}/downloads/{project_id}.mp4?expires=")
    video = requests.get(url, timeout=5)
    assert video.status_code == 200
    assert video.headers["Content-Type"] == "video/mp4"
    assert project_id.encode() in video.content


def test_a_new_emulator_answers_progress_for_ids_an_earlier_one_issued() -> None:
    with running_emulator(EmulatorConfig(render_seconds=0.2)) as first:
        project_id = post_export(first.url, SAMPLE).json()["data"]["projectId"]
    time.sleep(0.25)
    with running_emulator(EmulatorConfig(render_seconds=30)) as second:
        progress_of(second.url, project_id)
        data = progress_of(second.url, project_id).json()["data"]

        assert data["state"] == "finish"
        assert data["downloadUrl"].startswith(f"{second.url}/downloads/{project_id}.mp4?")
        assert requests.get(data["downloadUrl"], timeout=5).status_code == 200


def test_unknown_or_tampered_project_is_404(emulator: RunningEmulator) -> None:
    project_id = post_export(emulator.url, SAMPLE).json()["data"]["projectId"]
    tampered = project_id.replace("-3e8-", "-1-")  # claims a 1 ms render

    for bad in ("nope", tampered):
        r = progress_of(emulator.url, bad)
        assert r.status_code == 404
        assert error_of(r)["msg"] == f"no such project: {bad}"
    assert requests.get(emulator.url + "/downloads/nope.mp4", timeout=5).status_code == 404


def test_progress_needs_authorization(emulator: RunningEmulator) -> None:
    project_id = post_export(emulator.url, SAMPLE).json()["data"]["projectId"]

    assert requests.get(emulator.url + PROGRESS + project_id, timeout=5).status_code == 401


def test_render_fail_rate_ends_renders_failed() -> None:
    config = EmulatorConfig(render_seconds=0.1, render_fail_rate=1.0)
    with running_emulator(config) as emu:
        project_id = post_export(emu.url, SAMPLE).json()["data"]["projectId"]
        time.sleep(0.1)
        data = progress_of(emu.url, project_id).json()["data"]

        assert data["state"] == "failed"
        assert "downloadUrl" not in data
        # A link is never handed out for it; a validly signed one still finds no video.
        link = emu.url + signed_path(project_id, time.time() + 60)
        assert requests.get(link, timeout=5).status_code == 404


def test_render_fail_rate_is_observed() -> None:
    config = EmulatorConfig(render_seconds=0.0, render_fail_rate=0.3, seed=11)
    with running_emulator(config) as emu, requests.Session() as session:
        states = []
        for _ in range(200):
            body = json.dumps(SAMPLE)
            r = session.post(emu.url + EXPORT, data=body, headers={"Authorization": "k"})
            project_id = r.json()["data"]["projectId"]
            progress = session.get(emu.url + PROGRESS + project_id, headers={"Authorization": "k"})
            states.append(progress.json()["data"]["state"])

    assert 0.22 <= states.count("failed") / len(states) <= 0.38
    assert set(states) == {"finish", "failed"}


# journal file ---------------------------------------------------------------------------


def test_journal_file_has_one_line_per_processed_export_without_the_key(tmp_path) -> None:
    journal = tmp_path / "emulator.jsonl"
    with running_emulator(EmulatorConfig(journal=str(journal))) as emu:
        post_export(emu.url, SAMPLE, key="super-secret-key")
        post_export(emu.url, {"language": "en"}, key="super-secret-key")  # refused
        post_export(emu.url, {**SAMPLE, "text": "second"}, key="super-secret-key")
        # Flushed per line: readable while the emulator still runs.
        lines = journal.read_text(encoding="utf-8").splitlines()

    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records] == ["export", "export"]
    assert [r["body"]["text"] for r in records] == ["Sample Script", "second"]
    assert {"time", "projectId", "taskId", "body"} <= set(records[0])
    assert "super-secret-key" not in journal.read_text(encoding="utf-8")
