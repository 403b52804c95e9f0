"""When apply sends the next request: the rate, the in-flight window, a stalled or pushing-
back service, a signal. Pure: a clock and the answers go in, decisions come out; no threads
and no HTTP here (apply runs it; tests drive it with a fake clock).

What a stall can cost is bounded twice over. The window follows rate x the *median* recent
latency (one slow answer does not lift it), and sending pauses while the service looks
stalled: more than a handful of requests older than a few times the median latency, or
more than a handful sent since the last answer came while one is overdue. A service that stops
answering therefore leaves the requests its own latency kept in flight plus a handful
uncertain, whatever latency came before.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from specsync.item_words import ItemOutcome
from specsync.service.apply_report import Outcome

# Requests sent before any answer has shown the service's latency (the old default
# concurrency was 4): what a service that never answers can leave uncertain at most.
INITIAL_IN_FLIGHT = 8
# The most requests apply keeps in flight when --concurrency does not bound it lower.
MAX_IN_FLIGHT = 512
# Answers missing in a row (sent, outcome unknown) after which apply stops sending: the
# service, or the way to it, is not answering, and every further request would be one
# more item of unknown outcome, maybe billed. What is not sent is planned again next run.
UNANSWERED_IN_A_ROW = 5
# Latencies remembered for the window and the overdue age.
LATENCY_MEMORY = 32
WINDOW_MARGIN = 1.5
# A request is overdue when older than OVERDUE_FACTOR x the median latency (and at least
# OVERDUE_MIN_SECONDS); sending pauses while more than OVERDUE_HANDFUL are, or while one
# is and more than OVERDUE_HANDFUL were sent since the last answer came.
OVERDUE_FACTOR = 3.0
OVERDUE_MIN_SECONDS = 0.5
OVERDUE_HANDFUL = 6
# After a signal, requests in flight get this long to land before they are given up.
DEFAULT_STOP_GRACE = 2.0
# A run that gets nothing but 429/503 for this long gives up (the rest: not sent).
DEFAULT_PUSHBACK_LIMIT = 120.0
# The longest the runner sleeps between decisions (a signal is seen within it).
MAX_WAKEUP = 0.1


class RateLimiter:
    """Spaces requests at most `rate` per second (written here: a pacer of one slot needs no
    token-bucket dependency). Never bursts to catch up: a late slot starts the spacing anew."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = clock()

    def delay(self) -> float:
        """Seconds until the next request may be sent (0.0: now)."""
        return max(0.0, self._next - self._clock())

    def take(self) -> None:
        """Claim the current slot; the next one is an interval later."""
        self._next = max(self._clock(), self._next) + self.interval


