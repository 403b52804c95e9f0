"""An overall deadline per file, and a stop on a signal, for downloads: no thread each.

Per-read timeouts bound a silent host, not a slow one: a host sending a byte a second
never trips them. So each download runs as one attempt of the HTTP layer
(`service.http.deadline`): every read and write waits at most the time left to the file's
deadline, in the thread that runs the download. `DownloadStop.set()` (Ctrl-C, SIGTERM)
cancels every download under way: the socket each is blocked on is shut down, so the read
returns at once, whatever phase it is in (connect, TLS, status line, headers, body).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from specsync.service.http.deadline import AttemptScope, running

DEADLINE = "deadline"
STOPPED = "stopped"


class DownloadStop(threading.Event):
    """An event that, once set, also cuts the downloads running under it."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._running: set[AttemptScope] = set()

    def set(self) -> None:
        with self._lock:
            super().set()
            running_now = list(self._running)
        for scope in running_now:
            scope.cancel()

    @contextmanager
    def covering(self, scope: AttemptScope) -> Iterator[None]:
        """`scope` is cut when the stop is set (at once if it already is)."""
        with self._lock:
            self._running.add(scope)
            already = self.is_set()
        if already:
            scope.cancel()
        try:
            yield
        finally:
            with self._lock:
                self._running.discard(scope)


class Watch:
    """The deadline of one download (seconds from its start), and whether it cut it."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.started = clock()
        self.seconds = seconds
        self.scope = AttemptScope(seconds, clock)

    def set_deadline(self, seconds: float) -> None:
        """A new deadline, from the download's start (once the length is announced)."""
        self.seconds = seconds
        self.scope.deadline = self.started + seconds

    @property
    def fired(self) -> str | None:
        """STOPPED or DEADLINE once either cut the download; None otherwise."""
        if self.scope.cancelled:
            return STOPPED
        if self.scope.expired:
            return DEADLINE
        return None


@contextmanager
def watched(seconds: float, stop: DownloadStop | None) -> Iterator[Watch]:
    """Run the calling thread's download in the block under a deadline and `stop`."""
    watch = Watch(seconds)
    with running(watch.scope):
        if stop is None:
            yield watch
            return
        with stop.covering(watch.scope):
            yield watch
