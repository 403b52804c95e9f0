"""specsync.service.adopt on real files: journal folding, refusals, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from specsync.model import Item, Location, build_request
from specsync.service.adopt import AdoptRefused, adopt
from specsync.service.errors import ClientError, RenderRefused
from specsync.state import journal as journal_mod
from specsync.state.lockdata import Lockfile
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


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ClientError("progress of p-x: HTTP 404", status=404), "does not know projectId p-x"),
        (RenderRefused("HTTP 200: render failed", 200), "a failed export is not adopted"),
        (ClientError("no answer after 3 attempts"), "--no-check records it"),
    ],
)
def test_what_the_check_says_refuses_with_nothing_written(
    tmp_path: Path, error: ClientError, words: str
) -> None:
    lockfile = tmp_path / "specsync.lock"
    asked: list[str] = []

    def check(project_id: str) -> None:
        asked.append(project_id)
        raise error

    with pytest.raises(AdoptRefused, match=words):
        adopt(ITEMS, "a/en", lockfile, "p-x", None, check=check)
    assert asked == ["p-x"]
    assert not lockfile.exists()


def test_an_empty_project_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AdoptRefused, match="--project-id is empty"):
        adopt(ITEMS, "a/en", tmp_path / "specsync.lock", "  ", None, check=None)
    assert not (tmp_path / "specsync.lock").exists()
