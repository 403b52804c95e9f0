"""specsync.service.client against the real emulator over loopback (and a few canned HTTP servers).

Retries are made instant by a recording `sleep`; what the client waited is checked there.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator
from specsync.service.client import Client, ExportResult
from specsync.service.credentials import Credentials
from specsync.service.errors import AuthError, ClientError, ConfigError
from specsync.service.http.reply import MAX_RESPONSE_BYTES
from tests.helpers.tls import self_signed_certificate

REQUEST = {"language": "en", "text": "Sample Script", "model": "M000045058"}
KEY = "test-key-123"


class Recorder:
    """Stands in for time.sleep and the log callback: keeps what it was given."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.lines: list[str] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def log(self, line: str) -> None:
        self.lines.append(line)


def make_client(url: str, recorder: Recorder, **options: Any) -> Client:
    credentials = options.pop("credentials", Credentials(api_key=KEY))
    return Client(url, credentials, log=recorder.log, sleep=recorder.sleep, **options)


@contextmanager
def emulator_with(**settings: Any) -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(render_seconds=0.1, **settings)) as emu:
        yield emu


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Any, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


# -- accepted ----------------------------------------------------------------------------


def test_export_accepted_returns_the_ids_the_service_recorded(emulator: RunningEmulator) -> None:
    recorder = Recorder()
    with make_client(emulator.url, recorder) as client:
        result = client.export({**REQUEST, "isExport": True})

    assert result.outcome == "accepted"
    assert result.attempts == 1
    assert result.retries == []
    [record] = emulator.records("export")
    assert (result.project_id, result.task_id) == (record["projectId"], record["taskId"])
    assert record["body"] == {**REQUEST, "isExport": True}
    assert recorder.lines == []


def test_exports_from_many_threads_are_each_submitted_once() -> None:
    recorder = Recorder()
    with emulator_with() as emu, make_client(emu.url, recorder) as client:
        requests = [{**REQUEST, "text": f"script {n}"} for n in range(24)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(client.export, requests))

        assert {r.outcome for r in results} == {"accepted"}
        assert len({r.project_id for r in results}) == 24
        assert emu.export_count() == 24
        texts = sorted(record["body"]["text"] for record in emu.records("export"))
        assert texts == sorted(r["text"] for r in requests)


# -- retried: certainly not processed ----------------------------------------------------


def test_throttled_export_is_retried_then_fails_without_being_processed() -> None:
    recorder = Recorder()
    with emulator_with(throttle_rate=1.0, retry_after=0.1) as emu:
        with make_client(emu.url, recorder, max_attempts=4) as client:
            result = client.export(REQUEST)

        assert emu.export_count() == 0
    assert result.outcome == "failed"
    assert result.attempts == 4
    assert result.message.startswith("gave up after 4 attempts: HTTP 429")
    assert result.code == "429"
    # Retry-After holds whole seconds: the emulator rounds 0.1 up to 1, and it is honoured.
    assert recorder.sleeps == [1.0, 1.0, 1.0]
    assert result.retries == ["HTTP 429, waited 1.0 s"] * 3
    assert len(recorder.lines) == 3
    assert all("HTTP 429" in line for line in recorder.lines)


def test_unavailable_503_is_retried_until_accepted_and_never_duplicated() -> None:
    recorder = Recorder()
    with emulator_with(fail_rate=0.5, seed=7, retry_after=0) as emu:
        with make_client(emu.url, recorder, max_attempts=30) as client:
            results = [client.export({**REQUEST, "text": f"s{n}"}) for n in range(10)]

        assert [r.outcome for r in results] == ["accepted"] * 10
        assert emu.export_count() == 10
    retried = [r for r in results if r.attempts > 1]
    assert retried, "a 50 % fail rate over 10 exports retries at least once"
    assert all(line.startswith("HTTP 503, waited 0.0 s") for r in retried for line in r.retries)
    assert sum(r.attempts for r in results) == 10 + len(recorder.sleeps)


