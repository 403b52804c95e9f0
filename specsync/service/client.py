"""The one module that talks HTTP to the AI Studios API: exports, auth tokens, progress.

What may be retried is the contract (docs/vendor.md, row 34): only what the server certainly did
not process — a connection that never opened, 429 and 503 (honouring Retry-After). A
request that was sent and got no clear answer (read timeout, reset connection, another
5xx, an unreadable 2xx) is *uncertain* and never resubmitted here: there is no idempotency
key, so a second POST could bill a second video. How long to wait and when to stop is
decided in `retry`; a reply is read within its size and time caps in `replies`.

Secrets (API key, user key, token) never reach a message, a log line or a repr: they are
only put into headers and bodies, and any text that came from the server is redacted
before it is shown, in case it echoes them.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import requests
import requests.adapters
import tenacity
import urllib3.exceptions

from specsync.service.credentials import (
    API_KEY_ENV,
    APP_ID_ENV,
    USER_KEY_ENV,
    Credentials,
    _check_credentials,
    checked_api_base,
)
from specsync.service.errors import (
    _SERVER_TEXT_LIMIT,
    AuthError,
    ClientError,
    ConfigError,
    RenderRefused,
    _never_connected,
    _printable,
    _short,
    _status_text,
    _tls_problem,
)
from specsync.service.replies import (
    _id_text,
    _read_capped,
    _refusal,
    _Reply,
    _SlowAnswer,
    _unwrap,
)
from specsync.service.retry import RETRYABLE_STATUSES, _Attempt, _RetryPlan, _Run
from specsync.service.tokens import refresh_time
from specsync.states import Answer

EXPORT_PATH = "/api/odin/v3/simple/custom"
TOKEN_PATH = "/api/odin/v3/auth/token"
PROGRESS_PATH = "/api/odin/v3/editor/progress/{project_id}"
HEALTH_PATH = "/"
# Every answer of specsync's emulator carries this header (README "The emulator").
EMULATOR_HEADER = "X-Specsync-Emulator"

# The whole of one HTTP attempt (connect, headers, body) ends within this many seconds, or
# is given up: a read timeout bounds each socket read only, not headers sent 1 byte/s.
DEFAULT_REQUEST_DEADLINE = 90.0
REQUEST_DEADLINE_ENV = "SPECSYNC_REQUEST_DEADLINE"

# Enough connections for apply's thread pool, on each per-thread session's host.
POOL_MAXSIZE = 32
_MIN_REDACTED_LENGTH = 6

ACCEPTED, FAILED, UNCERTAIN = Answer.ACCEPTED, Answer.FAILED, Answer.UNCERTAIN


@dataclass(frozen=True)
class ExportResult:
    """What became of one export request."""

    outcome: Answer
    project_id: str | None = None
    task_id: str | None = None
    code: str | None = None  # the service's error code, when it gave one
    message: str = ""
    attempts: int = 1  # HTTP attempts made for the export itself
    retries: list[str] = field(default_factory=list)  # one short line per retry
    # FAILED and certainly never processed because the run was stopped (a signal) while
    # waiting to retry: apply reports it as "not sent".
    not_sent: bool = False
    # The answer carried X-Specsync-Emulator: its ids are an emulator's, not real exports.
    emulator: bool = False


class _Cancelled(Exception):
    """The client was cancelled before the next attempt was sent."""


def request_deadline_from_env(env: Mapping[str, str]) -> float:
    """SPECSYNC_REQUEST_DEADLINE (seconds, finite and positive) or the default."""
    value = (env.get(REQUEST_DEADLINE_ENV) or "").strip()
    if not value:
        return DEFAULT_REQUEST_DEADLINE
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{REQUEST_DEADLINE_ENV} must be a positive number of seconds")
    return seconds


# -- the client ----------------------------------------------------------------------------


class Client:
    """An AI Studios API client; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 6,
        max_retry_seconds: float = 120.0,
        request_deadline: float | None = None,
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = checked_api_base(base_url)
        _check_credentials(credentials)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._credentials = credentials
        if request_deadline is None:
            request_deadline = request_deadline_from_env(os.environ)
        self._deadline = request_deadline
        # A connect that cannot finish within the deadline surfaces as a connect timeout
        # (never sent, retryable) rather than as the deadline (maybe sent).
        self._timeout = (min(connect_timeout, request_deadline), read_timeout)
        self._max_attempts = max_attempts
        self._max_retry_seconds = max_retry_seconds
        self._log = log or (lambda line: None)
        self._cancel = threading.Event()
        self._sleep = sleep or self._cancel.wait
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._closed = False
        self._token: str | None = None
        self._token_expiry: float | None = None  # when to fetch a new token (time.time)
        self._token_lock = threading.Lock()
        self._clock = clock
        self._emulator_seen = threading.Event()
        self._waiting: set[threading.Event] = set()  # attempts in flight, woken by cancel()
        self._waiting_lock = threading.Lock()

    @property
    def emulator_seen(self) -> bool:
        """Has any answer (export, progress, token, ...) said it came from an emulator?"""
        return self._emulator_seen.is_set()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    def cancel(self) -> None:
        """Stop at once (a signal): a retry pause ends its export as not sent, a request in
        flight is given up (uncertain: it may have been processed). Thread-safe."""
        self._cancel.set()
        with self._waiting_lock:
            for waiting in self._waiting:
                waiting.set()

    def close(self) -> None:
        with self._sessions_lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    # -- public calls ----------------------------------------------------------------------

    def export(self, request: Mapping[str, Any]) -> ExportResult:
        """Submit one export; AuthError when the credentials are refused."""
        body = json.dumps(dict(request), ensure_ascii=False).encode("utf-8")
        run = _Run()
        try:
            attempt = self._authorized_call(run, "POST", EXPORT_PATH, body, idempotent=False)
        except _Cancelled:
            # Only raised before an attempt is sent: what went before was retryable, so
            # certainly not processed.
            return ExportResult(
                FAILED,
                message="not sent: the run was stopped",
                attempts=run.attempts,
                retries=run.retries,
                not_sent=True,
            )
        except ClientError as error:
            # No token (or a closed client): this export was not sent, or answered 401.
            return ExportResult(
                FAILED, message=str(error), attempts=run.attempts, retries=run.retries
            )
        return self._export_result(attempt, run)

    def identify_service(self) -> bool | None:
        """Is the API base an emulator? One unauthenticated `GET /`, no retries.

        True when the answer carries X-Specsync-Emulator, False for any other answer, None
        when none came (apply then relies on the header of each export answer). Only the
        header counts, as for every other answer: it is the emulator's documented mark.
        The key is not sent: `/` is not an API endpoint.
        """
        run = _Run()
        try:
            attempt = self._call_with_retries(
                run, "GET", HEALTH_PATH, None, None, idempotent=True, max_attempts=1
            )
        except _Cancelled:
            return None
        reply = attempt.reply
        if reply is None:
            return None
        return _from_emulator(reply.headers)

    def progress(self, project_id: str) -> dict[str, Any]:
        """The progress record of one project (the envelope's `data`)."""
        path = PROGRESS_PATH.format(project_id=quote(project_id, safe=""))
        run = _Run()
        try:
            attempt = self._authorized_call(run, "GET", path, None, idempotent=True)
        except _Cancelled:
            raise ClientError(f"progress of {project_id}: stopped") from None
        if attempt.reply is None:
            raise ClientError(self._gave_up_text(run, attempt))
        reply = attempt.reply
        if reply.status != 200:
            code, text = self._service_error(reply)
            prefix = f"{self._gave_up_text(run, attempt)}: " if run.gave_up else ""
            raise ClientError(
                f"{prefix}progress of {project_id}: {_status_text(reply.status, text, code)}",
                status=reply.status,
            )
        if _refusal(reply.parsed):
            # `success: false` on a poll: a polling error, not a failed render (docs/vendor.md).
            code, text = self._service_error(reply)
            raise RenderRefused(_status_text(reply.status, text, code), reply.status)
        data = _unwrap(reply.parsed)
        if data is None:
            raise ClientError(
                f"progress of {project_id}: the answer is not the expected JSON", reply.status
            )
        return data

    def get_json(self, path: str, *, once: bool = False) -> tuple[int, Any]:
        """An authorized GET of a read-only endpoint: (HTTP status, parsed JSON or None).

        `once`: a single attempt, no waiting on 429/503 (for a check that may be skipped).
        Raises AuthError when the credentials are refused, ClientError when no answer came.
        """
        run = _Run()
        attempt = self._authorized_call(
            run, "GET", path, None, idempotent=True, max_attempts=1 if once else None
        )
        if attempt.reply is None:
            raise ClientError(self._gave_up_text(run, attempt))
        return attempt.reply.status, attempt.reply.parsed

    # -- result shaping --------------------------------------------------------------------

    def _export_result(self, attempt: _Attempt, run: _Run) -> ExportResult:
        def result(outcome: str, message: str, **ids: str | None) -> ExportResult:
            return ExportResult(
                outcome, message=message, attempts=run.attempts, retries=run.retries, **ids
            )

        reply = attempt.reply
        if reply is None:
            if attempt.sent:
                return result(UNCERTAIN, attempt.error)
            return result(FAILED, self._gave_up_text(run, attempt))
        status = reply.status
        if 200 <= status < 300 and _refusal(reply.parsed):
            # The vendor's own code treats `success: false` as a failed request, whatever
            # the HTTP status: a definite answer, so the item failed (never uncertain).
            code, text = self._service_error(reply)
            refused = f"refused by the service: {text}" + (f" (code {code})" if code else "")
            return result(FAILED, refused, code=code)
        if 200 <= status < 300:
            accepted = self._accepted_result(reply, run)
            return replace(accepted, emulator=_from_emulator(reply.headers))
        code, text = self._service_error(reply)
        detail = _status_text(status, text, code)
        if status in RETRYABLE_STATUSES:
            return result(FAILED, self._gave_up_text(run, attempt, detail), code=code)
        if status >= 500:
            return result(UNCERTAIN, f"{detail}; the export may have been processed")
        if 300 <= status < 400:
            where = self._redact(reply.headers.get("Location", "") or "")[:_SERVER_TEXT_LIMIT]
            return result(FAILED, f"HTTP {status}: unexpected redirect to {where or '?'}")
        return result(FAILED, detail, code=code)

    def _accepted_result(self, reply: _Reply, run: _Run) -> ExportResult:
        """A 2xx: the ids, whatever else the answer holds; a refusal; or uncertain."""
        # (A `success: false` answer never gets here: _export_result made it a refusal.)
        data = _unwrap(reply.parsed)
        project_id = _id_text(data.get("projectId")) if data else None
        # A missing or odd taskId never costs the projectId: "" stands for "none given".
        task_id = (_id_text(data.get("taskId")) if data else None) or ""
        if project_id is None:
            return ExportResult(
                UNCERTAIN,
                message=f"HTTP {reply.status} without a projectId in the answer: the export "
                "may have been accepted",
                attempts=run.attempts,
                retries=run.retries,
            )
        if self._holds_secret(project_id) or self._holds_secret(task_id):
            # Storing it would put the key into the lockfile, and printing it into CI logs.
            return ExportResult(
                UNCERTAIN,
                message=f"HTTP {reply.status}: the answer's ids repeat the API credentials, "
                "so they were not recorded; the export may have been accepted",
                attempts=run.attempts,
                retries=run.retries,
            )
        return ExportResult(
            ACCEPTED,
            project_id=project_id,
            task_id=task_id,
            attempts=run.attempts,
            retries=run.retries,
        )

    def holds_secret(self, text: str) -> bool:
        """Is `text` (or does it contain) the API key, user key or a token fetched?"""
        return self._holds_secret(text)

    def _holds_secret(self, text: str) -> bool:
        for secret in self._secrets():
            # Equal at any length; contained only when long enough not to match by chance.
            if text == secret or (len(secret) >= _MIN_REDACTED_LENGTH and secret in text):
                return True
        return False

    def _secrets(self) -> list[str]:
        values = (self._credentials.api_key, self._credentials.user_key, self._token)
        return [value for value in values if value]

    def _gave_up_text(self, run: _Run, attempt: _Attempt, detail: str | None = None) -> str:
        what = detail or attempt.describe()
        if not run.gave_up:
            return what
        return f"gave up after {run.attempts} attempts{run.gave_up_note}: {what}"

    def _service_error(self, reply: _Reply) -> tuple[str | None, str]:
        """The service's error code and message, from its envelope or whatever it sent."""
        parsed = reply.parsed
        code: Any = None
        message: Any = None
        if isinstance(parsed, dict):
            error = parsed.get("error")
            if isinstance(error, dict):
                code = error.get("code")
                message = error.get("msg") or error.get("message")
            elif isinstance(error, str):
                message = error
            code = code if code is not None else parsed.get("code")
            message = message or parsed.get("msg") or parsed.get("message")
        if message is None and parsed is None:
            message = reply.body.decode("utf-8", errors="replace").strip()
        text = _printable(self._redact(str(message or "")))[:_SERVER_TEXT_LIMIT]
        code_text = _printable(self._redact(str(code)))[:50] if code is not None else None
        return code_text or None, text or "no error message"

    # -- authorization ---------------------------------------------------------------------

    def _authorized_call(
        self,
        run: _Run,
        method: str,
        path: str,
        body: bytes | None,
        *,
        idempotent: bool,
        max_attempts: int | None = None,
    ) -> _Attempt:
        """One request with retries; a 401 on a token fetches a new token once.

        Raises AuthError on 401/403, ClientError when no token could be obtained.
        """
        authorization = self._authorization()
        attempt = self._call_with_retries(
            run, method, path, body, authorization, idempotent, max_attempts
        )
        status = attempt.reply.status if attempt.reply else None
        if status == 401 and self._credentials.uses_token:
            # A 401 means the request was not processed: a fresh token and one more try.
            run.retries.append("HTTP 401 with a cached token: fetched a new token")
            self._log(f"{method} {path}: the token was refused (HTTP 401); fetching a new one")
            authorization = self._authorization(stale=authorization)
            attempt = self._call_with_retries(
                run, method, path, body, authorization, idempotent, max_attempts
            )
            status = attempt.reply.status if attempt.reply else None
        if status in (401, 403):
            assert attempt.reply is not None
            _, text = self._service_error(attempt.reply)
            raise AuthError(self._auth_message(status, text))
        return attempt

    def _auth_message(self, status: int, server_text: str) -> str:
        if self._credentials.api_key:
            # The vendor's "API KEY" is a token valid 24 hours: a pasted one expires.
            advice = (
                f"check {API_KEY_ENV}; a key obtained as a token is valid for 24 hours and "
                f"may have expired: in CI set {APP_ID_ENV} and {USER_KEY_ENV} instead "
                "(a fresh token is fetched each run)"
            )
            what = "the key"
        else:
            advice = f"check {APP_ID_ENV} and {USER_KEY_ENV}"
            what = "the token obtained with the app id and user key"
        return f"the API rejected {what} (HTTP {status}: {server_text}): {advice}"

    def _authorization(self, stale: str | None = None) -> str:
        """The Authorization header value: the key, or a cached or fresh token."""
        if self._credentials.api_key:
            return self._credentials.api_key
        with self._token_lock:
            # Refreshed shortly before the expiry its JWT names (a token lives 24 h, a CI run
            # may outlast it); a 401 anyway is answered in _authorized_call with a fresh one.
            expired = self._token_expiry is not None and self._clock() >= self._token_expiry
            if self._token is None or self._token == stale or expired:
                fetched_at = self._clock()
                self._token = self._fetch_token()
                self._token_expiry = refresh_time(self._token, fetched_at)
            return self._token

    def _fetch_token(self) -> str:
        body = json.dumps(
            {"appId": self._credentials.app_id, "userKey": self._credentials.user_key}
        ).encode("utf-8")
        run = _Run()
        attempt = self._call_with_retries(run, "POST", TOKEN_PATH, body, None, idempotent=True)
        reply = attempt.reply
        if reply is None:
            raise ClientError(f"could not get an auth token: {self._gave_up_text(run, attempt)}")
        if reply.status in (400, 401, 403) or _refusal(reply.parsed):
            # A refusal of the app id and user key stops the run once: every further
            # item would ask again and be refused the same way.
            _, text = self._service_error(reply)
            raise AuthError(
                f"the API rejected the app id and user key (HTTP {reply.status}: {text}): "
                f"check {APP_ID_ENV} and {USER_KEY_ENV}"
            )
        data = _unwrap(reply.parsed) if reply.status == 200 else None
        token = data.get("token") if data else None
        if isinstance(token, str) and token and not _header_safe(token):
            # requests would fail with the value in its message, after some were sent.
            raise AuthError(
                "the token the API handed out holds a line break or a character that "
                "cannot be sent in an HTTP header; nothing was sent with it"
            )
        if not isinstance(token, str) or not token:
            _, text = self._service_error(reply)
            raise ClientError(
                "could not get an auth token: "
                + self._gave_up_text(run, attempt, f"HTTP {reply.status}: {text}"),
                status=reply.status,
            )
        return token

    # -- retries ---------------------------------------------------------------------------

    def _call_with_retries(
        self,
        run: _Run,
        method: str,
        path: str,
        body: bytes | None,
        authorization: str | None,
        idempotent: bool,
        max_attempts: int | None = None,
    ) -> _Attempt:
        """Attempts until one is not retryable, or attempts or time run out.

        `idempotent` requests (token, progress) are also retried when their outcome is
        unknown: repeating them cannot create anything twice.
        """
        plan = _RetryPlan(
            run,
            max_attempts=max_attempts or self._max_attempts,
            max_seconds=self._max_retry_seconds,
            first_attempt=run.attempts,
        )

        def attempt_once() -> _Attempt:
            started = time.monotonic()
            try:
                return self._attempt(method, path, body, authorization, idempotent)
            finally:
                run.attempts += 1
                plan.spent += time.monotonic() - started

        def sleep(seconds: float) -> None:
            self._sleep(seconds)
            if self._cancel.is_set():
                raise _Cancelled

        def before_sleep(state: tenacity.RetryCallState) -> None:
            waited = plan.next_wait(state)
            last: _Attempt = state.outcome.result()  # type: ignore[union-attr]
            run.retries.append(f"{last.describe()}, waited {waited:.1f} s")
            self._log(
                f"{method} {path}: {last.describe()}; retrying in {waited:.1f} s "
                f"(attempt {run.attempts + 1} of at most {plan.last_attempt})"
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda attempt: attempt.retryable),
            stop=plan.should_stop,
            wait=plan.next_wait,
            sleep=sleep,
            before_sleep=before_sleep,
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        )
        result: _Attempt = retrying(attempt_once)
        return result

    def _attempt(
        self,
        method: str,
        path: str,
        body: bytes | None,
        authorization: str | None,
        idempotent: bool,
    ) -> _Attempt:
        """One HTTP request and its reply, or why there is none, within the deadline.

        The exchange runs in a daemon thread so that neither a trickling server nor a
        blocked socket read can hold the run past the deadline or a cancel; an exchange
        given up is left to its thread (its connection is not reused).
        """
        answer: list[_Attempt] = []
        # Set when the exchange ends, or by cancel(): one wait per attempt, not a poll (a
        # few hundred requests in flight would otherwise wake twenty times a second each).
        finished = threading.Event()
        with self._waiting_lock:
            self._waiting.add(finished)
        try:
            if self._cancel.is_set():  # after registering: a later cancel() sets `finished`
                raise _Cancelled
            session = self._session()
            return self._await_exchange(
                finished, answer, session, method, path, body, authorization, idempotent
            )
        finally:
            with self._waiting_lock:
                self._waiting.discard(finished)

    def _await_exchange(
        self,
        finished: threading.Event,
        answer: list[_Attempt],
        session: requests.Session,
        method: str,
        path: str,
        body: bytes | None,
        authorization: str | None,
        idempotent: bool,
    ) -> _Attempt:
        def exchange() -> None:
            try:
                answer.append(
                    self._exchange(session, method, path, body, authorization, idempotent)
                )
            except BaseException as error:  # reported, never lost in a thread
                answer.append(
                    _Attempt(
                        error=f"the request failed after it may have been sent: {_short(error)}",
                        retryable=idempotent,
                    )
                )
            finally:
                finished.set()

        threading.Thread(target=exchange, daemon=True, name="specsync-request").start()
        deadline = time.monotonic() + self._deadline
        while True:
            finished.wait(max(0.0, deadline - time.monotonic()))
            if answer:
                return answer[0]
            if self._cancel.is_set():
                self._local.session = None
                return _Attempt(
                    error="stopped while the request was in flight (the server may have "
                    "processed it)"
                )
            if time.monotonic() >= deadline:
                self._local.session = None
                return _Attempt(
                    error=f"no complete answer within the {self._deadline:g} s request "
                    "deadline (the server may have processed the request)",
                    retryable=idempotent,
                )

    def _exchange(
        self,
        session: requests.Session,
        method: str,
        path: str,
        body: bytes | None,
        authorization: str | None,
        idempotent: bool,
    ) -> _Attempt:
        """One HTTP request and its reply, or why there is none (see `_unanswered`)."""
        try:
            response = session.request(
                method,
                self.base_url + path,
                data=body,
                headers=_headers(body, authorization),
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as error:
            return _unanswered(error, idempotent)
        try:
            content = _read_capped(response, self._timeout[1])
        except _SlowAnswer:
            return _Attempt(
                error="the answer took longer than the read timeout to arrive (the server "
                "may have processed the request)",
                retryable=idempotent,
            )
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
            return _Attempt(
                error="the connection broke while the answer was being read",
                retryable=idempotent,
            )
        finally:
            response.close()
        reply = _Reply(response.status_code, dict(response.headers), content)
        if _from_emulator(reply.headers):
            self._emulator_seen.set()
        retryable = response.status_code in RETRYABLE_STATUSES
        return _Attempt(reply=reply, retryable=retryable)

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is not None and not self._closed:
            return session
        with self._sessions_lock:
            if self._closed:
                raise ClientError("the client is closed")
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=POOL_MAXSIZE, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._sessions.append(session)
        self._local.session = session
        return session

    def _redact(self, text: str) -> str:
        for secret in self._secrets():
            # Very short values (test keys) would mangle every message; real keys are long.
            if secret and len(secret) >= _MIN_REDACTED_LENGTH:
                text = text.replace(secret, "***")
        return text


# -- helpers -------------------------------------------------------------------------------


def _from_emulator(headers: Mapping[str, str]) -> bool:
    # Header names are case-insensitive; the dict copy of a reply's headers is not.
    name = EMULATOR_HEADER.lower()
    return any(key.lower() == name and value.strip() for key, value in headers.items())


def _header_safe(value: str) -> bool:
    return all(" " < char < "\x7f" for char in value)


def _headers(body: bytes | None, authorization: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "specsync"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if authorization is not None:
        headers["Authorization"] = authorization
    return headers


def _unanswered(error: requests.exceptions.RequestException, idempotent: bool) -> _Attempt:
    """A request that raised instead of answering: was it sent, and may it be retried?

    Checked most specific first: ConnectTimeout and SSLError are ConnectionErrors too.
    """
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return _Attempt(error="connect timeout", sent=False, retryable=True)
    if isinstance(error, requests.exceptions.SSLError):
        # Certificates do not fix themselves between attempts: not retried.
        return _Attempt(error=_tls_problem(error), sent=False)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return _Attempt(
            error="read timeout after the request was sent (the server may have processed it)",
            retryable=idempotent,
        )
    if isinstance(error, requests.exceptions.ConnectionError):
        refused = _never_connected(error)
        if refused is not None:
            return _Attempt(error=refused, sent=False, retryable=True)
        return _Attempt(
            error="the connection closed after the request was sent, with no answer",
            retryable=idempotent,
        )
    return _Attempt(
        error=f"the request failed after it may have been sent: {_short(error)}",
        retryable=idempotent,
    )
