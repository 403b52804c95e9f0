import pytest

from specsync.cli.report_json import plan_document
from specsync.item_words import PlanAction
from specsync.model import Item, Location, build_request, fingerprints
from specsync.plan import ACTIONS, SUBMITTED, Plan, make_plan, text_diff
from specsync.state.journal import fold
from specsync.state.lockfile_data import Entry, Lockfile, Submission
from specsync.state.lockfile_update import (
    made_current,
    submitted_entry,
    uncertain_entry,
    with_state,
)


def item(item_id: str, text: str, model: str = "M1", webhook: str | None = None) -> Item:
    video, locale = item_id.split("/")
    fields = {"model": model, **({"webhookUrl": webhook} if webhook else {})}
    return Item(item_id, video, locale, build_request(locale, text, fields), Location("m.yaml", 3))


def exported(it: Item, **extra: object) -> Entry:
    entry = Entry(id=it.id, fingerprint=it.fingerprint, project_id="p-" + it.id, task_id="t")
    return entry._replace(**extra).with_request(it.request)


def test_every_action() -> None:
    same, changed, uncertain = item("a/en", "hi"), item("b/en", "new"), item("c/en", "x")
    lock = Lockfile(
        {
            "a/en": exported(same),
            "b/en": exported(item("b/en", "old")),
            "c/en": exported(uncertain, state="uncertain"),
            "gone/en": exported(item("gone/en", "bye")),
        }
    )
    plan = make_plan([same, changed, uncertain, item("d/en", "fresh")], lock)
    actions = {p.id: p.action for p in plan.items}
    assert actions == {
        "a/en": "unchanged",
        "b/en": "update",
        "c/en": "uncertain",
        "d/en": "create",
        "gone/en": "orphaned",
    }
    assert [p.id for p in plan.items] == sorted(actions)
    assert plan.summary == {
        "create": 1,
        "update": 1,
        "reuse": 0,
        "unchanged": 1,
        "orphaned": 1,
        "uncertain": 1,
    }
    assert plan.has_changes


def test_orphans_alone_are_not_changes() -> None:
    lock = Lockfile({"gone/en": exported(item("gone/en", "bye"))})
    assert not make_plan([], lock).has_changes


def test_webhook_is_not_a_change_but_model_is() -> None:
    base = item("a/en", "hi", webhook="https://x.example/1")
    lock = Lockfile({"a/en": exported(base)})
    moved = item("a/en", "hi", webhook="https://x.example/2")
    assert make_plan([moved], lock).items[0].action == "unchanged"
    planned = make_plan([item("a/en", "hi", model="M2")], lock).items[0]
    assert planned.action == "update"
    assert planned.reason == "model 'M1' → 'M2'"
    assert plan_document(make_plan([item("a/en", "hi", model="M2")], lock))["items"][0][
        "changes"
    ] == [{"field": "model", "old": "M1", "new": "M2"}]


def test_update_without_recorded_fields_still_says_something() -> None:
    old = item("a/en", "old")
    lock = Lockfile(
        {"a/en": Entry(id="a/en", fingerprint=old.fingerprint, project_id="p", task_id="t")}
    )
    planned = make_plan([item("a/en", "new")], lock).items[0]
    assert planned.action == "update" and "changed" in planned.reason


def test_in_flight_items_are_uncertain_never_create() -> None:
    # What plan sees of an apply killed after journalling its intent: the folded journal.
    fresh = item("a/en", "hi")
    intent = {"event": "intent", "id": "a/en", "fingerprint": fresh.fingerprint, "at": "T"}
    plan = make_plan([fresh], fold(Lockfile({}), [intent]))
    assert plan.items[0].action == "uncertain"


def test_text_diff_is_short() -> None:
    old = "\n".join(f"line {i}" for i in range(40))
    new = "\n".join(f"LINE {i}" for i in range(40))
    diff = text_diff(old, new)
    assert diff[0] == "- line 0" and len(diff) == 13 and diff[-1].endswith("more changed lines")


