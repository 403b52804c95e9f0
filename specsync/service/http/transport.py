"""Sending one HTTP request and reading its reply, within a deadline, cancellable.

What a failed exchange means is decided here (see `unanswered`): a connection that never
opened was not sent; anything after the request may have gone out is "maybe processed".
Only transport errors (connection, timeout, TLS, malformed HTTP) are such outcomes; any
other exception is a bug of specsync's and propagates to the caller.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3.exceptions

from specsync.service.errors import ClientError
from specsync.service.http.attempt import RETRYABLE_STATUSES, Attempt
from specsync.service.http.failures import never_connected, tls_problem
from specsync.service.http.reply import Reply, SlowAnswer, read_capped

# Enough connections for apply's thread pool, on each per-thread session's host.
POOL_MAXSIZE = 32

# The exceptions that are an outcome of talking to a server (and reading its answer).
TRANSPORT_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None
    headers: Mapping[str, str]
    idempotent: bool  # repeating it cannot create anything twice (GET, token)


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """Connects to a pinned address while TLS still checks (and sends as SNI) the name."""

    def __init__(self, server_name: str, **kwargs: Any) -> None:
        self._server_name = server_name
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self._server_name
        kwargs["assert_hostname"] = self._server_name
        super().init_poolmanager(*args, **kwargs)


class Transport:
    """HTTP exchanges with one base URL; safe to share between threads.

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
        self._waiting: set[threading.Event] = set()  # exchanges in flight, woken by cancel()
        self._waiting_lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Give up every exchange in flight at once, and start no new one. Thread-safe."""
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

    def attempt(self, request: Request) -> Attempt:
        """One HTTP request and its reply, or why there is none, within the deadline.

        The exchange runs in a daemon thread so that neither a trickling server nor a
        blocked socket read can hold the run past the deadline or a cancel (requests has
        no whole-exchange deadline); an exchange given up is left to its thread, and its
        connection is not reused.
        """
        finished = threading.Event()  # set when the exchange ends, or by cancel()
        with self._waiting_lock:
            self._waiting.add(finished)
        try:
            if self._cancel.is_set():  # after registering: a later cancel() sets `finished`
                return Attempt(error="stopped before the request was sent", sent=False)
            return self._await_exchange(finished, self._session(), request)
        finally:
            with self._waiting_lock:
                self._waiting.discard(finished)

    def _await_exchange(
        self, finished: threading.Event, session: requests.Session, request: Request
    ) -> Attempt:
        answer: list[Attempt] = []
        failure: list[BaseException] = []

        def exchange() -> None:
            try:
                answer.append(self._exchange(session, request))
            except BaseException as error:  # a bug: handed to the caller's thread below
                failure.append(error)
            finally:
                finished.set()

        threading.Thread(target=exchange, daemon=True, name="specsync-request").start()
        deadline = time.monotonic() + self.deadline
        while True:
            finished.wait(max(0.0, deadline - time.monotonic()))
            if failure:
                raise failure[0]
            if answer:
                return answer[0]
            if self._cancel.is_set():
                self._local.session = None
                return Attempt(
                    error="stopped while the request was in flight (the server may have "
                    "processed it)"
                )
            if time.monotonic() >= deadline:
                self._local.session = None
                return Attempt(
                    error=f"no complete answer within the {self.deadline:g} s request "
                    "deadline (the server may have processed the request)",
                    retryable=request.idempotent,
                )

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
            adapter: requests.adapters.HTTPAdapter
            if self._server_name is not None:
                adapter = _PinnedAdapter(
                    self._server_name, pool_maxsize=POOL_MAXSIZE, max_retries=0
                )
            else:
                adapter = requests.adapters.HTTPAdapter(pool_maxsize=POOL_MAXSIZE, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._sessions.append(session)
        self._local.session = session
        return session


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
