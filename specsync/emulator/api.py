"""The API itself, free of sockets: requests in, `Answer`s out.

Order of checks for an API call: rate limit, injected fault (exports only), latency,
authorization, body. Refused requests (429, 503, 4xx, `--refuse-model`) are never processed
nor journalled as exports.
Authorization: missing, empty, `Bearer ...` or an expired emulator token is 401; a key that
is present but not the one `--api-key` names is 403.

Every answer, errors included, carries `X-Specsync-Emulator: 1` and
`X-Specsync-Emulator-Version` (added where answers are sent, `server._Handler._send`), so a
client that reached the emulator through an ordinary API base (SPECSYNC_API_BASE) can tell
that its ids are not real exports.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from specsync import __version__
from specsync.emulator.config import EmulatorConfig
from specsync.emulator.downloads import (
    DOWNLOAD_PREFIX,
    RangeNotSatisfiable,
    link_problem,
    requested_range,
    signed_path,
)
from specsync.emulator.export_log import EXPORT_EVENT, Journal
from specsync.emulator.faults import Fault, FaultPlan, TokenBucket, retry_after_header
from specsync.emulator.ids import (
    Project,
    new_project,
    new_task_id,
    new_token,
    read_project,
    same_text,
    token_expiry,
)
from specsync.emulator.projects import (
    PROJECT_LIST_PATH,
    PROJECT_PREFIX,
    MadeProjects,
    project_answer,
    project_list_answer,
)
from specsync.emulator.rendering import DONE, VENDOR_WORDS, progress_at
from specsync.emulator.validation import export_problems, token_request_problems
from specsync.emulator.video import project_video
from specsync.emulator.webhooks import WebhookDispatcher, progress_updates

# specsync's path, and the one the vendor's sample script posts to (docs/vendor.md, 1, 40).
EXPORT_PATHS = ("/api/odin/v3/simple/custom", "/api/odin/v3/simple/video")
TOKEN_PATH = "/api/odin/v3/auth/token"
AUTH_PATH = "/api/odin/v3/auth"
MODELS_PATH = "/api/odin/v3/model"
DROPDOWN_MODELS_PATH = "/api/odin/v3/dropdown/models"
WORKSPACES_PATH = "/api/odin/v3/dropdown/workspaces"
# The vendor's sample model id: a stock model every emulated account lists (with
# --unlisted-models, the only one), so that a listed/unlisted difference can be shown.
STOCK_MODEL = "M000045058"
PROGRESS_PREFIX = "/api/odin/v3/editor/progress/"
REFUSED_EVENT = "refused"
IDENTITY_HEADERS = {"X-Specsync-Emulator": "1", "X-Specsync-Emulator-Version": __version__}
# Projects seen at 100 by a progress poll (the URL comes one poll later, as the real
# service's). Bounded: an evicted project merely answers one more poll without its URL.
FINISHED_MEMORY = 10_000


@dataclass(frozen=True)
class Answer:
    """One HTTP answer; `drop` means: close the connection instead of sending it."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False


def success(data: Mapping[str, Any] | list[Any]) -> Answer:
    return Answer(200, _json({"success": True, "data": data}))


def failure(status: int, message: str, headers: Mapping[str, str] | None = None) -> Answer:
    return refusal(status, status, message, headers)


def refusal(
    status: int, code: int | str, message: str, headers: Mapping[str, str] | None = None
) -> Answer:
    """The service's failure envelope; HTTP 200 with it is a definite refusal."""
    body = _json({"success": False, "error": {"code": code, "msg": message}})
    return Answer(status, body, headers=dict(headers or {}))


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def allowed_methods(path: str) -> tuple[str, ...] | None:
    """The methods a known path answers; None for an unknown path."""
    if path in (*EXPORT_PATHS, TOKEN_PATH):
        return ("POST",)
    if path.startswith(DOWNLOAD_PREFIX):
        return ("GET", "HEAD")
    listing = (
        "/",
        AUTH_PATH,
        MODELS_PATH,
        DROPDOWN_MODELS_PATH,
        WORKSPACES_PATH,
        PROJECT_LIST_PATH,
    )
    if path in listing or path.startswith((PROGRESS_PREFIX, PROJECT_PREFIX)):
        return ("GET",)
    return None


