"""A small HTTP server on 127.0.0.1 that answers as the vendor's public pages describe.

The tests' one vendor fake: import it as `from vendor_fake import ...` (tests/ is on the
path), never through another package path, so there is one module and one class.

Independent of specsync's emulator on purpose: it encodes the documented shapes (and the
vendor sample's reading of them), not our guesses. Written from the rows of docs/vendor.md
(each with its page; the assumed ones say so), not copied from the vendor:
- every answer is an envelope: `{"success": true, "data": ...}` or
  `{"success": false, "error": {"code", "msg"}}`, refusals with HTTP 200 (assumed);
- `POST /api/odin/v3/auth/token` {appId, userKey} answers `{token}`, a JWT whose `exp` says
  when it stops working (generate-api-key.md, auth.md: 24 h); the raw token goes in
  `Authorization`, no `Bearer`; an expired token gets 401, not processed (assumed);
- progress answers `progress` (a float) and `downloadUrl` (progress.md), the URL a poll
  after progress reaches 100 (assumed, as the sample's loop allows);
- `GET /api/odin/v3/auth` `{isAuthenticated}` (auth-confirm.md); the model list
  `{models: [{id, label: {ko, en}, clothes}]}` (model-list.md); the workspace list
  `[{workspaceId, workspaceName}]` (workspaces.md);
- the project `GET /api/odin/v3/editor/project/{id}` `{project: {_id, scenes, state,
  progress, backendTaskId, creditSubstracted, createdAt, download_url}}` (get-project.md)
  and the list `GET /api/odin/v3/editor/project` `[{id, name, state, download_url}]`
  (get-projects.md; "exported" when ready).
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
PROJECT_LIST_PATH = "/api/odin/v3/editor/project"
PROJECT_PREFIX = PROJECT_LIST_PATH + "/"

# (progress, URL shown?) per poll of one project; the last one repeats.
DEFAULT_STEPS: tuple[tuple[float, bool], ...] = (
    (37.5, False),
    (100.0, False),
    (100.0, True),
)


def model_entry(model_id: str) -> dict[str, Any]:
    """One `models[]` element as reference/model-list.md lays it out."""
    return {
        "id": model_id,
        "label": {"ko": model_id, "en": model_id},
        "thumbnail": "",
        "clothes": [{"id": "C1", "label": {"ko": "C1", "en": "C1"}, "thumbnail": ""}],
    }


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
    # The `data` of the model list; None answers a refusal (the list is unavailable).
    models: Any = field(default_factory=lambda: {"models": [model_entry("M1")]})
    workspaces: Any = field(
        default_factory=lambda: [{"workspaceId": "W1", "workspaceName": "Workspace 1"}]
    )
    model_list_status: int = 200
    refuse_models: tuple[str, ...] = ()
    steps: tuple[tuple[float, bool], ...] = DEFAULT_STEPS
    # project id -> the project get's `state` (default: "exported" once progress is 100)
    project_states: dict[str, str] = field(default_factory=dict)
    # the progress endpoint answers `success: false` for these polls (1-based) of a project
    refused_polls: tuple[int, ...] = ()
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
            created = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            self.exports.append({"projectId": project_id, "createdAt": created, **body})
        return success({"projectId": project_id, "taskId": f"task-{number}"})

    def _export_of(self, project_id: str) -> dict[str, Any] | None:
        return next((e for e in self.exports if e["projectId"] == project_id), None)

    def project(self, project_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            made = self._export_of(project_id)
            poll = self._polls.get(project_id, 0)
        if made is None:
            return 404, refusal("PROJECT_NOT_FOUND", "no such project")
        value, _ = self.steps[min(max(poll - 1, 0), len(self.steps) - 1)]
        state = self.project_states.get(project_id) or (
            "exported" if value >= 100 else "processing"
        )
        number = int(project_id, 16)
        clip = {
            "type": "aiModel",
            "script": {"org": made.get("text")},
            "model": {"ai_name": made.get("model"), "language": made.get("language")},
        }
        project = {
            "_id": project_id,
            "name": f"project {number}",
            "scenes": [{"sceneIdx": 0, "clips": [clip]}],
            "state": state,
            "progress": int(value),
            "backendTaskId": f"task-{number}",
            "creditSubstracted": state == "exported",
            "createdAt": made["createdAt"],
            "download_url": f"{self.url}/files/{project_id}.mp4" if state == "exported" else None,
        }
        return 200, success({"project": project})

    def project_list(self) -> dict[str, Any]:
        listed = []
        for made in list(self.exports):
            _, answer = self.project(made["projectId"])
            project = answer["data"]["project"]
            listed.append(
                {
                    "id": project["_id"],
                    "name": project["name"],
                    "state": project["state"],
                    "download_url": project["download_url"],
                }
            )
        return success(listed)

    def progress(self, project_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            known = any(e["projectId"] == project_id for e in self.exports)
            if not known:
                return 404, refusal("PROJECT_NOT_FOUND", "no such project")
            poll = self._polls.get(project_id, 0)
            self._polls[project_id] = poll + 1
        if poll + 1 in self.refused_polls:
            # No page defines it; the sample treats it as a polling error (docs/vendor.md).
            return 200, refusal("PROGRESS_UNAVAILABLE", "progress is not available right now")
        value, with_url = self.steps[min(poll, len(self.steps) - 1)]
        url = f"{self.url}/files/{project_id}.mp4" if with_url else None
        return 200, success({"progress": value, "downloadUrl": url})


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
            elif self.path == PROJECT_LIST_PATH:
                self._send(200, fake.project_list())
            elif self.path.startswith(PROJECT_PREFIX):
                self._send(*fake.project(self.path[len(PROJECT_PREFIX) :]))
            elif self.path in (MODEL_PATH, WORKSPACE_PATH):
                listed = fake.models if self.path == MODEL_PATH else fake.workspaces
                if self.path == MODEL_PATH and (fake.model_list_status != 200 or listed is None):
                    status = fake.model_list_status if fake.model_list_status != 200 else 200
                    self._send(status, refusal("UNAVAILABLE", "try later"))
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
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
