"""SIGTERM read as Ctrl-C while nothing has been sent yet (apply's preparation, pull and
`status --wait`). Its own module: pull and status need it without loading apply's HTTP
stack, and `specsync --help` imports their command modules to list them."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGTERM as SIGINT: KeyboardInterrupt, for steps that have sent nothing yet."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
