"""The API itself, free of sockets: requests in, `Answer`s out.

Order of checks for an API call: rate limit, injected fault (exports only), latency,
authorization, body. Refused requests (429, 503, 4xx) are never processed nor journalled as exports.
Authorization: missing, empty, `Bearer ...` or an expired emulator token is 401; a key that
is present but not the one `--api-key` names is 403.

Every answer, errors included, carries `X-Specsync-Emulator: 1` and
`X-Specsync-Emulator-Version` (added where answers are sent, `server._Handler._send`), so a
client that reached the emulator through an ordinary API base (SPECSYNC_API_BASE) can tell
that its ids are not real exports.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from specsync import __version__
from specsync.emulator.config import EmulatorConfig
from specsync.emulator.faults import Fault, FaultPlan, TokenBucket, retry_after_header
from specsync.emulator.ids import new_project, new_task_id, new_token, read_project, token_expiry
from specsync.emulator.journal import EXPORT_EVENT, Journal
from specsync.emulator.rendering import (
    DONE,
    download_path,
    placeholder_video,
    progress_at,
)
from specsync.emulator.validation import export_problems, token_request_problems
from specsync.emulator.webhooks import WebhookDispatcher, progress_updates

EXPORT_PATH = "/api/odin/v3/simple/custom"
TOKEN_PATH = "/api/odin/v3/auth/token"
PROGRESS_PREFIX = "/api/odin/v3/editor/progress/"
DOWNLOAD_PREFIX = "/downloads/"
API_PREFIX = "/api/"
IDENTITY_HEADERS = {"X-Specsync-Emulator": "1", "X-Specsync-Emulator-Version": __version__}


@dataclass(frozen=True)
class Answer:
    """One HTTP answer; `drop` means: close the connection instead of sending it."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False


def success(data: Mapping[str, Any]) -> Answer:
    return Answer(200, _json({"success": True, "data": dict(data)}))


def failure(status: int, message: str, headers: Mapping[str, str] | None = None) -> Answer:
    body = _json({"success": False, "error": {"code": status, "msg": message}})
    return Answer(status, body, headers=dict(headers or {}))


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def allowed_methods(path: str) -> tuple[str, ...] | None:
    """The methods a known path answers; None for an unknown path."""
    if path in (EXPORT_PATH, TOKEN_PATH):
        return ("POST",)
    if path == "/" or path.startswith((PROGRESS_PREFIX, DOWNLOAD_PREFIX)):
        return ("GET",)
    return None


