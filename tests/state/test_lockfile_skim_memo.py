"""plan's memo of what it skimmed (state/lockfile_skim_memo.py) never changes a reading.

Every reading with a memo, cold or warm, primed by a plan that knew other items, or given
a garbled memo, must be exactly the reading without one: the text left for the thorough
reader, the entries (in order) and which of them are still unmade.
"""

from __future__ import annotations

import marshal
import random
from collections.abc import Callable, Iterator

import pytest

from specsync.state import lockfile_skim, lockfile_skim_memo
from specsync.state.lockfile_data import EntriesOnDemand, Lockfile
from specsync.state.lockfile_skim import skim_known
from specsync.state.lockfile_skim_memo import SkimMemo
from specsync.state.lockfile_write import dumps
from tests.state.test_lockfile_quick import (
    FP,
    damaged_texts,
    known_of,
    lockfile_with_tokens,
    readable_lockfile,
)


class DictStore:
    """A MemoStore in memory (the real one, render/cache.py's, has tests of its own)."""

    def __init__(self) -> None:
        self.payloads: dict[tuple[str | None, str], bytes] = {}
        self.rejected: list[str] = []

    def get(self, material: str, group: str | None = None) -> bytes | None:
        return self.payloads.get((group, material))

    def put(self, material: str, payload: bytes, group: str | None = None) -> None:
        # As the cache's packs: a key's first entry is kept (replace by rejecting first).
        self.payloads.setdefault((group, material), payload)

    def reject(self, material: str, group: str | None = None) -> None:
        self.rejected.append(material)
        self.payloads.pop((group, material), None)


@pytest.fixture(autouse=True)
def every_size_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small lockfiles are skimmed without a memo: here every one has one.
    monkeypatch.setattr(lockfile_skim_memo, "MIN_MEMO_BYTES", 0)


