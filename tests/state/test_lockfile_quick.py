"""The fast reader must agree with tomllib on everything it accepts, and decline the rest."""

from __future__ import annotations

import contextlib
import random

import pytest

from specsync.model import InputError
from specsync.state import lockfile_quick, lockfile_skim
from specsync.state.lockfile_data import Entry, Lockfile, Submission
from specsync.state.lockfile_quick import read_canonical
from specsync.state.lockfile_read import parse_lockfile
from specsync.state.lockfile_skim import skim_known
from specsync.state.lockfile_update import without
from specsync.state.lockfile_write import dumps
from tests.helpers import tomllib

FP = "a" * 64
TEXTS = [
    "plain",
    'quote " and \\ backslash',
    "line\nbreak\r\ntab\there",
    "control \x00\x01\x1f\x7f",
    "한국어 日本語 emoji 🎬 é",
    "",
    "ends with backslash \\",
    '", projectId = "fake',
]


HISTORY_STATES = [None, None, "done", "failed"]


def sample_lockfile(seed: int) -> Lockfile:
    rng = random.Random(seed)
    entries = {}
    for index in range(12):
        item_id = rng.choice(["v", 'w/"x"', "한/ko", "a.b-c_d"]) + f"{index}/en"
        history = tuple(
            Submission(
                f"P{index}-{h}", f"T{h}", "2026-11-25T12:00:00Z", FP, rng.choice(HISTORY_STATES)
            )
            for h in range(rng.randint(0, 2))
        )
        if rng.random() < 0.3:  # a request of unknown outcome a later one replaced
            history += (Submission("", "", "", FP, "uncertain", rng.choice(TEXTS)),)
        entries[item_id] = Entry(
            id=item_id,
            fingerprint=FP,
            project_id=rng.choice([None, f"P{index}"]),
            task_id=None,
            state=rng.choice([None, "done", "failed", "uncertain"]),
            history=history,
        ).with_request(
            {"language": "en", "text": rng.choice(TEXTS), "model": "M1", "isExport": True}
        )
        if entries[item_id].project_id:
            entries[item_id] = entries[item_id]._replace(task_id="T", submitted_at="2026")
    service = rng.choice(["", "app.aistudios.com", "127.0.0.1", "::1"])
    lock = Lockfile(entries, emulator=bool(seed % 2), service=service)
    return without(lock, [next(iter(entries))]) if seed % 3 == 0 else lock


def assert_agrees_with_tomllib_or_declines(text: str) -> None:
    """The fast reader gives tomllib's document, or None; never a document tomllib refuses."""
    fast = read_canonical(text)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert fast is None, text
        return
    assert fast is None or fast == expected, text


@pytest.mark.parametrize("seed", range(12))
def test_reads_what_specsync_writes_exactly_as_tomllib(seed: int) -> None:
    text = dumps(sample_lockfile(seed))
    assert read_canonical(text) == tomllib.loads(text)


@pytest.mark.parametrize("seed", range(12))
def test_on_any_damage_it_agrees_with_tomllib_or_declines(seed: int) -> None:
    rng = random.Random(seed)
    lines = dumps(sample_lockfile(seed)).split("\n")
    for _ in range(60):
        damaged = list(lines)
        position = rng.randrange(len(damaged))
        action = rng.choice(["drop", "duplicate", "swap", "edit"])
        if action == "drop":
            del damaged[position]
        elif action == "duplicate":
            damaged.insert(position, damaged[position])
        elif action == "swap" and position + 1 < len(damaged):
            damaged[position], damaged[position + 1] = damaged[position + 1], damaged[position]
        else:
            line = damaged[position]
            cut = rng.randrange(len(line) + 1)
            damaged[position] = (
                line[:cut] + rng.choice(['"', "\\", " ", "=", "\\u", "]", "x"]) + (line[cut:])
            )
        assert_agrees_with_tomllib_or_declines("\n".join(damaged))