class EmulatorService:
    """State of one emulator: faults, tokens, journal, webhooks."""

    def __init__(self, config: EmulatorConfig, base_url: str) -> None:
        self.config = config
        self.base_url = base_url
        self.journal = Journal(config.journal, memory=config.journal_memory)
        self._faults = FaultPlan(
            throttle_rate=config.throttle_rate,
            fail_rate=config.fail_rate,
            drop_rate=config.drop_rate,
            seed=config.seed,
        )
        self._bucket = TokenBucket(config.rate_limit) if config.rate_limit else None
        # Render outcomes come from their own seeded stream, so that --render-fail-rate
        # does not shift the sequence of request faults.
        self._render_faults = FaultPlan(
            throttle_rate=config.render_fail_rate,
            fail_rate=0.0,
            drop_rate=0.0,
            seed=None if config.seed is None else config.seed + 1,
        )
        self._webhooks = WebhookDispatcher(self.journal)
        self._close_lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._webhooks.close()
        self.journal.close()

    # -- routing ---------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request whose body has been read.

        The rate limit and the injected fault are decided on arrival (so a seed gives the
        same sequence of decisions in arrival order), then `--latency` passes, then the
        answer is made.
        """
        allowed = allowed_methods(path)
        if allowed is None:
            return failure(404, f"no such endpoint: {path}")
        if method not in allowed:
            return failure(405, f"{method} is not allowed on {path}", {"Allow": ", ".join(allowed)})
        if path == "/":
            identity = {"service": "specsync emulator", "emulator": True, "version": __version__}
            return success({**identity, "status": "ok"})
        if path.startswith(DOWNLOAD_PREFIX):
            return self._download(path[len(DOWNLOAD_PREFIX) :])
        limited = self._rate_limited()
        fault = self._faults.next_fault() if path == EXPORT_PATH and limited is None else None
        if self.config.latency > 0:
            time.sleep(self.config.latency)
        if limited is not None:
            return limited
        if path == TOKEN_PATH:
            return self._issue_token(body)
        if path == EXPORT_PATH:
            return self._export(headers, body, fault or Fault.NONE)
        return self._progress(headers, path[len(PROGRESS_PREFIX) :])

    # -- endpoints -------------------------------------------------------------------

    def _export(self, headers: Mapping[str, str], raw: bytes, fault: Fault) -> Answer:
        if fault is Fault.THROTTLE:
            retry = retry_after_header(self.config.retry_after)
            return failure(429, "too many requests (injected)", {"Retry-After": retry})
        if fault is Fault.FAIL:
            retry = retry_after_header(self.config.retry_after)
            return failure(503, "service unavailable (injected)", {"Retry-After": retry})
        refused = self._unauthorized(headers)
        if refused is not None:
            return refused
        body, parse_error = _parse_json(raw)
        if parse_error is not None:
            return parse_error
        problems = export_problems(body)
        if problems:
            return failure(400, "; ".join(problems))
        now = time.time()
        fails = self._render_faults.next_fault() is Fault.THROTTLE
        project = new_project(now, self.config.render_seconds, fails)
        task_id = new_task_id()
        self.journal.record(
            EXPORT_EVENT,
            projectId=project.project_id,
            taskId=task_id,
            body=body,
            dropped=fault is Fault.DROP,
        )
        webhook_url = body.get("webhookUrl")
        if webhook_url:
            download_url = self.base_url + download_path(project.project_id)
            self._webhooks.schedule(webhook_url, progress_updates(project, task_id, download_url))
        answer = success({"projectId": project.project_id, "taskId": task_id})
        if fault is Fault.DROP:
            return Answer(answer.status, answer.body, drop=True)
        return answer

    def _issue_token(self, raw: bytes) -> Answer:
        body, parse_error = _parse_json(raw)
        if parse_error is not None:
            return parse_error
        problems = token_request_problems(body)
        if problems:
            return failure(400, "; ".join(problems))
        expected = ((self.config.app_id, body["appId"]), (self.config.user_key, body["userKey"]))
        for wanted, given in expected:
            if wanted is not None and not hmac.compare_digest(wanted, given):
                return failure(403, "appId or userKey not accepted")
        ttl = self.config.token_ttl
        return success({"token": new_token(time.time() + ttl), "expiresIn": round(ttl)})

    def _progress(self, headers: Mapping[str, str], project_id: str) -> Answer:
        refused = self._unauthorized(headers)
        if refused is not None:
            return refused
        project = read_project(project_id)
        if project is None:
            return failure(404, f"no such project: {project_id}")
        state = progress_at(project, time.time())
        data: dict[str, Any] = {
            "projectId": project_id,
            "progress": state.progress,
            "state": state.state,
        }
        if state.state == DONE:
            data["downloadUrl"] = self.base_url + download_path(project_id)
        return success(data)

    def _download(self, name: str) -> Answer:
        project_id = name.removesuffix(".mp4")
        project = read_project(project_id) if name.endswith(".mp4") else None
        if project is None:
            return failure(404, f"no such video: {name}")
        if progress_at(project, time.time()).state != DONE:
            return failure(404, f"video not ready: {name}")
        return Answer(200, placeholder_video(project_id), content_type="video/mp4")

    # -- checks ----------------------------------------------------------------------

    def _rate_limited(self) -> Answer | None:
        if self._bucket is None:
            return None
        wait = self._bucket.try_take()
        if wait <= 0:
            return None
        retry = retry_after_header(wait, minimum=1)
        return failure(429, "rate limit exceeded", {"Retry-After": retry})

    def _unauthorized(self, headers: Mapping[str, str]) -> Answer | None:
        value = (headers.get("Authorization") or "").strip()
        if not value:
            return failure(401, "missing Authorization header (the raw API key, no 'Bearer')")
        if value.lower().startswith("bearer "):
            return failure(401, "send the raw API key or token, without 'Bearer '")
        expiry = token_expiry(value)
        if expiry is not None:
            if time.time() >= expiry:
                return failure(401, "token expired: request a new one")
            return None
        if self.config.api_key is not None and not hmac.compare_digest(
            value.encode("utf-8"), self.config.api_key.encode("utf-8")
        ):
            return failure(403, "API key not accepted")
        return None


def _parse_json(raw: bytes) -> tuple[Any, Answer | None]:
    try:
        return json.loads(raw.decode("utf-8")), None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None, failure(400, "the request body is not valid JSON")
