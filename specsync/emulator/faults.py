"""Injected faults: seeded per-request decisions and a server-side token-bucket rate limit."""

from __future__ import annotations

import enum
import math
import random
import threading
import time
from collections.abc import Callable


class Fault(enum.Enum):
    """What happens to one export request, decided when it arrives."""

    NONE = "none"
    THROTTLE = "throttle"  # 429 + Retry-After, not processed
    FAIL = "fail"  # 503, not processed
    DROP = "drop"  # processed and journalled, then the connection closes with no answer


class FaultPlan:
    """Draws one fault per request from a seeded RNG, in arrival order.

    Exactly one number is drawn per request whatever the outcome, so a given seed yields the
    same sequence of decisions however requests interleave across threads.
    """

    def __init__(
        self, *, throttle_rate: float, fail_rate: float, drop_rate: float, seed: int | None
    ) -> None:
        self._throttle_below = throttle_rate
        self._fail_below = throttle_rate + fail_rate
        self._drop_below = throttle_rate + fail_rate + drop_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def next_fault(self) -> Fault:
        with self._lock:
            draw = self._random.random()
        if draw < self._throttle_below:
            return Fault.THROTTLE
        if draw < self._fail_below:
            return Fault.FAIL
        if draw < self._drop_below:
            return Fault.DROP
        return Fault.NONE


class TokenBucket:
    """`rate` requests per second with a burst of `rate`.

    A bucket (rather than counting requests per calendar second) lets a client that paces
    itself at exactly `rate`/s through, while any burst beyond it is refused.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._capacity = max(rate, 1.0)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    def try_take(self) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is free."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self._rate


def retry_after_header(seconds: float, *, minimum: int = 0) -> str:
    """Retry-After holds whole seconds (RFC 9110): round up so a client never comes early."""
    return str(max(minimum, math.ceil(seconds)))