@pytest.mark.parametrize(
    "text",
    [
        'version = 1\nname = "tab\there"\n',  # raw tab: legal TOML, declined
        'x = "\\U00110000"\n',  # beyond Unicode: invalid TOML
        'x = "\\uDFFF"\n',  # a low surrogate
        'x = "\\e"\n',  # TOML 1.1 only
        'x = "\\x41"\n',  # TOML 1.1 only
        'x = "\\u12"\n',  # a short \u
        'x = "\\ud800"\n',  # a surrogate: invalid TOML, valid JSON
        'x = "a\\/b"\n',  # valid JSON, invalid TOML
        "x = 1_000\n",
        "x = 1\r\n",
        "[items]\n",
        '[items."a"]\n[items."a"]\n',
        'x = "a\\tb\x7f"\n',  # a raw DEL: valid JSON, invalid TOML
        "# a comment with a \x00\nx = 1\n",  # control characters in a comment
        '# note\r\n[items."a"]\nfingerprint = "f"\n',
    ],
)
def test_declines_what_it_cannot_prove(text: str) -> None:
    assert read_canonical(text) is None


@pytest.mark.parametrize("seed", range(4))
def test_item_blocks_are_read_whole_not_line_by_line(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The speed comes from matching each item block at once; the line reader must only
    # see the few top-level lines (and `forgotten` blocks).
    lock = sample_lockfile(seed)
    comments = {next(iter(sorted(lock.entries))): ["first note", "second\nnote"]}
    text = dumps(lock, comments)
    seen: list[str] = []
    line_reader = lockfile_quick._read
    monkeypatch.setattr(lockfile_quick, "_read", lambda t: seen.append(t) or line_reader(t))
    assert read_canonical(text) == tomllib.loads(text)
    assert seen and not any("[items." in part for part in seen)


@pytest.mark.parametrize(
    "tail",
    [
        '[forgotten."a"]\nhistory = [\n]\n\n[items."b"]\nfingerprint = "f"\n',  # items last
        '[items."a"]\nfingerprint = "f"\nmodel = "M"\nprojectId = "p"\n',  # keys reordered
        '[items."a"]\nfingerprint = "f"\n\n[items."a"]\nfingerprint = "g"\n',  # twice
        '[items."a"]\nfingerprint = "f"\n[items."a".x]\ny = 1\n',  # a sub-table
        '[items."a"]\nfingerprint = "f"\n  \n',  # a line of spaces
        '[items."a"]\nfingerprint = "f"\ntext = "x\\ty\\u00e9"\n',  # escapes
        '[items."a\\"b"]\nfingerprint = "f"\n',  # an escaped quote in the id
        '[items.""]\nfingerprint = "f"\n',  # an empty id
    ],
)
def test_unusual_item_blocks_agree_with_tomllib_or_decline(tail: str) -> None:
    text = 'version = 1\nfingerprint = "sha256-json-v1"\nemulator = false\n\n' + tail
    assert_agrees_with_tomllib_or_declines(text)


@pytest.mark.parametrize("seed", range(40))
def test_on_any_changed_character_it_agrees_with_tomllib_or_declines(seed: int) -> None:
    # Character-level damage, which line-level damage misses: a history value that lost its
    # closing quote was once read as if the quote were there.
    rng = random.Random(seed)
    lock = sample_lockfile(seed)
    text = dumps(lock, {key: ["a note"] for key in list(lock.entries)[:2]})
    for _ in range(25):
        chars = list(text)
        damage = ['"', "\\", "\n", " ", "[", "]", "=", "x", "\x00", "\x7f", "\r", "\t"]
        chars[rng.randrange(len(chars))] = rng.choice(damage)
        assert_agrees_with_tomllib_or_declines("".join(chars))


def test_a_history_value_without_its_closing_quote_is_declined() -> None:
    record = '  { projectId = "P", taskId = "T", submittedAt = "S", fingerprint = "F] },'
    text = f'[items."a"]\nfingerprint = "f"\nhistory = [\n{record}\n]\n'
    assert read_canonical(text) is None


# -- plan's quick reading of the entries it knows ----------------------------------------


def read_both_ways(text: str, known: dict[str, str]) -> tuple[object, object]:
    """(what parse_lockfile gives without `known`, with it): a Lockfile or the error text."""
    outcomes = []
    for hint in (None, known):
        try:
            outcomes.append(parse_lockfile(text, "specsync.lock", hint))
        except InputError as error:
            outcomes.append(str(error))
    return outcomes[0], outcomes[1]


def readable_lockfile(seed: int) -> Lockfile:
    """sample_lockfile made one `lockfile_read` accepts (an entry with no ids has a state)."""
    lock = sample_lockfile(seed)
    rng = random.Random(seed)
    entries = {}
    for item_id, entry in lock.entries.items():
        if not (entry.project_id or entry.state):
            entry = entry._replace(state="uncertain")
        if entry.project_id and rng.random() < 0.5:  # pulled: the video's digest and size
            entry = entry._replace(sha256=f"{rng.getrandbits(256):064x}", size=rng.randint(0, 9))
        entries[item_id] = entry
    return Lockfile(entries, emulator=lock.emulator, service=lock.service, forgotten=lock.forgotten)


def known_of(lock: Lockfile, seed: int) -> dict[str, str]:
    """Most entries known at their fingerprint, some at another (a changed item)."""
    rng = random.Random(seed)
    return {
        item_id: entry.fingerprint if rng.random() < 0.8 else "b" * 64
        for item_id, entry in lock.entries.items()
    }


@pytest.mark.parametrize("seed", range(12))
def test_plans_quick_reading_gives_the_same_entries(seed: int) -> None:
    lock = readable_lockfile(seed)
    text = dumps(lock)
    plain, quick = read_both_ways(text, known_of(lock, seed))
    assert quick == plain == lock


def test_plans_quick_reading_takes_known_entries_escapes_and_history_too() -> None:
    plain = Entry("v/en", FP, "P", "T", "2026", "done").with_request(
        {"language": "en", "text": "plain", "model": "M1", "isExport": True}
    )
    escaped = plain._replace(id='w/"en"', text='a "quote"\n\\ \t\x01 한국어 🎬')
    with_history = plain._replace(
        id="x/en", history=(Submission("P0", "T0", "2025", FP, "failed"),)
    )
    changed = plain._replace(id="y/en")
    lock = Lockfile({e.id: e for e in (plain, escaped, with_history, changed)})
    known = {"v/en": FP, 'w/"en"': FP, "x/en": FP, "y/en": "b" * 64}
    skimmed = skim_known(dumps(lock).encode(), known)
    assert skimmed is not None
    rest, taken = skimmed
    assert taken == {"v/en": plain, 'w/"en"': escaped, "x/en": with_history}
    assert '[items."y/en"]' in rest and '[items."v/en"]' not in rest


@pytest.mark.parametrize("seed", range(12))
def test_plans_quick_reading_of_a_damaged_lockfile_says_the_same(seed: int) -> None:
    rng = random.Random(seed)
    lock = readable_lockfile(seed)
    known = known_of(lock, seed)
    text = dumps(lock)
    lines = text.split("\n")
    for _ in range(40):
        if rng.random() < 0.5:
            damaged = list(lines)
            position = rng.randrange(len(damaged))
            if rng.random() < 0.5:
                del damaged[position]
            else:
                damaged.insert(position, damaged[position])
            broken = "\n".join(damaged)
        elif rng.random() < 0.3:
            # A line a block does not end with: it belongs to the block above it.
            damaged = list(lines)
            extra = rng.choice(['note = "x"', "bytes = 3", "history = [", "state = 1", "]"])
            damaged.insert(rng.randrange(len(damaged)), extra)
            broken = "\n".join(damaged)
        else:
            chars = list(text)
            chars[rng.randrange(len(chars))] = rng.choice(['"', "\\", "\n", "=", "x", "\x00"])
            broken = "".join(chars)
        plain, quick = read_both_ways(broken, known)
        assert quick == plain, broken


def damaged_texts(seed: int, count: int) -> list[str]:
    """A lockfile as specsync writes it, then `count` copies each changed at one place."""
    rng = random.Random(seed)
    text = dumps(readable_lockfile(seed))
    lines = text.split("\n")
    texts = [text]
    for _ in range(count):
        if rng.random() < 0.5:
            damaged = list(lines)
            extra = rng.choice(['note = "x"', "bytes = 01", "state = 1", "#", "", "text = "])
            damaged.insert(rng.randrange(len(damaged)), extra)
            texts.append("\n".join(damaged))
        else:
            chars = list(text)
            chars[rng.randrange(len(chars))] = rng.choice(['"', "\\", "\n", "=", "[", "\x00"])
            texts.append("".join(chars))
    return texts


@pytest.mark.skipif(
    not lockfile_quick.POSSESSIVE_REPEATS_WORK,
    reason="this Python's possessive repeats match wrongly (before 3.11.5, CPython "
    "gh-106052): specsync compiles the backtracking twin instead",
)
@pytest.mark.parametrize("seed", range(8))
def test_the_possessive_block_matches_as_its_backtracking_twin(seed: int) -> None:
    # Possessive repeats never give characters back: the same matches only because of the
    # block's form (BLOCK_PATTERN's comment). Compared at every line start.
    import re

    assert "*+" in lockfile_quick.BLOCK_PATTERN  # else this compares a pattern to itself
    twin = re.compile(lockfile_quick.backtracking(lockfile_quick.BLOCK_PATTERN))
    fast = re.compile(lockfile_quick.BLOCK_PATTERN)
    for text in damaged_texts(seed, 30):
        starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]
        for start in starts:
            ours, theirs = fast.match(text, start), twin.match(text, start)
            assert (ours and (ours.span(), ours.groups())) == (
                theirs and (theirs.span(), theirs.groups())
            ), (text, start)


