"""A small HTTP server on 127.0.0.1 that answers as the vendor's public pages describe.

Independent of specsync's emulator on purpose: it encodes the documented shapes (and the
vendor sample's reading of them), not our guesses. Written from the facts in DESIGN
section 5, not copied from the vendor:
- every answer is an envelope: `{"success": true, "data": ...}` or
  `{"success": false, "error": {"code", "msg"}}`, refusals with HTTP 200;
- `POST /api/odin/v3/auth/token` {appId, userKey} gives a JWT (its `exp` claim says when it
  stops working; the raw token goes in `Authorization`, no `Bearer`); an expired token
  gets 401 and the request is not processed;
- progress is a float, `state` a word of the service's own (`processing`, then `finish`),
  and the download URL appears a poll after progress reaches 100;
- `GET /api/odin/v3/auth`, the model list and the workspace list.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_PATH = "/api/odin/v3/auth/token"
AUTH_PATH = "/api/odin/v3/auth"
EXPORT_PATH = "/api/odin/v3/simple/custom"
PROGRESS_PREFIX = "/api/odin/v3/editor/progress/"
MODEL_PATH = "/api/odin/v3/model"
WORKSPACE_PATH = "/api/odin/v3/dropdown/workspaces"

# (progress, state word, URL shown?) per poll of one project; the last one repeats.
DEFAULT_STEPS: tuple[tuple[float, str, bool], ...] = (
    (37.5, "processing", False),
    (100.0, "finish", False),
    (100.0, "finish", True),
)


def make_jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.fake-signature"


@dataclass
class VendorFake:
    """Behaviour knobs, and what the server saw (read them after the run)."""

    app_id: str = "app-1"
    user_key: str = "user-key-secret-1"
    api_key: str | None = None  # a pasted token that never expires, when set
    token_ttl: float = 24 * 3600.0
    models: list[Any] | None = field(default_factory=lambda: [{"modelId": "M1"}])
    workspaces: list[Any] | None = field(default_factory=lambda: [{"workspaceId": "W1"}])
    model_list_status: int = 200
    refuse_models: tuple[str, ...] = ()
    steps: tuple[tuple[float, str, bool], ...] = DEFAULT_STEPS
    # recorded
    exports: list[dict[str, Any]] = field(default_factory=list)
    token_fetches: int = 0
    unauthorized: int = 0
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # token -> expiry (time.time)
        self._polls: dict[str, int] = {}

    # -- behaviour ---------------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        if not header:
            return False
        if self.api_key is not None and header == self.api_key:
            return True
        with self._lock:
            expiry = self._tokens.get(header)
        return expiry is not None and time.time() < expiry

    def new_token(self) -> str:
        with self._lock:
            self.token_fetches += 1
            expiry = time.time() + self.token_ttl
            token = make_jwt({"sub": self.app_id, "exp": expiry, "n": self.token_fetches})
            self._tokens[token] = expiry
        return token

    def export(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        if model in self.refuse_models:
            return refusal("MODEL_NOT_FOUND", f"model {model} is not available to this account")
        with self._lock:
            number = len(self.exports) + 1
            project_id = f"{number:024x}"
            self.exports.append({"projectId": project_id, **body})
        return success({"projectId": project_id, "taskId": f"task-{number}"})

    def progress(self, project_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            known = any(e["projectId"] == project_id for e in self.exports)
            if not known:
                return 404, refusal("PROJECT_NOT_FOUND", "no such project")
            poll = self._polls.get(project_id, 0)
            self._polls[project_id] = poll + 1
        value, word, with_url = self.steps[min(poll, len(self.steps) - 1)]
        url = f"{self.url}/files/{project_id}.mp4" if with_url else None
        return 200, success({"progress": value, "state": word, "downloadUrl": url})


def success(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def refusal(code: str, msg: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "msg": msg}}


def _handler(fake: VendorFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "30")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw or b"null")
            except ValueError:
                return None

        def do_POST(self) -> None:
            fake.requests.append(f"POST {self.path}")
            body = self._body()
            if self.path == TOKEN_PATH:
                ok = isinstance(body, dict) and (body.get("appId"), body.get("userKey")) == (
                    fake.app_id,
                    fake.user_key,
                )
                if not ok:
                    self._send(200, refusal("INVALID_USER", "appId or userKey is not valid"))
                    return
                self._send(200, success({"token": fake.new_token()}))
                return
            if self.path != EXPORT_PATH:
                self._send(404, refusal("NOT_FOUND", "no such path"))
                return
            if not fake.authorized(self.headers.get("Authorization")):
                fake.unauthorized += 1
                self._send(401, refusal("UNAUTHORIZED", "token is expired or invalid"))
                return
            self._send(200, fake.export(body if isinstance(body, dict) else {}))

        def do_GET(self) -> None:
            fake.requests.append(f"GET {self.path}")
            authorized = fake.authorized(self.headers.get("Authorization"))
            if self.path == AUTH_PATH:
                self._send(200, success({"isAuthenticated": authorized}))
                return
            if not authorized:
                fake.unauthorized += 1
                self._send(401, refusal("UNAUTHORIZED", "token is expired or invalid"))
                return
            if self.path.startswith(PROGRESS_PREFIX):
                status, payload = fake.progress(self.path[len(PROGRESS_PREFIX) :])
                self._send(status, payload)
            elif self.path in (MODEL_PATH, WORKSPACE_PATH):
                listed = fake.models if self.path == MODEL_PATH else fake.workspaces
                if self.path == MODEL_PATH and fake.model_list_status != 200:
                    self._send(fake.model_list_status, refusal("UNAVAILABLE", "try later"))
                else:
                    self._send(200, success(listed))
            else:
                self._send(404, refusal("NOT_FOUND", "no such path"))

    return Handler


@contextmanager
def running_vendor_fake(fake: VendorFake | None = None) -> Iterator[VendorFake]:
    """Serve `fake` on a free loopback port for the duration of the block."""
    fake = fake or VendorFake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