@pytest.fixture
def matches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the positions the current-export expression is matched at."""
    counted: list[int] = []
    real = lockfile_skim._current_export_in

    def counting(view: str) -> Callable[[int], lockfile_skim_memo.Found]:
        at = real(view)

        def counted_at(position: int) -> lockfile_skim_memo.Found:
            counted.append(position)
            return at(position)

        return counted_at

    monkeypatch.setattr(lockfile_skim, "_current_export_in", counting)
    return counted


def reading(
    data: bytes, known: dict[str, str], memo: DictStore | SkimMemo | None = None
) -> tuple[object, ...] | None:
    """Everything a skim gives, unmade entries named before any is made (a store is used
    as one run uses it)."""
    skimmed = skim_known(
        data, known, memo=SkimMemo(memo, "specsync.lock") if isinstance(memo, DictStore) else memo
    )
    if skimmed is None:
        return None
    rest, entries = skimmed
    unmade = dict(entries.unmade_fingerprints()) if isinstance(entries, EntriesOnDemand) else None
    return rest, unmade, list(entries), dict(entries)


def current_exports(count: int, texts: Iterator[str] | None = None) -> Lockfile:
    from specsync.state.lockfile_data import Entry

    entries = {}
    for index in range(count):
        text = next(texts) if texts is not None else f'line one\nline {index} "q" \\ é'
        entries[f"v{index}/en"] = Entry(
            f"v{index}/en", f"{index:064x}", f"P{index}", f"T{index}", "2026", "done"
        ).with_request({"language": "en", "text": text, "model": "M1", "isExport": True})
    return Lockfile(entries)


def odd_texts(seed: int) -> list[tuple[bytes, dict[str, str]]]:
    """Lockfiles of current exports with what a chain of them may meet: a changed or
    unknown item, an id twice, a comment or the end line amid the blocks, a block that
    does not read, a script that is not UTF-8, blank lines, a block with history."""
    rng = random.Random(seed)
    lock = current_exports(rng.randint(1, 30))
    text = dumps(lock)
    known = {item_id: entry.fingerprint for item_id, entry in lock.entries.items()}
    blocks = text.split("\n[items.")
    head, blocks = blocks[0], ["[items." + block for block in blocks[1:]]
    cases: list[tuple[bytes, dict[str, str]]] = []
    for _ in range(12):
        changed = list(blocks)
        these = dict(known)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(changed))
            kind = rng.randrange(9)
            if kind == 0:  # the item changed
                these[f"v{at}/en"] = "b" * 64
            elif kind == 1:  # unknown to this plan
                these.pop(f"v{at}/en", None)
            elif kind == 2:  # an id twice
                changed.insert(at, changed[rng.randrange(len(changed))])
            elif kind == 3:
                changed.insert(at, "# a comment\n")
            elif kind == 4:
                changed.insert(at, "# end of specsync.lock\n")
            elif kind == 5:
                changed[at] = changed[at].replace("state = ", "state = 1\nx = ", 1)
            elif kind == 6:
                changed[at] = changed[at].replace("line one", "line \udcff one", 1)
            elif kind == 7:
                changed[at] += "\n\n"
            else:
                changed[at] = changed[at].replace(
                    "language = ",
                    'history = [\n  { projectId = "P", taskId = "T", '
                    f'submittedAt = "2025", fingerprint = "{FP}" }},\n]\nlanguage = ',
                    1,
                )
        joined = head + "\n" + "\n".join(changed)
        cases.append((joined.encode("utf-8", "surrogateescape"), these))
    return cases


def every_case() -> Iterator[tuple[bytes, dict[str, str]]]:
    for seed in range(6):
        lock = readable_lockfile(seed)
        known = known_of(lock, seed)
        yield dumps(lock).encode(), known
        for text in damaged_texts(seed, 8):
            yield text.encode("utf-8", "surrogatepass"), known
        text, token_known = lockfile_with_tokens(random.Random(seed), 8)
        yield text.encode("utf-8", "surrogatepass"), token_known
        yield from odd_texts(seed)
    lock = current_exports(40)
    yield dumps(lock).encode(), {item_id: e.fingerprint for item_id, e in lock.entries.items()}


CASES = list(every_case())


@pytest.mark.parametrize("case", range(len(CASES)))
def test_a_memo_cold_warm_or_made_knowing_other_items_reads_as_none_does(case: int) -> None:
    data, known = CASES[case]
    expected = reading(data, known)
    store = DictStore()
    assert reading(data, known, store) == expected  # cold: matched, then remembered
    assert reading(data, known, store) == expected  # warm
    # Remembered by a plan that knew other items (most changed), then read knowing these.
    other = DictStore()
    rng = random.Random(case)
    reading(data, {k: v if rng.random() < 0.3 else "c" * 64 for k, v in known.items()}, other)
    assert reading(data, known, other) == expected
    assert reading(data, {}, other) == reading(data, {})
    assert not store.rejected and not other.rejected


def test_a_plan_of_an_unchanged_lockfile_matches_no_expression_once_remembered(
    matches: list[int],
) -> None:
    lock = current_exports(50)
    data = dumps(lock).encode()
    known = {item_id: entry.fingerprint for item_id, entry in lock.entries.items()}
    store = DictStore()
    expected = reading(data, known)
    assert len(matches) >= 50
    matches.clear()
    assert reading(data, known, store) == expected
    assert len(matches) >= 50 and len(store.payloads) == 1  # cold: matched and remembered
    matches.clear()
    assert reading(data, known, store) == expected
    assert matches == []  # warm: every block from the memo
    # Some items changed: still from the memo, the changed blocks read whole.
    changed = {**known, "v3/en": "b" * 64, "v40/en": "c" * 64}
    expected = reading(data, changed)
    matches.clear()
    assert reading(data, changed, store) == expected
    assert matches == []


def test_a_memo_is_of_the_bytes_it_was_made_from(matches: list[int]) -> None:
    lock = current_exports(20)
    data = dumps(lock).encode()
    known = {item_id: entry.fingerprint for item_id, entry in lock.entries.items()}
    store = DictStore()
    reading(data, known, store)
    # One fingerprint edited in the file (same length): the memo of the old bytes says
    # nothing of it; the edited block reads as changed, as without a memo.
    edited = data.replace(lock.entries["v7/en"].fingerprint.encode(), b"e" * 64)
    matches.clear()
    assert reading(edited, known, store) == reading(edited, known)
    assert len(matches) >= 20
    rest = reading(edited, known, store)
    assert rest is not None and '[items."v7/en"]' in str(rest[0])


@pytest.mark.parametrize(
    "garbled",
    [
        b"junk",
        b"",
        marshal.dumps((1, [1], [2], ["a"])),  # a column missing
        marshal.dumps((1, [1, 2], [2], ["a"], ["b"])),  # columns of unequal length
        marshal.dumps((99, [], [], [], [])),  # another format
        marshal.dumps([1, 2, 3]),
        marshal.dumps(None),
    ],
)
def test_a_garbled_memo_is_dropped_and_the_file_read_as_without_one(garbled: bytes) -> None:
    lock = current_exports(20)
    data = dumps(lock).encode()
    known = {item_id: entry.fingerprint for item_id, entry in lock.entries.items()}
    store = DictStore()
    reading(data, known, store)
    ((place, _),) = store.payloads.items()
    store.payloads[place] = garbled
    assert reading(data, known, store) == reading(data, known)
    assert store.rejected == [place[1]]
    assert store.payloads[place] != garbled  # remembered again, as read


def test_a_small_lockfile_is_read_without_a_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lockfile_skim_memo, "MIN_MEMO_BYTES", 128 * 1024)
    lock = current_exports(20)
    data = dumps(lock).encode()
    store = DictStore()
    known = {item_id: entry.fingerprint for item_id, entry in lock.entries.items()}
    assert reading(data, known, store) == reading(data, known)
    assert store.payloads == {}
    big = current_exports(400, iter(lambda: "x" * 300, None))
    big_data = dumps(big).encode()
    assert len(big_data) > 128 * 1024
    known = {item_id: entry.fingerprint for item_id, entry in big.entries.items()}
    assert reading(big_data, known, store) == reading(big_data, known)
    assert len(store.payloads) == 1
