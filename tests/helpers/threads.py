"""Counting the threads code starts: the HTTP layer promises none per attempt or download."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def threads_started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the threads this process starts inside the block."""
    names: list[str] = []
    original = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        names.append(thread.name)
        original(thread)

    with monkeypatch.context() as patch:
        patch.setattr(threading.Thread, "start", start)
        yield names
