"""Progress of a long apply on stderr: a bar on a terminal, plain log lines in CI."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from specsync.cli.console import shown
from specsync.item_words import ItemOutcome
from specsync.service.apply import Outcome


class LogProgress:
    """One line per answer: grep-able CI logs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self.count = 0
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        self.total = total
        self.note(f"submitting {total} item{'s' if total != 1 else ''}")

    def done(self, outcome: Outcome) -> None:
        with self._lock:
            self.count += 1
            width = len(str(self.total))
            detail = shown(
                f"projectId={outcome.project_id}"
                if outcome.outcome == ItemOutcome.SUBMITTED
                else outcome.message
            )
            print(
                f"[{self.count:>{width}}/{self.total}] {outcome.outcome:<9} {outcome.id} "
                f"({outcome.action}) {detail}",
                file=self.stream,
                flush=True,
            )

    def note(self, message: str) -> None:
        print(shown(message), file=self.stream, flush=True)

    def finish(self) -> None:
        pass


class BarProgress(LogProgress):
    """done/total, rate and ETA on one redrawn line; failures still get their own line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.started = time.monotonic()

    def start(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()
        self._draw()

    def _draw(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.count / elapsed
        eta = (self.total - self.count) / rate if rate > 0 else 0.0
        filled = int(30 * self.count / self.total) if self.total else 30
        bar = "#" * filled + "-" * (30 - filled)
        self.stream.write(
            f"\r[{bar}] {self.count}/{self.total}  {rate:.1f}/s  ETA {eta:.0f}s \x1b[K"
        )
        self.stream.flush()

    def done(self, outcome: Outcome) -> None:
        with self._lock:
            self.count += 1
            if outcome.outcome != ItemOutcome.SUBMITTED:
                self.stream.write(
                    f"\r\x1b[K{outcome.outcome}: {outcome.id}: {shown(outcome.message)}\n"
                )
            self._draw()

    def note(self, message: str) -> None:
        self.stream.write(f"\r\x1b[K{shown(message)}\n")
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
