"""The saved plan's digests, file form and checks (specsync/saved_plan.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from specsync.item_words import PlanAction
from specsync.model import Item, Location, build_request
from specsync.plan import make_plan
from specsync.saved_plan import (
    SavedPlanError,
    check_fresh,
    check_selection,
    lock_digest,
    make_saved_plan,
    read_saved_plan,
    saved_items,
    stale_reasons,
    write_saved_plan,
)
from specsync.state.lockfile_data import Entry, Lockfile


def item(item_id: str, text: str, webhook: str | None = None) -> Item:
    video, locale = item_id.split("/")
    fields = {"model": "M1", **({"webhookUrl": webhook} if webhook else {})}
    return Item(item_id, video, locale, build_request(locale, text, fields), Location("m.yaml", 3))


def exported(it: Item) -> Entry:
    entry = Entry(id=it.id, fingerprint=it.fingerprint, project_id="p-" + it.id, task_id="t")
    return entry.with_request(it.request)


def test_the_lock_digest_sees_what_apply_acts_on_and_not_downloads() -> None:
    a = exported(item("a/en", "hi"))
    base = lock_digest(Lockfile({"a/en": a}))
    assert lock_digest(Lockfile({"a/en": a})) == base
    assert lock_digest(Lockfile({"a/en": a._replace(sha256="0" * 64, size=9)})) == base
    for changed in (
        Lockfile({}),
        Lockfile({"a/en": a._replace(state="uncertain")}),
        Lockfile({"a/en": a._replace(project_id="other")}),
        Lockfile({"a/en": a}, emulator=True),
        Lockfile({"a/en": a}, service="elsewhere.example"),
        Lockfile({"a/en": a}, forgotten={"b/en": ()}),
    ):
        assert lock_digest(changed) != base


def test_a_saved_plan_round_trips_and_holds_only_what_apply_acts_on(tmp_path: Path) -> None:
    same, changed, new = (
        item("a/en", "hi"),
        item("b/en", "new"),
        item("c/en", "fresh", "https://h/x"),
    )
    lock = Lockfile({"a/en": exported(same), "b/en": exported(item("b/en", "old"))})
    items = [same, changed, new]
    plan = make_plan(items, lock)
    saved = make_saved_plan(plan, items, lock, paths=("m.yaml",))
    assert [(s.id, s.action) for s in saved.items] == [
        ("b/en", PlanAction.UPDATE),
        ("c/en", PlanAction.CREATE),
    ]
    path = tmp_path / "reviewed.plan"
    write_saved_plan(path, saved)
    read = read_saved_plan(path)
    assert read.items == saved.items
    assert read.rendered == saved.rendered and set(read.rendered) == {"a/en", "b/en", "c/en"}
    assert read.paths == ("m.yaml",)
    assert stale_reasons(read, items, lock, tmp_path / "specsync.lock") == []
    check_selection(read, saved_items(plan, ()), "reviewed.plan")


def test_staleness_names_what_changed(tmp_path: Path) -> None:
    items = [item("a/en", "hi"), item("b/en", "there")]
    lockfile = tmp_path / "specsync.lock"
    saved = make_saved_plan(
        make_plan(items, Lockfile({})), items, Lockfile({}), paths=("one.yaml",)
    )
    changed = [item("a/en", "hi", webhook="https://h/new"), item("c/en", "more")]
    (reason,) = stale_reasons(saved, changed, Lockfile({}), lockfile)
    assert "changed: a/en" in reason and "new: c/en" in reason and "gone: b/en" in reason
    assert "one.yaml" in reason  # the paths plan was given, since the item set differs
    applied = Lockfile({"a/en": exported(items[0])})
    with pytest.raises(SavedPlanError, match=r"specsync\.lock .* other exports.*Nothing was sent"):
        check_fresh(saved, items, applied, lockfile, "reviewed.plan")


def test_a_selection_that_differs_from_the_saved_one_is_refused(tmp_path: Path) -> None:
    items = [item("a/en", "hi"), item("b/en", "there")]
    saved = make_saved_plan(make_plan(items, Lockfile({})), items, Lockfile({}))
    only_a = saved_items(make_plan(items[:1], Lockfile({})), ())
    with pytest.raises(SavedPlanError, match=r"no longer matches .*\(b/en\)"):
        check_selection(saved, only_a, "reviewed.plan")


def test_writing_where_it_cannot_is_a_clean_error(tmp_path: Path) -> None:
    items = [item("a/en", "hi")]
    saved = make_saved_plan(make_plan(items, Lockfile({})), items, Lockfile({}))
    with pytest.raises(SavedPlanError, match="cannot write the saved plan"):
        write_saved_plan(tmp_path / "missing" / "reviewed.plan", saved)


def test_only_a_saved_plan_is_ever_replaced(tmp_path: Path) -> None:
    items = [item("a/en", "hi")]
    lockfile = tmp_path / "specsync.lock"
    lockfile.write_text("version = 2\n", "utf-8")
    saved = make_saved_plan(make_plan(items, Lockfile({})), items, Lockfile({}))
    with pytest.raises(SavedPlanError, match=r"refusing to replace .*not a saved plan"):
        write_saved_plan(lockfile, saved)
    assert lockfile.read_text("utf-8") == "version = 2\n"
    write_saved_plan(tmp_path / "reviewed.plan", saved)
    write_saved_plan(tmp_path / "reviewed.plan", saved)  # an older plan is replaced
    assert read_saved_plan(tmp_path / "reviewed.plan").items == saved.items


def test_a_render_recorded_done_keeps_the_digest_and_a_failure_is_named() -> None:
    a, b = exported(item("a/en", "hi")), exported(item("b/en", "yo"))
    before = Lockfile({"a/en": a, "b/en": b})
    saved = make_saved_plan(make_plan([], before), [], before)
    done = Lockfile({"a/en": a._replace(state="done"), "b/en": b})
    assert lock_digest(done) == saved.lockfile_digest  # status cannot change what is sent
    failed = Lockfile({"a/en": a, "b/en": b._replace(state="failed")}, service="x.example")
    assert lock_digest(failed) != saved.lockfile_digest
    (reason,) = stale_reasons(saved, [], failed, Path("specsync.lock"))
    assert reason.endswith("(the service changed; entries changed: b/en)"), reason
