"""apply and status through the installed CLI against a hostile server: signals end a run
promptly with every id safe, numeric options refuse NaN and infinities, every item is
accounted for, server text cannot forge CI log lines, and bad input never exits 3."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import SPECSYNC, assert_not_a_crash, env_for, lock_items, specsync
from tests.helpers.hostile_server import HostileServer, Request

KEY = "hostile-acceptance-key-42"
EXPORT_PATH = "/api/odin/v3/simple/custom"


def write_project(root: Path, videos: int) -> Path:
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    lines = ["specsync: 1", "defaults: {model: M1, locales: [en]}", "videos:"]
    lines += [f'  v{n:02d}: {{script: "Script number {n}."}}' for n in range(videos)]
    (root / "manifests" / "videos.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    return root


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def journal_left(root: Path) -> bool:
    return any((root / ".specsync").glob("*.journal"))


def signal_apply_while(
    root: Path, server: HostileServer, sig: signal.Signals, **extra: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Start apply, send `sig` once the server has seen a request; (result, seconds to exit)."""
    proc = subprocess.Popen(
        [SPECSYNC, "apply", "--concurrency", "1"],
        cwd=root,
        env=env_for(server.url, key=KEY, NO_COLOR="1", **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(server.requests) >= 1)
        time.sleep(0.2)  # into the Retry-After wait, or the trickled answer
        sent = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), elapsed


# -- signals (cases 3 and 5) -------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_retry_after_wait_ends_the_run_within_2s_as_not_sent(
    tmp_path: Path, sig: signal.Signals
) -> None:
    root = write_project(tmp_path, 3)
    with HostileServer("throttle", retry_after="30") as server:
        result, elapsed = signal_apply_while(root, server, sig)
    assert elapsed < 2.0, result.stderr
    assert result.returncode == 130, result.stderr
    assert_not_a_crash(result)
    assert "3 not sent" in result.stderr
    # Only ever 429: nothing was processed, nothing is uncertain, all is created next run.
    assert lock_items(root) == {}
    assert not journal_left(root)
    plan = specsync(
        ["plan", "--format", "json"],
        root,
        env_for(server.url, key=KEY, NO_COLOR="1"),
    )
    assert json.loads(plan.stdout)["summary"]["create"] == 3


# A trickling host and a signal's grace, in real time.
@pytest.mark.slow
def test_sigterm_during_headers_trickled_a_byte_a_second_ends_within_2s_uncertain(
    tmp_path: Path,
) -> None:
    root = write_project(tmp_path, 2)
    with HostileServer("trickle", interval=1.0) as server:
        # The answer never comes: given up when the grace for answers on their way ends.
        result, elapsed = signal_apply_while(
            root, server, signal.SIGTERM, SPECSYNC_REQUEST_DEADLINE="60", SPECSYNC_STOP_GRACE="1"
        )
    assert 1.0 <= elapsed < 2.0, result.stderr
    assert result.returncode == 130, result.stderr
    # The one request in flight may have been processed: uncertain, never forgotten.
    items = lock_items(root)
    assert items["v00/en"]["state"] == "uncertain"
    assert "v01/en" not in items
    assert "1 not sent" in result.stderr


# A trickling host and a real-time request deadline.
@pytest.mark.slow
def test_the_request_deadline_ends_a_trickled_answer_as_uncertain(tmp_path: Path) -> None:
    root = write_project(tmp_path, 1)
    with HostileServer("trickle", interval=0.2) as server:
        started = time.monotonic()
        result = specsync(
            ["apply", "--rate", "100"],
            root,
            env_for(server.url, key=KEY, NO_COLOR="1", SPECSYNC_REQUEST_DEADLINE="1"),
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 10
    assert "deadline" in result.stderr
    assert lock_items(root)["v00/en"]["state"] == "uncertain"
    assert len([r for r in server.requests if r.method == "POST"]) == 1


# -- numeric options (case 4) ------------------------------------------------------------------

FLOAT_OPTIONS = [("apply", "--rate"), ("apply", "--max-minutes"), ("status", "--timeout")]


@pytest.mark.parametrize(("command", "option"), FLOAT_OPTIONS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "infinity"])
def test_nan_and_infinities_are_usage_errors(
    tmp_path: Path, command: str, option: str, value: str
) -> None:
    root = write_project(tmp_path, 1)
    with HostileServer("answer", body=b"{}") as server:
        result = specsync(
            [command, option, value],
            root,
            env_for(server.url, key=KEY, NO_COLOR="1"),
        )
    assert result.returncode == 1, result.stderr
    assert "not a finite number" in result.stderr
    assert_not_a_crash(result)
    assert server.requests == []
    assert not (root / "specsync.lock").exists()


# -- every item accounted for (case 8) ---------------------------------------------------------