def test_503_that_persists_gives_up_as_failed() -> None:
    recorder = Recorder()
    with emulator_with(fail_rate=1.0, retry_after=0) as emu:
        with make_client(emu.url, recorder, max_attempts=3) as client:
            result = client.export(REQUEST)
        assert emu.export_count() == 0
    assert result.outcome == "failed"
    assert result.message.startswith("gave up after 3 attempts: HTTP 503")


def test_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    recorder = Recorder()
    with (
        emulator_with(throttle_rate=1.0, retry_after=30) as emu,
        make_client(emu.url, recorder, max_retry_seconds=10) as client,
    ):
        result = client.export(REQUEST)
    assert result.outcome == "failed"
    assert result.attempts == 1
    assert recorder.sleeps == []
    assert "the server asked to wait 30 s, beyond the 10 s retry budget" in result.message


def test_connection_refused_is_retried_with_jittered_backoff_then_fails() -> None:
    recorder = Recorder()
    url = f"http://127.0.0.1:{unused_port()}"
    with make_client(url, recorder, max_attempts=5) as client:
        result = client.export(REQUEST)

    assert result.outcome == "failed"
    assert result.attempts == 5
    assert result.message == "gave up after 5 attempts: connection refused"
    assert len(recorder.sleeps) == 4
    # Full jitter: each wait lies in [0, min(30, 0.5 * 2 ** (n - 1))].
    for number, waited in enumerate(recorder.sleeps, start=1):
        assert 0 <= waited <= min(30.0, 0.5 * 2 ** (number - 1))
    assert len(recorder.lines) == 4


def test_retry_budget_bounds_backoff_waits() -> None:
    recorder = Recorder()
    url = f"http://127.0.0.1:{unused_port()}"
    with make_client(url, recorder, max_attempts=100, max_retry_seconds=5) as client:
        result = client.export(REQUEST)
    assert result.outcome == "failed"
    assert sum(recorder.sleeps) <= 5
    assert "5 s retry budget spent" in result.message
    assert result.attempts < 100


# -- ambiguous: never retried ------------------------------------------------------------


def test_dropped_connection_is_uncertain_and_not_resubmitted() -> None:
    recorder = Recorder()
    with emulator_with(drop_rate=1.0) as emu:
        with make_client(emu.url, recorder) as client:
            result = client.export(REQUEST)
        assert emu.export_count() == 1
    assert result.outcome == "uncertain"
    assert result.attempts == 1
    assert result.project_id is None
    assert recorder.sleeps == []
    assert "no answer" in result.message


def test_read_timeout_after_sending_is_uncertain_and_not_resubmitted() -> None:
    recorder = Recorder()
    with emulator_with(latency=0.6) as emu:
        with make_client(emu.url, recorder, read_timeout=0.2) as client:
            result = client.export(REQUEST)
        # The request was sent: the emulator processes it after its latency.
        assert wait_for(lambda: emu.export_count() == 1)
        time.sleep(0.1)
        assert emu.export_count() == 1
    assert result.outcome == "uncertain"
    assert result.attempts == 1
    assert "read timeout" in result.message
    assert recorder.sleeps == []


# -- refused by the service ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**REQUEST, "text": "  "}, "'text' must not be empty"),
        ({"language": "en", "text": "hi"}, "'model' is required"),
        ({**REQUEST, "isExport": "yes"}, "'isExport' must be a boolean"),
    ],
)
def test_invalid_request_fails_with_the_service_message(
    emulator: RunningEmulator, body: dict[str, Any], expected: str
) -> None:
    recorder = Recorder()
    with make_client(emulator.url, recorder) as client:
        result = client.export(body)
    assert result.outcome == "failed"
    assert result.code == "400"
    assert result.message.startswith("HTTP 400: ")
    assert expected in result.message
    assert result.attempts == 1
    assert emulator.export_count() == 0


