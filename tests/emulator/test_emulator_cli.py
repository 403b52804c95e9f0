"""`specsync emulator` as users run it: a real subprocess, its first line, its signals."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.helpers import SPECSYNC_MODULE, assert_not_a_crash

SAMPLE = {"language": "en", "text": "Sample Script", "model": "M000045058"}


def first_line(process: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the emulator printed nothing"
    return process.stdout.readline().strip()


@contextmanager
def emulator_process(*flags: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [*SPECSYNC_MODULE, "emulator", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, first_line(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_port_0_prints_the_url_first_and_a_signal_stops_it_with_exit_0(signum: int) -> None:
    with emulator_process() as (process, url):
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
        r = requests.post(
            url + "/api/odin/v3/simple/custom",
            data=json.dumps(SAMPLE),
            headers={"Authorization": "k"},
            timeout=5,
        )
        assert r.status_code == 200

        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)

        assert process.returncode == 0
        assert_not_a_crash(stderr)


def test_flags_reach_the_server(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    flags = ("--api-key", "right", "--journal", str(journal), "--render-seconds", "0")
    with emulator_process(*flags) as (process, url):
        export = url + "/api/odin/v3/simple/custom"
        wrong = requests.post(export, json=SAMPLE, headers={"Authorization": "x"}, timeout=5)
        right = requests.post(export, json=SAMPLE, headers={"Authorization": "right"}, timeout=5)
        project_id = right.json()["data"]["projectId"]
        progress = requests.get(
            f"{url}/api/odin/v3/editor/progress/{project_id}",
            headers={"Authorization": "right"},
            timeout=5,
        )
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)

    assert wrong.status_code == 403
    assert progress.json()["data"]["state"] == "finish"
    [record] = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    assert record["projectId"] == project_id
    assert "right" not in journal.read_text(encoding="utf-8")


def test_verbose_off_means_no_request_lines_on_stderr() -> None:
    with emulator_process() as (process, url):
        requests.get(url + "/", timeout=5)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)

    assert stderr == ""


def test_bad_flag_values_exit_1_naming_the_flag() -> None:
    result = subprocess.run(
        [*SPECSYNC_MODULE, "emulator", "--throttle-rate", "2"],
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 1
    assert "--throttle-rate must be between 0 and 1, got 2.0" in result.stderr
    assert result.stdout == ""


def test_a_port_in_use_exits_1_with_a_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*SPECSYNC_MODULE, "emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, "NO_COLOR": "1"},
        )

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "symlink to a fifo", "missing folder"])
def test_a_journal_that_is_no_file_it_can_write_exits_1_at_once(tmp_path: Path, kind: str) -> None:
    # A FIFO given as --journal used to block the start in open() (waiting for a reader),
    # deaf to SIGTERM; a subprocess with a timeout, since the bug is a hang.
    journal = tmp_path / "journal.jsonl"
    if kind == "missing folder":
        journal = tmp_path / "no-such-folder" / "journal.jsonl"
    else:
        os.mkfifo(tmp_path / "fifo")
        journal.symlink_to("fifo") if kind.startswith("symlink") else os.mkfifo(journal)
    result = subprocess.run(
        [*SPECSYNC_MODULE, "emulator", "--port", "0", "--journal", str(journal)],
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 1
    assert_not_a_crash(result)
    assert f"journal {journal}" in result.stderr
    expected = "No such file or directory" if kind == "missing folder" else "a FIFO"
    assert expected in result.stderr
    assert result.stdout == ""  # no URL announced: nothing is served


def test_verbose_logs_each_request_with_its_status() -> None:
    with emulator_process("--verbose", "--rate-limit", "1") as (process, url):
        export = url + "/api/odin/v3/simple/custom"
        for _ in range(2):
            requests.post(export, json=SAMPLE, headers={"Authorization": "k"}, timeout=5)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)

    # bench/run.py counts 429s in this log.
    assert stderr.count('"POST /api/odin/v3/simple/custom HTTP/1.1" 200 -') == 1
    assert stderr.count('"POST /api/odin/v3/simple/custom HTTP/1.1" 429 -') == 1


def test_a_journal_that_cannot_be_opened_exits_1_with_a_message(tmp_path: Path) -> None:
    journal = tmp_path / "missing" / "journal.jsonl"
    result = subprocess.run(
        [*SPECSYNC_MODULE, "emulator", "--journal", str(journal)],
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 1
    assert f"cannot open journal {journal}: No such file or directory" in result.stderr
