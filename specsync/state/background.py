"""Run one pure function in a forked child while this process does other work.

The machine has more than one core and Python has one interpreter lock: `plan` reads the
lockfile (pure Python, about a quarter of a second for 10,000 items) while the main
process loads and renders the manifests. Where fork is unavailable, or threads are already
running (forking those can deadlock the child), the function simply runs when its result is
first asked for. A child that fails for any reason is not trusted with the error: the
function runs again here, so what the user sees is exactly what a plain call would give.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_OK = b"K"
_FAILED = b"F"


class Background(Generic[T]):
    """`fn(*args)` started now; `result()` returns it (or raises as `fn` would)."""

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        self._fn = fn
        self._args = args
        self._pid: int | None = None
        self._read_fd: int | None = None
        if hasattr(os, "fork") and threading.active_count() == 1:
            self._start()

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, leave without running any cleanup
            os.close(read_fd)
            status = 0
            try:
                payload = _OK + pickle.dumps(self._fn(*self._args), pickle.HIGHEST_PROTOCOL)
            except BaseException:
                payload, status = _FAILED, 1
            try:
                with os.fdopen(write_fd, "wb") as pipe:
                    pipe.write(payload)
            finally:
                os._exit(status)
        os.close(write_fd)
        self._pid, self._read_fd = pid, read_fd

    def result(self) -> T:
        if self._read_fd is None:
            return self._fn(*self._args)
        with os.fdopen(self._read_fd, "rb") as pipe:
            self._read_fd = None
            payload = pipe.read()
        self._reap()
        if payload.startswith(_OK):
            try:
                value: T = pickle.loads(payload[1:])
                return value
            except Exception:  # a torn answer: fall through and compute it here
                pass
        return self._fn(*self._args)

    def cancel(self) -> None:
        """Stop a child whose result is no longer wanted."""
        if self._read_fd is not None:
            os.close(self._read_fd)
            self._read_fd = None
        self._reap()

    def _reap(self) -> None:
        if self._pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = None
