"""specsync.service.apply against hostile servers and clients: every id an accepted answer
holds reaches the lockfile, an unknown outcome is never a failure, every item is counted."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from specsync.item_words import ItemOutcome
from specsync.service.apply import ApplyOptions, ApplyReport, run_apply
from specsync.service.client import Client, ExportResult
from specsync.service.credentials import Credentials
from specsync.state import journal as journal_mod
from specsync.state.lockfile_read import read_lockfile
from tests.helpers.apply_fixtures import FakeClient, Quiet, items
from tests.helpers.hostile_server import HostileServer

KEY = "apply-test-key-123"


def apply_against(url: str, lockfile: Path, count: int, concurrency: int = 1) -> ApplyReport:
    options = ApplyOptions(concurrency=concurrency, rate=100.0)
    return run_apply(
        items(count),
        lockfile,
        lambda: Client(url, Credentials(api_key=KEY), sleep=lambda s: None),
        options,
        Quiet(),
    )


def counted(report: ApplyReport) -> dict[str, int]:
    return {kind: len(report.of(kind)) for kind in ItemOutcome}


@pytest.mark.parametrize(
    ("body", "project_id", "task_id"),
    [
        (b'{"success": true, "data": {"projectId": "p-1", "taskId": null}}', "p-1", ""),
        (
            b'{"projectId": "p\\u0000\\u001b]0;x\\u0007\\n::error::x", "taskId": 7}',
            "p\x00\x1b]0;x\x07\n::error::x",
            "7",
        ),
        (
            b'{"projectId": "p\\udc80", "taskId": "t", "big": ' + b"9" * 5000 + b"}",
            "p\\udc80",  # a lone surrogate, kept as escaped text (UTF-8 cannot hold it)
            "t",
        ),
    ],
)
def test_odd_accepted_answers_reach_the_lockfile_and_read_back_unchanged(
    tmp_path: Path, body: bytes, project_id: str, task_id: str
) -> None:
    lockfile = tmp_path / "specsync.lock"
    with HostileServer("answer", body=body) as server:
        report = apply_against(server.url, lockfile, 1)
    [outcome] = report.outcomes
    assert outcome.outcome == ItemOutcome.SUBMITTED
    assert outcome.project_id == project_id
    entry = read_lockfile(lockfile).entries["v00/en"]
    assert (entry.project_id, entry.task_id, entry.state) == (project_id, task_id, None)
    assert report.uncertain_left == []


class Exploding(FakeClient):
    """A client whose export raises something nobody expected (a bug), after the intent."""

    def export(self, request: Mapping[str, Any]) -> ExportResult:
        raise TypeError("boom")


def test_a_bug_after_the_intent_journals_the_item_uncertain_and_propagates(
    tmp_path: Path,
) -> None:
    """A bug is no answer: the item may have been sent, so it is journalled uncertain (the
    id promise holds), nothing more is sent, and the error reaches main() (exit 3)."""
    lockfile = tmp_path / "specsync.lock"
    with pytest.raises(TypeError):
        run_apply(items(3), lockfile, Exploding, ApplyOptions(concurrency=1, rate=100.0), Quiet())
    records = journal_mod.read_journal(journal_mod.journal_path(lockfile, create=False))
    assert [(r["id"], r["event"]) for r in records] == [
        ("v00/en", "intent"),
        ("v00/en", "uncertain"),
    ]
    view = journal_mod.read_lock_view(lockfile)
    assert {key: entry.state for key, entry in view.entries.items()} == {"v00/en": "uncertain"}


def test_a_403_on_twenty_items_accounts_for_every_one(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    body = b'{"success": false, "error": {"code": "403", "msg": "forbidden"}}'
    with HostileServer("answer", status=403, body=body) as server:
        report = apply_against(server.url, lockfile, 20, concurrency=4)
    counts = counted(report)
    assert sum(counts.values()) == 20
    assert counts[ItemOutcome.SKIPPED] >= 16
    assert counts[ItemOutcome.UNCERTAIN] == 0
    assert report.stopped is not None and "403" in report.stopped
    # Nothing was processed: no entry, and the next run submits them all.
    assert read_lockfile(lockfile).entries == {}
    assert not journal_mod.journal_path(lockfile, create=False).exists()
