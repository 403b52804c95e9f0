"""The emulator's memory stays bounded over a long run (bench/bench_emulator_memory.py has
the 20,000-request figure measured as RSS of a separate `specsync emulator` process)."""

from __future__ import annotations

import http.client
import json
import tracemalloc
from urllib.parse import urlsplit

import pytest

from specsync.emulator import EmulatorConfig, running_emulator

BODY = json.dumps({"language": "en", "text": "Sample Script", "model": "M000045058"})
HEADERS = {"Authorization": "k", "Content-Type": "application/json"}
JOURNAL_MEMORY = 100


def exchange(connection: http.client.HTTPConnection, rounds: int) -> None:
    """Each round: an export, a progress poll, a download (most of what the emulator does)."""
    for _ in range(rounds):
        connection.request("POST", "/api/odin/v3/simple/custom", BODY, HEADERS)
        project_id = json.loads(connection.getresponse().read())["data"]["projectId"]
        for _ in range(2):  # the URL comes a poll after 100
            connection.request("GET", "/api/odin/v3/editor/progress/" + project_id, headers=HEADERS)
            url = json.loads(connection.getresponse().read())["data"].get("downloadUrl")
        connection.request("GET", urlsplit(url)._replace(scheme="", netloc="").geturl())
        connection.getresponse().read()


# Scaling: thousands of requests to see memory stay flat (about 4 s of CPU).
@pytest.mark.slow
def test_memory_does_not_grow_with_the_number_of_requests() -> None:
    config = EmulatorConfig(render_seconds=0, journal_memory=JOURNAL_MEMORY)
    with running_emulator(config) as emu:
        address = urlsplit(emu.url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port)
        exchange(connection, 300)  # past the journal's cap: it is full from here on
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            exchange(connection, 1000)
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        connection.close()

        assert emu.export_count() == 1300
        assert len(emu.journal_records()) == JOURNAL_MEMORY
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    # 3,000 requests; before the bound it was about 1.4 KB each (over 4 MB here). What is
    # left is noise and the caps' worth of entries swapped for new ones: tracemalloc counts
    # the new ones but not the freeing of those made before it started (~150 KB of journal
    # records, ~40 KB for the "seen at 100" set and the index of projects made, each
    # bounded by the same journal memory).
    assert growth < 450_000, f"grew by {growth} bytes over 3,000 requests"