def test_entry_written_with_the_locale_in_another_case_is_the_same_item() -> None:
    # Before canonicalisation, id and language were the code as written.
    old = item("a/pt-br", "hi")
    lock = Lockfile({"a/pt-br": exported(old), "b/EN": exported(item("b/EN", "x"))})
    plan = make_plan([item("a/pt-BR", "hi"), item("b/en", "changed")], lock)
    assert [(p.id, p.action, p.entry.id if p.entry else None) for p in plan.items] == [
        ("a/pt-BR", "unchanged", "a/pt-br"),
        ("b/en", "update", "b/EN"),
    ]
    assert plan.items[1].reason == "text changed"  # the case of the code is no change
    # A video id keeps its case: `A/pt-br` is another video, orphaned.
    lock = Lockfile({"A/pt-br": exported(item("A/pt-br", "hi"))})
    actions = {p.id: p.action for p in make_plan([item("a/pt-BR", "hi")], lock).items}
    assert actions == {"A/pt-br": "orphaned", "a/pt-BR": "create"}


def test_a_reverted_script_reuses_its_earlier_export() -> None:
    old, new = item("a/en", "first"), item("a/en", "second")
    earlier = Submission("p-old", "t-old", "2026-11-20T09:30:00Z", old.fingerprint)
    lock = Lockfile({"a/en": exported(new)._replace(history=(earlier,))})
    plan = make_plan([old], lock)
    planned = plan.items[0]
    assert planned.action == "reuse"
    assert planned.reuse == earlier
    assert "p-old" in planned.reason
    assert plan.summary["reuse"] == 1 and plan.has_changes
    document = plan_document(plan)
    assert document["items"][0]["projectId"] == "p-old"
    assert document["summary"]["reuse"] == 1
    assert document["estimate"]["exports"] == 0


def test_the_newest_matching_record_is_reused() -> None:
    old, new = item("a/en", "first"), item("a/en", "second")
    first = Submission("p-1", "t-1", "2026-11-20T09:30:00Z", old.fingerprint)
    again = Submission("p-3", "t-3", "2026-11-22T09:30:00Z", old.fingerprint)
    between = Submission("p-2", "t-2", "2026-11-21T09:30:00Z", new.fingerprint)
    lock = Lockfile({"a/en": exported(new)._replace(history=(first, between, again))})
    assert make_plan([old], lock).items[0].reuse == again


def test_a_failed_export_is_never_reused() -> None:
    old, new = item("a/en", "first"), item("a/en", "second")
    # The current export failed and is also listed in history (an uncertain attempt
    # after it put it there): its fingerprint matching does not make it reusable.
    failed = Submission("p-new", "t", "2026-11-20T09:30:00Z", old.fingerprint)
    entry = exported(new, state="failed", project_id="p-new")._replace(history=(failed,))
    assert make_plan([old], Lockfile({"a/en": entry})).items[0].action == "update"


def test_an_uncertain_attempt_reverted_reuses_the_export_before_it() -> None:
    old, attempted = item("a/en", "first"), item("a/en", "second")
    lock = fold(
        Lockfile({"a/en": exported(old)}),
        [
            {
                "event": "intent",
                "id": "a/en",
                "fingerprint": attempted.fingerprint,
                "at": "2026-11-25T12:00:00Z",
            }
        ],
    )
    assert lock.entries["a/en"].state == "uncertain"
    planned = make_plan([old], lock).items[0]
    assert planned.action == "reuse"
    assert planned.reuse is not None and planned.reuse.project_id == "p-a/en"


def test_the_uncertain_reason_names_adopt_before_retrying() -> None:
    it = item("c/en", "x")
    planned = make_plan([it], Lockfile({"c/en": exported(it, state="uncertain")})).items[0]
    assert planned.action == "uncertain"
    assert planned.reason.index("specsync adopt") < planned.reason.index("--retry-uncertain")


def test_a_late_change_in_a_long_line_is_shown_with_its_context() -> None:
    head = "Welcome to Acme Cloud. " * 20
    diff = text_diff(head + "Write to help.acme.example today.", head + "Write to us today.")
    assert diff == (
        "- …to Acme Cloud. Write to help.acme.example today.",
        "+ …to Acme Cloud. Write to us today.",
    )