def test_wrong_key_raises_auth_error_without_showing_the_key() -> None:
    recorder = Recorder()
    with emulator_with(api_key="the-right-key") as emu:
        client = make_client(emu.url, recorder, credentials=Credentials(api_key="wrong-key-456"))
        with client, pytest.raises(AuthError) as caught:
            client.export(REQUEST)
        assert emu.export_count() == 0
    message = str(caught.value)
    assert "HTTP 403" in message
    assert "AISTUDIOS_API_KEY" in message
    assert "wrong-key-456" not in message
    assert "the-right-key" not in message


def test_token_flow_fetches_a_token_and_uses_it() -> None:
    recorder = Recorder()
    credentials = Credentials(app_id="app-1", user_key="user-key-secret")
    with emulator_with(api_key="unused-raw-key", app_id="app-1", user_key="user-key-secret") as emu:
        with make_client(emu.url, recorder, credentials=credentials) as client:
            results = [client.export(REQUEST) for _ in range(3)]
            assert "progress" in client.progress(results[0].project_id or "")
        assert [r.outcome for r in results] == ["accepted"] * 3
        assert emu.export_count() == 3


def test_expired_token_is_replaced_once_and_the_request_retried() -> None:
    recorder = Recorder()
    credentials = Credentials(app_id="app-1", user_key="user-key-secret")

    # A client clock an hour behind: the token's JWT `exp` looks far off to the client, so
    # the service's 401 is what tells it the token expired.
    def late_clock() -> float:
        return time.time() - 3600

    with emulator_with(app_id="app-1", user_key="user-key-secret", token_ttl=0.5) as emu:
        with make_client(emu.url, recorder, credentials=credentials, clock=late_clock) as client:
            assert client.export(REQUEST).outcome == "accepted"
            time.sleep(0.6)  # the cached token expires
            result = client.export(REQUEST)
        assert emu.export_count() == 2
    assert result.outcome == "accepted"
    assert result.attempts == 2
    assert result.retries == ["HTTP 401 with a cached token: fetched a new token"]
    assert any("fetching a new one" in line for line in recorder.lines)


def test_rejected_app_id_and_user_key_raise_auth_error() -> None:
    recorder = Recorder()
    credentials = Credentials(app_id="app-1", user_key="wrong-user-key")
    with emulator_with(app_id="app-1", user_key="right-user-key") as emu:
        client = make_client(emu.url, recorder, credentials=credentials)
        with client, pytest.raises(AuthError) as caught:
            client.export(REQUEST)
        assert emu.export_count() == 0
    message = str(caught.value)
    assert "AISTUDIOS_APP_ID" in message and "AISTUDIOS_USER_KEY" in message
    assert "wrong-user-key" not in message and "right-user-key" not in message


def test_canary_key_never_appears_in_logs_results_or_errors() -> None:
    canary = "canary-XYZ"
    recorder = Recorder()
    texts: list[str] = []
    credentials = Credentials(api_key=canary)
    texts.append(repr(credentials))
    with (
        emulator_with(throttle_rate=1.0, retry_after=0) as emu,
        make_client(emu.url, recorder, credentials=credentials, max_attempts=3) as client,
    ):
        texts.append(repr(client))
        texts.append(repr(client.export(REQUEST)))
    with (
        emulator_with(drop_rate=1.0) as emu,
        make_client(emu.url, recorder, credentials=credentials) as c,
    ):
        texts.append(repr(c.export(REQUEST)))
    with (
        emulator_with(api_key="another-key") as emu,
        make_client(emu.url, recorder, credentials=credentials) as c,
    ):
        with pytest.raises(AuthError) as auth_error:
            c.export(REQUEST)
        with pytest.raises(AuthError) as progress_error:
            c.progress("emu-whatever")
        texts += [str(auth_error.value), repr(auth_error.value), str(progress_error.value)]
    url = f"http://127.0.0.1:{unused_port()}"
    with make_client(url, recorder, credentials=credentials, max_attempts=2) as client:
        texts.append(repr(client.export(REQUEST)))
        with pytest.raises(ClientError) as client_error:
            client.progress("emu-whatever")
        texts.append(str(client_error.value))
    with pytest.raises(ConfigError) as config_error:
        Client("http://192.0.2.1", credentials)
    texts.append(str(config_error.value))

    texts += recorder.lines
    assert len(recorder.lines) >= 3
    for text in texts:
        assert canary not in text
        assert "XYZ" not in text


