"""A loopback HTTP server that misbehaves on purpose, for the "trust under hostile
conditions" regression tests (client, apply and the CLI through it).

Raw sockets rather than http.server: some modes must trickle a status line a byte at a
time or reset the connection, which a well-behaved server framework does not let us do.
Every mode reads the whole request first (method, path, headers, body) and records it, so
a test can assert what was sent, and how often.

Modes:
- "answer": `status`, `headers` and `body` (bytes, or a function of the request giving
  bytes: e.g. one that echoes the Authorization header back as a projectId).
- "trickle": the status line and headers one byte per `interval` seconds, never ending.
- "reset": a TCP reset (RST) instead of an answer, after the request was read.
- "throttle": 429 with `Retry-After: retry_after` on every request.
- "scripted": as "answer", each POST after `delay(n, t)` seconds (n: its number from 0,
  t: seconds since the server started), or never when that is None (the connection is
  held open, unanswered: a service that accepts and stalls).

The modes meet POST requests (exports, token requests). A GET (apply's one look at the
account's model list, progress) is answered 404 at once unless `body` is a function of
the request, which then answers it: a test of a hostile export is not held up before
the export is sent, and apply warns and goes on without the list.

Run it in-process (`with HostileServer(...) as server:`); tests that signal a specsync
process run that process apart, so the server never shares its fate.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

REASONS = {200: "OK", 201: "Created", 403: "Forbidden", 429: "Too Many Requests"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HostileServer:
    mode: str
    status: int = 200
    body: bytes | Callable[[Request], bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    interval: float = 1.0
    retry_after: str = "30"
    delay: Callable[[int, float], float | None] | None = None
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._started = time.monotonic()
        self._posts = 0

    def __enter__(self) -> HostileServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                while not self._stopping.is_set():
                    request = read_request(conn)
                    if request is None:
                        return
                    with self._lock:
                        self.requests.append(request)
                    if not self._respond(conn, request):
                        return
            except OSError:
                return

    def _respond(self, conn: socket.socket, request: Request) -> bool:
        """Answer one request; False when the connection is finished."""
        if request.method == "GET" and not callable(self.body):
            body = b'{"success": false, "error": {"code": "NOT_FOUND", "msg": "no such page"}}'
            head = f"HTTP/1.1 404 Not Found\r\nContent-Length: {len(body)}\r\n\r\n"
            conn.sendall(head.encode("latin-1") + body)
            return True
        if self.mode == "reset":
            # SO_LINGER with a zero timeout: close() sends RST, not FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if self.mode == "trickle":
            head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"x" * 10_000
            for byte in head:
                if self._stopping.wait(self.interval):
                    return False
                conn.sendall(bytes([byte]))
            return False
        if self.mode == "scripted" and self.delay is not None and request.method == "POST":
            with self._lock:
                number, self._posts = self._posts, self._posts + 1
            seconds = self.delay(number, time.monotonic() - self._started)
            if seconds is None:
                self._stopping.wait()
                return False
            if self._stopping.wait(seconds):
                return False
        if self.mode == "throttle":
            status, headers, body = 429, {"Retry-After": self.retry_after}, b"{}"
        else:
            body = self.body(request) if callable(self.body) else self.body
            status, headers = self.status, self.headers
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
        conn.sendall("\r\n".join(lines).encode("latin-1") + body)
        return True


def read_request(conn: socket.socket) -> Request | None:
    """One whole request (head, and the body Content-Length announces); None when the
    connection ends before it does."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    first, *header_lines = head.decode("latin-1").split("\r\n")
    method, path, _ = first.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    length = int(headers.get("Content-Length") or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return Request(method, path, headers, body)


def echo_key(request: Request) -> bytes:
    """An answer whose projectId is the Authorization header the request carried."""
    key = request.headers.get("Authorization", "")
    return json.dumps({"success": True, "data": {"projectId": key, "taskId": "t-1"}}).encode()