def test_a_403_on_twenty_items_accounts_for_all_twenty(tmp_path: Path) -> None:
    root = write_project(tmp_path, 20)
    body = b'{"success": false, "error": {"code": 403, "msg": "forbidden"}}'
    with HostileServer("answer", status=403, body=body) as server:
        result = specsync(
            ["apply", "--rate", "100", "--format", "json"],
            root,
            env_for(server.url, key=KEY, NO_COLOR="1"),
        )
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    counts = {key: len(document[key]) for key in ("submitted", "failed", "uncertain", "notSent")}
    assert sum(counts.values()) + document["summary"]["unchanged"] == 20, counts
    assert counts["uncertain"] == 0
    summary = result.stderr.splitlines()
    line = next(line for line in summary if line.startswith("Apply:"))
    assert f"{counts['failed']} failed" in line and f"{counts['notSent']} not sent" in line
    assert KEY not in result.stderr + result.stdout


# -- server text cannot forge log lines or terminal escapes (case 6) ---------------------------

EVIL_ID = "p-1\n::error::forged\x1b[31m\r::add-mask::x"


def evil(request: Request) -> bytes:
    if request.path == EXPORT_PATH:
        return json.dumps(
            {"success": True, "data": {"projectId": EVIL_ID, "taskId": "t\n"}}
        ).encode()
    return json.dumps(
        {
            "success": True,
            "data": {"progress": 50, "state": "rendering\n::error::x", "downloadUrl": None},
        }
    ).encode()


def assert_no_forged_lines(text: str) -> None:
    assert "\x1b" not in text
    assert "\r" not in text
    assert not any(line.lstrip().startswith("::") for line in text.splitlines())


def test_server_chosen_ids_are_printed_escaped_and_stored_exactly(tmp_path: Path) -> None:
    root = write_project(tmp_path, 1)
    with HostileServer("answer", body=evil) as server:
        applied = specsync(
            ["apply", "--rate", "100"],
            root,
            env_for(server.url, key=KEY, NO_COLOR="1"),
        )
        status = specsync(
            ["status"],
            root,
            env_for(server.url, key=KEY, NO_COLOR="1"),
        )
        status_json = specsync(
            ["status", "--format", "json"],
            root,
            env_for(server.url, key=KEY, NO_COLOR="1"),
        )
    assert applied.returncode == 0, applied.stderr
    assert_no_forged_lines(applied.stderr)
    assert "\\n::error::forged\\x1b[31m" in applied.stderr
    assert lock_items(root)["v00/en"]["projectId"] == EVIL_ID
    assert status.returncode == 0, status.stderr
    assert_no_forged_lines(status.stderr)
    assert json.loads(status_json.stdout)["items"][0]["projectId"] == EVIL_ID


# -- bad input never exits 3 (case 7) ----------------------------------------------------------


@pytest.mark.parametrize(
    "progress", [b"1e999", b'"-inf"', b"NaN", b"-Infinity", b"9" * 5000, b'"' + b"9" * 5000 + b'"']
)
def test_status_with_absurd_progress_values_never_exits_3(tmp_path: Path, progress: bytes) -> None:
    root = write_project(tmp_path, 1)

    def answer(request: Request) -> bytes:
        if request.path == EXPORT_PATH:
            return b'{"success": true, "data": {"projectId": "p-1", "taskId": "t-1"}}'
        return b'{"success": true, "data": {"progress": ' + progress + b', "state": "x"}}'

    with HostileServer("answer", body=answer) as server:
        assert (
            specsync(
                ["apply", "--rate", "100"],
                root,
                env_for(server.url, key=KEY, NO_COLOR="1"),
            ).returncode
            == 0
        )
        result = specsync(
            ["status", "--format", "json"],
            root,
            env_for(server.url, key=KEY, NO_COLOR="1"),
        )
    assert result.returncode in (0, 1), result.stderr
    assert_not_a_crash(result)
    [item] = json.loads(result.stdout)["items"]
    assert item["progress"] is None or 0 <= item["progress"] <= 100


@pytest.mark.parametrize("key", ["key-\u00e9\u4e2d-1", "key\r\nX-Evil: 1", "key\nmore"])
def test_a_key_that_cannot_be_a_header_sends_nothing_and_is_a_clean_error(
    tmp_path: Path, key: str
) -> None:
    root = write_project(tmp_path, 2)
    with HostileServer("answer", body=b"{}") as server:
        env = env_for(server.url, key=KEY, NO_COLOR="1")
        env["AISTUDIOS_API_KEY"] = key
        result = specsync(["apply", "--rate", "100"], root, env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: AISTUDIOS_API_KEY")
    assert "X-Evil" not in result.stderr
    assert_not_a_crash(result)
    assert server.requests == []
    assert not (root / "specsync.lock").exists()
