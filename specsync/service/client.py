"""The one module that talks HTTP to the AI Studios API: exports, auth tokens, progress.

What may be retried is the contract (DESIGN section 5): only what the server certainly did
not process — a connection that never opened, 429 and 503 (honouring Retry-After). A
request that was sent and got no clear answer (read timeout, reset connection, another
5xx, an unreadable 2xx) is *uncertain* and never resubmitted here: there is no idempotency
key, so a second POST could bill a second video.

Retries run on tenacity rather than urllib3's Retry (which would also retry a POST after a
read error unless configured with care, and hides each attempt from us) or a loop of our
own: tenacity gives the tested full-jitter backoff, attempt counting, an injectable sleep
and per-retry hooks, so the code here only says *what* is retryable and how long the
server asked us to wait.

Secrets (API key, user key, token) never reach a message, a log line or a repr: they are
only put into headers and bodies, and any text that came from the server is redacted
before it is shown, in case it echoes them.
"""

from __future__ import annotations

import datetime
import email.utils
import ipaddress
import json
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import requests.adapters
import tenacity
import urllib3.exceptions

DEFAULT_API_BASE = "https://app.aistudios.com"
EXPORT_PATH = "/api/odin/v3/simple/custom"
TOKEN_PATH = "/api/odin/v3/auth/token"
PROGRESS_PATH = "/api/odin/v3/editor/progress/{project_id}"

API_KEY_ENV = "AISTUDIOS_API_KEY"
APP_ID_ENV = "AISTUDIOS_APP_ID"
USER_KEY_ENV = "AISTUDIOS_USER_KEY"
API_BASE_ENV = "SPECSYNC_API_BASE"

# Answers larger than this are cut off: a hostile or broken server cannot exhaust memory.
MAX_RESPONSE_BYTES = 1024 * 1024
# Full-jitter exponential backoff when the server does not say how long to wait.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
# Enough connections for apply's thread pool, on each per-thread session's host.
POOL_MAXSIZE = 32
RETRYABLE_STATUSES = frozenset({429, 503})
_SERVER_TEXT_LIMIT = 300
_MIN_REDACTED_LENGTH = 6

ACCEPTED = "accepted"
FAILED = "failed"
UNCERTAIN = "uncertain"


class AuthError(Exception):
    """The API refused the credentials (401/403), or there are none: stop the whole run."""


class ConfigError(Exception):
    """The settings cannot work: a bad SPECSYNC_API_BASE, missing or unusable credentials."""


class MissingCredentialsError(ConfigError, AuthError):
    """No usable credentials: a configuration problem that also stops the run like an AuthError."""


class ClientError(Exception):
    """A request failed for another reason; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# -- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Either an API key, or an app id and user key that are exchanged for a token."""

    api_key: str | None = None
    app_id: str | None = None
    user_key: str | None = None

    def __repr__(self) -> str:
        def shown(value: str | None) -> str:
            return "None" if value is None else "'***'"

        return (
            f"Credentials(api_key={shown(self.api_key)}, app_id={shown(self.app_id)}, "
            f"user_key={shown(self.user_key)})"
        )

    @property
    def uses_token(self) -> bool:
        return not self.api_key and bool(self.app_id and self.user_key)


def credentials_from_env(env: Mapping[str, str]) -> Credentials:
    """AISTUDIOS_API_KEY, else AISTUDIOS_APP_ID + AISTUDIOS_USER_KEY; ConfigError when neither."""
    api_key = (env.get(API_KEY_ENV) or "").strip()
    app_id = (env.get(APP_ID_ENV) or "").strip()
    user_key = (env.get(USER_KEY_ENV) or "").strip()
    if api_key:
        credentials = Credentials(api_key=api_key)
    elif app_id and user_key:
        credentials = Credentials(app_id=app_id, user_key=user_key)
    elif app_id or user_key:
        missing = USER_KEY_ENV if app_id else APP_ID_ENV
        present = APP_ID_ENV if app_id else USER_KEY_ENV
        raise MissingCredentialsError(
            f"{present} is set but {missing} is not: set both, or set {API_KEY_ENV}"
        )
    else:
        raise MissingCredentialsError(
            f"no API credentials: set {API_KEY_ENV}, or {APP_ID_ENV} and {USER_KEY_ENV}"
        )
    _check_credentials(credentials)
    return credentials


def api_base_from_env(env: Mapping[str, str]) -> str:
    """SPECSYNC_API_BASE (checked) or the real service's address."""
    value = (env.get(API_BASE_ENV) or "").strip()
    return checked_api_base(value, source=API_BASE_ENV) if value else DEFAULT_API_BASE


