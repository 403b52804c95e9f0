"""Injected faults: observed rates match the flags (fixed seeds), drops, rate limit, latency."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator
from specsync.emulator.faults import TokenBucket

EXPORT = "/api/odin/v3/simple/custom"
BODY = json.dumps({"language": "en", "text": "Sample Script", "model": "M000045058"})
HEADERS = {"Authorization": "k", "Content-Type": "application/json"}


def raw_export(emulator: RunningEmulator) -> tuple[int | None, dict[str, str]]:
    """One export on a fresh connection: (status, headers), or (None, {}) when dropped."""
    parts = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request("POST", EXPORT, body=BODY, headers=HEADERS)
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    except (ConnectionResetError, http.client.RemoteDisconnected):
        return None, {}
    finally:
        connection.close()


def statuses(config: EmulatorConfig, count: int) -> tuple[Counter[int | None], int]:
    """Status counts of `count` sequential exports, and how many the emulator processed."""
    with running_emulator(config) as emu:
        seen = Counter(raw_export(emu)[0] for _ in range(count))
        return seen, emu.export_count()


@pytest.mark.parametrize(
    ("flag", "status"), [("throttle_rate", 429), ("fail_rate", 503), ("drop_rate", None)]
)
def test_fault_rate_is_observed(flag: str, status: int | None) -> None:
    config = EmulatorConfig(seed=20261124, **{flag: 0.15})

    seen, processed = statuses(config, 400)

    assert 0.10 <= seen[status] / 400 <= 0.20
    assert seen[200] + seen[status] == 400
    # Throttled and failed requests are not processed; dropped ones are.
    expected = 400 if status is None else seen[200]
    assert processed == expected


def test_faults_combine_and_are_reproducible_with_a_seed() -> None:
    config = EmulatorConfig(seed=7, throttle_rate=0.1, fail_rate=0.1, drop_rate=0.1)

    def sequence() -> list[int | None]:
        with running_emulator(config) as emu:
            return [raw_export(emu)[0] for _ in range(60)]

    first, second = sequence(), sequence()
    assert first == second
    assert {200, 429, 503, None} <= set(first)
    other = EmulatorConfig(seed=8, throttle_rate=0.1, fail_rate=0.1, drop_rate=0.1)
    with running_emulator(other) as emu:
        assert [raw_export(emu)[0] for _ in range(60)] != first


def test_throttle_and_fail_carry_retry_after() -> None:
    config = EmulatorConfig(throttle_rate=0.5, fail_rate=0.5, retry_after=2.5, seed=1)
    with running_emulator(config) as emu:
        answers = [raw_export(emu) for _ in range(10)]

    assert {status for status, _ in answers} == {429, 503}
    assert {headers["Retry-After"] for _, headers in answers} == {"3"}


def test_dropped_export_is_processed_and_journalled_but_never_answered() -> None:
    with running_emulator(EmulatorConfig(drop_rate=1.0)) as emu:
        with pytest.raises(requests.ConnectionError):
            requests.post(emu.url + EXPORT, data=BODY, headers=HEADERS, timeout=5)

        [record] = emu.journal_records()
        assert record["dropped"] is True
        assert record["projectId"] and record["taskId"]
        # The server survives the drop and still answers other calls.
        assert requests.get(emu.url + "/", timeout=5).status_code == 200


def test_dropped_connection_closes_without_a_status_line() -> None:
    with running_emulator(EmulatorConfig(drop_rate=1.0)) as emu:
        parts = urlsplit(emu.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        try:
            connection.request("POST", EXPORT, body=BODY, headers=HEADERS)
            with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
                connection.getresponse()
        finally:
            connection.close()
        assert emu.export_count() == 1


def test_rate_limit_allows_a_burst_then_429_with_retry_after() -> None:
    with running_emulator(EmulatorConfig(rate_limit=2)) as emu:
        answers = [raw_export(emu) for _ in range(5)]

        assert [status for status, _ in answers] == [200, 200, 429, 429, 429]
        assert {headers["Retry-After"] for _, headers in answers[2:]} == {"1"}
        assert emu.export_count() == 2
        time.sleep(0.55)  # a token comes back every 0.5 s
        assert raw_export(emu)[0] == 200
        assert raw_export(emu)[0] == 429


# Rate timing: 2 s of requests paced at the emulator's limit.
@pytest.mark.slow
def test_rate_limit_lets_a_client_pacing_itself_at_the_limit_through() -> None:
    with running_emulator(EmulatorConfig(rate_limit=20)) as emu, requests.Session() as session:
        start = time.monotonic()
        codes = []
        for n in range(40):
            time.sleep(max(0.0, start + n / 20 - time.monotonic()))
            codes.append(session.post(emu.url + EXPORT, data=BODY, headers=HEADERS).status_code)

    assert codes == [200] * 40


def test_token_bucket_retry_after_is_the_wait_for_the_next_token() -> None:
    now = [0.0]
    bucket = TokenBucket(2, clock=lambda: now[0])

    assert [bucket.try_take(), bucket.try_take()] == [0.0, 0.0]
    assert bucket.try_take() == pytest.approx(0.5)
    now[0] = 0.25
    assert bucket.try_take() == pytest.approx(0.25)
    now[0] = 0.5
    assert bucket.try_take() == 0.0


def test_latency_delays_answers_but_concurrent_requests_overlap() -> None:
    with running_emulator(EmulatorConfig(latency=0.2)) as emu:
        start = time.monotonic()
        single = raw_export(emu)[0]
        one = time.monotonic() - start

        start = time.monotonic()
        with ThreadPoolExecutor(10) as pool:
            codes = list(pool.map(lambda _: raw_export(emu)[0], range(10)))
        ten = time.monotonic() - start

    assert single == 200
    assert one >= 0.2
    assert codes == [200] * 10
    assert ten < 0.6  # serialised, ten sleeps would take 2 s


def test_faults_hold_their_rate_under_concurrent_clients() -> None:
    config = EmulatorConfig(seed=3, fail_rate=0.15)
    with running_emulator(config) as emu:
        lock = threading.Lock()
        seen: Counter[int | None] = Counter()

        def client(_: int) -> None:
            with requests.Session() as session:
                for _ in range(100):
                    r = session.post(emu.url + EXPORT, data=BODY, headers=HEADERS)
                    with lock:
                        seen[r.status_code] += 1

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(client, range(4)))
        processed = emu.export_count()

    assert 0.10 <= seen[503] / 400 <= 0.20
    assert processed == seen[200]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"--drop-rate must be between 0 and 1, got 1\.5"):
        RunningEmulator(EmulatorConfig(drop_rate=1.5))
