"""Memory of a long-running emulator: RSS of `specsync emulator` as requests pile up.

    python bench/bench_emulator_memory.py [--requests 40000] [--clients 4] [--json]

The emulator runs as its own process with the default settings (its journal keeps the last
10,000 records in memory); clients on keep-alive connections post exports and poll their
progress. RSS (VmRSS from /proc, Linux only) is read after a warm-up that fills the
journal's in-memory cap, then at every quarter of the run: a bounded emulator stays flat,
and the figure reported is the growth per request from the warm-up to the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

EXPORT = "/api/odin/v3/simple/custom"
PROGRESS = "/api/odin/v3/editor/progress/"
BODY = json.dumps({"language": "en", "text": "Sample Script", "model": "M000045058"})
HEADERS = {"Authorization": "bench-key", "Content-Type": "application/json"}
WARM_UP = 24_000  # requests, half of them exports: past the journal's 10,000-record cap


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, "no VmRSS in /proc: Linux only"
    return int(match.group(1))


def send(url: str, clients: int, requests: int) -> None:
    """`requests` requests (export + progress pairs) spread over `clients` threads."""
    parts = urlsplit(url)

    def client(pairs: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            for _ in range(pairs):
                connection.request("POST", EXPORT, body=BODY, headers=HEADERS)
                project_id = json.loads(connection.getresponse().read())["data"]["projectId"]
                connection.request("GET", PROGRESS + project_id, headers=HEADERS)
                connection.getresponse().read()
        finally:
            connection.close()

    threads = [
        threading.Thread(target=client, args=(requests // 2 // clients,)) for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40_000, help="measured requests")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)

    emulator = [sys.executable, "-m", "specsync", "emulator", "--port", "0"]
    emulator += ["--render-seconds", "0"]
    process = subprocess.Popen(emulator, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        send(url, options.clients, WARM_UP)
        samples = [(0, rss_kib(process.pid))]
        started = time.monotonic()
        quarter = options.requests // 4
        for step in range(1, 5):
            send(url, options.clients, quarter)
            samples.append((step * quarter, rss_kib(process.pid)))
        elapsed = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    sent = samples[-1][0]
    growth = (samples[-1][1] - samples[0][1]) * 1024
    result = {
        "requests": sent,
        "seconds": round(elapsed, 1),
        "rss_kib": [kib for _, kib in samples],
        "growth_bytes": growth,
        "bytes_per_request": round(growth / sent, 1),
    }
    if options.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"after warm-up ({WARM_UP} requests) and every {quarter} more: RSS KiB", end=" ")
        print(" -> ".join(str(kib) for _, kib in samples))
        print(f"{sent} requests in {elapsed:.1f} s: {growth / sent:+.1f} bytes per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
