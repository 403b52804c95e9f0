"""The deadline on a whole HTTP attempt is kept at its socket by the thread that runs the
attempt (service/http/deadline.py): no thread is started per attempt; headers or a body
trickled a byte at a time, a server that never reads the request, a silent TLS server
and a connect that hangs each end at the deadline, or at once on a cancel."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from specsync.item_words import ItemOutcome
from specsync.service.apply import ApplyOptions, run_apply
from specsync.service.client import Client, ExportResult
from specsync.service.credentials import Credentials
from specsync.service.http.deadline import AttemptScope, DeadlinePassed, DeadlineSocket
from specsync.service.http.transport import Request, Transport
from tests.helpers.apply_fixtures import Quiet, items
from tests.helpers.fake_service import standalone_emulator
from tests.helpers.hostile_server import HostileServer, read_request
from tests.helpers.threads import threads_started
from tests.helpers.tls import self_signed_certificate

KEY = "deadline-test-key-123"
REQUEST = {"language": "en", "text": "Sample Script", "model": "M000045058"}
ACCEPTED = b'{"success": true, "data": {"projectId": "p-1", "taskId": "t-1"}}'


def client_for(url: str, **options: Any) -> Client:
    return Client(url, Credentials(api_key=KEY), sleep=lambda seconds: None, **options)


def timed_export(client: Client, request: dict[str, Any] = REQUEST) -> tuple[ExportResult, float]:
    started = time.monotonic()
    result = client.export(request)
    return result, time.monotonic() - started


class RawServer:
    """A loopback listener handing each connection to `handle` in a thread of its own
    (over TLS when given a context); counts the connections it accepted."""

    def __init__(
        self,
        handle: Callable[[socket.socket, threading.Event], None],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._handle = handle
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.stopping = threading.Event()
        self.accepted = 0
        self._connections: list[threading.Thread] = []
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self._connections:  # each closes its socket as it ends
            connection.join(timeout=5)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._connections.append(connection)
            connection.start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(10)
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            with conn:
                self._handle(conn, self.stopping)


# -- no thread per attempt ---------------------------------------------------------------------


def test_fifty_attempts_start_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The old client started a thread per attempt (it enforced the deadline): 50 there."""
    with standalone_emulator() as url:  # another process: its threads are not counted
        before = threading.active_count()
        with threads_started(monkeypatch) as started, client_for(url) as client:
            results = [client.export(REQUEST) for _ in range(50)]
        after = threading.active_count()
    assert [result.outcome for result in results] == ["accepted"] * 50
    assert started == []
    assert after == before