def test_two_different_lines_never_show_as_the_same_line() -> None:
    import random

    rng = random.Random(7)
    alphabet = ["a", "b", " ", "  ", "\t", "é", "한", ".", "x" * 200, "\\n"]
    for _ in range(3000):
        old = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        new = list(old)
        for _ in range(rng.randint(1, 3)):
            new.insert(rng.randint(0, len(new)), rng.choice(alphabet))
        new_text = "".join(new)
        if "\n" in old or old == new_text:
            continue
        removed, added = text_diff(old, new_text)
        assert removed[2:] != added[2:], (old, new_text)
        assert len(removed) <= 200 and len(added) <= 200


# -- reuse never hides an uncertain or failed export (issue 25) ----------------------------


def test_an_export_recorded_failed_and_moved_into_history_is_never_reused() -> None:
    first, second = item("a/en", "first"), item("a/en", "second")
    entry = submitted_entry(None, "a/en", first.fingerprint, "p-1", "t-1", "2026-11-20")
    lock = with_state(Lockfile({"a/en": entry}), "a/en", "failed")
    entry = submitted_entry(lock.entries["a/en"], "a/en", second.fingerprint, "p-2", "t-2", "x")
    assert entry.history[0].state == "failed"  # history keeps the export's last known state
    planned = make_plan([first], Lockfile({"a/en": entry})).items[0]
    assert planned.action == "update" and planned.reuse is None


def test_an_export_known_done_or_not_yet_known_is_reused() -> None:
    first, second = item("a/en", "first"), item("a/en", "second")
    for state in ("done", None):
        entry = submitted_entry(None, "a/en", first.fingerprint, "p-1", "t-1", "2026-11-20")
        entry = entry._replace(state=state)
        entry = submitted_entry(entry, "a/en", second.fingerprint, "p-2", "t-2", "x")
        assert entry.history[0].state == state
        planned = make_plan([first], Lockfile({"a/en": entry})).items[0]
        assert planned.action == "reuse" and planned.reuse == entry.history[0]


def attempt_left_uncertain() -> tuple[Item, Item, Entry]:
    """`first` exported, then a request for `second` whose outcome is unknown."""
    first, second = item("a/en", "first"), item("a/en", "second")
    entry = submitted_entry(None, "a/en", first.fingerprint, "p-1", "t-1", "2026-11-20")
    return first, second, uncertain_entry(entry, "a/en", second.fingerprint, "2026-11-25")


def test_an_uncertain_request_is_never_forgotten_by_a_reuse() -> None:
    first, second, entry = attempt_left_uncertain()
    planned = make_plan([first], Lockfile({"a/en": entry})).items[0]
    assert planned.action == "reuse" and "unknown outcome" in planned.reason
    reused = made_current(entry, "a/en", first.request, first.fingerprint, "p-1", "t-1", "t")
    assert reused.state is None
    [attempt] = [h for h in reused.history if not h.has_ids]
    assert (attempt.fingerprint, attempt.state, attempt.attempted_at) == (
        second.fingerprint,
        "uncertain",
        "2026-11-25",
    )
    # Changing back to the script of that request: uncertain, not a plain update (which
    # would POST the same request twice).
    planned = make_plan([second], Lockfile({"a/en": reused})).items[0]
    assert planned.action == "uncertain"
    assert "2026-11-25" in planned.reason and "specsync adopt" in planned.reason


def test_an_uncertain_request_is_never_forgotten_by_an_update_either() -> None:
    _, second, entry = attempt_left_uncertain()
    third = item("a/en", "third")
    updated = submitted_entry(entry, "a/en", third.fingerprint, "p-3", "t-3", "2026-11-26")
    assert make_plan([second], Lockfile({"a/en": updated})).items[0].action == "uncertain"
    # Another uncertain request after it keeps the first one too.
    again = uncertain_entry(entry, "a/en", third.fingerprint, "2026-11-27")
    assert make_plan([second], Lockfile({"a/en": again})).items[0].action == "uncertain"


