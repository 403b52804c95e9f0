"""A deadline on the whole of one HTTP attempt, kept at its socket, and a way to stop it.

A socket timeout bounds one read or write: a server that sends its headers or its body a
byte at a time never trips it. Here every read and write of an attempt waits at most
min(its own timeout, the time left to the attempt's deadline), and none starts once the
deadline has passed, so the attempt ends at its deadline in the thread that runs it (no
watchdog thread). `AttemptScope.cancel()`, from any thread, shuts down the socket an
operation is blocked on: that wakes a connect, a TLS handshake, a read or a write at once
(closing it would not, and could free its descriptor for another connection meanwhile).

Written here: neither requests nor urllib3 has a deadline on a whole exchange. The
connection classes that use this are in `connection`.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# The attempt the current thread is running (set by the transport around one exchange).
_CURRENT: contextvars.ContextVar[AttemptScope | None] = contextvars.ContextVar(
    "specsync_http_attempt", default=None
)


class AttemptStopped(ConnectionAbortedError):
    """The attempt was cancelled: its socket was shut down, or it was about to be used."""


class DeadlinePassed(TimeoutError):
    """No time is left to the attempt's deadline for another read or write."""


class AttemptScope:
    """One attempt's deadline, whether it was cancelled or ran out of time, and the socket
    to shut down to stop it. Thread-safe: `cancel()` comes from another thread."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.deadline = clock() + seconds
        self.cancelled = False
        self.expired = False  # a read or write was cut short by the deadline
        self.wrote = False  # some of the request was handed to the socket
        self._lock = threading.Lock()
        self._blocked_on: socket.socket | None = None  # an operation is running on it
        self._connecting: socket.socket | None = None  # a duplicate, until TLS is set up

    def cancel(self) -> None:
        """Stop the attempt: the operation running now fails at once, any later one too."""
        with self._lock:
            self.cancelled = True
            for sock in (self._blocked_on, self._connecting):
                if sock is not None:
                    _shut_down(sock)

    def timeout_for(self, timeout: float | None) -> tuple[float, bool]:
        """The timeout for the next operation, and whether the deadline is what sets it.

        Raises DeadlinePassed when no time is left (a timeout of 0 would make the socket
        non-blocking, not time out).
        """
        left = self.deadline - self._clock()
        if left <= 0:
            self.expired = True
            raise DeadlinePassed("the attempt's deadline has passed")
        if timeout is None or left < timeout:
            return left, True
        return timeout, False

    def begin(self, sock: socket.socket) -> None:
        """An operation on `sock` starts (a cancel from now on shuts it down)."""
        with self._lock:
            if self.cancelled:
                raise AttemptStopped("the attempt was cancelled")
            self._blocked_on = sock

    def end(self) -> None:
        """The operation ended; if a cancel came meanwhile, what it returned (maybe an end
        of data the shutdown caused) is not to be trusted: raises AttemptStopped."""
        with self._lock:
            self._blocked_on = None
            if self.cancelled:
                raise AttemptStopped("the attempt was cancelled")

    def connecting(self, sock: socket.socket) -> None:
        """`sock` connects and may set up TLS: until `connected()`, a cancel shuts it down.

        A duplicate of the descriptor is what is shut down: wrapping the socket in TLS
        moves the descriptor to a new socket object, and the handshake runs there.
        """
        duplicate = sock.dup()
        with self._lock:
            if self.cancelled:
                duplicate.close()
                raise AttemptStopped("the attempt was cancelled")
            earlier, self._connecting = self._connecting, duplicate
        if earlier is not None:
            earlier.close()  # of an address tried before

    def connected(self) -> None:
        """The connection is set up (or failed): from now on its operations are watched."""
        with self._lock:
            duplicate, self._connecting = self._connecting, None
        if duplicate is not None:
            duplicate.close()


def _shut_down(sock: socket.socket) -> None:
    # Already closed, or never connected (OSError): then nothing is blocked on it. The
    # plain socket's shutdown: an SSLSocket's own would also drop its TLS state while
    # another thread may be reading through it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def current_attempt() -> AttemptScope | None:
    """The attempt the calling thread is running, if any."""
    return _CURRENT.get()


@contextmanager
def running(scope: AttemptScope) -> Iterator[AttemptScope]:
    """Run the calling thread's HTTP exchanges under `scope` until the block ends."""
    token = _CURRENT.set(scope)
    try:
        yield scope
    finally:
        _CURRENT.reset(token)


class DeadlineSocket:
    """A connected socket (plain or TLS) whose reads and writes keep the current attempt's
    deadline and end when it is cancelled.

    It stands in for the socket in urllib3's connection: http.client reads through
    `makefile()` (whose reads come back here as `recv_into`) and writes with `sendall`;
    anything else (fileno, shutdown, TLS details) is the wrapped socket's. Outside an
    attempt it behaves as the socket it wraps.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()  # what urllib3 set: the connect or read timeout
        self._io_refs = 0
        self._closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv_into(self, *args: Any) -> int:
        count: int = self._bounded(self._sock.recv_into, args)
        return count

    def recv(self, *args: Any) -> bytes:
        data: bytes = self._bounded(self._sock.recv, args)
        return data

    def send(self, *args: Any) -> int:
        count: int = self._bounded(self._sock.send, args, writing=True)
        return count

    def sendall(self, data: Any) -> None:
        """Each piece within the deadline (an SSLSocket's own sendall gives each piece a
        fresh timeout)."""
        with memoryview(data) as view, view.cast("B") as octets:
            sent = 0
            while sent < len(octets):
                sent += self.send(octets[sent:])

    def _bounded(
        self, operation: Callable[..., Any], args: tuple[Any, ...], writing: bool = False
    ) -> Any:
        scope = _CURRENT.get()
        if scope is None:
            self._sock.settimeout(self._timeout)
            return operation(*args)
        timeout, by_deadline = scope.timeout_for(self._timeout)
        self._sock.settimeout(timeout)
        scope.begin(self._sock)
        # Counted as written once a write starts: it may have sent some before failing.
        scope.wrote = scope.wrote or writing
        try:
            return operation(*args)
        except TimeoutError:
            if by_deadline:
                scope.expired = True
            raise
        finally:
            scope.end()

    def makefile(self, mode: str = "r", buffering: int | None = None) -> io.BufferedIOBase:
        """A binary reader or writer whose reads and writes come back through this socket
        (http.client reads a response through `makefile("rb")`)."""
        if mode not in ("rb", "wb"):
            raise ValueError(f"only binary reading or writing, not {mode!r}")
        raw = socket.SocketIO(self, mode)  # type: ignore[arg-type]  # duck-typed socket
        self._io_refs += 1
        size = io.DEFAULT_BUFFER_SIZE if buffering is None or buffering < 0 else buffering
        if mode == "rb":
            return io.BufferedReader(raw, size)
        return io.BufferedWriter(raw, size)

    def _decref_socketios(self) -> None:
        # SocketIO.close() calls this: as socket.socket does, the socket closes once
        # neither its owner nor a reader made from it holds it (http.client closes the
        # connection's socket and goes on reading a `Connection: close` response).
        self._io_refs = max(0, self._io_refs - 1)
        if self._closed:
            self.close()

    def close(self) -> None:
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()