def test_apply_sends_fifty_items_on_a_bounded_pool_of_threads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Several requests in flight still: apply's pool threads, at most --concurrency of
    them, each running one attempt after another (the old client added one per attempt)."""
    with (
        standalone_emulator("--latency", "0.05") as url,
        threads_started(monkeypatch) as started,
    ):
        report = run_apply(
            items(50),
            tmp_path / "specsync.lock",
            lambda: Client(url, Credentials(api_key=KEY)),
            ApplyOptions(concurrency=4, rate=200.0, emulator=True),
            Quiet(),
        )
    assert len(report.of(ItemOutcome.SUBMITTED)) == 50
    assert 2 <= len(started) <= 4, started  # concurrent, and bounded
    assert all(name.startswith("ThreadPoolExecutor") for name in started), started


# -- the deadline ------------------------------------------------------------------------------


# Two deadlines in the quick run; a longer one (1.5 s of waiting) in the whole suite.
@pytest.mark.parametrize("deadline", [0.5, 0.8, pytest.param(1.5, marks=pytest.mark.slow)])
def test_headers_at_a_byte_at_a_time_end_at_the_configured_deadline(deadline: float) -> None:
    with (
        HostileServer("trickle", interval=0.05) as server,
        client_for(server.url, request_deadline=deadline, read_timeout=30) as client,
    ):
        result, took = timed_export(client)
    assert result.outcome == "uncertain"
    assert f"within the {deadline:g} s request deadline" in result.message
    assert deadline <= took < deadline + 1.0  # not the 30 s read timeout
    assert len(server.requests) == 1  # never resubmitted


def trickle_body(conn: socket.socket, stopping: threading.Event) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    conn.sendall(f"Content-Length: {len(ACCEPTED)}\r\n\r\n".encode())
    for byte in ACCEPTED:
        if stopping.wait(0.05):
            return
        conn.sendall(bytes([byte]))


def test_a_body_at_a_byte_at_a_time_ends_at_the_deadline() -> None:
    with (
        RawServer(trickle_body) as server,
        client_for(server.url, request_deadline=0.5, read_timeout=30) as client,
    ):
        result, took = timed_export(client)
    assert result.outcome == "uncertain"
    assert "within the 0.5 s request deadline" in result.message
    assert 0.5 <= took < 1.5


def never_read(conn: socket.socket, stopping: threading.Event) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stopping.wait()


def test_a_server_that_never_reads_the_request_ends_it_at_the_deadline() -> None:
    """The request is written within the deadline too (an SSLSocket's sendall would give
    each piece a fresh timeout; a plain one the connect timeout, here 30 s)."""
    body = b"x" * 64 * 1024 * 1024  # more than the socket buffers hold
    with RawServer(never_read) as server:
        transport = Transport(server.url, timeout=(30.0, 30.0), deadline=0.5)
        started = time.monotonic()
        attempt = transport.attempt(Request("POST", "/", body, {}, idempotent=False))
        took = time.monotonic() - started
        transport.close()
    assert (attempt.reply, attempt.sent, attempt.retryable) == (None, True, False)
    assert "within the 0.5 s request deadline" in attempt.error
    assert 0.5 <= took < 1.5


def silent(conn: socket.socket, stopping: threading.Event) -> None:
    stopping.wait()


def test_a_tls_server_that_never_answers_the_handshake_ends_at_the_deadline() -> None:
    """Nothing of the request was sent: not uncertain (retried, here once)."""
    with (
        RawServer(silent) as server,
        client_for(
            server.url.replace("http:", "https:"),
            request_deadline=0.5,
            connect_timeout=30,
            max_attempts=2,
        ) as client,
    ):
        result, took = timed_export(client)
    assert (result.outcome, result.attempts) == ("failed", 2)
    assert 1.0 <= took < 3.0


# -- cancel --------------------------------------------------------------------------------------


def cancelled_after(client: Client, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, client.cancel)
    timer.start()
    return timer


def test_cancel_ends_a_tls_handshake_at_once_as_not_sent() -> None:
    with (
        RawServer(silent) as server,
        client_for(
            server.url.replace("http:", "https:"), request_deadline=30, connect_timeout=30
        ) as client,
    ):
        cancelled_after(client, 0.3)
        result, took = timed_export(client)
    assert (result.outcome, result.not_sent) == ("failed", True)
    assert took < 1.5  # the cancel came at 0.3 s; the deadline is 30 s


@contextlib.contextmanager
def listener_that_never_accepts() -> Iterator[str]:
    """A listener whose accept queue is full: Linux drops the next SYN, so a connect to
    it hangs (retransmitting) until its timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(address)
            fillers.append(filler)
        yield f"http://127.0.0.1:{address[1]}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_cancel_ends_a_hanging_connect_at_once_as_not_sent() -> None:
    with (
        listener_that_never_accepts() as url,
        client_for(url, request_deadline=30, connect_timeout=30) as client,
    ):
        probe = socket.socket()
        probe.settimeout(0.3)
        with pytest.raises(TimeoutError), probe:  # the connect does hang
            probe.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        cancelled_after(client, 0.3)
        result, took = timed_export(client)
    assert (result.outcome, result.not_sent) == ("failed", True)
    assert took < 1.5  # the cancel came at 0.3 s; the deadline is 30 s


def test_cancel_ends_every_attempt_in_flight_at_once() -> None:
    """Eight requests held unanswered, each in its own caller's thread: one cancel ends all
    of them within a fraction of a second, each uncertain (they were sent)."""
    server = HostileServer("scripted", body=ACCEPTED, delay=lambda number, since: None)
    with server, client_for(server.url, request_deadline=30) as client:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(timed_export, client) for _ in range(8)]
            while len(server.requests) < 8:
                time.sleep(0.01)
            cancelled_at = time.monotonic()
            client.cancel()
            outcomes = [future.result(timeout=5)[0].outcome for future in futures]
            ended = time.monotonic() - cancelled_at
        again = client.export(REQUEST)
    assert outcomes == ["uncertain"] * 8
    assert ended < 1.0
    assert (again.outcome, again.not_sent) == ("failed", True)  # nothing starts after
    assert len(server.requests) == 8


# -- what the socket stand-in must keep -------------------------------------------------------


def answer_and_close(conn: socket.socket, stopping: threading.Event, pause: float = 0.05) -> None:
    """`Connection: close` and no length: the body is what comes until the close (http.client
    hands the socket to the response and closes the connection's hold of it); the body
    comes `pause` seconds after the head."""
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    time.sleep(pause)
    conn.sendall(ACCEPTED)


def chunked(conn: socket.socket, stopping: threading.Event) -> None:
    while read_request(conn) is not None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(ACCEPTED), 20):
            piece = ACCEPTED[start : start + 20]
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")


@pytest.mark.parametrize("handle", [answer_and_close, chunked], ids=["close", "chunked"])
def test_an_answer_framed_by_close_or_chunks_is_read_whole(
    handle: Callable[[socket.socket, threading.Event], None],
) -> None:
    with RawServer(handle) as server, client_for(server.url) as client:
        result = client.export(REQUEST)
    assert (result.outcome, result.project_id, result.task_id) == ("accepted", "p-1", "t-1")


