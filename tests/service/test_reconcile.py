"""specsync.service.reconcile's decisions, one function at a time (a fake account)."""

from __future__ import annotations

import datetime
from typing import Any

from specsync.model import Item, Location, build_request
from specsync.service.reconcile import (
    CHANGED,
    MATCH,
    NONE,
    SEVERAL,
    YOUNG,
    ReconcileOptions,
    find_matches,
    never_created,
)
from specsync.state.lockfile_data import Entry, Lockfile, Submission
from specsync.state.lockfile_update import submitted_entry, uncertain_entry

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
SENT = "2026-12-01T11:00:00Z"  # the intent: an hour ago


def item(item_id: str, text: str) -> Item:
    video, locale = item_id.split("/")
    request = build_request(locale, text, {"model": "M1"})
    return Item(item_id, video, locale, request, Location("m.yaml", 3))


class Account:
    """The project list and the single-project answers (the vendor's shapes)."""

    def __init__(self, projects: dict[str, dict[str, Any]]) -> None:
        self.projects = projects
        self.asked: list[str] = []

    def get_json(self, path: str, *, once: bool = False) -> tuple[int, Any]:
        self.asked.append(path)
        if path == "/api/odin/v3/editor/project":
            return 200, {"success": True, "data": [{"id": pid} for pid in self.projects]}
        project_id = path.rsplit("/", 1)[1]
        project = self.projects.get(project_id)
        if project is None:
            return 404, None
        return 200, {"success": True, "data": {"project": {"_id": project_id, **project}}}


def project(text: str, created: str | None, **extra: Any) -> dict[str, Any]:
    clip = {
        "type": "aiModel",
        "script": {"org": text},
        "model": {"ai_name": extra.pop("model", "M1"), "language": extra.pop("language", "en")},
    }
    return {"scenes": [{"clips": [clip]}], "createdAt": created, "state": "exported", **extra}


def test_only_projects_made_after_the_intent_with_the_same_script_match() -> None:
    wanted = item("a/en", "hello")
    entry = uncertain_entry(None, "a/en", wanted.fingerprint, SENT)
    lock = Lockfile({"a/en": entry})
    account = Account(
        {
            "long-before": project("hello", "2026-12-01T10:00:00Z"),
            "within-skew": project("hello", "2026-12-01T10:59:00Z"),
            "other-text": project("bye", "2026-12-01T11:00:05Z"),
            "other-language": project("hello", "2026-12-01T11:00:05Z", language="ko"),
            "failed": project("hello", "2026-12-01T11:00:05Z", state="failed"),
        }
    )
    report = find_matches([entry], [wanted], lock, account, ReconcileOptions(), NOW)
    [settled] = report.items
    assert settled.outcome == MATCH
    assert [c.project_id for c in settled.candidates] == ["within-skew"]


def test_an_unreadable_creation_time_counts_and_a_recorded_project_never_does() -> None:
    wanted = item("a/en", "hello")
    entry = uncertain_entry(None, "a/en", wanted.fingerprint, SENT)
    other = submitted_entry(None, "b/en", "f" * 64, "recorded", "t", SENT)
    lock = Lockfile({"a/en": entry, "b/en": other})
    account = Account(
        {"recorded": project("hello", None), "no-time": project("hello", None), "x": {}}
    )
    report = find_matches([entry], [wanted], lock, account, ReconcileOptions(), NOW)
    assert [c.project_id for c in report.items[0].candidates] == ["no-time"]
    assert "/api/odin/v3/editor/project/recorded" not in account.asked


def test_none_several_young_and_changed() -> None:
    wanted = item("a/en", "hello")
    entry = uncertain_entry(None, "a/en", wanted.fingerprint, SENT)
    lock = Lockfile({"a/en": entry})
    options = ReconcileOptions()

    def outcome(projects: dict[str, Any], items: list[Item], **change: Any) -> str:
        account = Account(projects)
        chosen = ReconcileOptions(**{**options.__dict__, **change})
        return find_matches([entry], items, lock, account, chosen, NOW).items[0].outcome

    two = {"p1": project("hello", SENT), "p2": project("hello", SENT)}
    assert outcome(two, [wanted]) == SEVERAL
    assert outcome({}, [wanted]) == NONE
    assert outcome({}, [wanted], min_age=2 * 3600) == YOUNG  # sent an hour ago
    assert outcome(two, [item("a/en", "changed since")]) == CHANGED


def test_never_created_goes_back_to_the_earlier_export_or_away() -> None:
    first = submitted_entry(None, "a/en", "1" * 64, "p-old", "t-old", SENT)
    attempt = uncertain_entry(first, "a/en", "2" * 64, SENT)
    assert attempt.history == (Submission("p-old", "t-old", SENT, "1" * 64),)
    undone = never_created(attempt)
    assert undone is not None
    assert (undone.fingerprint, undone.project_id, undone.state) == ("1" * 64, "p-old", None)
    assert undone.history == ()
    assert never_created(Entry("a/en", "2" * 64, state="uncertain", attempted_at=SENT)) is None
