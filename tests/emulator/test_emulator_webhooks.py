"""Webhooks: progress updates reach a loopback receiver, never carry the key, never block."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator
from specsync.emulator.export_log import Journal
from specsync.emulator.webhooks import QUEUE_FULL, WebhookDispatcher, is_loopback_host

EXPORT = "/api/odin/v3/simple/custom"
SAMPLE = {"language": "en", "text": "Sample Script", "model": "M000045058"}
KEY = "webhook-test-secret-key"


class Receiver:
    """A loopback webhook receiver that records what it gets; can fail or stall on demand."""

    def __init__(self, fail_first: int = 0, stall: float = 0.0) -> None:
        self.calls: list[tuple[dict[str, str], dict[str, Any], str]] = []
        self.attempts = 0
        self.got_final = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                time.sleep(stall)
                if receiver.attempts <= fail_first:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = json.loads(raw)
                receiver.calls.append((dict(self.headers), payload, raw.decode()))
                if payload["progress"] == 100 or "error" in payload:
                    receiver.got_final.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/aistudios"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def export(emulator: RunningEmulator, webhook_url: str) -> dict[str, str]:
    body = {**SAMPLE, "webhookUrl": webhook_url}
    r = requests.post(
        emulator.url + EXPORT, data=json.dumps(body), headers={"Authorization": KEY}, timeout=5
    )
    assert r.status_code == 200
    return r.json()["data"]


def test_receiver_gets_the_final_result_within_seconds_of_a_1s_render(
    emulator: RunningEmulator, receiver: Receiver
) -> None:
    ids = export(emulator, receiver.url)

    assert receiver.got_final.wait(4.0)
    progress = [payload["progress"] for _, payload, _ in receiver.calls]
    assert progress == [25, 50, 75, 100]
    headers, final, raw = receiver.calls[-1]
    # The vendor's documented body: snake-case URL, credit at 100, no projectId.
    download_url = final.pop("download_url")
    assert final == {"backendTaskId": ids["taskId"], "progress": 100.0, "credit": 1.0}
    assert download_url.startswith(f"{emulator.url}/downloads/{ids['projectId']}.mp4?")
    video = requests.get(download_url, timeout=5)
    assert video.status_code == 200
    assert ids["projectId"].encode() in video.content
    for _, payload, _ in receiver.calls[:-1]:
        assert payload == {"backendTaskId": ids["taskId"], "progress": payload["progress"]}
    for headers, _, raw in receiver.calls:
        assert "Authorization" not in headers
        assert KEY not in raw and KEY not in json.dumps(headers)


def test_deliveries_are_journalled_apart_from_exports(receiver: Receiver) -> None:
    with running_emulator(EmulatorConfig(render_seconds=0.2)) as emulator:
        export(emulator, receiver.url)
        assert receiver.got_final.wait(4.0)
        time.sleep(0.05)  # the journal line follows the receiver's answer
        webhooks = emulator.records("webhook")
        exports = emulator.export_count()

    assert [(w["progress"], w["delivered"]) for w in webhooks] == [
        (25, True),
        (50, True),
        (75, True),
        (100, True),
    ]
    assert exports == 1


def test_a_failing_receiver_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    # Retries 0.05 s and 0.1 s after a failure, not 0.5 s and 1 s: the retry is the subject.
    monkeypatch.setattr("specsync.emulator.webhooks.RETRY_DELAY", 0.05)
    flaky = Receiver(fail_first=2)
    try:
        with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
            export(emu, flaky.url)
            assert flaky.got_final.wait(4.0)
            time.sleep(0.05)
            [record] = emu.records("webhook")
    finally:
        flaky.close()
    assert flaky.attempts == 3
    assert record["attempt"] == 3
    assert record["delivered"] is True


def test_a_failed_render_sends_a_final_failed_update(receiver: Receiver) -> None:
    with running_emulator(EmulatorConfig(render_seconds=0.2, render_fail_rate=1.0)) as emu:
        export(emu, receiver.url)
        assert receiver.got_final.wait(4.0)

    final = receiver.calls[-1][1]
    assert final["progress"] == 50.0
    assert final["error"] == {"code": "render_failed", "msg": "render failed"}
    assert "download_url" not in final and "credit" not in final


@pytest.mark.parametrize(
    "url",
    ["http://192.0.2.10/hook", "https://hooks.example.com/aistudios", "http://[2001:db8::1]/h"],
)
def test_non_loopback_receivers_are_journalled_not_delivered(url: str) -> None:
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        export(emu, url)
        deadline = time.monotonic() + 3
        while not emu.records("webhook") and time.monotonic() < deadline:
            time.sleep(0.02)

        [record] = emu.records("webhook")
    assert record["delivered"] is False
    assert record["detail"] == "not delivered: not loopback"
    assert record["url"] == url


def test_localhost_name_is_delivered(receiver: Receiver) -> None:
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        export(emu, receiver.url.replace("127.0.0.1", "localhost"))

        assert receiver.got_final.wait(4.0)


def test_a_stalling_receiver_never_slows_down_exports() -> None:
    slow = Receiver(stall=0.5)  # ten exports waiting on it would take 0.5 s or more
    try:
        with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
            start = time.monotonic()
            for _ in range(10):
                export(emu, slow.url)
            elapsed = time.monotonic() - start
    finally:
        slow.close()
    assert elapsed < 0.5


def test_pending_webhooks_are_capped_and_the_overflow_is_journalled() -> None:
    stalling = Receiver(stall=0.3)
    journal = Journal()
    dispatcher = WebhookDispatcher(journal, workers=1, max_pending=3)
    try:
        now = time.time()
        for n in range(6):
            update = {"backendTaskId": f"t{n}", "progress": 100.0}
            dispatcher.schedule(stalling.url, f"p{n}", [(now, update)])
        pending_at_once = dispatcher.pending
        dropped = journal.records("webhook")
        deadline = time.monotonic() + 5
        while dispatcher.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        drained = dispatcher.pending
    finally:
        dispatcher.close()
        stalling.close()

    assert pending_at_once == 3
    assert [(r["projectId"], r["delivered"], r["detail"]) for r in dropped] == [
        (f"p{n}", False, QUEUE_FULL) for n in (3, 4, 5)
    ]
    assert drained == 0
    delivered = [r["projectId"] for r in journal.records("webhook") if r["delivered"]]
    assert delivered == ["p0", "p1", "p2"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.8.7", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("192.0.2.1", False),
        ("10.0.0.1", False),
        ("no-such-host.invalid", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