def test_a_request_resubmitted_or_adopted_settles_its_uncertain_attempt() -> None:
    first, second, entry = attempt_left_uncertain()
    reused = made_current(entry, "a/en", first.request, first.fingerprint, "p-1", "t-1", "t")
    # --retry-uncertain resubmits `second`; accepted, it is current and the next plan of
    # it says unchanged; reverting away and back then reuses that export.
    retried = submitted_entry(reused, "a/en", second.fingerprint, "p-2", "t-2", "2026-11-28")
    assert make_plan([second], Lockfile({"a/en": retried})).items[0].action == "unchanged"
    away = made_current(retried, "a/en", first.request, first.fingerprint, "p-1", "t-1", "t")
    planned = make_plan([second], Lockfile({"a/en": away})).items[0]
    assert planned.action == "reuse" and planned.reuse is not None
    assert planned.reuse.project_id == "p-2"
    # Adopting the very request it sent settles it too: nothing about it stays open.
    adopted = made_current(entry, "a/en", second.request, second.fingerprint, "p-9", "t-9", "t")
    assert all(h.has_ids for h in adopted.history)


def test_a_target_matching_nothing_suggests_the_same_kind_of_pattern() -> None:
    import pytest

    from specsync.errors import UserError
    from specsync.plan import require_matches

    ids = ["promo/en", "welcome/en", "welcome/ko"]
    for pattern, meant in (
        ("welcom/*", "welcome/*"),
        ("*/kr", "*/ko"),
        ("welcome/kr", "welcome/ko"),
        ("welcom", "welcome/*"),
    ):
        with pytest.raises(UserError) as info:
            require_matches("--target", [pattern], ids)
        assert f"--target {pattern!r} matches no item (did you mean {meant!r}?)" in str(info.value)
    with pytest.raises(UserError) as info:
        require_matches("--target", ["zzz/*"], ids)
    assert "did you mean" not in str(info.value)


# plan's own reading: unchanged exports' entries are made only when asked for -------------


def _plan_both_ways(items: list[Item], lock: Lockfile) -> tuple[Plan, Plan, Lockfile]:
    """(the plan of the lockfile read whole, of it read knowing the items, that reading)."""
    from specsync.state.lockfile_read import parse_lockfile
    from specsync.state.lockfile_write import dumps

    text = dumps(lock)
    known = {it.id: it.fingerprint for it in items}
    whole, knowing = parse_lockfile(text), parse_lockfile(text, known=known)
    return make_plan(items, whole), make_plan(items, knowing), knowing


def test_plans_reading_leaves_unchanged_exports_unmade_and_plans_the_same() -> None:
    from specsync.state.lockfile_data import EntriesOnDemand

    same, pulled, earlier = item("a/en", "hi\nthere"), item("b/en", "x"), item("c/en", "y")
    done, changed, doubt = item("d/en", 'say "z"'), item("e/en", "new"), item("f/en", "w")
    lock = Lockfile(
        {
            "a/en": exported(same),
            "b/en": exported(pulled, state="done", sha256="0" * 64, size=7),
            "c/en": exported(earlier, history=(Submission("p0", "t0", "2025", "9" * 64),)),
            "d/en": exported(done, state="failed"),
            "e/en": exported(item("e/en", "old")),
            "f/en": exported(doubt, state="uncertain"),
            "gone/en": exported(item("gone/en", "bye")),
        }
    )
    items = [same, pulled, earlier, done, changed, doubt]
    whole, knowing, read = _plan_both_ways(items, lock)
    assert isinstance(read.entries, EntriesOnDemand)
    # The current exports with no history, at the items' fingerprints, are still unmade
    # after make_plan: plan made no Entry of them. The others were read whole.
    unmade = set(read.entries.unmade_fingerprints())
    assert unmade == {"a/en", "b/en", "d/en"}
    assert [(p.id, p.action, p.entry, p.reason) for p in knowing.items] == [
        (p.id, p.action, p.entry, p.reason) for p in whole.items
    ]
    # Asked for, each is the Entry the thorough reader makes, made once.
    assert dict(read.entries) == dict(lock.entries)
    assert read.entries["a/en"] is read.entries["a/en"]
    assert "a/en" not in read.entries.unmade_fingerprints()
    assert read == lock


def test_plans_json_is_the_same_whichever_way_the_lockfile_was_read() -> None:
    items = [item(f"v{i}/en", f"line one\nline {i}") for i in range(5)]
    lock = Lockfile({it.id: exported(it) for it in items[:4]})
    whole, knowing, _ = _plan_both_ways(items, lock)
    assert plan_document(knowing) == plan_document(whole)
    assert plan_document(knowing)["items"][0]["projectId"] == "p-v0/en"