class InFlightWindow:
    """How many requests may be in flight.

    Paced by the rate, requests in flight settle at rate x latency. The window lets them,
    but only as far as answers show the service needs: it starts at INITIAL_IN_FLIGHT and
    then follows rate x the median of the recent answers' latencies (with a margin),
    bounded by --concurrency. It halves when the service pushes back (an answer that
    needed a 429/503 retry) and regains one per clean answer.
    """

    def __init__(self, bound: int, rate: float = 0.0) -> None:
        self.bound = max(1, bound)
        self.rate = rate
        self._latencies: deque[float] = deque(maxlen=LATENCY_MEMORY)
        self._pushback_cap = self.bound
        self.size = min(self.bound, INITIAL_IN_FLIGHT)

    @property
    def typical_latency(self) -> float | None:
        """The median of the recent answers' latencies (None before the first answer)."""
        return statistics.median(self._latencies) if self._latencies else None

    def answered(self, outcome: Outcome, in_flight: int) -> None:
        if outcome.seconds is not None:
            self._latencies.append(outcome.seconds)
        if outcome.pushed_back or outcome.throttled:
            self._pushback_cap = max(1, min(self.size, in_flight) // 2)
        elif self._pushback_cap < self.bound:
            self._pushback_cap += 1
        needed = INITIAL_IN_FLIGHT
        latency = self.typical_latency
        if latency is not None:
            needed = max(needed, math.ceil(self.rate * latency * WINDOW_MARGIN) + 1)
        self.size = max(1, min(self.bound, self._pushback_cap, needed))


@dataclass(frozen=True)
class DispatchSettings:
    rate: float  # requests per second at most
    bound: int  # requests in flight at most (--concurrency)
    stop_grace: float = DEFAULT_STOP_GRACE
    pushback_limit: float = DEFAULT_PUSHBACK_LIMIT


class Dispatcher:
    """Decides, from a clock and the answers, when the next request goes out.

    `fill()` says how many may be sent now (each is then in flight under a ticket);
    `collect(ticket, outcome)` takes an answer; `on_signal(name)` stops sending. The runner
    asks `stop_retrying_now` and `cancel_now` what to tell the client, and sleeps at most
    `wakeup()` between decisions.
    """

    def __init__(
        self, total: int, settings: DispatchSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._settings = settings
        self._left = total
        self.pacer = RateLimiter(settings.rate, clock)
        self.window = InFlightWindow(settings.bound, settings.rate)
        self._in_flight: dict[int, float] = {}  # ticket -> when it was sent
        self._next_ticket = 0
        self._sent_since_answer = 0
        self._unanswered = 0  # uncertain outcomes in a row
        self._last_progress = clock()  # the last answer that was not pushback
        self._pushback_seen = False
        self._signal: str | None = None  # set from a signal handler: read in fill()
        self._hurry = False  # a second signal: give up requests in flight now
        self._grace_ends: float | None = None
        self.reason: str | None = None  # why sending stopped for good
        self.signalled: str | None = None

    # -- what the runner asks ----------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def stopped(self) -> bool:
        self._take_signal()
        return self.reason is not None

    @property
    def finished(self) -> bool:
        """Nothing in flight and nothing more to send."""
        return not self._in_flight and (self._left == 0 or self.stopped)

    def fill(self) -> int:
        """How many requests to send now; each counts as in flight from here on."""
        self._take_signal()
        count = 0
        while self._may_send():
            self.pacer.take()
            self._in_flight[self._next_ticket] = self._clock()
            self._next_ticket += 1
            self._left -= 1
            self._sent_since_answer += 1
            count += 1
        return count

    def tickets(self, count: int) -> range:
        """The tickets of the last `count` requests `fill` allowed."""
        return range(self._next_ticket - count, self._next_ticket)

    @property
    def stop_retrying_now(self) -> bool:
        """End the client's retry pauses (their exports: not sent)?"""
        return self.stopped

    @property
    def cancel_now(self) -> bool:
        """Give up the requests still in flight (they become uncertain)?"""
        self._take_signal()
        if self._grace_ends is None or not self._in_flight:
            return False
        return self._hurry or self._clock() >= self._grace_ends

    def wakeup(self) -> float:
        """Seconds until a decision may change without an answer coming in."""
        waits = [MAX_WAKEUP]
        # While paused for a stall only an answer (or time) changes anything: no spin.
        sending = not self.stopped and self._left and self.in_flight < self.window.size
        if sending and not self._stalled():
            waits.append(self.pacer.delay())
        if self._grace_ends is not None:
            waits.append(max(0.0, self._grace_ends - self._clock()))
        return max(0.0, min(waits))

    # -- what happens ----------------------------------------------------------------------

    def on_signal(self, name: str) -> None:
        """SIGTERM/SIGINT (safe to call from a signal handler): send nothing more; a second
        one gives up the requests in flight at once."""
        if self._signal is not None or self.signalled is not None:
            self._hurry = True
        else:
            self._signal = name

    def stop(self, reason: str) -> None:
        """Send nothing more (the first reason is the one reported)."""
        if self.reason is None:
            self.reason = reason

    def lost(self, ticket: int) -> None:
        """A request whose outcome never came back (its thread failed): send nothing more."""
        self._in_flight.pop(ticket, None)
        self.stop("specsync failed while sending; stopped sending")

    def collect(self, ticket: int, outcome: Outcome) -> None:
        sent = self._in_flight.pop(ticket, None)
        self.window.answered(outcome, len(self._in_flight) + 1)
        now = self._clock()
        if outcome.outcome == ItemOutcome.UNCERTAIN:
            self._unanswered += 1
            if self._unanswered >= UNANSWERED_IN_A_ROW:
                self.stop(
                    f"{UNANSWERED_IN_A_ROW} requests in a row got no answer: the service is "
                    "not answering, so apply stopped sending (what was not sent is planned "
                    "again next run)"
                )
            return
        if sent is not None and outcome.outcome in (ItemOutcome.SUBMITTED, ItemOutcome.FAILED):
            self._sent_since_answer = 0
            self._unanswered = 0
        if outcome.throttled or (outcome.pushed_back and outcome.outcome == ItemOutcome.SKIPPED):
            self._pushback_seen = True
            self._check_pushback(now)
        elif outcome.outcome in (ItemOutcome.SUBMITTED, ItemOutcome.FAILED):
            self._last_progress = now
            self._pushback_seen = False

    # -- inside ------------------------------------------------------------------------------

    def _take_signal(self) -> None:
        if self._signal is not None and self.signalled is None:
            self.signalled = self._signal
            self.stop(f"stopped by {self._signal}")
            self._grace_ends = self._clock() + self._settings.stop_grace

    def _check_pushback(self, now: float) -> None:
        limit = self._settings.pushback_limit
        if self._pushback_seen and now - self._last_progress >= limit:
            self.stop(
                f"the service answered nothing but 429/503 (pushback) for {limit:g} s: apply "
                "gave up; what was not sent is planned again next run"
            )

    def _overdue_ages(self) -> list[float]:
        """Ages of the requests in flight older than a few times the typical latency."""
        latency = self.window.typical_latency
        if latency is None:
            return []
        limit = max(OVERDUE_FACTOR * latency, OVERDUE_MIN_SECONDS)
        now = self._clock()
        return [now - sent for sent in self._in_flight.values() if now - sent > limit]

    def _may_send(self) -> bool:
        if self.stopped or self._left <= 0:
            return False
        if self._pushback_seen:
            self._check_pushback(self._clock())
            if self.stopped:
                return False
        if len(self._in_flight) >= self.window.size or self.pacer.delay() > 0.0:
            return False
        return not self._stalled()

    def _stalled(self) -> bool:
        """Does the service look stalled (see the module doc)? While the window grows,
        many are sent between answers, but none of them is overdue."""
        overdue = len(self._overdue_ages())
        if overdue and self._sent_since_answer > OVERDUE_HANDFUL:
            return True
        return overdue > OVERDUE_HANDFUL