# -- progress ------------------------------------------------------------------------------


def test_progress_reports_rendering_then_done_with_a_download_url() -> None:
    recorder = Recorder()
    with emulator_with() as emu, make_client(emu.url, recorder) as client:
        result = client.export(REQUEST)
        assert result.project_id is not None
        first = client.progress(result.project_id)
        assert set(first) == {"progress", "state"}  # the progress page's fields, and a word
        # Floats reach the caller as the text they were sent as (NumberText): status
        # decides what a number means, so a hostile 1e999 can never become inf here.
        assert 0 <= float(first["progress"]) <= 100
        assert wait_for(lambda: float(client.progress(result.project_id or "")["progress"]) == 100)
        done = client.progress(result.project_id)  # the URL comes a poll after 100
    assert done["state"] == "finish"
    assert done["downloadUrl"].startswith(emu.url)


def test_progress_of_an_unknown_project_is_a_404_client_error(emulator: RunningEmulator) -> None:
    with make_client(emulator.url, Recorder()) as client, pytest.raises(ClientError) as caught:
        client.progress("no-such/project")
    assert caught.value.status == 404
    assert "HTTP 404" in str(caught.value)


def test_progress_with_a_rejected_key_raises_auth_error() -> None:
    with (
        emulator_with(api_key="right-key-1") as emu,
        make_client(emu.url, Recorder()) as client,
        pytest.raises(AuthError),
    ):
        client.progress("emu-1")


# -- answers of other shapes (canned servers) ------------------------------------------------


