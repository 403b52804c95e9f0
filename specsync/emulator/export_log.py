"""The emulator's journal: one JSON line per processed export (and per webhook outcome).

Tests and benchmarks count submissions and duplicates here, independently of the client.
Records never hold the API key: the key travels in a header, and only bodies are recorded.

Memory stays bounded on long runs: only the last `memory` records are kept in memory (for
`records()`, which tests use); the file, when given, has every one; `count()` is exact.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from collections import Counter, deque
from pathlib import Path
from typing import Any

from specsync.regular_files import open_regular

EXPORT_EVENT = "export"
WEBHOOK_EVENT = "webhook"


def utc_now_text() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class Journal:
    """Thread-safe record list, mirrored to a JSON-lines file (flushed per line) when given."""

    def __init__(self, path: str | Path | None = None, *, memory: int = 10_000) -> None:
        self._records: deque[dict[str, Any]] = deque(maxlen=memory)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._fd: int | None = None
        # A line the disk took only part of (full): the next one starts on a line of its
        # own, so the reader skips only the cut one (emulator/projects.py).
        self._cut = False
        if path is not None:
            # A FIFO or a device given as the journal would block the start (open() of a
            # FIFO waits for a reader) or swallow the record: refused as not a regular file.
            fd = open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            self._fd = fd  # closed in close()

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"event": event, "time": utc_now_text(), **fields}
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        if not line.isascii() and not _encodable(line):
            # A lone surrogate in a body (valid JSON escapes, invalid UTF-8): escape it
            # rather than fail the request after it was processed.
            line = json.dumps(entry, sort_keys=True)
        with self._lock:
            self._records.append(entry)
            self._counts[event] += 1
            if self._fd is not None:
                self._write(("\n" if self._cut else "") + line + "\n")
        return entry

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        """The records still in memory (the last `memory` ones), oldest first."""
        with self._lock:
            return [dict(r) for r in self._records if event is None or r["event"] == event]

    def count(self, event: str = EXPORT_EVENT) -> int:
        with self._lock:
            return self._counts[event]

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _write(self, line: str) -> None:
        """The line, written at once: no buffer that a full disk could leave unwritten
        (a buffered file then failed again when closed, at the emulator's shutdown)."""
        assert self._fd is not None
        rest = memoryview(line.encode("utf-8"))
        self._cut = True
        while rest:
            rest = rest[os.write(self._fd, rest) :]
        self._cut = False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
