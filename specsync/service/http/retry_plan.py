"""When to retry: the one retry mechanism, tenacity, told what is retryable and how long
the server asked us to wait.

tenacity rather than urllib3's Retry (which would also retry a POST after a read error
unless configured with care, and hides each attempt from us) or a loop of our own: it
gives the tested full-jitter backoff, attempt counting, an injectable sleep and per-retry
hooks. tenacity decides the wait before it asks whether to stop (`upcoming_sleep`), so
the budget check and the sleep always agree.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import tenacity

from specsync.service.http.attempt import Attempt, RequestRun

# Full-jitter exponential backoff when the server does not say how long to wait.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0


class Cancelled(Exception):
    """Retrying was stopped (a signal, or apply giving up) before the next attempt."""


@dataclass(frozen=True)
class RetryLimits:
    max_attempts: int
    max_seconds: float  # attempts and waits together


def call_with_retries(
    attempt_once: Callable[[], Attempt],
    run: RequestRun,
    limits: RetryLimits,
    *,
    sleep: Callable[[float], None],
    on_retry: Callable[[Attempt, float], None],
) -> Attempt:
    """Attempts until one is not retryable, or attempts or time run out; the last one.

    `sleep` may raise Cancelled to end the waiting (the request was then not sent again);
    `on_retry(attempt, seconds)` hears of each retry before its wait.
    """
    jitter = tenacity.wait_random_exponential(
        multiplier=BACKOFF_BASE_SECONDS, max=BACKOFF_CAP_SECONDS
    )
    first = run.attempts
    spent = [0.0]  # seconds inside attempts (tenacity counts the waits)

    def timed_attempt() -> Attempt:
        started = time.monotonic()
        try:
            return attempt_once()
        finally:
            run.attempts += 1
            spent[0] += time.monotonic() - started

    def wait(state: tenacity.RetryCallState) -> float:
        asked = server_asked_wait(last_attempt(state))
        return asked if asked is not None else float(jitter(state))

    def before_sleep(state: tenacity.RetryCallState) -> None:
        run.retries.append(f"{last_attempt(state).describe()}, waited {state.upcoming_sleep:.1f} s")
        on_retry(last_attempt(state), state.upcoming_sleep)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda attempt: attempt.retryable),
        stop=_stop_when_spent(run, limits, first, spent),
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        retry_error_callback=last_attempt,
    )
    result: Attempt = retrying(timed_attempt)
    return result


def _stop_when_spent(
    run: RequestRun, limits: RetryLimits, first: int, spent: list[float]
) -> Callable[[tenacity.RetryCallState], bool]:
    """Stop when the attempts are used up, or the next wait would pass the time budget;
    says why in `run` (the gave-up note)."""

    def stop(state: tenacity.RetryCallState) -> bool:
        if run.attempts - first >= limits.max_attempts:
            run.gave_up = True
            return True
        upcoming = state.upcoming_sleep
        if spent[0] + state.idle_for + upcoming <= limits.max_seconds:
            return False
        run.gave_up = True
        if server_asked_wait(last_attempt(state)) is not None:
            run.gave_up_note = (
                f" (the server asked to wait {upcoming:.0f} s, beyond the "
                f"{limits.max_seconds:.0f} s retry budget)"
            )
        else:
            run.gave_up_note = f" ({limits.max_seconds:.0f} s retry budget spent)"
        return True

    return stop


def last_attempt(state: tenacity.RetryCallState) -> Attempt:
    """The attempt tenacity just made (attempts return, never raise, here)."""
    assert state.outcome is not None
    attempt: Attempt = state.outcome.result()
    return attempt


def server_asked_wait(attempt: Attempt) -> float | None:
    """The Retry-After of the attempt's reply in seconds; None when it gave none usable."""
    if attempt.reply is None:
        return None
    return parse_retry_after(attempt.reply.headers.get("Retry-After"))


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
