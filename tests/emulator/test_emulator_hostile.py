"""Hostile requests get an answer, never a handler crash: odd bytes in paths, headers and
bodies, huge numbers, and the emulator keeps serving afterwards."""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

import pytest
import requests

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator
from tests.helpers.tmpfs import tmpfs

EXPORT = "/api/odin/v3/simple/custom"
SAMPLE = {"language": "en", "text": "Sample Script", "model": "M000045058"}


def status_line(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def get(path: bytes, *headers: bytes) -> bytes:
    lines = [b"GET " + path + b" HTTP/1.1", *headers, b"Connection: close", b"", b""]
    return b"\r\n".join(lines)


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (get(b"/api/odin/v3/editor/progress/\xc3\xa9-abc", b"Authorization: k"), b"404"),
        (get(b"/api/odin/v3/editor/progress/x", b"Authorization: emutok-\xc3\xa9-1"), b"404"),
        (get(b"/api/odin/v3/auth", b"Authorization: emutok-1-\xff"), b"200"),
        (get(b"/downloads/\xc3\xa9.mp4?expires=1&signature=\xc3\xa9"), b"404"),
    ],
)
def test_non_ascii_ids_and_tokens_are_answered(
    emulator: RunningEmulator, request_bytes: bytes, expected: bytes
) -> None:
    assert status_line(emulator.url, request_bytes).split(b" ")[1] == expected
    assert requests.get(emulator.url + "/", timeout=5).status_code == 200


def test_a_non_ascii_key_or_app_id_is_compared_not_crashed_on() -> None:
    config = EmulatorConfig(api_key="the-key", app_id="app")
    with running_emulator(config) as emu:
        token = requests.post(
            emu.url + "/api/odin/v3/auth/token",
            data=json.dumps({"appId": "\u00e9\ud800", "userKey": "u"}),
            timeout=5,
        )
        keyed = status_line(emu.url, get(b"/api/odin/v3/model", b"Authorization: cl\xc3\xa9-\xff"))

    assert token.status_code == 403
    assert keyed.split(b" ")[1] == b"403"


def test_a_range_with_thousands_of_digits_is_ignored() -> None:
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        project_id = requests.post(
            emu.url + EXPORT, json=SAMPLE, headers={"Authorization": "k"}, timeout=5
        ).json()["data"]["projectId"]
        for _ in range(2):  # the URL comes a poll after 100
            url = (
                requests.get(
                    emu.url + "/api/odin/v3/editor/progress/" + project_id,
                    headers={"Authorization": "k"},
                    timeout=5,
                )
                .json()["data"]
                .get("downloadUrl")
            )
        huge = requests.get(url, headers={"Range": "bytes=" + "9" * 5000 + "-"}, timeout=5)

    assert huge.status_code == 200
    assert huge.content[4:8] == b"ftyp"


def test_a_lone_surrogate_in_a_script_is_journalled_escaped(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    body = json.dumps({**SAMPLE, "text": "half a pair: \ud800"})  # valid JSON, not UTF-8
    with running_emulator(EmulatorConfig(journal=str(journal))) as emu:
        answer = requests.post(emu.url + EXPORT, data=body, headers={"Authorization": "k"})

    assert answer.status_code == 200
    [line] = journal.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["body"]["text"] == "half a pair: \ud800"


def test_a_bug_in_a_handler_still_gets_a_500_answer(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("planted bug")

    monkeypatch.setattr(emulator.service, "_auth", broken)

    answer = requests.get(emulator.url + "/api/odin/v3/auth", headers={"Authorization": "k"})

    assert answer.status_code == 500
    assert answer.json()["error"]["msg"] == "internal error in the emulator"
    assert answer.headers["X-Specsync-Emulator"] == "1"
    assert "RuntimeError: planted bug" in capsys.readouterr().err
    assert requests.get(emulator.url + "/", timeout=5).status_code == 200


def test_a_full_disk_under_the_journal_gets_one_line_and_a_maybe_processed_answer(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with tmpfs(tmp_path / "disk", "size=16k") as disk:
        journal = disk / "exports.jsonl"
        config = EmulatorConfig(api_key="k", journal=str(journal))
        with running_emulator(config) as emu:
            with contextlib.suppress(OSError):  # the disk is full then, as wanted
                (disk / "filler").write_bytes(b"x" * 32 * 1024)
            answer = requests.post(
                emu.url + EXPORT, json=SAMPLE, headers={"Authorization": "k"}, timeout=5
            )
            again = requests.post(
                emu.url + EXPORT, json=SAMPLE, headers={"Authorization": "k"}, timeout=5
            )
    err = capfd.readouterr().err
    assert answer.status_code == again.status_code == 500
    assert "No space left on device" in answer.text
    assert "Traceback" not in err
    assert err.count("specsync emulator: cannot record: No space left on device") == 2
