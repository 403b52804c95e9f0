"""HTTP plumbing: a threaded HTTP/1.1 server around `EmulatorService`, and ways to run it."""

from __future__ import annotations

import socket
import struct
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from specsync.emulator.api import IDENTITY_HEADERS, Answer, EmulatorService, failure
from specsync.emulator.config import EmulatorConfig


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "specsync-emulator"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    timeout = 60  # idle keep-alive connections are closed after this
    server: _EmulatorHTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def _serve(self) -> None:
        service = self.server.service
        path, _, query = self.path.partition("?")
        body = self._read_body(service.config.max_body_bytes)
        if body is None:
            return
        try:
            # An HTTPMessage: a mapping in all but name (case-insensitive get and []).
            headers: Any = self.headers
            answer = service.handle(self.command, path, headers, body, query)
        except OSError as error:
            # Its own files failed (a full or read-only disk under --journal): no bug, so
            # one line rather than a traceback per request. The answer stays "maybe
            # processed": the export may have been made before its record failed.
            reason = error.strerror or str(error)
            where = f" ({error.filename})" if error.filename else ""
            print(f"specsync emulator: cannot record: {reason}{where}", file=sys.stderr)
            self.close_connection = True
            answer = failure(500, f"the emulator cannot record its work: {reason}")
        except Exception:
            # A bug of ours must still get an answer: a silent close reads as "maybe
            # processed" to a client. The traceback goes to stderr as before.
            traceback.print_exc()
            self.close_connection = True
            answer = failure(500, "internal error in the emulator")
        if answer.drop:
            self._drop_connection()
            return
        self._send(answer)

    def _read_body(self, limit: int) -> bytes | None:
        """The request body; None when an error answer was already sent."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._send(failure(411, "send the body with a Content-Length"))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(failure(400, "invalid Content-Length"))
            return None
        if length > limit:
            # The body stays unread, so this connection cannot carry another request.
            self.close_connection = True
            self._send(failure(413, f"request body over {limit} bytes"))
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in {**answer.headers, **IDENTITY_HEADERS}.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def _drop_connection(self) -> None:
        """Close without answering; linger 0 turns the close into a reset."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed request lines and headers get the service's JSON envelope too.
        self.close_connection = True
        self._send(failure(code, message or self.responses.get(code, ("error",))[0]))

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.service.config.verbose:
            super().log_message(format, *args)


class _EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True  # server_close() joins handler threads (after we wake them)
    request_queue_size = 128

    def __init__(self, config: EmulatorConfig) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((config.host, config.port), _Handler)
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in str(host) else str(host)
        self.url = f"http://{shown}:{port}"
        try:
            self.service = EmulatorService(config, self.url)
        except BaseException:
            self.server_close()
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads waiting on idle keep-alive connections, so they end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer is routine here (fault tests do it on purpose).
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class RunningEmulator:
    """An emulator serving on a background thread (see `running_emulator`)."""

    def __init__(self, config: EmulatorConfig) -> None:
        problems = config.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.config = config
        self._server = _EmulatorHTTPServer(config)
        self.url: str = self._server.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="emulator-server",
            daemon=True,
        )
        self._thread.start()

    @property
    def service(self) -> EmulatorService:
        return self._server.service

    def journal_records(self) -> list[dict[str, Any]]:
        """Processed exports, in order: {"event", "time", "projectId", "taskId", "body", ...}."""
        return self.service.journal.records("export")

    def export_count(self) -> int:
        return self.service.journal.count("export")

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        """Every journal record (exports and webhook outcomes), or those of one event."""
        return self.service.journal.records(event)

    def close(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join()
        self.service.close()


@contextmanager
def running_emulator(config: EmulatorConfig | None = None) -> Iterator[RunningEmulator]:
    """Start an emulator on a background thread; stop it cleanly on leaving the block."""
    emulator = RunningEmulator(config or EmulatorConfig())
    try:
        yield emulator
    finally:
        emulator.close()
