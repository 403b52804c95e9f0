"""Stand-ins for the real service and a standalone emulator, as users reach them: "the real
service" is a small loopback server answering as the vendor does (without the emulator's
identity header, unless asked), counting every request; the standalone emulator is
`specsync emulator --port 0` started as its own process and reached through its URL."""

from __future__ import annotations

import json
import select
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers.commands import SPECSYNC_MODULE

EXPORT_PATH = "/api/odin/v3/simple/custom"


@dataclass
class FakeService:
    """Answers like the real service; `mark_exports` adds the emulator header to exports."""

    url: str = ""
    mark_exports: bool = False
    seen: list[tuple[str, str]] = field(default_factory=list)

    def posts(self) -> list[tuple[str, str]]:
        return [s for s in self.seen if s == ("POST", EXPORT_PATH)]


@contextmanager
def fake_service(host: str = "127.0.0.1", mark_exports: bool = False) -> Iterator[FakeService]:
    state = FakeService(mark_exports=mark_exports)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, payload: Any, marked: bool = False) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if marked:
                self.send_header("X-Specsync-Emulator", "1")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with lock:
                state.seen.append(("GET", self.path))
            if self.path == "/api/odin/v3/model":
                self._answer({"success": True, "data": [{"modelId": "M1"}]})
            else:
                self._answer({"success": True, "data": {}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            with lock:
                state.seen.append(("POST", self.path))
                number = len(state.posts())
            data = {"projectId": f"real-p{number}", "taskId": f"real-t{number}"}
            self._answer({"success": True, "data": data}, marked=state.mark_exports)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    state.url = f"http://{host}:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def standalone_emulator(*flags: str) -> Iterator[str]:
    """`specsync emulator --port 0` as a user starts it; yields the URL it prints."""
    process = subprocess.Popen(
        [*SPECSYNC_MODULE, "emulator", "--port", "0", "--render-seconds", "1", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 10)
        assert ready, "the emulator printed nothing"
        yield process.stdout.readline().strip()
    finally:
        process.kill()
        process.communicate(timeout=10)