def test_on_a_python_whose_possessive_repeats_are_wrong_the_twins_are_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Debian 12's Python 3.11.2 matched the possessive block short of its history (CPython
    gh-106052, fixed in 3.11.5): there the quick readers compile the backtracking twins and
    still read what specsync writes."""
    monkeypatch.setattr(lockfile_quick, "POSSESSIVE_REPEATS_WORK", False)
    lockfile_quick.compiled.cache_clear()
    try:
        block = lockfile_quick.compiled(lockfile_quick.BLOCK_PATTERN)
        assert "*+" not in block.pattern and "?+" not in block.pattern
        skim = lockfile_quick.compiled(lockfile_skim.CURRENT_EXPORT_BYTES)
        assert "*+" not in skim.pattern and "?+" not in skim.pattern
        for seed in range(4):
            text = dumps(sample_lockfile(seed))
            assert read_canonical(text) == tomllib.loads(text)
            lock = readable_lockfile(seed)
            plain, quick = read_both_ways(dumps(lock), known_of(lock, seed))
            assert quick == plain == lock
    finally:
        lockfile_quick.compiled.cache_clear()


# -- escaped strings: the quick reading decodes them as tomllib does -----------------------

_GOOD_ESCAPES = ['\\"', "\\\\", "\\b", "\\t", "\\n", "\\f", "\\r"]
_BAD_ESCAPES = ["\\e", "\\x41", "\\u12", "\\/", "\\ ", "\\a", "\\0", "\\'", "\\U0011FFFF"]


def hostile_token(rng: random.Random, valid_only: bool = False) -> str:
    """The inside of a TOML basic string, as anyone might have written it: mostly what
    specsync writes, sometimes escapes it never writes (\\U, lower-case hex), sometimes
    something TOML refuses (a lone surrogate, an unknown escape, a raw quote or control)."""
    pieces = []
    for _ in range(rng.randint(0, 12)):
        kind = rng.random() * (0.85 if valid_only else 1)
        if kind < 0.35:
            pieces.append(rng.choice(["plain", "한국어", "🎬", "é", " ", "{{ x }}", "#", "=", "]"]))
        elif kind < 0.6:
            pieces.append(rng.choice(_GOOD_ESCAPES))
        elif kind < 0.75:
            code = rng.choice([rng.randrange(0x80), rng.randrange(0x10000), 0xD7FF, 0xE000])
            pieces.append(f"\\u{code:04x}" if rng.random() < 0.5 else f"\\u{code:04X}")
        elif kind < 0.85:
            code = rng.choice([rng.randrange(0x110000), 0x10FFFF, 0x1F3AC, 0x41])
            pieces.append(f"\\U{code:08X}")
        elif kind < 0.9:
            pieces.append(f"\\u{rng.randrange(0xD800, 0xE000):04X}")  # a surrogate
        elif kind < 0.95:
            pieces.append(rng.choice(_BAD_ESCAPES))
        else:
            pieces.append(rng.choice(['"', "\\", "\x00", "\x1f", "\x7f", "\t", "\r"]))
    return "".join(pieces)


def lockfile_with_tokens(rng: random.Random, count: int) -> tuple[str, dict[str, str]]:
    """A lockfile as specsync writes it whose strings are hostile tokens: the text, and
    plan's `known` (every entry at its fingerprint as the file spells it, decoded)."""
    blocks, known = [], {}

    def token() -> str:
        return hostile_token(rng, valid_only=rng.random() < 0.85)

    for index in range(count):
        item = f"v{index}/{token()}" if rng.random() < 0.3 else f"v{index}/en"
        history = ""
        if rng.random() < 0.4:
            record = (
                f'  {{ projectId = "P{token()}", taskId = "T", '
                f'submittedAt = "{token()}", fingerprint = "{FP}" }},\n'
            )
            history = f"history = [\n{record}]\n"
        blocks.append(
            f'[items."{item}"]\nfingerprint = "{FP}"\nprojectId = "P{index}"\ntaskId = "T"\n'
            f'state = "done"\nlanguage = "en"\ntext = "{token()}"\n{history}'
        )
        with contextlib.suppress(tomllib.TOMLDecodeError):
            known[tomllib.loads(f'k = "{item}"')["k"]] = FP
    head = 'version = 2\nfingerprint = "sha256-json-v2"\nemulator = false\n\n'
    return head + "\n".join(blocks) + "\n# end of specsync.lock\n", known


