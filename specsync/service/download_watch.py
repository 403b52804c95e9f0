"""An overall deadline per file, and a stop on a signal, for downloads.

Per-read timeouts bound a silent host, not a slow one: a host sending a byte a second
never trips them. Each download gets a watch: a thread that, when the file's deadline
passes or `stop` is set (SIGINT/SIGTERM), shuts down the download's sockets, so that the
blocked read returns at once, whatever phase it is in (status line, headers, body).

The sockets are known because the download session's connections register themselves,
when they connect and before each response is read, with the watch of the thread that
uses them (a thread runs one download at a time).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

POLL_SECONDS = 0.1
DEADLINE = "deadline"
STOPPED = "stopped"

_current = threading.local()


class Watch:
    """The deadline of one download (seconds from its start), and its sockets."""

    def __init__(self, seconds: float, stop: threading.Event | None) -> None:
        self.started = time.monotonic()
        self.seconds = seconds
        self.stop = stop
        self.fired: str | None = None  # DEADLINE or STOPPED once it cut the download
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()

    def set_deadline(self, seconds: float) -> None:
        """A new deadline, from the download's start (once the length is announced)."""
        self.seconds = seconds

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            _sever(sock)

    def _run(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            if self.stop is not None and self.stop.is_set():
                self._fire(STOPPED)
                return
            if time.monotonic() - self.started >= self.seconds:
                self._fire(DEADLINE)
                return

    def _fire(self, reason: str) -> None:
        with self._lock:
            self.fired = reason
            sockets = list(self._sockets)
        for sock in sockets:
            _sever(sock)


@contextlib.contextmanager
def watched(seconds: float, stop: threading.Event | None) -> Iterator[Watch]:
    """Watch the download this thread runs in the block."""
    watch = Watch(seconds, stop)
    thread = threading.Thread(target=watch._run, name="specsync-download-watch", daemon=True)
    _current.watch = watch
    thread.start()
    try:
        yield watch
    finally:
        watch._done.set()
        _current.watch = None
        thread.join()


def _sever(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _register(sock: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.add(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _register(self.sock)

    def getresponse(self) -> Any:
        _register(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _register(self.sock)

    def getresponse(self) -> Any:
        _register(self.sock)
        return super().getresponse()


class WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


POOL_CLASSES = {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}