def test_a_reading_for_json_or_out_makes_every_entry_as_read() -> None:
    # plan --format json names every item's export and --out digests every entry: made
    # as read, not one by one afterwards.
    from specsync.state.lockfile_read import parse_lockfile
    from specsync.state.lockfile_write import dumps

    items = [item(f"v{i}/en", f"text {i}") for i in range(4)]
    lock = Lockfile({it.id: exported(it) for it in items})
    known = {it.id: it.fingerprint for it in items}
    from specsync.state.lockfile_data import EntriesOnDemand

    as_read = parse_lockfile(dumps(lock), known=known, on_demand=False)
    on_demand = parse_lockfile(dumps(lock), known=known)
    assert not isinstance(as_read.entries, EntriesOnDemand)  # a plain read-only dict
    assert isinstance(on_demand.entries, EntriesOnDemand)
    assert len(on_demand.entries.unmade_fingerprints()) == 4
    assert as_read == on_demand == lock


def _reports(plan: Plan) -> tuple[object, ...]:
    """Everything plan's reports and apply read of a plan, changes and counts first."""
    from specsync.cli.report_markdown import plan_markdown
    from specsync.cli.report_text import plan_text

    return (
        plan_text(plan),
        plan_markdown(plan),
        [(p.id, p.action, p.reason, p.diff) for p in plan.all_but_unchanged],
        dict(plan.summary),
        plan.has_changes,
        plan.minutes(*SUBMITTED),
        {action: [p.id for p in plan.by_action(action)] for action in ACTIONS},
        plan_text(plan, show_unchanged=True),
        [(p.id, p.action, p.entry, p.reason) for p in plan.items],
    )


@pytest.mark.parametrize("unchanged_count", [0, 1, 7])
def test_a_plan_that_builds_unchanged_lines_only_when_asked_reports_the_same(
    unchanged_count: int,
) -> None:
    # Read knowing the items, a plan keeps its unchanged exports as they came and builds
    # their lines only when all lines are asked for (`--all`, JSON, apply): every report
    # must read the same as that of the plan of the lockfile read whole, whichever is
    # asked first.
    same = [item(f"s{i}/en", f"same {i}") for i in range(unchanged_count)]
    changed, new = item("c/en", "new text"), item("a/en", "brand new")
    lock = Lockfile(
        {
            **{it.id: exported(it) for it in same},
            "c/en": exported(item("c/en", "old text")),
            "z/en": exported(item("z/en", "orphan")),
        }
    )
    items = [*same, changed, new]
    whole, knowing, _ = _plan_both_ways(items, lock)
    assert knowing.summary[PlanAction.UNCHANGED] == unchanged_count
    assert _reports(knowing) == _reports(whole)
    # Given the items' fingerprints (as plan has them), the same plan.
    _, _, read = _plan_both_ways(items, lock)
    assert _reports(make_plan(items, read, fingerprints(items))) == _reports(whole)
    # In the other order too: every line first, then the changes.
    _, again, _ = _plan_both_ways(items, lock)
    assert [p.id for p in again.items] == sorted([*(p.id for p in items), "z/en"])
    assert _reports(again) == _reports(whole)


def test_a_plan_of_nothing_changed_given_the_fingerprints_reports_as_one_read_whole() -> None:
    # Every item at its unmade entry: decided by one comparison of the two mappings.
    same = [item(f"s{i}/en", f"same {i}") for i in range(5)]
    lock = Lockfile({it.id: exported(it) for it in same})
    whole, _, read = _plan_both_ways(same, lock)
    quick = make_plan(same, read, fingerprints(same))
    assert quick.summary[PlanAction.UNCHANGED] == 5 and not quick.has_changes
    assert _reports(quick) == _reports(whole)
    # One more entry, an orphan: no longer every unmade entry an item's.
    lock = Lockfile({**lock.entries, "z/en": exported(item("z/en", "orphan"))})
    whole, _, read = _plan_both_ways(same, lock)
    assert _reports(make_plan(same, read, fingerprints(same))) == _reports(whole)
