"""apply's dispatcher driven by a fake clock: the window and the stall guard (what a
service that stops answering can cost), the ramp and throughput at the service's limit,
a signal's grace and giving up on nothing but pushback. No threads, no HTTP: each
simulated request is answered (or never) at a time the scenario decides."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from specsync.item_words import ItemOutcome
from specsync.service.apply import ApplyOptions, dispatch_settings
from specsync.service.apply_report import Outcome
from specsync.service.dispatcher import (
    INITIAL_IN_FLIGHT,
    MAX_WAKEUP,
    OVERDUE_HANDFUL,
    Dispatcher,
    DispatchSettings,
)
from specsync.service.errors import ConfigError

# Latency of the request with this ticket, sent at this time; None: never answered
# (the client reports it uncertain at the request deadline).
Latency = Callable[[int, float], float | None]


@dataclass
class Simulation:
    settings: DispatchSettings
    total: int
    latency: Latency
    deadline: float = 60.0
    now: float = 0.0
    sent: list[float] = field(default_factory=list)  # send times
    answered: list[float] = field(default_factory=list)  # answer times
    unanswered: int = 0
    most_in_flight: int = 0

    def __post_init__(self) -> None:
        self.dispatcher = Dispatcher(self.total, self.settings, clock=lambda: self.now)
        self._events: list[tuple[float, int, Outcome]] = []

    def run(
        self, until: float = 3600.0, on_tick: Callable[[Simulation], None] | None = None
    ) -> None:
        d = self.dispatcher
        while not d.finished and self.now < until:
            for ticket in d.tickets(d.fill()):
                self._send(ticket)
            self.most_in_flight = max(self.most_in_flight, d.in_flight)
            if on_tick is not None:
                on_tick(self)
            if d.cancel_now:  # what the client does on cancel(): all in flight end now
                self._events = [(self.now, t, o) for _, t, o in self._events]
                heapq.heapify(self._events)
            step = self.now + max(d.wakeup(), 1e-3)
            self.now = min(self._events[0][0], step) if self._events else step
            while self._events and self._events[0][0] <= self.now:
                _, ticket, outcome = heapq.heappop(self._events)
                if outcome.outcome == ItemOutcome.SUBMITTED:
                    self.answered.append(self.now)
                d.collect(ticket, outcome)

    def _send(self, ticket: int) -> None:
        self.sent.append(self.now)
        latency = self.latency(ticket, self.now)
        if latency is None:
            self.unanswered += 1
            outcome = Outcome(str(ticket), ItemOutcome.UNCERTAIN, "create")
            heapq.heappush(self._events, (self.now + self.deadline, ticket, outcome))
        else:
            outcome = Outcome(str(ticket), ItemOutcome.SUBMITTED, "create", seconds=latency)
            heapq.heappush(self._events, (self.now + latency, ticket, outcome))


def one_slow_answer_then_a_stall(slow: float, usual: float = 0.2) -> Latency:
    """The first request is answered after `slow` s, the others after `usual` s, until the
    slow answer lands; from then on the service accepts requests and never answers."""

    def latency(ticket: int, sent: float) -> float | None:
        if sent >= slow:
            return None
        return slow if ticket == 0 else usual

    return latency


def test_one_50_s_answer_then_a_stall_at_rate_5_leaves_a_handful_uncertain() -> None:
    # The case: the window used to follow the slowest answer (x 1.5): 376 at
    # rate 5, and 303 items were left uncertain when the service then stopped answering.
    sim = Simulation(
        DispatchSettings(rate=5.0, bound=512), 1000, one_slow_answer_then_a_stall(50.0)
    )
    sim.run()
    assert sim.unanswered <= 10
    assert sim.dispatcher.reason is not None and "no answer" in sim.dispatcher.reason
    assert sim.dispatcher.window.size < 20  # the median, not the 50 s answer, sets it


def test_one_10_s_answer_then_a_stall_at_rate_10_leaves_a_handful_uncertain() -> None:
    # The variant (156 uncertain before).
    sim = Simulation(
        DispatchSettings(rate=10.0, bound=512), 1000, one_slow_answer_then_a_stall(10.0)
    )
    sim.run()
    assert sim.unanswered <= 10


def test_a_stall_at_a_fast_rate_costs_what_is_in_flight_plus_a_handful() -> None:
    # Whatever came before: at 50/s with 0.1 s answers, 5 are in flight when it stalls.
    def latency(ticket: int, sent: float) -> float | None:
        return 0.1 if sent < 5.0 else None

    sim = Simulation(DispatchSettings(rate=50.0, bound=512), 2000, latency)
    sim.run()
    assert sim.unanswered <= 50 * 0.1 + OVERDUE_HANDFUL + 2


def test_the_rate_is_kept_at_2_s_latency_and_the_ramp_takes_one_round_trip() -> None:
    # The bench row: a service limited to 50/s answering in 2 s, 500 items.
    sim = Simulation(DispatchSettings(rate=50.0, bound=512), 500, lambda t, s: 2.0)
    sim.run()
    assert sim.unanswered == 0 and len(sim.answered) == 500
    took = sim.answered[-1]
    ideal = 500 / 50 + 2.0
    assert took <= ideal + 2.0 + 0.5  # at most one round trip of ramp
    assert sim.most_in_flight >= 95  # rate x latency were in flight at the end
    # Before any answer, only the initial window went out.
    assert sum(1 for when in sim.sent if when < 2.0) <= INITIAL_IN_FLIGHT


def test_a_steady_slow_service_is_used_at_its_rate() -> None:
    # 5 s answers at rate 5: 25 in flight are needed, and the stall guard never pauses
    # a service whose answers come in time.
    sim = Simulation(DispatchSettings(rate=5.0, bound=512), 200, lambda t, s: 5.0)
    sim.run()
    assert sim.answered[-1] <= 200 / 5 + 5.0 + 5.0 + 0.5


def test_jittery_answers_do_not_stall_the_run() -> None:
    # Answers between 0.1 and 1.9 s (mean 1 s) at 20/s: no pause worth the name.
    def latency(ticket: int, sent: float) -> float:
        return 0.1 + (ticket * 7919 % 19) / 10

    sim = Simulation(DispatchSettings(rate=20.0, bound=512), 400, latency)
    sim.run()
    assert sim.answered[-1] <= 400 / 20 * 1.1 + 2.0 + 2.0


def test_a_signal_stops_sending_at_once_and_waits_the_grace_for_answers() -> None:
    settings = DispatchSettings(rate=10.0, bound=512, stop_grace=2.0)
    sim = Simulation(settings, 100, lambda t, s: 1.0)

    def signal_at_5_s(sim: Simulation) -> None:
        if sim.now >= 5.0 and sim.dispatcher.signalled is None:
            sim.dispatcher.on_signal("SIGTERM")

    sim.run(on_tick=signal_at_5_s)
    assert max(sim.sent) <= 5.0 + 1e-9  # nothing sent after the signal
    # Every request in flight at the signal was answered within the grace: none lost.
    assert sim.unanswered == 0 and len(sim.answered) == len(sim.sent)
    assert sim.dispatcher.reason == "stopped by SIGTERM"


def test_after_the_grace_the_requests_still_in_flight_are_given_up() -> None:
    settings = DispatchSettings(rate=10.0, bound=512, stop_grace=2.0)
    sim = Simulation(settings, 100, lambda t, s: 30.0)
    cancelled_at: list[float] = []

    def signal_at_1_s(sim: Simulation) -> None:
        if sim.now >= 1.0 and sim.dispatcher.signalled is None:
            sim.dispatcher.on_signal("SIGINT")
        if sim.dispatcher.cancel_now and not cancelled_at:
            cancelled_at.append(sim.now)

    sim.run(on_tick=signal_at_1_s)
    assert cancelled_at and 3.0 <= cancelled_at[0] <= 3.2
    assert sim.now < 4.0  # the run ended at the grace, not 30 s later


def test_a_second_signal_gives_up_at_once() -> None:
    sim = Simulation(DispatchSettings(rate=10.0, bound=512, stop_grace=60.0), 50, lambda t, s: 30.0)
    d = sim.dispatcher
    sim.now = 0.0
    assert d.fill() == 1
    d.on_signal("SIGTERM")
    assert d.fill() == 0 and not d.cancel_now
    d.on_signal("SIGTERM")
    assert d.cancel_now


def throttled(ticket: int) -> Outcome:
    return Outcome(str(ticket), ItemOutcome.FAILED, "create", pushed_back=True, throttled=True)


def test_nothing_but_pushback_gives_up_after_the_limit() -> None:
    now = [0.0]
    d = Dispatcher(
        1000, DispatchSettings(rate=5.0, bound=512, pushback_limit=120.0), lambda: now[0]
    )
    sent = 0
    while now[0] < 200.0 and not d.stopped:
        for ticket in d.tickets(d.fill()):
            sent += 1
            d.collect(ticket, throttled(ticket))  # each gave up after its own retries
        now[0] += 1.0
    assert d.stopped and d.reason is not None and "429/503" in d.reason
    assert 120.0 <= now[0] <= 122.0
    assert d.stop_retrying_now  # the client's pending retries end as not sent
    assert sent <= 121  # and the rest (879) not sent


def test_an_accepted_answer_resets_the_pushback_clock() -> None:
    now = [0.0]
    d = Dispatcher(100, DispatchSettings(rate=1.0, bound=512, pushback_limit=10.0), lambda: now[0])
    for step in range(30):
        for ticket in d.tickets(d.fill()):
            if step % 8 == 0:
                ok = Outcome(str(ticket), ItemOutcome.SUBMITTED, "create", seconds=0.1)
                d.collect(ticket, ok)
            else:
                d.collect(ticket, throttled(ticket))
        now[0] += 1.0
    assert not d.stopped


def test_the_window_follows_the_median_not_the_slowest_answer() -> None:
    now = [0.0]
    d = Dispatcher(1000, DispatchSettings(rate=5.0, bound=512), lambda: now[0])
    tickets = list(d.tickets(d.fill()))
    d.collect(tickets[0], Outcome("a", ItemOutcome.SUBMITTED, "create", seconds=50.0))
    assert d.window.size == math.ceil(5 * 50 * 1.5) + 1  # one answer: it is the median
    for n in range(5):
        d.collect(-1, Outcome(f"b{n}", ItemOutcome.SUBMITTED, "create", seconds=0.2))
    assert d.window.size == INITIAL_IN_FLIGHT


def test_a_pause_for_a_stall_waits_for_an_answer_rather_than_spinning() -> None:
    now = [0.0]
    d = Dispatcher(1000, DispatchSettings(rate=10.0, bound=512), lambda: now[0])
    [first] = d.tickets(d.fill())
    d.collect(first, Outcome("a", ItemOutcome.SUBMITTED, "create", seconds=0.1))
    sent = 0
    while now[0] < 5.0:  # no answer comes any more
        sent += d.fill()
        now[0] += 0.01
    assert sent <= 5 + OVERDUE_HANDFUL + 1
    assert d.fill() == 0 and d.wakeup() == MAX_WAKEUP  # paused: no busy loop


def test_the_grace_and_the_pushback_limit_come_from_the_environment() -> None:
    options = ApplyOptions(concurrency=4, rate=5.0)
    env = {"SPECSYNC_STOP_GRACE": "0.5", "SPECSYNC_PUSHBACK_LIMIT": "30"}
    settings = dispatch_settings(options, env)
    assert (settings.stop_grace, settings.pushback_limit) == (0.5, 30.0)
    assert dispatch_settings(options, {}).stop_grace == 2.0
    given = ApplyOptions(concurrency=4, rate=5.0, stop_grace=1.0)
    assert dispatch_settings(given, env).stop_grace == 1.0  # an option wins
    for bad in ("nan", "-1", "inf", "soon"):
        with pytest.raises(ConfigError, match="SPECSYNC_STOP_GRACE"):
            dispatch_settings(options, {"SPECSYNC_STOP_GRACE": bad})
