"""plan's memo of its items' fingerprints (plan/fingerprint_memo.py) never gives a
fingerprint hashing would not: every run, whatever changed since the last, gives what
`model.fingerprints` gives, and each item keeps it."""

from __future__ import annotations

import marshal
import random
from pathlib import Path
from typing import Any

import pytest

from specsync.model import Item, Location, fingerprint, fingerprints
from specsync.plan import fingerprint_memo
from specsync.plan.fingerprint_memo import remembered_fingerprints
from tests.state.test_lockfile_skim_memo import DictStore

PLACE = "/project/specsync.lock"


class _Text(str):
    """Equal to its text, not exactly a str."""


@pytest.fixture(autouse=True)
def every_size_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint_memo, "MIN_ITEMS", 1)


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the items the memo leaves to be hashed."""
    ids: list[str] = []

    def counting(items: list[Item]) -> dict[str, str]:
        ids.extend(each.id for each in items)
        return fingerprints(items)

    monkeypatch.setattr(fingerprint_memo, "fingerprints", counting)
    return ids


def item(item_id: str, text: str, **fields: Any) -> Item:
    request = {"language": "en", "text": text, "model": "M1", "isExport": True, **fields}
    video, _, locale = item_id.partition("/")
    return Item(item_id, video, locale, request, Location("m.yaml", 1, 1))


def remembered(count: int) -> tuple[list[Item], DictStore]:
    """`count` items, and a store that remembers a plan of them."""
    items = [item(f"v{n}/en", f"text {n}") for n in range(count)]
    store = DictStore()
    remembered_fingerprints(items, store, PLACE)
    return items, store


def fresh(items: list[Item]) -> list[Item]:
    """The same items as a new run reads them: new objects, nothing kept."""
    return [Item(i.id, i.video, i.locale, dict(i.request), i.source) for i in items]


def assert_as_hashed(items: list[Item], found: dict[str, str]) -> None:
    expected = fingerprints(fresh(items))
    assert found == expected and list(found) == list(expected)
    for each in items:
        assert vars(each)["fingerprint"] == fingerprint(each.request)


def changed(rng: random.Random, items: list[Item]) -> list[Item]:
    """A next run's items: some texts, languages, models or isExport changed (to values
    that only equal the old ones too), some items gone, new, renamed or reordered, a
    request of another shape."""
    result = fresh(items)
    for _ in range(rng.randint(0, 4)):
        if not result:
            break
        at = rng.randrange(len(result))
        old = result[at]
        request = dict(old.request)
        kind = rng.randrange(9)
        if kind == 0:
            request["text"] += rng.choice(["!", "\n", "é", '"', "\\"])
        elif kind == 1:
            request["language"] = rng.choice(["de", "ko", "EN"])
        elif kind == 2:
            request["model"] = "M2"
        elif kind == 3:
            request["isExport"] = rng.choice([False, 1, 0])  # 1 == True, yet hashed as 1
        elif kind == 4:
            request["text"] = _Text(request["text"])
        elif kind == 5:
            request["resolution"] = rng.choice(["1080", None])
        elif kind == 6:
            del result[at]
            continue
        elif kind == 7:
            result.append(item(f"new{rng.randrange(1000)}/en", "a new one"))
            continue
        else:
            rng.shuffle(result)
            continue
        result[at] = Item(old.id, old.video, old.locale, request, old.source)
    return result


@pytest.mark.parametrize("seed", range(40))
def test_every_run_gives_what_hashing_gives_whatever_changed(seed: int) -> None:
    rng = random.Random(seed)
    items = [item(f"v{n}/en", f"text {n}\nline two {rng.random()}") for n in range(30)]
    store = DictStore()
    for _ in range(6):
        found = remembered_fingerprints(items, store, PLACE)
        assert_as_hashed(items, found)
        items = changed(rng, items)


def test_an_unchanged_run_hashes_nothing_and_a_changed_one_only_the_changed(
    hashed: list[str],
) -> None:
    items, store = remembered(50)
    assert len(hashed) >= 50
    hashed.clear()
    again = fresh(items)
    assert_as_hashed(again, remembered_fingerprints(again, store, PLACE))
    hashed.clear()
    remembered_fingerprints(fresh(items), store, PLACE)
    assert hashed == []
    edited = fresh(items)
    edited[7] = item("v7/en", "text 7, edited")
    edited[9] = item("v9/en", "text 9", isExport=False)
    found = remembered_fingerprints(edited, store, PLACE)
    assert sorted(hashed) == ["v7/en", "v9/en"]
    assert_as_hashed(edited, found)
    assert found["v9/en"] != fingerprint(items[9].request)
    # A request of another shape (isExport 1, which equals True): every item is hashed.
    hashed.clear()
    odd = fresh(edited)
    odd[9] = item("v9/en", "text 9", isExport=1)
    found = remembered_fingerprints(odd, store, PLACE)
    assert len(hashed) == 50
    assert_as_hashed(odd, found)


def test_another_lockfile_has_a_memo_of_its_own(hashed: list[str]) -> None:
    items, store = remembered(20)
    hashed.clear()
    remembered_fingerprints(fresh(items), store, "/elsewhere/specsync.lock")
    assert len(hashed) == 20
    assert {material for _, material in store.payloads} == {PLACE, "/elsewhere/specsync.lock"}


@pytest.mark.parametrize(
    "garbled",
    [
        b"junk",
        marshal.dumps((1, ["v0/en"], [], [], [], [], [])),  # columns of unequal length
        marshal.dumps((2, [], [], [], [], [], [])),  # another format
        marshal.dumps((1, ("v0/en",), ("a",), ("en",), ("M1",), (True,), ("f",))),  # tuples
        marshal.dumps(None),
    ],
)
def test_a_garbled_memo_is_dropped_and_every_item_hashed(garbled: bytes) -> None:
    items, store = remembered(5)
    store.payloads[(PLACE, PLACE)] = garbled
    again = fresh(items)
    assert_as_hashed(again, remembered_fingerprints(again, store, PLACE))
    assert store.rejected == [PLACE]


def test_a_memo_whose_fingerprint_is_not_text_is_never_used() -> None:
    items, store = remembered(3)
    version, ids, *fields, values = marshal.loads(store.payloads[(PLACE, PLACE)])
    values[1] = 12345
    store.payloads[(PLACE, PLACE)] = marshal.dumps((version, ids, *fields, values))
    again = fresh(items)
    again[0] = item("v0/en", "text 0, changed")  # the one-by-one path
    assert_as_hashed(again, remembered_fingerprints(again, store, PLACE))


def test_without_a_store_or_below_the_size_every_item_is_hashed(
    monkeypatch: pytest.MonkeyPatch, hashed: list[str]
) -> None:
    items = [item(f"v{n}/en", f"text {n}") for n in range(10)]
    assert_as_hashed(items, remembered_fingerprints(items, None, PLACE))
    monkeypatch.setattr(fingerprint_memo, "MIN_ITEMS", 11)
    store = DictStore()
    remembered_fingerprints(fresh(items), store, PLACE)
    assert store.payloads == {}


@pytest.mark.parametrize("field", ["text", "language", "model", "isExport"])
def test_one_field_of_one_item_changed_alone_is_hashed_again(field: str, hashed: list[str]) -> None:
    items, store = remembered(8)
    hashed.clear()
    again = fresh(items)
    value = {"text": "text 3 ", "language": "de", "model": "M2", "isExport": False}[field]
    request = {**again[3].request, field: value}
    again[3] = Item("v3/en", "v3", "en", request, Location("m.yaml", 1, 1))
    found = remembered_fingerprints(again, store, PLACE)
    assert hashed == ["v3/en"]
    assert_as_hashed(again, found)


def test_a_first_plan_of_a_lockfile_is_only_marked() -> None:
    store = DictStore()
    assert not fingerprint_memo.planned_before(store, PLACE)
    assert fingerprint_memo.planned_before(store, PLACE)
    assert not fingerprint_memo.planned_before(store, "/elsewhere/specsync.lock")
    assert len(store.payloads) == 2


def test_a_changed_run_is_remembered_in_the_real_store_too(
    tmp_path: Path, hashed: list[str]
) -> None:
    # The cache's packs keep the first entry of a key: the memo of a lockfile is replaced.
    from specsync.render.cache import TemplateCache

    def store() -> TemplateCache:
        return TemplateCache(
            fingerprint_memo.STORE_VERSION,
            cache_dir=tmp_path / "cache",
            key_file=tmp_path / "key",
            folder="plan-fingerprints",
        )

    items = [item(f"v{n}/en", f"text {n}") for n in range(6)]
    edited = fresh(items)
    edited[2] = item("v2/en", "text 2, edited")
    for run in (items, edited, edited):
        hashed.clear()
        planned = fresh(run)
        with store() as kept:
            assert_as_hashed(planned, remembered_fingerprints(planned, kept, PLACE))
    assert hashed == []  # the third run: the second's items, remembered


def test_requests_equal_in_value_but_not_in_type_are_hashed_again(hashed: list[str]) -> None:
    # isExport 1 equals True and a str subclass equals its text: neither is the request
    # the memo was made of, and each hashes otherwise (1, not true) or may.
    items, store = remembered(6)
    for odd in ({"isExport": 1}, {"text": _Text("text 4")}, {"resolution": None}):
        hashed.clear()
        again = fresh(items)
        again[4] = Item("v4/en", "v4", "en", {**again[4].request, **odd}, again[4].source)
        found = remembered_fingerprints(again, store, PLACE)
        assert "v4/en" in hashed
        assert_as_hashed(again, found)
    hashed.clear()
    with_one = fresh(items)
    with_one[4] = Item("v4/en", "v4", "en", {**with_one[4].request, "isExport": 1}, items[4].source)
    remembered_fingerprints(with_one, store, PLACE)  # remembered as it is: 1
    hashed.clear()
    again = fresh(with_one)
    found = remembered_fingerprints(again, store, PLACE)
    assert hashed == []
    assert found["v4/en"] == fingerprint({**items[4].request, "isExport": 1})


def test_the_same_requests_marshalled_otherwise_reuse_the_memo_and_keep_it(
    hashed: list[str],
) -> None:
    # A split run and one process share equal objects otherwise, so marshal writes the
    # same requests otherwise: item by item they are the same, and the memo is not
    # written again (runs alternating between the two would rewrite it every time).
    items, store = remembered(6)
    kept = dict(store.payloads)
    shared = fresh(items)
    for each in shared:  # equal to "en", an object of each item's own
        each.request["language"] = "".join(["e", "n"])  # type: ignore[index]
    as_marshalled = [marshal.dumps([each.request for each in run]) for run in (items, shared)]
    assert as_marshalled[0] != as_marshalled[1]
    hashed.clear()
    store.rejected.clear()
    found = remembered_fingerprints(shared, store, PLACE)
    assert hashed == [] and store.rejected == [] and store.payloads == kept
    assert_as_hashed(shared, found)