class Canned:
    """A loopback server that answers every request with one fixed response."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    def write_body(self, wfile: Any) -> None:
        wfile.write(self.body)


@contextmanager
def canned_server(canned: Canned, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            canned.requests.append((self.path, dict(self.headers), self.rfile.read(length)))
            self.send_response(canned.status)
            self.send_header("Content-Length", str(len(canned.body)))
            for name, value in canned.headers.items():
                self.send_header(name, value)
            self.end_headers()
            canned.write_body(self.wfile)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True  # a handler still writing to a client that left is not awaited
    if tls is not None:
        # A failed handshake surfaces as an OSError in accept(), which the server ignores.
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def export_against(canned: Canned, **options: Any) -> ExportResult:
    with canned_server(canned) as url, make_client(url, Recorder(), **options) as client:
        return client.export(REQUEST)


def test_a_bare_body_with_ids_is_accepted_and_the_key_sent_raw() -> None:
    canned = Canned(200, b'{"projectId": "p-1", "taskId": "t-1"}')
    result = export_against(canned)
    assert (result.outcome, result.project_id, result.task_id) == ("accepted", "p-1", "t-1")
    [(path, headers, body)] = canned.requests
    assert path == "/api/odin/v3/simple/custom"
    assert headers["Authorization"] == KEY
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == REQUEST


@pytest.mark.parametrize(
    "body",
    [b"<html>ok</html>", b'{"success": true, "data": {"taskId": "t"}}', b"{}", b"[1, 2]"],
)
def test_a_2xx_without_a_project_id_is_uncertain(body: bytes) -> None:
    result = export_against(Canned(200, body))
    assert result.outcome == "uncertain"
    assert "projectId" in result.message


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_other_than_503_is_uncertain_and_not_retried(status: int) -> None:
    canned = Canned(status, b'{"success": false, "error": {"code": "E9", "msg": "boom"}}')
    result = export_against(canned)
    assert result.outcome == "uncertain"
    assert result.attempts == 1
    assert len(canned.requests) == 1
    assert f"HTTP {status}: boom (code E9)" in result.message


@pytest.mark.parametrize(
    ("body", "code", "text"),
    [
        (
            b'{"success": false, "error": {"code": 1002, "msg": "invalid model"}}',
            "1002",
            "invalid model",
        ),
        (b'{"code": "E1", "message": "bad language"}', "E1", "bad language"),
        (b'{"error": "nope"}', None, "nope"),
        (b"plain text refusal", None, "plain text refusal"),
        (b"", None, "no error message"),
    ],
)
def test_other_4xx_fail_with_whatever_the_service_said(
    body: bytes, code: str | None, text: str
) -> None:
    result = export_against(Canned(422, body))
    assert result.outcome == "failed"
    assert result.code == code
    assert result.message.startswith(f"HTTP 422: {text}")


def test_an_oversized_answer_is_cut_off() -> None:
    huge = b'{"projectId": "' + b"x" * (2 * MAX_RESPONSE_BYTES) + b'"}'
    result = export_against(Canned(200, huge))
    assert result.outcome == "uncertain"


def test_an_answer_that_trickles_in_past_the_read_timeout_is_uncertain() -> None:
    class Trickle(Canned):
        def write_body(self, wfile: Any) -> None:
            for byte in self.body:
                wfile.write(bytes([byte]))
                wfile.flush()
                time.sleep(0.02)

    canned = Trickle(200, b'{"projectId": "p-1", "taskId": "t-1"}')
    result = export_against(canned, read_timeout=0.2)
    assert result.outcome == "uncertain"
    assert "longer than the read timeout" in result.message
    assert len(canned.requests) == 1


def test_a_redirect_is_not_followed() -> None:
    canned = Canned(302, b"", {"Location": "http://127.0.0.1:9/elsewhere"})
    result = export_against(canned)
    assert result.outcome == "failed"
    assert "redirect" in result.message
    assert len(canned.requests) == 1


def test_server_text_echoing_the_key_is_redacted() -> None:
    body = json.dumps({"success": False, "error": {"code": 1, "msg": f"bad key {KEY}"}})
    result = export_against(Canned(400, body.encode()))
    assert KEY not in result.message
    assert "bad key ***" in result.message


def test_retry_after_as_an_http_date_is_honoured() -> None:
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=20)
    header = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    recorder = Recorder()
    canned = Canned(429, b"{}", {"Retry-After": header})
    with canned_server(canned) as url, make_client(url, recorder, max_attempts=2) as client:
        result = client.export(REQUEST)
    assert result.outcome == "failed"
    [waited] = recorder.sleeps
    assert 17 <= waited <= 20


def test_progress_is_retried_on_503_and_then_reported() -> None:
    canned = Canned(503, b'{"success": false, "error": {"code": 503, "msg": "busy"}}')
    canned.headers["Retry-After"] = "0"
    with (
        canned_server(canned) as url,
        make_client(url, Recorder(), max_attempts=3) as client,
        pytest.raises(ClientError) as caught,
    ):
        client.progress("p-1")
    assert caught.value.status == 503
    assert str(caught.value).startswith("gave up after 3 attempts: HTTP 503")
    assert len(canned.requests) == 3
    assert canned.requests[0][0] == "/api/odin/v3/editor/progress/p-1"


def test_progress_answer_that_is_not_json_is_a_client_error() -> None:
    with (
        canned_server(Canned(200, b"<html/>")) as url,
        make_client(url, Recorder()) as client,
        pytest.raises(ClientError, match="not the expected JSON"),
    ):
        client.progress("p-1")


def test_no_token_to_be_had_fails_the_export_without_sending_it() -> None:
    canned = Canned(503, b"busy", {"Retry-After": "0"})
    credentials = Credentials(app_id="app-1", user_key="user-key-secret")
    result = export_against(canned, credentials=credentials, max_attempts=2)
    assert result.outcome == "failed"
    assert result.attempts == 0
    assert result.message == (
        "could not get an auth token: gave up after 2 attempts: HTTP 503: busy"
    )
    assert [path for path, _, _ in canned.requests] == ["/api/odin/v3/auth/token"] * 2
    assert json.loads(canned.requests[0][2]) == {"appId": "app-1", "userKey": "user-key-secret"}


def test_a_closed_client_sends_nothing(emulator: RunningEmulator) -> None:
    client = make_client(emulator.url, Recorder())
    client.close()
    result = client.export(REQUEST)
    assert result.outcome == "failed"
    assert "closed" in result.message
    assert emulator.export_count() == 0


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key."""
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_an_untrusted_certificate_fails_without_retry_or_sending(
    self_signed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    recorder = Recorder()
    canned = Canned(200, b'{"projectId": "p-1", "taskId": "t-1"}')
    with (
        canned_server(canned, tls_context(*self_signed)) as url,
        make_client(url, recorder) as client,
    ):
        result = client.export(REQUEST)
    assert result.outcome == "failed"
    assert result.attempts == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.message
    assert "REQUESTS_CA_BUNDLE" in result.message
    assert canned.requests == []


def test_requests_ca_bundle_is_honoured(
    self_signed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(self_signed[0]))
    canned = Canned(200, b'{"projectId": "p-1", "taskId": "t-1"}')
    with canned_server(canned, tls_context(*self_signed)) as url:
        assert url.startswith("https://")
        with make_client(url, Recorder()) as client:
            result = client.export(REQUEST)
    assert (result.outcome, result.project_id) == ("accepted", "p-1")
    assert canned.requests[0][1]["Authorization"] == KEY


# -- settings --------------------------------------------------------------------------------


def test_client_refuses_plain_http_to_a_remote_host_before_any_network() -> None:
    recorder = Recorder()
    with pytest.raises(ConfigError):
        make_client("http://192.0.2.1:80", recorder)
    assert recorder.lines == []


# which service answered ------------------------------------------------------------------


@contextmanager
def _plain_server(marked_paths: tuple[str, ...] = ()) -> Iterator[str]:
    """Answers every request 200 with ids; the X-Specsync-Emulator header on `marked_paths`."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = json.dumps({"success": True, "data": {"projectId": "P1", "taskId": "T1"}})
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            if self.path in marked_paths:
                self.send_header("x-specsync-emulator", "1")  # any case
            self.end_headers()
            self.wfile.write(body.encode())

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_emulator_is_recognised_by_its_header_before_and_in_each_answer(
    emulator: RunningEmulator,
) -> None:
    with Client(emulator.url, Credentials(api_key="k-identity")) as client:
        assert client.identify_service() is True
        result = client.export({"language": "en", "text": "Hi", "model": "M1"})
    assert result.outcome == "accepted" and result.emulator is True
    assert client.emulator_seen


def test_a_service_without_the_header_is_real_and_no_answer_is_unknown() -> None:
    with _plain_server() as url, Client(url, Credentials(api_key="k-identity")) as client:
        assert client.identify_service() is False
        result = client.export({"language": "en", "text": "Hi", "model": "M1"})
        assert result.outcome == "accepted" and result.emulator is False
        assert not client.emulator_seen
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with Client(f"http://127.0.0.1:{closed_port}", Credentials(api_key="k")) as client:
        assert client.identify_service() is None


def test_an_export_answer_marked_as_emulator_is_noted_even_when_get_slash_is_not() -> None:
    with (
        _plain_server(marked_paths=("/api/odin/v3/simple/custom",)) as url,
        Client(url, Credentials(api_key="k-identity")) as client,
    ):
        assert client.identify_service() is False
        result = client.export({"language": "en", "text": "Hi", "model": "M1"})
    assert result.outcome == "accepted" and result.emulator is True
    assert (result.project_id, result.task_id) == ("P1", "T1")
