"""apply's pacing: --rate is kept at any latency (the requests in flight follow rate x
latency), --concurrency bounds them, and a service that pushes back gets fewer."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import Any

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from specsync.item_words import ItemOutcome
from specsync.service.apply import ApplyOptions, ApplyReport, Outcome, run_apply
from specsync.service.client import Client, ExportResult
from specsync.service.credentials import Credentials
from specsync.service.dispatcher import (
    INITIAL_IN_FLIGHT,
    MAX_IN_FLIGHT,
    UNANSWERED_IN_A_ROW,
    InFlightWindow,
    RateLimiter,
)
from tests.helpers.apply_fixtures import Quiet, items

KEY = "pace-test-key-123"


class CountingClient(Client):
    """A real client that also counts how many exports it has in flight at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._count_lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0

    def export(self, request: Any) -> ExportResult:
        with self._count_lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return super().export(request)
        finally:
            with self._count_lock:
                self.in_flight -= 1


def apply_paced(
    url: str, lockfile: Path, count: int, options: ApplyOptions
) -> tuple[ApplyReport, CountingClient]:
    client = CountingClient(url, Credentials(api_key=KEY))
    report = run_apply(
        items(count, "Paced script {n}."), lockfile, lambda: client, options, Quiet()
    )
    return report, client


def sustained_rate(records: list[dict[str, Any]]) -> float:
    """Exports per second the emulator processed, first to last."""
    times = sorted(datetime.datetime.fromisoformat(r["time"]).timestamp() for r in records)
    return (len(times) - 1) / (times[-1] - times[0])


# Rate timing: a paced run measured against the clock.
@pytest.mark.slow
def test_only_the_rate_given_keeps_that_rate_at_a_slow_service(tmp_path: Path) -> None:
    # 0.4 s per answer and 25/s allowed: 10 in flight are needed. The old fixed default of
    # 4 in flight reached 10/s (40 %).
    rate, latency, count = 25, 0.4, 40
    config = EmulatorConfig(latency=latency, rate_limit=rate, render_seconds=0.5)
    with running_emulator(config) as emu:
        options = ApplyOptions(concurrency=MAX_IN_FLIGHT, rate=rate)
        report, client = apply_paced(emu.url, tmp_path / "specsync.lock", count, options)
        exports = emu.records("export")
    assert report.ok and len(report.of(ItemOutcome.SUBMITTED)) == count
    assert not any(o.pushed_back for o in report.outcomes), "a 429 at the service's own rate"
    texts = [r["body"]["text"] for r in exports]
    assert len(texts) == len(set(texts)) == count, "an item was submitted twice"
    assert sustained_rate(exports) >= 0.8 * rate
    assert client.most_in_flight >= 0.6 * rate * latency


def test_concurrency_bounds_the_requests_in_flight(tmp_path: Path) -> None:
    with running_emulator(EmulatorConfig(latency=0.2, render_seconds=0.5)) as emu:
        options = ApplyOptions(concurrency=2, rate=100.0)
        report, client = apply_paced(emu.url, tmp_path / "specsync.lock", 8, options)
        assert emu.export_count() == 8
    assert report.ok
    assert client.most_in_flight == 2


def test_the_pacer_spaces_requests_and_never_bursts_to_catch_up() -> None:
    now = [100.0]
    pacer = RateLimiter(4.0, clock=lambda: now[0])
    assert pacer.delay() == 0.0
    pacer.take()
    assert pacer.delay() == 0.25
    now[0] += 10.0  # a long pause: the next slot is now, and only one
    assert pacer.delay() == 0.0
    pacer.take()
    assert pacer.delay() == 0.25


def test_the_window_follows_rate_times_the_observed_latency() -> None:
    window = InFlightWindow(512, rate=50.0)
    assert window.size == INITIAL_IN_FLIGHT  # nothing answered yet: no latency known
    window.answered(Outcome("a", ItemOutcome.UNCERTAIN, "create"), in_flight=8)
    assert window.size == INITIAL_IN_FLIGHT  # a timeout says nothing of the service's speed
    window.answered(Outcome("b", ItemOutcome.SUBMITTED, "create", seconds=2.0), in_flight=8)
    assert window.size == 151  # 50/s x 2 s x 1.5 + 1
    assert InFlightWindow(100, rate=50.0).size == INITIAL_IN_FLIGHT
    bounded = InFlightWindow(20, rate=50.0)
    bounded.answered(Outcome("c", ItemOutcome.SUBMITTED, "create", seconds=2.0), in_flight=8)
    assert bounded.size == 20  # --concurrency stays the bound


def test_the_window_halves_when_the_service_pushes_back_and_regains_one_by_one() -> None:
    window = InFlightWindow(64, rate=100.0)
    clean = Outcome("a", ItemOutcome.SUBMITTED, "create", seconds=1.0)
    pushed = Outcome("b", ItemOutcome.SUBMITTED, "create", pushed_back=True, seconds=1.0)
    window.answered(clean, in_flight=1)
    assert window.size == 64
    window.answered(pushed, in_flight=20)
    assert window.size == 10
    window.answered(pushed, in_flight=30)
    assert window.size == 5
    for _ in range(3):
        window.answered(clean, in_flight=5)
    assert window.size == 8
    for _ in range(100):
        window.answered(clean, in_flight=5)
    assert window.size == 64


def test_a_service_that_stops_answering_gets_few_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request is processed (billed) and never answered: apply sends the initial
    window, stops after the unanswered ones in a row, and leaves the rest not sent."""
    count = 60
    monkeypatch.setenv("SPECSYNC_REQUEST_DEADLINE", "2")
    with running_emulator(EmulatorConfig(drop_rate=1.0, render_seconds=0.5)) as emu:
        options = ApplyOptions(concurrency=MAX_IN_FLIGHT, rate=50.0)
        report, _ = apply_paced(emu.url, tmp_path / "specsync.lock", count, options)
        sent = emu.export_count()
    uncertain = report.of(ItemOutcome.UNCERTAIN)
    assert INITIAL_IN_FLIGHT >= sent == len(uncertain) >= UNANSWERED_IN_A_ROW
    assert len(report.of(ItemOutcome.SKIPPED)) == count - sent  # every item accounted for
    assert report.stopped is not None and "no answer" in report.stopped and not report.ok
