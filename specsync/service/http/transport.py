"""Sending one HTTP request and reading its reply, within a deadline, cancellable.

The deadline on the whole attempt (connect, request, headers, body) is kept at its
socket by the thread that runs it (`deadline`, `connection`): no thread per attempt.

What a failed exchange means is decided here (see `unanswered`): a connection that never
opened was not sent; anything after the request may have gone out is "maybe processed".
Only transport errors (connection, timeout, TLS, malformed HTTP) are such outcomes; any
other exception is a bug of specsync's and propagates to the caller.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from specsync.service.errors import ClientError
from specsync.service.http.attempt import RETRYABLE_STATUSES, Attempt
from specsync.service.http.connection import DeadlineAdapter
from specsync.service.http.deadline import AttemptScope, running
from specsync.service.http.failures import never_connected, tls_problem
from specsync.service.http.reply import Reply, SlowAnswer, read_capped

# Enough connections for apply's thread pool, on each per-thread session's host.
POOL_MAXSIZE = 32

# The exceptions that are an outcome of talking to a server (and reading its answer).
TRANSPORT_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)

STOPPED_BEFORE_SENDING = "stopped before the request was sent"
STOPPED_IN_FLIGHT = "stopped while the request was in flight (the server may have processed it)"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None
    headers: Mapping[str, str]
    idempotent: bool  # repeating it cannot create anything twice (GET, token)


class Transport:
    """HTTP exchanges with one base URL; safe to share between threads (each thread has
    its own session; the attempt runs in the calling thread).

    `pinned`: the addresses a loopback name (`*.localhost`) was checked to resolve to;
    every request connects to one of them, with the name in Host (and SNI), so a resolver
    that answers differently later (DNS rebinding) cannot send the key elsewhere.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: tuple[float, float],
        deadline: float,
        pinned: Sequence[str] = (),
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.deadline = deadline
        self._connect_url, self._host_header, self._server_name = _pinned_url(base_url, pinned)
        self._cancel = threading.Event()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._closed = False
        self._running: set[AttemptScope] = set()  # attempts in flight, stopped by cancel()
        self._running_lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Give up every attempt in flight at once (their sockets are shut down), and
        start no new one. Thread-safe; returns without waiting for them."""
        with self._running_lock:
            self._cancel.set()
            running_now = list(self._running)
        for scope in running_now:
            scope.cancel()

    def close(self) -> None:
        with self._sessions_lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def attempt(self, request: Request) -> Attempt:
        """One HTTP request and its reply, or why there is none, within the deadline.

        Runs in the calling thread; every socket operation of the attempt waits at most
        until the deadline, and a cancel() shuts its socket down.
        """
        scope = AttemptScope(self.deadline)
        with self._running_lock:
            if self._cancel.is_set():
                return Attempt(error=STOPPED_BEFORE_SENDING, sent=False)
            self._running.add(scope)
        try:
            with running(scope):
                attempt = self._exchange(self._session(), request)
        finally:
            with self._running_lock:
                self._running.discard(scope)
        return _as_scope_ended(attempt, scope, request, self.deadline)

    def _exchange(self, session: requests.Session, request: Request) -> Attempt:
        headers = dict(request.headers)
        if self._host_header is not None:
            headers["Host"] = self._host_header
        try:
            response = session.request(
                request.method,
                self._connect_url + request.path,
                data=request.body,
                headers=headers,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as error:
            return unanswered(error, request.idempotent)
        try:
            content = read_capped(response, self.timeout[1])
        except SlowAnswer:
            return Attempt(
                error="the answer took longer than the read timeout to arrive (the server "
                "may have processed the request)",
                retryable=request.idempotent,
            )
        except TRANSPORT_ERRORS:
            return Attempt(
                error="the connection broke while the answer was being read",
                retryable=request.idempotent,
            )
        finally:
            response.close()
        reply = Reply(response.status_code, dict(response.headers), content)
        return Attempt(reply=reply, retryable=response.status_code in RETRYABLE_STATUSES)

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is not None and not self._closed:
            return session
        with self._sessions_lock:
            if self._closed:
                raise ClientError("the client is closed")
            session = requests.Session()
            adapter = DeadlineAdapter(self._server_name, pool_maxsize=POOL_MAXSIZE, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._sessions.append(session)
        self._local.session = session
        return session


def _as_scope_ended(
    attempt: Attempt, scope: AttemptScope, request: Request, deadline: float
) -> Attempt:
    """An attempt without a reply, said as what ended it (a cancel, the deadline) and as
    sent or not: a request none of which reached the socket cannot have been processed
    (a connect, or a TLS handshake, that failed or was cut short)."""
    if attempt.reply is not None:
        return attempt
    sent = attempt.sent and scope.wrote
    if scope.cancelled:
        return Attempt(error=STOPPED_IN_FLIGHT if sent else STOPPED_BEFORE_SENDING, sent=sent)
    if scope.expired and sent:
        return Attempt(
            error=f"no complete answer within the {deadline:g} s request deadline (the "
            "server may have processed the request)",
            retryable=request.idempotent,
        )
    if scope.expired:
        return Attempt(
            error=f"no connection within the {deadline:g} s request deadline",
            sent=False,
            retryable=True,
        )
    if attempt.sent and not sent:
        return Attempt(
            error="the connection failed before the request was sent", sent=False, retryable=True
        )
    return attempt


def _pinned_url(base_url: str, pinned: Sequence[str]) -> tuple[str, str | None, str | None]:
    """(URL to connect to, Host header, TLS server name) for a base and its pinned addresses.

    IPv4 is preferred among them: servers on loopback most often listen there only.
    """
    if not pinned:
        return base_url, None, None
    address = sorted(pinned, key=lambda text: ipaddress.ip_address(text).version)[0]
    parts = urlsplit(base_url)
    shown = f"[{address}]" if ":" in address else address
    port = f":{parts.port}" if parts.port is not None else ""
    netloc = parts.netloc.rpartition("@")[2]
    connect = parts._replace(netloc=f"{shown}{port}").geturl()
    return connect, netloc, parts.hostname


def unanswered(error: requests.exceptions.RequestException, idempotent: bool) -> Attempt:
    """A request that raised instead of answering: was it sent, and may it be retried?

    Checked most specific first: ConnectTimeout and SSLError are ConnectionErrors too.
    """
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return Attempt(error="connect timeout", sent=False, retryable=True)
    if isinstance(error, requests.exceptions.SSLError):
        # Certificates do not fix themselves between attempts: not retried.
        return Attempt(error=tls_problem(error), sent=False)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return Attempt(
            error="read timeout after the request was sent (the server may have processed it)",
            retryable=idempotent,
        )
    if isinstance(error, requests.exceptions.ConnectionError):
        refused = never_connected(error)
        if refused is not None:
            return Attempt(error=refused, sent=False, retryable=True)
        return Attempt(
            error="the connection closed after the request was sent, with no answer",
            retryable=idempotent,
        )
    return Attempt(
        error=f"the request failed after it may have been sent: {type(error).__name__}",
        retryable=idempotent,
    )