def test_one_connection_carries_attempt_after_attempt() -> None:
    """The pooled connection is checked (poll on the stand-in's descriptor) and reused."""
    with RawServer(chunked) as server, client_for(server.url) as client:
        results = [client.export(REQUEST) for _ in range(10)]
    assert [result.project_id for result in results] == ["p-1"] * 10
    assert server.accepted == 1


def test_the_scope_refuses_an_operation_once_its_deadline_passed() -> None:
    now = [100.0]
    scope = AttemptScope(2.0, clock=lambda: now[0])
    assert scope.timeout_for(5.0) == (2.0, True)
    assert scope.timeout_for(1.0) == (1.0, False)
    assert scope.timeout_for(None) == (2.0, True)
    now[0] = 102.0
    with pytest.raises(DeadlinePassed):
        scope.timeout_for(5.0)
    assert scope.expired


def test_answers_keep_their_json_through_the_stand_in() -> None:
    body = json.dumps({"success": True, "data": {"projectId": "p-" + "9" * 70_000}}).encode()
    with HostileServer("answer", body=body) as server, client_for(server.url) as client:
        result = client.export(REQUEST)
    assert result.project_id == "p-" + "9" * 70_000


# -- TLS and proxies ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server_context(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1 (made with the openssl command),
    and the certificate for the client to trust."""
    cert, key = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


def test_over_tls_one_connection_carries_attempt_after_attempt(
    tls_server_context: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    context, cert = tls_server_context
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with RawServer(chunked, context) as server, client_for(server.url) as client:
        results = [client.export(REQUEST) for _ in range(10)]
    assert [result.project_id for result in results] == ["p-1"] * 10
    assert server.accepted == 1


def test_over_tls_a_body_at_a_byte_at_a_time_ends_at_the_deadline(
    tls_server_context: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    context, cert = tls_server_context
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with (
        RawServer(trickle_body, context) as server,
        client_for(server.url, request_deadline=0.5, read_timeout=30) as client,
    ):
        result, took = timed_export(client)
    assert result.outcome == "uncertain"
    assert "within the 0.5 s request deadline" in result.message
    assert 0.5 <= took < 1.5


def test_through_an_http_proxy_the_deadline_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY is honoured (requests' own proxy managers): their connections keep the
    deadline too. The proxy here trickles its answer."""
    with HostileServer("trickle", interval=0.05) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with client_for("http://127.0.0.1:9", request_deadline=0.5, read_timeout=30) as client:
            result, took = timed_export(client)
    assert len(proxy.requests) == 1 and proxy.requests[0].path.startswith("http://127.0.0.1:9/")
    assert result.outcome == "uncertain"
    assert "within the 0.5 s request deadline" in result.message
    assert 0.5 <= took < 1.5


def test_a_bug_in_the_socket_layer_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not taken for a transport outcome (no 'uncertain'): the caller sees the bug, as
    apply's main() does (exit 3, tests/service/test_bugs_surface.py)."""

    def broken(self: DeadlineSocket, *args: Any) -> int:
        raise TypeError("injected")

    monkeypatch.setattr(DeadlineSocket, "recv_into", broken)
    with (
        HostileServer("answer", body=ACCEPTED) as server,
        client_for(server.url) as client,
        pytest.raises(TypeError, match="injected"),
    ):
        client.export(REQUEST)


def open_descriptors() -> set[tuple[str, str]]:
    """This process's open descriptors, each with what it points at (a socket's inode): one
    opened here and left open shows as new even when a socket an earlier test left behind
    closes meanwhile (a count would then come out even) or its number is taken again."""
    found = set()
    for number in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed while listed, or listdir's own
            target = os.readlink(f"/proc/self/fd/{number}")
            if not target.startswith("/proc/"):
                found.add((number, target))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_no_descriptor_is_left_behind_by_connections_or_cancels() -> None:
    """A new connection per attempt (`Connection: close`), and attempts cancelled while
    connecting or reading: every socket and its duplicate is closed."""
    before = open_descriptors()
    at_once = functools.partial(answer_and_close, pause=0)  # 30 pauses would be 1.5 s
    with RawServer(at_once) as server, client_for(server.url) as client:
        results = [client.export(REQUEST) for _ in range(30)]
    with RawServer(silent) as server, client_for(server.url, request_deadline=30) as client:
        cancelled_after(client, 0.2)
        stopped = client.export(REQUEST)
    with (
        RawServer(silent) as server,
        client_for(server.url.replace("http:", "https:"), request_deadline=30) as client,
    ):
        cancelled_after(client, 0.2)
        client.export(REQUEST)
    assert [result.project_id for result in results] == ["p-1"] * 30
    assert stopped.outcome == "uncertain"
    assert open_descriptors() - before == set()
