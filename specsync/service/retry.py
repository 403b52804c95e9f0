"""When to retry: one HTTP attempt's outcome, and the stop and wait plan across attempts.

Retries run on tenacity rather than urllib3's Retry (which would also retry a POST after a
read error unless configured with care, and hides each attempt from us) or a loop of our
own: tenacity gives the tested full-jitter backoff, attempt counting, an injectable sleep
and per-retry hooks, so specsync only says *what* is retryable and how long the
server asked us to wait.
"""

from __future__ import annotations

import datetime
import email.utils
import math
from dataclasses import dataclass, field

import tenacity

from specsync.service.replies import _Reply

# Full-jitter exponential backoff when the server does not say how long to wait.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0

RETRYABLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class _Attempt:
    """One HTTP attempt: a reply, or why there was none and whether it was sent."""

    reply: _Reply | None = None
    error: str = ""
    sent: bool = True  # False: the request certainly never reached the server
    retryable: bool = False

    def describe(self) -> str:
        if self.reply is None:
            return self.error
        return f"HTTP {self.reply.status}"


@dataclass
class _Run:
    """The attempts of one logical request (several HTTP attempts with retries)."""

    attempts: int = 0
    retries: list[str] = field(default_factory=list)
    gave_up: bool = False  # retrying stopped while the last attempt was still retryable
    gave_up_note: str = ""  # why, when it was not the number of attempts


class _RetryPlan:
    """Stop and wait decisions for one `Client._call_with_retries`.

    The wait before a retry is decided once per attempt, so that the stop check (is the
    budget enough for it?) and the sleep agree, whatever order tenacity asks in.
    """

    def __init__(
        self, run: _Run, *, max_attempts: int, max_seconds: float, first_attempt: int
    ) -> None:
        self._run = run
        self._max_seconds = max_seconds
        self._jitter = tenacity.wait_random_exponential(
            multiplier=BACKOFF_BASE_SECONDS, max=BACKOFF_CAP_SECONDS
        )
        self._waits: dict[int, float] = {}
        self._server_asked: dict[int, bool] = {}
        self.last_attempt = first_attempt + max_attempts
        self._max_attempts = max_attempts
        self.spent = 0.0  # seconds spent in attempts (sleeps are counted apart)

    def next_wait(self, state: tenacity.RetryCallState) -> float:
        number = state.attempt_number
        if number not in self._waits:
            attempt: _Attempt = state.outcome.result()  # type: ignore[union-attr]
            asked = None
            if attempt.reply is not None:
                asked = parse_retry_after(attempt.reply.headers.get("Retry-After"))
            self._server_asked[number] = asked is not None
            self._waits[number] = asked if asked is not None else float(self._jitter(state))
        return self._waits[number]

    def should_stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self._max_attempts:
            self._run.gave_up = True
            return True
        wait = self.next_wait(state)
        if self.spent + state.idle_for + wait > self._max_seconds:
            self._run.gave_up = True
            if self._server_asked[state.attempt_number]:
                self._run.gave_up_note = (
                    f" (the server asked to wait {wait:.0f} s, beyond the "
                    f"{self._max_seconds:.0f} s retry budget)"
                )
            else:
                self._run.gave_up_note = f" ({self._max_seconds:.0f} s retry budget spent)"
            return True
        return False


def parse_retry_after(value: str | None, *, now: datetime.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP-date); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    current = now or datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - current).total_seconds())
