"""Requests per second the emulator serves, with and without injected latency.

    python bench/bench_emulator.py [--seconds 3] [--clients 8] [--json]

The emulator runs as `specsync emulator --port 0` in its own process; the load comes from
threads of this process, each on its own keep-alive `http.client` connection, posting the
seed's sample export as fast as answers come back. The target (issue 4) is well over 500
requests/s without latency, so that benchmarks of apply measure specsync, not the emulator;
with latency, concurrent requests must overlap (ideal: clients / latency).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

EXPORT = "/api/odin/v3/simple/custom"
BODY = json.dumps({"language": "en", "text": "Sample Script", "model": "M000045058"})
HEADERS = {"Authorization": "bench-key", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Result:
    scenario: str
    clients: int
    latency: float
    requests: int
    errors: int
    seconds: float
    per_second: float
    ideal_per_second: float | None
    exports_journalled: int


def start_emulator(latency: float, journal: str) -> tuple[subprocess.Popen[str], str]:
    argv = [sys.executable, "-m", "specsync", "emulator", "--port", "0", "--journal", journal]
    if latency:
        argv += ["--latency", str(latency)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.match(r"http://\S+", line)
    if not match:
        process.kill()
        process.wait()
        raise SystemExit(f"the emulator did not print its URL: {line!r}")
    return process, match.group(0)


def stop_emulator(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


def load(url: str, clients: int, seconds: float) -> tuple[int, int, float]:
    """(answered 200, other outcomes, elapsed) of `clients` threads posting for `seconds`."""
    parts = urlsplit(url)
    counts = {"ok": 0, "errors": 0}
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    deadline: list[float] = []

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        ok = errors = 0
        start_gate.wait()
        try:
            while time.monotonic() < deadline[0]:
                try:
                    connection.request("POST", EXPORT, body=BODY, headers=HEADERS)
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    errors += 1
                    connection.close()
                    continue
                if response.status == 200:
                    ok += 1
                else:
                    errors += 1
        finally:
            connection.close()
            with lock:
                counts["ok"] += ok
                counts["errors"] += errors

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    deadline.append(started + seconds)
    start_gate.wait()
    for thread in threads:
        thread.join()
    return counts["ok"], counts["errors"], time.monotonic() - started


def run_scenario(name: str, latency: float, clients: int, seconds: float, tmp: str) -> Result:
    journal = f"{tmp}/{name}.jsonl"
    process, url = start_emulator(latency, journal)
    try:
        load(url, clients, min(0.5, seconds))  # warm-up: imports, thread start-up
        with open(journal, "w", encoding="utf-8"):
            pass  # count only the measured run's exports
        ok, errors, elapsed = load(url, clients, seconds)
    finally:
        stop_emulator(process)
    with open(journal, encoding="utf-8") as lines:
        journalled = sum(1 for line in lines if '"event": "export"' in line)
    return Result(
        scenario=name,
        clients=clients,
        latency=latency,
        requests=ok,
        errors=errors,
        seconds=round(elapsed, 3),
        per_second=round(ok / elapsed, 1),
        ideal_per_second=round(clients / latency, 1) if latency else None,
        exports_journalled=journalled,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load time per scenario")
    parser.add_argument("--clients", type=int, default=8, help="clients without latency")
    parser.add_argument("--latency", type=float, default=0.2, help="injected latency, seconds")
    parser.add_argument("--latency-clients", type=int, default=50, help="clients with latency")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        results = [
            run_scenario("no-latency", 0.0, options.clients, options.seconds, tmp),
            run_scenario("latency", options.latency, options.latency_clients, options.seconds, tmp),
        ]
    if options.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    print(f"{'scenario':<12} {'clients':>7} {'latency':>8} {'req/s':>8} {'ideal':>8} {'errors':>6}")
    for r in results:
        ideal = f"{r.ideal_per_second:.0f}" if r.ideal_per_second else "-"
        print(
            f"{r.scenario:<12} {r.clients:>7} {r.latency:>8.2f} {r.per_second:>8.0f} "
            f"{ideal:>8} {r.errors:>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