@pytest.mark.parametrize("seed", range(30))
def test_hostile_escapes_read_as_tomllib_reads_them_or_are_declined(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(20):
        token = hostile_token(rng)
        text = f'[items."a"]\nfingerprint = "f"\ntext = "{token}"\n'
        assert_agrees_with_tomllib_or_declines(text)
        assert_agrees_with_tomllib_or_declines(f'x = "{token}"\n')


@pytest.mark.parametrize("seed", range(30))
def test_hostile_escapes_take_plans_quick_reading_to_the_same_entries(seed: int) -> None:
    text, known = lockfile_with_tokens(random.Random(seed), 8)
    assert_agrees_with_tomllib_or_declines(text)  # ids and history records too
    plain, quick = read_both_ways(text, known)
    assert quick == plain


def test_every_escape_toml_has_is_taken_the_quick_way() -> None:
    # What the issue asked: a block whose text holds escapes is read quickly, not only
    # declined to the thorough reader; here with every escape TOML 1.0 knows.
    escapes = '\\" \\\\ \\b \\t \\n \\f \\r \\u00e9 \\u00E9 \\U0001F3AC \\U0000d7ff'
    text = (
        'version = 2\nfingerprint = "sha256-json-v2"\nemulator = false\n\n'
        f'[items."a/en"]\nfingerprint = "{FP}"\nprojectId = "P"\ntaskId = "T"\n'
        f'text = "{escapes}"\n\n# end of specsync.lock\n'
    )
    expected = tomllib.loads(text)
    assert read_canonical(text) == expected
    skimmed = skim_known(text.encode(), {"a/en": FP})
    assert skimmed is not None
    assert skimmed[1]["a/en"].text == expected["items"]["a/en"]["text"]
    assert skimmed[1]["a/en"].text.endswith("🎬 \ud7ff")


def test_a_lockfile_apply_writes_from_multi_line_scripts_is_taken_whole() -> None:
    # Real scripts have line breaks (stored as \n), quotes, backslashes and tabs.
    texts = ["Hello,\nworld.\n", 'Say "hi"\\there\t', "한국어\r\n🎬"]
    entries = {
        f"v{i}/en": Entry(f"v{i}/en", FP, f"P{i}", "T", "2026", "done").with_request(
            {"language": "en", "text": texts[i % 3], "model": "M1", "isExport": True}
        )
        for i in range(30)
    }
    text = dumps(Lockfile(entries))
    skimmed = skim_known(text.encode(), {key: FP for key in entries})
    assert skimmed is not None
    rest, taken = skimmed
    assert taken == entries and "[items." not in rest


@pytest.mark.parametrize(
    "token",
    [
        "\\e",  # no TOML escape
        "\\x41",
        "\\u12",  # a short \u
        "\\uD800",  # a surrogate
        "\\U0000D800",
        "\\UFFFFFFFF",  # beyond U+10FFFF
        "\\U00110000",
        "\\/",  # JSON's, not TOML's
    ],
)
def test_a_bad_escape_in_an_unchanged_export_is_refused_where_it_stands(token: str) -> None:
    # A current export with no history at a known fingerprint is checked where it stands
    # and made only when asked for: an escape TOML refuses must still refuse the lockfile
    # at its line, as reading it whole does, never wait to fail until the entry is made.
    text = (
        'version = 2\nfingerprint = "sha256-json-v2"\nemulator = false\n\n'
        f'[items."a/en"]\nfingerprint = "{FP}"\nprojectId = "P"\ntaskId = "T"\n'
        f'text = "line\\n{token}"\n\n# end of specsync.lock\n'
    )
    plain, quick = read_both_ways(text, {"a/en": FP})
    assert isinstance(plain, str) and plain.startswith("specsync.lock:9:"), plain
    assert quick == plain


def test_the_block_expression_takes_only_escapes_json_and_toml_read_alike_and_U() -> None:
    # Why a value it matches may be decoded by json's decoder (or, with \U, checked).
    import json
    import re

    string = re.compile(lockfile_quick._STRING.format(name="v") + r"\Z")
    taken = ['\\"', "\\\\", "\\b", "\\t", "\\n", "\\f", "\\r", "\\u00e9", "\\uD7FF", "\\uE000"]
    for token in taken:
        assert string.match(f'"a{token}b"'), token
        value = tomllib.loads(f'k = "a{token}b"')["k"]
        assert json.loads(f'"a{token}b"') == value
    assert string.match('"\\U0001F3AC"')
    for token in ["\\e", "\\x41", "\\u12", "\\uD800", "\\udfff", "\\/", "\\ ", "\\U12"]:
        assert not string.match(f'"a{token}b"'), token


def test_an_unchanged_export_written_twice_is_refused_as_when_read_whole() -> None:
    block = f'[items."a/en"]\nfingerprint = "{FP}"\nprojectId = "P"\ntaskId = "T"\n\n'
    text = (
        'version = 2\nfingerprint = "sha256-json-v2"\nemulator = false\n\n'
        + block * 2
        + "# end of specsync.lock\n"
    )
    plain, quick = read_both_ways(text, {"a/en": FP})
    assert isinstance(plain, str) and "specsync.lock:" in plain
    assert quick == plain


def _current_export_texts(seed: int) -> list[str]:
    """Lockfiles rich in blocks plan may leave unmade (and in near misses), and damaged
    copies of them."""
    rng = random.Random(seed)
    entries = {}
    for index in range(60):
        item_id = f"v{index}/" + rng.choice(["en", "en", "ko", 'x"y', "a\\b"])
        entry = Entry(
            item_id,
            rng.choice([FP, FP, FP, ""]),
            rng.choice(["P", "P", "P", None, 'p"q']),
            rng.choice(["T", "T", "T", None]),
            rng.choice(["2026", None]),
            rng.choice([None, None, "done", "failed", "uncertain"]),
        ).with_request(
            {"language": "en", "text": rng.choice(TEXTS), "model": "M1", "isExport": True}
        )
        if rng.random() < 0.3:
            entry = entry._replace(sha256=f"{rng.getrandbits(256):064x}", size=rng.randint(0, 9))
        if rng.random() < 0.2:
            entry = entry._replace(history=(Submission("P0", "T0", "2025", FP, "done"),))
        entries[item_id] = entry
    text = dumps(Lockfile(entries))
    texts = [text]
    lines = text.split("\n")
    for _ in range(30):
        damaged = list(lines)
        position = rng.randrange(len(damaged))
        damaged[position] = rng.choice(
            [
                'state = "uncertain"',
                'state = "lost"',
                "bytes = 3",
                'sha256 = "ab"',
                "",
                "#",
                'text = "\\U0010FFFF"',
                'text = "\\UFFFFFFFF"',
                'text = "\\e"',
                "history = [",
            ]
        )
        texts.append("\n".join(damaged))
    return texts


@pytest.mark.parametrize("seed", range(12))
def test_a_block_plan_leaves_unmade_is_one_the_reader_takes_and_the_check_accepts(
    seed: int,
) -> None:
    # CURRENT_EXPORT_PATTERN says "well formed, a current export, no history, decodes"
    # without reading: compared, at every line start, with the block expression, the
    # reading of its values and row_is_well_formed.
    import re

    from specsync.state.lockfile_fields import entry_from_row, row_is_well_formed

    current = re.compile(lockfile_skim.CURRENT_EXPORT_PATTERN)
    block = re.compile(lockfile_quick.BLOCK_PATTERN)
    seen = 0
    for text in _current_export_texts(seed):
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        for start in starts:
            taken = current.match(text, start)
            if taken is None:
                continue
            seen += 1
            whole = block.match(text, start)
            assert whole is not None and whole.end() == taken.end(), text[start:]
            groups = whole.groups()
            assert (groups[0], groups[1]) == taken.group(1, 2)
            row = lockfile_skim._row(groups, True)
            assert row is not None and row_is_well_formed(row), text[start:]
            made = entry_from_row(row)
            assert made.project_id is not None and made.task_id is not None
            assert made.state in (None, "done", "failed") and made.history == ()
    assert seen > 10


def test_each_fields_pattern_takes_only_values_its_check_accepts() -> None:
    # The patterns stand for the checks when plan leaves a block unmade.
    import re

    from specsync.state.lockfile_fields import ENTRY_FIELDS

    samples = [
        "",
        "done",
        "failed",
        "uncertain",
        "lost",
        "0",
        "7",
        "01",
        "-1",
        "a" * 64,
        "A" * 64,
        "a" * 63,
        "x",
        "123456789012345678",
        "1234567890123456789",
    ]
    for field in ENTRY_FIELDS:
        if field.pattern is None:
            continue
        for sample in samples:
            if re.fullmatch(field.pattern, sample) is None:
                continue
            value = int(sample) if field.form == "integer" else sample
            assert field.problem(value) is None, (field.key, sample)
            assert not (field.required and not value), (field.key, sample)


def test_a_plain_run_is_any_run_of_characters_but_quotes_backslashes_and_controls() -> None:
    # The quick readers spell a string's plain characters as runs below U+0100 between
    # the others (faster to match, quick to compile); every code point must fall as the
    # plain negated set says, alone and among others.
    import re

    from specsync.state.lockfile_fields import PLAIN_CHARACTER, plain_run

    spelled, plain = re.compile(plain_run()), re.compile(PLAIN_CHARACTER + "*")
    assert PLAIN_CHARACTER == r'[^"\\\x00-\x1f\x7f]'
    differ = [
        code
        for code in range(0x110000)
        if (spelled.fullmatch(f"a{chr(code)}é{chr(code)}") is None)
        != (plain.fullmatch(f"a{chr(code)}é{chr(code)}") is None)
    ]
    assert differ == []
    rng = random.Random(7)
    alphabet = [
        "a",
        " ",
        "~",
        '"',
        "\\",
        "\x00",
        "\x1f",
        "\x7f",
        "\x80",
        "ÿ",
        "Ā",
        "한",
        "🎬",
        "\ud800",
    ]
    escaped = re.compile(plain_run(r"\\n"))
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        assert (spelled.fullmatch(text) is None) == (plain.fullmatch(text) is None), text
        assert (escaped.fullmatch(text) is None) == (
            re.fullmatch(r'(?:[^"\\\x00-\x1f\x7f]|\\n)*', text) is None
        ), text


@pytest.mark.parametrize("seed", range(12))
def test_the_expression_over_bytes_takes_what_the_one_over_text_takes(seed: int) -> None:
    # plan skims the file's bytes seen a character a byte (CURRENT_EXPORT_BYTES, the
    # script's UTF-8 checked by `_is_utf8`): at every line start it must take a block only
    # where the text expression takes it, with the same id and fingerprint, and take
    # every such block that is ASCII but for its script.
    import re

    text_expression = re.compile(lockfile_skim.CURRENT_EXPORT_PATTERN)
    bytes_expression = re.compile(lockfile_skim.CURRENT_EXPORT_BYTES)
    rng = random.Random(seed)
    texts = _current_export_texts(seed) + [lockfile_with_tokens(rng, 8)[0] for _ in range(4)]
    texts.append(texts[0].replace("text = ", "# note ünï 🎬 \t\ntext = ", 3))
    texts.append(texts[0].replace('[items."v', '[items."ü', 3))
    seen = 0
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        view = data.decode("latin-1")
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        for start in starts:
            byte_start = len(text[:start].encode("utf-8", "surrogatepass"))
            ours = bytes_expression.match(view, byte_start)
            theirs = text_expression.match(text, start)
            if ours is not None and lockfile_skim._is_utf8(ours.group(3)):
                seen += 1
                assert theirs is not None, text[start:]
                assert data[byte_start : ours.end()].decode() == theirs.group(), text[start:]
                assert ours.group(1, 2) == theirs.group(1, 2)
            elif theirs is not None:
                # Declined only for a byte past ASCII outside the script, or a surrogate.
                block = theirs.group()
                script = theirs.group().partition("\ntext = ")[2]
                outside = block[: len(block) - len(script)] if script else block
                assert not outside.isascii() or "\ud800" <= max(block) <= "\udfff", block
    assert seen > 10


@pytest.mark.parametrize(
    "bad",
    [b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe3\x81"],
)
def test_a_script_that_is_not_utf8_is_never_skimmed(bad: bytes) -> None:
    # An overlong form, a surrogate, a code point past U+10FFFF, a cut sequence: the
    # skim must refuse what decoding refuses, so that the file is refused at that byte.
    block = f'[items."a/en"]\nfingerprint = "{FP}"\nprojectId = "P"\ntaskId = "T"\n'.encode()
    for bytes_in in (b'text = "ok ' + bad + b' ok"\n', b"# note " + bad + b"\n"):
        data = bytes_in + block if bytes_in.startswith(b"#") else block + bytes_in
        with pytest.raises(UnicodeDecodeError):
            data.decode()
        lockfile = b"version = 2\n" + data + b"\n# end of specsync.lock\n"
        assert skim_known(lockfile, {"a/en": FP}) is None
        good = lockfile.replace(bad, "é🎬".encode())
        skimmed = skim_known(good, {"a/en": FP})
        assert skimmed is not None and skimmed[1]["a/en"].project_id == "P"
