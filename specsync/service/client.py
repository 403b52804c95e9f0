"""The one module that talks to the AI Studios API: exports, auth tokens, progress.

What may be retried is the contract (README, "Talking to AI Studios"): only what the server
certainly did not process — a connection that never opened, 429 and 503 (honouring
Retry-After). A request that was sent and got no clear answer (read timeout, reset
connection, another 5xx, an unreadable 2xx) is *uncertain* and never resubmitted here:
there is no idempotency key, so a second POST could bill a second video. The HTTP layer
(`service.http`) sends one attempt within its deadline and decides when to retry; what an
answer means is read in `export_answer`.

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
from typing import Any
from urllib.parse import quote

from specsync.item_words import Answer
from specsync.service.credentials import (
    API_KEY_ENV,
    APP_ID_ENV,
    USER_KEY_ENV,
    Credentials,
    check_credentials,
    checked_api_base,
    pinned_addresses,
)
from specsync.service.errors import AuthError, ClientError, ConfigError, RenderRefused, status_text
from specsync.service.export_answer import (
    EMULATOR_HEADER,
    ExportResult,
    Redactor,
    export_result,
    from_emulator,
)
from specsync.service.http.attempt import Attempt, RequestRun
from specsync.service.http.reply import is_refusal, unwrap
from specsync.service.http.retry_plan import Cancelled, RetryLimits, call_with_retries
from specsync.service.http.transport import Request, Transport
from specsync.service.tokens import refresh_time

__all__ = [
    "EMULATOR_HEADER",
    "Client",
    "ExportResult",
    "request_deadline_from_env",
]

EXPORT_PATH = "/api/odin/v3/simple/custom"
TOKEN_PATH = "/api/odin/v3/auth/token"
PROGRESS_PATH = "/api/odin/v3/editor/progress/{project_id}"
HEALTH_PATH = "/"

# The whole of one HTTP attempt (connect, headers, body) ends within this many seconds, or
# is given up: a read timeout bounds each socket read only, not headers sent 1 byte/s.
DEFAULT_REQUEST_DEADLINE = 90.0
REQUEST_DEADLINE_ENV = "SPECSYNC_REQUEST_DEADLINE"


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
        # Resolved once and pinned for the run (a loopback name), then checked as a URL.
        pinned = pinned_addresses(base_url)
        self.base_url = checked_api_base(base_url)
        check_credentials(credentials)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._credentials = credentials
        if request_deadline is None:
            request_deadline = request_deadline_from_env(os.environ)
        # A connect that cannot finish within the deadline surfaces as a connect timeout
        # (never sent, retryable) rather than as the deadline (maybe sent).
        self._transport = Transport(
            self.base_url,
            timeout=(min(connect_timeout, request_deadline), read_timeout),
            deadline=request_deadline,
            # A loopback name is connected to at the addresses it was checked to have.
            pinned=pinned,
        )
        self._limits = RetryLimits(max_attempts, max_retry_seconds)
        self._log = log or (lambda line: None)
        self._stop_retrying = threading.Event()
        self._sleep = sleep or self._stop_retrying.wait
        self._token: str | None = None
        self._token_expiry: float | None = None  # when to fetch a new token (time.time)
        self._token_lock = threading.Lock()
        self._clock = clock
        self._emulator_seen = threading.Event()
        self._redactor = Redactor(self._secrets)

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

    def stop_retrying(self) -> None:
        """End every retry pause now and start no retry: an export waiting to retry ends
        as not sent; requests in flight go on to their answers. Thread-safe."""
        self._stop_retrying.set()

    def cancel(self) -> None:
        """Stop at once: as `stop_retrying`, and a request in flight is given up
        (uncertain: it may have been processed). Thread-safe."""
        self._stop_retrying.set()
        self._transport.cancel()

    def close(self) -> None:
        self._transport.close()

    # -- public calls ----------------------------------------------------------------------

    def export(self, request: Mapping[str, Any]) -> ExportResult:
        """Submit one export; AuthError when the credentials are refused."""
        body = json.dumps(dict(request), ensure_ascii=False).encode("utf-8")
        run = RequestRun()
        try:
            attempt = self._authorized_call(run, "POST", EXPORT_PATH, body, idempotent=False)
        except Cancelled:
            # Only raised before an attempt is sent: what went before was retryable, so
            # certainly not processed.
            return ExportResult(
                Answer.FAILED,
                message="not sent: the run was stopped",
                attempts=run.attempts,
                retries=run.retries,
                not_sent=True,
            )
        except ClientError as error:
            # No token (or a closed client): this export was not sent, or answered 401.
            return ExportResult(
                Answer.FAILED, message=str(error), attempts=run.attempts, retries=run.retries
            )
        return export_result(attempt, run, self._redactor)

    def identify_service(self) -> bool | None:
        """Is the API base an emulator? One unauthenticated `GET /`, no retries.

        True when the answer carries X-Specsync-Emulator, False for any other answer, None
        when none came (apply then relies on the header of each export answer). Only the
        header counts, as for every other answer: it is the emulator's documented mark.
        The key is not sent: `/` is not an API endpoint.
        """
        try:
            attempt = self._call(
                RequestRun(), Request("GET", HEALTH_PATH, None, _headers(None, None), True), 1
            )
        except Cancelled:
            return None
        if attempt.reply is None:
            return None
        return from_emulator(attempt.reply.headers)

    def progress(self, project_id: str) -> dict[str, Any]:
        """The progress record of one project (the envelope's `data`)."""
        path = PROGRESS_PATH.format(project_id=quote(project_id, safe=""))
        run = RequestRun()
        try:
            attempt = self._authorized_call(run, "GET", path, None, idempotent=True)
        except Cancelled:
            raise ClientError(f"progress of {project_id}: stopped") from None
        reply = attempt.reply
        if reply is None:
            raise ClientError(run.gave_up_text(attempt.describe()))
        if reply.status != 200:
            code, text = self._redactor.service_error(reply)
            prefix = f"{run.gave_up_text(attempt.describe())}: " if run.gave_up else ""
            raise ClientError(
                f"{prefix}progress of {project_id}: {status_text(reply.status, text, code)}",
                status=reply.status,
            )
        if is_refusal(reply.parsed):
            # `success: false` on a poll: a polling error, not a failed render
            # (docs/vendor.md, row 19); status polls again.
            code, text = self._redactor.service_error(reply)
            raise RenderRefused(status_text(reply.status, text, code), reply.status)
        data = unwrap(reply.parsed)
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
        run = RequestRun()
        try:
            attempt = self._authorized_call(
                run, "GET", path, None, idempotent=True, max_attempts=1 if once else None
            )
        except Cancelled:
            raise ClientError(f"GET {path}: stopped") from None
        if attempt.reply is None:
            raise ClientError(run.gave_up_text(attempt.describe()))
        return attempt.reply.status, attempt.reply.parsed

    def holds_secret(self, text: str) -> bool:
        """Is `text` (or does it contain) the API key, user key or a token fetched?"""
        return self._redactor.holds_secret(text)

    def _secrets(self) -> list[str]:
        values = (self._credentials.api_key, self._credentials.user_key, self._token)
        return [value for value in values if value]

    # -- authorization ---------------------------------------------------------------------

    def _authorized_call(
        self,
        run: RequestRun,
        method: str,
        path: str,
        body: bytes | None,
        *,
        idempotent: bool,
        max_attempts: int | None = None,
    ) -> Attempt:
        """One request with retries; a 401 on a token fetches a new token once.

        Raises AuthError on 401/403, ClientError when no token could be obtained.
        """
        authorization = self._authorization()
        request = Request(method, path, body, _headers(body, authorization), idempotent)
        attempt = self._call(run, request, max_attempts)
        status = attempt.reply.status if attempt.reply else None
        if status == 401 and self._credentials.uses_token:
            # A 401 means the request was not processed: a fresh token and one more try.
            run.retries.append("HTTP 401 with a cached token: fetched a new token")
            self._log(f"{method} {path}: the token was refused (HTTP 401); fetching a new one")
            authorization = self._authorization(stale=authorization)
            request = Request(method, path, body, _headers(body, authorization), idempotent)
            attempt = self._call(run, request, max_attempts)
            status = attempt.reply.status if attempt.reply else None
        if attempt.reply is not None and status in (401, 403):
            _, text = self._redactor.service_error(attempt.reply)
            raise AuthError(self._auth_message(attempt.reply.status, text))
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
        run = RequestRun()
        attempt = self._call(run, Request("POST", TOKEN_PATH, body, _headers(body, None), True))
        reply = attempt.reply
        if reply is None:
            raise ClientError(
                f"could not get an auth token: {run.gave_up_text(attempt.describe())}"
            )
        if reply.status in (400, 401, 403) or is_refusal(reply.parsed):
            # A refusal of the app id and user key stops the run once: every further
            # item would ask again and be refused the same way.
            _, text = self._redactor.service_error(reply)
            raise AuthError(
                f"the API rejected the app id and user key (HTTP {reply.status}: {text}): "
                f"check {APP_ID_ENV} and {USER_KEY_ENV}"
            )
        data = unwrap(reply.parsed) if reply.status == 200 else None
        token = data.get("token") if data else None
        if isinstance(token, str) and token and not _header_safe(token):
            # requests would fail with the value in its message, after some were sent.
            raise AuthError(
                "the token the API handed out holds a line break or a character that "
                "cannot be sent in an HTTP header; nothing was sent with it"
            )
        if not isinstance(token, str) or not token:
            _, text = self._redactor.service_error(reply)
            raise ClientError(
                "could not get an auth token: " + run.gave_up_text(f"HTTP {reply.status}: {text}"),
                status=reply.status,
            )
        return token

    # -- attempts and retries --------------------------------------------------------------

    def _call(self, run: RequestRun, request: Request, max_attempts: int | None = None) -> Attempt:
        """Attempts until one is not retryable, or attempts or time run out (`retry_plan`).

        Idempotent requests (token, progress) are also retried when their outcome is
        unknown: repeating them cannot create anything twice. Raises Cancelled when the
        retrying was stopped before an attempt could be sent.
        """
        limits = self._limits
        if max_attempts is not None:
            limits = RetryLimits(max_attempts, limits.max_seconds)
        last = run.attempts + limits.max_attempts

        def attempt_once() -> Attempt:
            if self._stop_retrying.is_set() and run.attempts > 0:
                raise Cancelled  # a retry (a 401's fresh token) after the run was stopped
            attempt = self._transport.attempt(request)
            if not attempt.sent and self._transport.cancelled:
                raise Cancelled
            if attempt.reply is not None and from_emulator(attempt.reply.headers):
                self._emulator_seen.set()
            return attempt

        def sleep(seconds: float) -> None:
            self._sleep(seconds)
            if self._stop_retrying.is_set():
                raise Cancelled

        def on_retry(attempt: Attempt, seconds: float) -> None:
            self._log(
                f"{request.method} {request.path}: {attempt.describe()}; retrying in "
                f"{seconds:.1f} s (attempt {run.attempts + 1} of at most {last})"
            )

        if self._transport.cancelled:
            raise Cancelled
        return call_with_retries(attempt_once, run, limits, sleep=sleep, on_retry=on_retry)


def _header_safe(value: str) -> bool:
    return all(" " < char < "\x7f" for char in value)


def _headers(body: bytes | None, authorization: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "specsync"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if authorization is not None:
        headers["Authorization"] = authorization
    return headers