def checked_api_base(url: str, *, source: str = "the API base URL") -> str:
    """The URL without a trailing slash; ConfigError unless https, or http to loopback."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise ConfigError(f"{source} is not a valid URL: {url!r} ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{source} must be an http(s) URL such as {DEFAULT_API_BASE}: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{source} must not hold a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError(f"{source} must not have a query or fragment: {url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{source} uses plain http to {parts.hostname}, which would send the API key "
            "unencrypted: use https (plain http is allowed only for loopback addresses)"
        )
    return url.rstrip("/")


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (by name or address, never by DNS lookup)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_credentials(credentials: Credentials) -> None:
    if not credentials.api_key and not (credentials.app_id and credentials.user_key):
        raise MissingCredentialsError(
            f"no API credentials: set {API_KEY_ENV}, or {APP_ID_ENV} and {USER_KEY_ENV}"
        )
    for name, value in (
        (API_KEY_ENV, credentials.api_key),
        (APP_ID_ENV, credentials.app_id),
        (USER_KEY_ENV, credentials.user_key),
    ):
        # A line break or non-ASCII character makes requests fail with the value in the
        # message; refuse it here, without showing it.
        if value and not all(" " < char < "\x7f" for char in value):
            raise ConfigError(
                f"{name} holds a space, line break or non-ASCII character, which cannot "
                "be sent in an HTTP header: check the value"
            )


def parse_retry_after(value: str | None, *, now: datetime.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP-date); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    current = now or datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - current).total_seconds())


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    """What became of one export request."""

    outcome: str  # "accepted" | "failed" | "uncertain"
    project_id: str | None = None
    task_id: str | None = None
    code: str | None = None  # the service's error code, when it gave one
    message: str = ""
    attempts: int = 1  # HTTP attempts made for the export itself
    retries: list[str] = field(default_factory=list)  # one short line per retry


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class _Attempt:
    """One HTTP attempt: a reply, or why there was none and whether it was sent."""

    reply: _Reply | None = None
    error: str = ""
    sent: bool = True  # False: the request certainly never reached the server
    retryable: bool = False

    def describe(self) -> str:
        if self.reply is None:
            return self.error
        return f"HTTP {self.reply.status}"


@dataclass
class _Run:
    """The attempts of one logical request (several HTTP attempts with retries)."""

    attempts: int = 0
    retries: list[str] = field(default_factory=list)
    gave_up: bool = False  # retrying stopped while the last attempt was still retryable
    gave_up_note: str = ""  # why, when it was not the number of attempts


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
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = checked_api_base(base_url)
        _check_credentials(credentials)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._credentials = credentials
        self._timeout = (connect_timeout, read_timeout)
        self._max_attempts = max_attempts
        self._max_retry_seconds = max_retry_seconds
        self._log = log or (lambda line: None)
        self._sleep = sleep
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._closed = False
        self._token: str | None = None
        self._token_lock = threading.Lock()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

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
        except ClientError as error:
            # No token (or a closed client): this export was not sent, or answered 401.
            return ExportResult(
                FAILED, message=str(error), attempts=run.attempts, retries=run.retries
            )
        return self._export_result(attempt, run)

    def progress(self, project_id: str) -> dict[str, Any]:
        """The progress record of one project (the envelope's `data`)."""
        path = PROGRESS_PATH.format(project_id=quote(project_id, safe=""))
        run = _Run()
        attempt = self._authorized_call(run, "GET", path, None, idempotent=True)
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
        data = _unwrap(_json_or_none(reply.body))
        if data is None:
            raise ClientError(
                f"progress of {project_id}: the answer is not the expected JSON", reply.status
            )
        return data

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
        if 200 <= status < 300:
            data = _unwrap(_json_or_none(reply.body))
            project_id = _id_text(data.get("projectId")) if data else None
            if data is None or project_id is None:
                return result(
                    UNCERTAIN,
                    f"HTTP {status} without a projectId in the answer: the export may have "
                    "been accepted",
                )
            return result(ACCEPTED, "", project_id=project_id, task_id=_id_text(data.get("taskId")))
        code, text = self._service_error(reply)
        detail = _status_text(status, text, code)
        if status in RETRYABLE_STATUSES:
            return ExportResult(
                FAILED,
                code=code,
                message=self._gave_up_text(run, attempt, detail),
                attempts=run.attempts,
                retries=run.retries,
            )
        if status >= 500:
            return result(UNCERTAIN, f"{detail}; the export may have been processed")
        if 300 <= status < 400:
            where = self._redact(reply.headers.get("Location", "") or "")[:_SERVER_TEXT_LIMIT]
            return result(FAILED, f"HTTP {status}: unexpected redirect to {where or '?'}")
        return ExportResult(
            FAILED, code=code, message=detail, attempts=run.attempts, retries=run.retries
        )

    def _gave_up_text(self, run: _Run, attempt: _Attempt, detail: str | None = None) -> str:
        what = detail or attempt.describe()
        if not run.gave_up:
            return what
        return f"gave up after {run.attempts} attempts{run.gave_up_note}: {what}"

    def _service_error(self, reply: _Reply) -> tuple[str | None, str]:
        """The service's error code and message, from its envelope or whatever it sent."""
        parsed = _json_or_none(reply.body)
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
        self, run: _Run, method: str, path: str, body: bytes | None, *, idempotent: bool
    ) -> _Attempt:
        """One request with retries; a 401 on a token fetches a new token once.

        Raises AuthError on 401/403, ClientError when no token could be obtained.
        """
        authorization = self._authorization()
        attempt = self._call_with_retries(run, method, path, body, authorization, idempotent)
        status = attempt.reply.status if attempt.reply else None
        if status == 401 and self._credentials.uses_token:
            # A 401 means the request was not processed: a fresh token and one more try.
            run.retries.append("HTTP 401 with a cached token: fetched a new token")
            self._log(f"{method} {path}: the token was refused (HTTP 401); fetching a new one")
            authorization = self._authorization(stale=authorization)
            attempt = self._call_with_retries(run, method, path, body, authorization, idempotent)
            status = attempt.reply.status if attempt.reply else None
        if status in (401, 403):
            assert attempt.reply is not None
            _, text = self._service_error(attempt.reply)
            raise AuthError(self._auth_message(status, text))
        return attempt

    def _auth_message(self, status: int, server_text: str) -> str:
        if self._credentials.api_key:
            advice = f"check {API_KEY_ENV}"
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
            # No refresh ahead of expiry: a 401 on a token costs one round trip a day, and
            # _authorized_call answers it with a fresh token.
            if self._token is None or self._token == stale:
                self._token = self._fetch_token()
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
        if reply.status in (400, 401, 403):
            _, text = self._service_error(reply)
            raise AuthError(
                f"the API rejected the app id and user key (HTTP {reply.status}: {text}): "
                f"check {APP_ID_ENV} and {USER_KEY_ENV}"
            )
        data = _unwrap(_json_or_none(reply.body)) if reply.status == 200 else None
        token = data.get("token") if data else None
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
    ) -> _Attempt:
        """Attempts until one is not retryable, or attempts or time run out.

        `idempotent` requests (token, progress) are also retried when their outcome is
        unknown: repeating them cannot create anything twice.
        """
        plan = _RetryPlan(
            run,
            max_attempts=self._max_attempts,
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
            sleep=self._sleep,
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
        headers = {"Accept": "application/json", "User-Agent": "specsync"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if authorization is not None:
            headers["Authorization"] = authorization
        try:
            response = self._session().request(
                method,
                self.base_url + path,
                data=body,
                headers=headers,
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout:
            return _Attempt(error="connect timeout", sent=False, retryable=True)
        except requests.exceptions.SSLError as error:
            # Certificates do not fix themselves between attempts: not retried.
            return _Attempt(error=_tls_problem(error), sent=False)
        except requests.exceptions.ReadTimeout:
            return _Attempt(
                error="read timeout after the request was sent (the server may have processed it)",
                retryable=idempotent,
            )
        except requests.exceptions.ConnectionError as error:
            refused = _never_connected(error)
            if refused is not None:
                return _Attempt(error=refused, sent=False, retryable=True)
            return _Attempt(
                error="the connection closed after the request was sent, with no answer",
                retryable=idempotent,
            )
        except requests.exceptions.RequestException as error:
            return _Attempt(
                error=f"the request failed after it may have been sent: {_short(error)}",
                retryable=idempotent,
            )
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
        for secret in (self._credentials.api_key, self._credentials.user_key, self._token):
            # Very short values (test keys) would mangle every message; real keys are long.
            if secret and len(secret) >= _MIN_REDACTED_LENGTH:
                text = text.replace(secret, "***")
        return text


class _RetryPlan:
    """Stop and wait decisions for one `_call_with_retries`.

    The wait before a retry is decided once per attempt, so that the stop check (is the
    budget enough for it?) and the sleep agree, whatever order tenacity asks in.
    """

    def __init__(
        self, run: _Run, *, max_attempts: int, max_seconds: float, first_attempt: int
    ) -> None:
        self._run = run
        self._max_seconds = max_seconds
        self._jitter = tenacity.wait_random_exponential(
            multiplier=BACKOFF_BASE_SECONDS, max=BACKOFF_CAP_SECONDS
        )
        self._waits: dict[int, float] = {}
        self._server_asked: dict[int, bool] = {}
        self.last_attempt = first_attempt + max_attempts
        self._max_attempts = max_attempts
        self.spent = 0.0  # seconds spent in attempts (sleeps are counted apart)

    def next_wait(self, state: tenacity.RetryCallState) -> float:
        number = state.attempt_number
        if number not in self._waits:
            attempt: _Attempt = state.outcome.result()  # type: ignore[union-attr]
            asked = None
            if attempt.reply is not None:
                asked = parse_retry_after(attempt.reply.headers.get("Retry-After"))
            self._server_asked[number] = asked is not None
            self._waits[number] = asked if asked is not None else float(self._jitter(state))
        return self._waits[number]

    def should_stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self._max_attempts:
            self._run.gave_up = True
            return True
        wait = self.next_wait(state)
        if self.spent + state.idle_for + wait > self._max_seconds:
            self._run.gave_up = True
            if self._server_asked[state.attempt_number]:
                self._run.gave_up_note = (
                    f" (the server asked to wait {wait:.0f} s, beyond the "
                    f"{self._max_seconds:.0f} s retry budget)"
                )
            else:
                self._run.gave_up_note = f" ({self._max_seconds:.0f} s retry budget spent)"
            return True
        return False


# -- helpers -------------------------------------------------------------------------------


class _SlowAnswer(TimeoutError):
    """The answer trickled in for longer than the read timeout allows in total."""


def _read_capped(response: requests.Response, seconds: float) -> bytes:
    """At most MAX_RESPONSE_BYTES of the body, within `seconds` in all.

    The read timeout alone bounds each socket read, not a body sent a byte at a time.
    """
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    for chunk in _body_pieces(response, 64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            break
        if time.monotonic() > deadline:
            raise _SlowAnswer
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


def _body_pieces(response: requests.Response, size: int) -> Iterator[bytes]:
    """The decoded body in pieces as they arrive.

    urllib3 2's read1 returns what has arrived (decompressing at most `size` bytes at a
    time); plain read, and so iter_content, waits until `size` bytes have come, so a
    trickle would be noticed only at its end. urllib3 without read1 falls back to that.
    """
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:
        yield from response.iter_content(chunk_size=size)
        return
    while True:
        piece = read1(size, decode_content=True)
        if not piece:
            return
        yield piece


def _never_connected(error: BaseException) -> str | None:
    """Why the connection never opened (so nothing was sent), or None if it may have."""
    for cause in _causes(error):
        if isinstance(
            cause, (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError)
        ):
            return None
    causes = list(_causes(error))
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "connection refused"
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return "host name not found"
    for cause in causes:
        if isinstance(
            cause, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
        ):
            return "could not connect"
    return None


def _causes(error: BaseException) -> Iterable[BaseException]:
    """The error, what it wraps (args, reason, cause, context), depth first, each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.extend(item for item in linked if isinstance(item, BaseException))


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None


def _unwrap(parsed: Any) -> dict[str, Any] | None:
    """`data` of a `{"success": true, "data": {...}}` envelope, or a bare object."""
    if not isinstance(parsed, dict):
        return None
    if "success" in parsed or "data" in parsed:
        data = parsed.get("data")
        if parsed.get("success") is False or not isinstance(data, dict):
            return None
        return data
    return parsed


def _id_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        text = str(value).strip()
        return text or None
    return None


def _status_text(status: int, text: str, code: str | None) -> str:
    """ "HTTP 400: invalid model (code 1002)"; no code part when it only repeats the status."""
    shown_code = f" (code {code})" if code and code != str(status) else ""
    return f"HTTP {status}: {text}{shown_code}"


def _printable(text: str) -> str:
    return "".join(char if char.isprintable() else " " for char in text).strip()


def _short(error: BaseException) -> str:
    return _printable(f"{type(error).__name__}")


def _tls_problem(error: BaseException) -> str:
    """What the TLS layer said (innermost ssl error), with the usual remedy."""
    reason = next(
        (str(cause) for cause in _causes(error) if isinstance(cause, ssl.SSLError)),
        _short(error),
    )
    return (
        f"TLS error: {_printable(reason)[:_SERVER_TEXT_LIMIT]} (behind a proxy or private CA, "
        "set REQUESTS_CA_BUNDLE to its certificate bundle)"
    )
