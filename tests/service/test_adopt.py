"""specsync.service.adopt on real files: journal folding, refusals, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from specsync.model import Item, Location, build_request
from specsync.service.adopt import AdoptRefused, adopt, verify_export
from specsync.service.errors import ClientError, RenderRefused
from specsync.state import journal as journal_mod
from specsync.state.lockfile_data import Lockfile
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import submitted_entry, with_state
from specsync.state.lockfile_write import write_lockfile


def item(item_id: str, text: str) -> Item:
    video, locale = item_id.split("/")
    return Item(
        item_id, video, locale, build_request(locale, text, {"model": "M1"}), Location("m.yaml", 3)
    )


ITEMS = [item("a/en", "hello"), item("b/en", "bye")]


def test_an_interrupted_apply_journal_is_folded_before_adopting(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    path = journal_mod.journal_path(lockfile)
    a, b = ITEMS
    with journal_mod.Journal(path, {"emulator": False, "host": "127.0.0.1:1"}) as journal:
        journal.intent(b.id, b.fingerprint, "2026-11-25T12:00:00Z")
        journal.accepted(b.id, b.fingerprint, "p-b", "t-b", "2026-11-25T12:00:01Z")
        journal.intent(a.id, a.fingerprint, "2026-11-25T12:00:02Z")  # killed here
    result = adopt(ITEMS, "a/en", lockfile, "p-a", "t-a", check=None, service_host="127.0.0.1:2")
    assert result.recovered > 0 and result.written and not result.checked
    lock = read_lockfile(lockfile)
    assert (lock.entries["b/en"].project_id, lock.entries["b/en"].task_id) == ("p-b", "t-b")
    entry = lock.entries["a/en"]
    assert (entry.project_id, entry.task_id, entry.state) == ("p-a", "t-a", None)
    assert entry.fingerprint == a.fingerprint and entry.text == "hello"
    assert not path.exists()


def test_the_same_ids_again_change_nothing(tmp_path: Path) -> None:
    lockfile = tmp_path / "specsync.lock"
    a = ITEMS[0]
    entry = submitted_entry(None, a.id, a.fingerprint, "p-a", "t-a", "2026-11-20T00:00:00Z")
    write_lockfile(
        lockfile, with_state(Lockfile({a.id: entry.with_request(a.request)}), a.id, "done")
    )
    before = lockfile.read_bytes()
    result = adopt(ITEMS, "a/en", lockfile, "p-a", None, check=None)
    assert not result.written and result.task_id == "t-a"
    assert lockfile.read_bytes() == before


class _Service:
    """The two endpoints adopt asks, answering as told (a unit test of verify_export)."""

    def __init__(self, project: object, progress: object) -> None:
        self.project, self.answer = project, progress

    def get_json(self, path: str, *, once: bool = False) -> tuple[int, object]:
        if isinstance(self.project, Exception):
            raise self.project
        return (
            (404, None)
            if self.project is None
            else (200, {"success": True, "data": {"project": self.project}})
        )

    def progress(self, project_id: str) -> object:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("service", "words"),
    [
        (_Service(None, ClientError("HTTP 404", status=404)), "does not know projectId p-x"),
        (_Service({"_id": "p-x", "state": "failed"}, None), "a failed export is not adopted"),
        (_Service(None, {"progress": 50.0, "state": "failed"}), "a failed export is not adopted"),
        # `success: false` on a poll is no verdict (assumed; docs/vendor.md): not checked.
        (_Service(None, RenderRefused("HTTP 200: busy", 200)), "--no-check records it"),
        (_Service(ClientError("no answer after 3 attempts"), None), "--no-check records it"),
    ],
)
def test_what_the_check_says_refuses_with_nothing_written(
    tmp_path: Path, service: _Service, words: str
) -> None:
    lockfile = tmp_path / "specsync.lock"

    with pytest.raises(AdoptRefused, match=words):
        adopt(ITEMS, "a/en", lockfile, "p-x", None, check=lambda p: verify_export(service, p))
    assert not lockfile.exists()


def test_the_project_endpoint_tells_done_and_credit_and_progress_is_the_fallback() -> None:
    project = {
        "_id": "p-x",
        "state": "exported",
        "progress": 100,
        "creditSubstracted": True,
        "download_url": "https://cdn.example/p-x.mp4",
    }
    seen = verify_export(_Service(project, None), "p-x")
    assert (seen.via, seen.done, seen.credit_charged) == ("project", True, True)
    fallback = verify_export(_Service(None, {"progress": 37.5}), "p-x")
    assert (fallback.via, fallback.done, fallback.credit_charged) == ("progress", False, None)


@pytest.mark.parametrize(
    "given", ["the-api-key-123456", "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDB9.c2ln"]
)
def test_a_credential_or_a_token_is_never_recorded_as_an_id_nor_shown(
    tmp_path: Path, given: str
) -> None:
    lockfile = tmp_path / "specsync.lock"
    with pytest.raises(AdoptRefused) as refused:
        adopt(ITEMS, "a/en", lockfile, given, None, check=None, secrets=["the-api-key-123456"])
    assert given not in str(refused.value)
    assert not lockfile.exists()


def test_an_empty_project_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AdoptRefused, match="--project-id is empty"):
        adopt(ITEMS, "a/en", tmp_path / "specsync.lock", "  ", None, check=None)
    assert not (tmp_path / "specsync.lock").exists()