class _BoundedSet:
    """The most recent `size` keys (thread-safe); older ones are forgotten."""

    def __init__(self, size: int) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, key: str) -> bool:
        """Add `key`; True when it was there already."""
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
            self._keys[key] = None
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return False


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
        # Bounded like the journal's memory (the "memory" knob bounds every per-project set).
        self._finished_seen = _BoundedSet(min(FINISHED_MEMORY, max(1, config.journal_memory)))
        # What this emulator made (and, with --journal, what earlier runs on that journal
        # made): the project endpoints answer these only.
        self.projects = MadeProjects(config.journal, memory=config.journal_memory or 1)
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

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, query: str = ""
    ) -> Answer:
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
            return self._download(path[len(DOWNLOAD_PREFIX) :], query, headers)
        limited = self._rate_limited()
        is_export = path in EXPORT_PATHS
        fault = self._faults.next_fault() if is_export and limited is None else None
        if self.config.latency > 0:
            time.sleep(self.config.latency)
        if limited is not None:
            return limited
        if path == TOKEN_PATH:
            return self._issue_token(body)
        if is_export:
            return self._export(headers, body, fault or Fault.NONE)
        refused = self._unauthorized(headers)
        if refused is not None:
            return refused
        if path == AUTH_PATH:
            return self._auth(headers)
        if path == MODELS_PATH:
            return success({"models": [_model_entry(m) for m in self._listed_models()]})
        if path == DROPDOWN_MODELS_PATH:
            listed = self._listed_models()
            return success([{"id": m, "label": m, "avatarType": "stock"} for m in listed])
        if path == WORKSPACES_PATH:
            return success(
                [{"workspaceId": ws, "workspaceName": ws} for ws in self.config.workspaces]
            )
        if path == PROJECT_LIST_PATH or path.startswith(PROJECT_PREFIX):
            now = time.time()
            if path == PROJECT_LIST_PATH:
                status, data = project_list_answer(self.projects, now, self._download_url, query)
            else:
                project_id = path[len(PROJECT_PREFIX) :]
                status, data = project_answer(self.projects, project_id, now, self._download_url)
            return success(data) if status == 200 else failure(status, data)
        return self._progress(path[len(PROGRESS_PREFIX) :])

    def _listed_models(self) -> tuple[str, ...]:
        """What the model lists name: --models, else the stock sample model (and with
        --unlisted-models only that one: an account whose custom avatars are not listed)."""
        if self.config.unlisted_models or self.config.models is None:
            return (STOCK_MODEL,)
        return self.config.models

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
        model = body["model"]
        if any(fnmatch.fnmatchcase(model, glob) for glob in self.config.refuse_models):
            self.journal.record(REFUSED_EVENT, model=model)
            # The vendor's way of saying no: HTTP 200, success false (code made up).
            return refusal(200, "model_refused", f"model {model} is not available")
        now = time.time()
        fails = self._render_faults.next_fault() is Fault.THROTTLE
        preview = body.get("isExport") is False
        project = new_project(now, self.config.render_seconds, fails, preview)
        task_id = new_task_id()
        record = self.journal.record(
            EXPORT_EVENT,
            projectId=project.project_id,
            taskId=task_id,
            body=body,
            dropped=fault is Fault.DROP,
        )
        self.projects.add(record)
        webhook_url = body.get("webhookUrl")
        if webhook_url and not preview:
            updates = progress_updates(
                project, task_id, lambda when: self._download_url(project.project_id, when)
            )
            self._webhooks.schedule(webhook_url, project.project_id, updates)
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
            if wanted is not None and not same_text(given, wanted):
                return failure(403, "appId or userKey not accepted")
        ttl = self.config.token_ttl
        # The documented answer is `token` alone; its JWT `exp` says when it expires.
        return success({"token": new_token(time.time() + ttl)})

    def _auth(self, headers: Mapping[str, str]) -> Answer:
        """Reached only with an accepted key or token (the others got 401/403)."""
        return success({"isAuthenticated": True})

    def _progress(self, project_id: str) -> Answer:
        project = read_project(project_id)
        if project is None:
            return failure(404, f"no such project: {project_id}")
        now = time.time()
        state = progress_at(project, now)
        # The progress page documents `progress` (a float) and `downloadUrl`; the state word
        # is the one undocumented extra (docs/vendor.md).
        data: dict[str, Any] = {"progress": state.progress, "state": VENDOR_WORDS[state.state]}
        # The service's URL shows up a poll after progress reaches 100.
        if state.state == DONE and self._finished_seen.add(project_id):
            data["downloadUrl"] = self._download_url(project_id, now)
        return success(data)

    def _download_url(self, project_id: str, now: float) -> str:
        return self.base_url + signed_path(project_id, now + self.config.url_ttl)

    def _download(self, name: str, query: str, headers: Mapping[str, str]) -> Answer:
        project_id = name.removesuffix(".mp4")
        project = read_project(project_id) if name.endswith(".mp4") else None
        if project is None:
            return failure(404, f"no such video: {name}")
        now = time.time()
        problem = link_problem(project_id, query, now)
        if problem is not None:
            return failure(*problem)
        if progress_at(project, now).state != DONE:
            return failure(404, f"video not ready: {name}")
        return _video_answer(project, headers.get("Range"))

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
        if self.config.api_key is not None and not same_text(value, self.config.api_key):
            return failure(403, "API key not accepted")
        return None


def _video_answer(project: Project, range_header: str | None) -> Answer:
    video = project_video(project.project_id)
    size = len(video)
    try:
        wanted = requested_range(range_header, size)
    except RangeNotSatisfiable:
        return failure(416, "requested range not satisfiable", {"Content-Range": f"bytes */{size}"})
    if wanted is None:
        return Answer(200, video, "video/mp4", {"Accept-Ranges": "bytes"})
    first, last = wanted
    headers = {"Accept-Ranges": "bytes", "Content-Range": f"bytes {first}-{last}/{size}"}
    return Answer(206, video[first : last + 1], "video/mp4", headers)


def _parse_json(raw: bytes) -> tuple[Any, Answer | None]:
    try:
        return json.loads(raw.decode("utf-8")), None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None, failure(400, "the request body is not valid JSON")


def _model_entry(model: str) -> dict[str, Any]:
    """One element of `models`, as the model list page lays it out."""
    label = {"ko": model, "en": model}
    clothes = [{"id": f"{model}-cloth-1", "label": {"ko": "기본", "en": "default"}}]
    return {"id": model, "label": label, "thumbnail": "", "clothes": clothes}
