"""plan's reading of a lockfile: the entries of items whose fingerprint it knows.

`plan` needs the whole of an entry only where the item differs from it; for the usual
unchanged item the id, fingerprint, ids and state decide. Such a block (a current export
with no history) is checked by CURRENT_EXPORT_PATTERN alone and made into the Entry
`lockfile_read` makes of it only when asked for (`EntriesOnDemand`); other blocks of known
items are taken from `lockfile_quick`'s block expression into that Entry at once (through
the same check, `row_is_well_formed`); everything else (changed items, forgotten, the
top-level keys, anything odd) is left in the text for the thorough reader, which also
words any problem. Both expressions are built from the field tables of `lockfile_fields`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from specsync.item_words import FINAL_STATES
from specsync.model import InputError
from specsync.state.lockfile_data import EntriesOnDemand, Entry, Lockfile
from specsync.state.lockfile_fields import (
    ENTRY_FIELDS,
    Field,
    entry_from_row,
    plain_run,
    row_is_well_formed,
    well_formed_record,
)
from specsync.state.lockfile_quick import (
    BLOCK_PATTERN,
    BOOLEANS,
    END_LINE,
    JSON_ESCAPE,
    NotCanonical,
    compiled,
    decoded,
    form_pattern,
    history_records,
)
from specsync.state.lockfile_skim_memo import (
    NOTHING,
    Chain,
    CurrentExports,
    Found,
    SkimMemo,
    store_version,
)

__all__ = [
    "CURRENT_EXPORT_BYTES",
    "CURRENT_EXPORT_PATTERN",
    "MEMO_VERSION",
    "read_knowing",
    "skim_known",
]


# A string as the block expression takes it, but without `\U` (whose value the reader
# must check): a value of this form always decodes.
_DECODABLE = f'"{plain_run(JSON_ESCAPE.format())}"'
_PLAIN_ID = f'"({plain_run()})"'  # an id with no escape (an escaped one is read)


def _current_export_line(field: Field, string: str, text: str) -> str:
    """One field's line in CURRENT_EXPORT_PATTERN ("" when the key must be absent), its
    strings of the form `string` (the script's, `text`)."""
    if field.attr in ("project_id", "task_id"):
        return rf"{field.key} = {string}\n"  # a current export has both ids
    if field.attr == "state":  # and is not in doubt
        return rf'(?:state = "(?:{"|".join(FINAL_STATES)})"\n)?+'
    if field.required or field.valid is not None:
        if field.pattern is None:
            return ""  # a value no pattern vouches for: such a block is read
        # The fingerprint is captured (group 2), the other checked values only matched.
        value = f"({field.pattern})" if field.attr == "fingerprint" else f"(?:{field.pattern})"
        quoted = f'"{value}"' if field.form == "string" else value
        line = rf"{field.key} = {quoted}\n"
        return line if field.required else f"(?:{line})?+"
    if field.form == "string":
        value = text if field.attr == "text" else string
    else:
        value = form_pattern(field, None)
    return rf"(?:{field.key} = {value}\n)?+"


def _current_export_pattern(comment: str, identifier: str, string: str, text: str) -> str:
    return (
        rf"(?:#{comment}*+\n)*+"
        + rf"\[items\.{identifier}\]\n"
        + "".join(_current_export_line(f, string, text) for f in ENTRY_FIELDS)
        + r"\n*+(?=\[|#|\Z)"
    )


# The block of an entry plan may leave unmade (`skim_known`): one the block expression
# takes (a subset of its form), that the thorough check accepts without a word (each
# checked value as its field's `pattern` says, the ids together), a current export (both
# ids, not `uncertain`), with no history and no escape that might not decode. Its id and
# fingerprint are its groups 1 and 2. tests/state/test_lockfile_quick.py checks each of
# these against BLOCK_PATTERN and `row_is_well_formed` on many blocks.
CURRENT_EXPORT_PATTERN = _current_export_pattern(
    r"[^\n\x00-\x08\x0b-\x1f\x7f]", _PLAIN_ID, _DECODABLE, _DECODABLE
)

# plan skims the file's bytes, seen one character a byte (decoded as Latin-1: a copy,
# where decoding 4 MB of UTF-8 holding a few characters past U+00FF makes every character
# two bytes and took a sixth of plan's own time). The same expression, but for what
# UTF-8 does not spell as it is: the script's characters past U+007F, its group 3,
# whose UTF-8 the skim checks (`_is_utf8`); any other non-ASCII byte (in an id, a
# comment, ...) leaves the block to be read, decoded. tests/state/test_lockfile_quick.py
# compares the two on many blocks.
_ASCII = r"[ !#-\[\]-~]"
_BYTE = r"[ !#-\[\]-~\x80-\xff]"
_ESCAPE = JSON_ESCAPE.format()
CURRENT_EXPORT_BYTES = _current_export_pattern(
    r"[\t -~]",
    f'"({_ASCII}*+)"',
    f'"{_ASCII}*+(?:{_ESCAPE}{_ASCII}*+)*+"',
    f'"({_BYTE}*+(?:{_ESCAPE}{_BYTE}*+)*+)"',
)

# The version of the memo store plan keeps skims in (lockfile_skim_memo).
MEMO_VERSION = store_version(CURRENT_EXPORT_BYTES)


def _is_utf8(value: str | None) -> bool:
    """Is a script's value, seen a byte a character, absent or UTF-8?"""
    if value is None or value.isascii():
        return True
    try:
        value.encode("latin-1").decode()
    except UnicodeDecodeError:
        return False
    return True


# Where each form sits in a block's groups, `(id, *ENTRY_FIELDS, history)`: a row.
_ID_AND_STRINGS = (0, *(i for i, f in enumerate(ENTRY_FIELDS, start=1) if f.form == "string"))
# The values that are not strings, and what makes a Python value of their text.
_CONVERT: dict[str, Callable[[str], Any]] = {"integer": int, "boolean": BOOLEANS.__getitem__}
_CONVERTERS = tuple(
    (i, _CONVERT[f.form]) for i, f in enumerate(ENTRY_FIELDS, start=1) if f.form in _CONVERT
)
_HISTORY_INDEX = len(ENTRY_FIELDS) + 1
_FINGERPRINT_INDEX = 1 + [f.key for f in ENTRY_FIELDS].index("fingerprint")


def _row(groups: tuple[str | None, ...], escaped: bool) -> list[Any] | None:
    """A block's groups as a row of values (`escaped`: the block holds a backslash); None
    when a history record is not well formed."""
    row: list[Any] = list(groups)
    if escaped:
        for index in _ID_AND_STRINGS:
            value = row[index]
            if value is not None and "\\" in value:
                row[index] = decoded(value)
    for index, convert in _CONVERTERS:
        value = row[index]
        if value is not None:
            row[index] = convert(value)
    lines = row[_HISTORY_INDEX]
    if lines is None:
        row[_HISTORY_INDEX] = ()
    else:
        records = [well_formed_record(record) for record in history_records(lines)]
        history = tuple(record for record in records if record is not None)
        if len(history) != len(records):
            return None
        row[_HISTORY_INDEX] = history
    return row


def _made_at(data: bytes, view: str, item_id: str, position: int) -> Entry:
    """The Entry of the block at `position` that `skim_known` left to be made (a current
    export CURRENT_EXPORT_BYTES took in `view`, `data` seen a byte a character): what the
    quick reading makes of it."""
    current = compiled(CURRENT_EXPORT_BYTES).match(view, position)
    match = (
        None
        if current is None
        else compiled(BLOCK_PATTERN).match(data[position : current.end()].decode())
    )
    row = None if match is None else _row(match.groups(), True)
    if row is None:  # never: that pattern takes only blocks this one does, with no history
        raise AssertionError(f"the entry of {item_id!r} was checked and does not read")
    row[0] = item_id
    return entry_from_row(row)


def _known_entry(
    groups: tuple[str | None, ...],
    escaped: bool,
    known: Mapping[str, str],
    taken: Mapping[str, Any],
    later: Mapping[str, Any],
) -> Entry | None:
    """The Entry of a block (its groups; `escaped`: it holds a backslash) at the
    fingerprint `known` gives its id, when the thorough check would accept it without a
    word and its id is neither `taken` nor left for `later`; else None (the thorough
    reader reads it)."""
    item_id = groups[0]
    assert item_id is not None  # the block expression's id is not optional
    try:
        # The id as plan knows it (decoded only when escaped), at the fingerprint written:
        # a fingerprint is hex, never escaped (an escaped one is left alone).
        item_id = item_id if "\\" not in item_id else decoded(item_id)
        if known.get(item_id) != groups[_FINGERPRINT_INDEX] or item_id in taken:
            return None
        if item_id in later:
            return None
        row = _row(groups, escaped)
    except NotCanonical:
        return None
    if row is None or not row_is_well_formed(row):
        return None
    row[0] = item_id
    return entry_from_row(row)


def read_knowing(
    data: bytes,
    known: Mapping[str, str],
    on_demand: bool,
    parse: Callable[[str], Lockfile],
    memo: SkimMemo | None = None,
) -> Lockfile | None:
    """The lockfile of `data` (UTF-8, its byte order marks taken off), the entries `known`
    gives at their fingerprint taken the quick way (`skim_known`), the rest read by
    `parse`; None when it must be read whole, as when `parse` finds a problem (read
    whole, the problem is located in the whole text). `memo`: as `skim_known` takes it."""
    skimmed = skim_known(data, known, on_demand=on_demand, memo=memo)
    if skimmed is None:
        return None
    # A block taken is a canonical entry: conflict markers and anything broken stay in
    # `rest`, whose problems send the whole text to be read (and located) again.
    rest, taken = skimmed
    try:
        lock = parse(rest)
    except InputError:
        return None
    if taken.keys() & lock.entries.keys():
        return None
    if isinstance(taken, EntriesOnDemand):
        return replace(lock, entries=taken.with_made(lock.entries))
    return replace(lock, entries={**taken, **lock.entries})


def skim_known(
    data: bytes,
    known: Mapping[str, str],
    *,
    on_demand: bool = True,
    memo: SkimMemo | None = None,
) -> tuple[str, Mapping[str, Entry]] | None:
    """(the text without the blocks of entries whose fingerprint is `known[id]`, their
    entries), of a lockfile's bytes (UTF-8, its byte order marks taken off); None when
    nothing could be taken or the rest is not UTF-8 (the caller reads the whole file).

    A block is taken only when it is canonical and is an entry `lockfile_read` would
    accept without a word (`row_is_well_formed`). The entry of a current export with no
    history is made only when asked for (plan asks for none; all at once unless
    `on_demand`: for a caller that will ask for every one). A duplicate id is left for the
    thorough reader to report. `memo` remembers, by the bytes' digest, where current
    exports stand (lockfile_skim_memo): a plan of the same bytes matches no expression.
    """
    view = data.decode("latin-1")  # a character a byte: positions in it are the file's
    start = view.find("\n[")
    if start < 0:
        return None
    skim = _Skim(data, known)
    skim.kept.append(data[: start + 1])
    position, go_on = start + 1, True
    exports = CurrentExports(data, _current_export_in(view), memo) if on_demand else None
    chain = None if exports is None else exports.chain(position)
    if chain is not None:
        position, go_on = skim.along(chain)
    if go_on:
        position = skim.block_by_block(view, position, exports)
    skim.kept.append(data[position:])  # from where the skim stopped: the thorough reader's
    if exports is not None:
        exports.remember()
    return _skimmed(data, view, skim.kept, skim.taken, skim.later, skim.fingerprints)


class _Skim:
    """What `skim_known` has gone through so far: the parts kept for the thorough reader,
    the entries taken, and the positions (with fingerprints) of those left to be made."""

    __slots__ = ("data", "fingerprints", "kept", "known", "later", "taken")

    def __init__(self, data: bytes, known: Mapping[str, str]) -> None:
        self.data = data
        self.known = known
        self.kept: list[bytes] = []
        self.taken: dict[str, Entry] = {}
        self.later: dict[str, int] = {}
        self.fingerprints: dict[str, str] = {}

    def along(self, chain: Chain) -> tuple[int, bool]:
        """Go along current exports the memo holds one after another (no id twice, none
        seen yet): those at the fingerprint plan knows are left to be made later, in bulk,
        compared in C; any other is read by the block expression, as `block_by_block`
        reads it. (where it got to, whether to go on block by block from there)."""
        ids, written, positions, ends = chain
        same = list(map(operator.eq, map(self.known.get, ids), written))
        done = 0
        while True:
            try:
                differs = same.index(False, done)
            except ValueError:
                differs = len(same)
            self.later.update(zip(ids[done:differs], positions[done:differs]))  # noqa: B905
            self.fingerprints.update(zip(ids[done:differs], written[done:differs]))  # noqa: B905
            if differs == len(same):
                return ends[-1], True
            found = self.read_block(positions[differs])
            if found is None:
                return positions[differs], False  # a block that does not read: stop there
            if found != ends[differs]:
                return found, True  # a block that ends elsewhere: one at a time from there
            done = differs + 1

    def block_by_block(self, view: str, position: int, exports: CurrentExports | None) -> int:
        """Go through the blocks from `position` one at a time, as far as they read; where
        the thorough reader takes over."""
        at = None if exports is None else exports.at
        known_fingerprint = self.known.get
        later, taken = self.later, self.taken
        end = len(view)
        while position < end:
            if at is not None:
                # An unchanged item's: checked by the expression alone, nothing made.
                current_end, item_id, fingerprint = at(position)
                if (
                    current_end >= 0
                    and known_fingerprint(item_id) == fingerprint
                    and item_id not in later
                    and item_id not in taken
                ):
                    later[item_id] = position
                    self.fingerprints[item_id] = fingerprint
                    position = current_end
                    continue
            if view.startswith(END_LINE, position):
                break  # the last line: no block expression to compile for it
            found = self.read_block(position)
            if found is None:
                break
            position = found
        return position

    def read_block(self, position: int) -> int | None:
        """Read the block at `position` with the block expression: its entry taken, or the
        block kept for the thorough reader; where it ends (None: it does not read)."""
        found, block = _block_at(self.data, position)
        match = compiled(BLOCK_PATTERN).fullmatch(block)
        if match is None:
            return None
        entry = _known_entry(match.groups(), "\\" in block, self.known, self.taken, self.later)
        if entry is None:
            self.kept.append(self.data[position:found])
        else:
            self.taken[entry.id] = entry
        return found


def _current_export_in(view: str) -> Callable[[int], Found]:
    """What stands at a position of `view` (a lockfile's bytes, a character a byte):
    (end, id, fingerprint) of a current export whose script is UTF-8, else NOTHING."""
    # Compiled on first use (a few ms): a plan of unchanged items needs only this one, and
    # none when the memo knows every block.
    match = None

    def at(position: int) -> Found:
        nonlocal match
        if match is None:
            match = compiled(CURRENT_EXPORT_BYTES).match
        current = match(view, position)
        if current is None:
            return NOTHING
        item_id, fingerprint, script = current.group(1, 2, 3)
        return (current.end(), item_id, fingerprint) if _is_utf8(script) else NOTHING

    return at


def _skimmed(
    data: bytes,
    view: str,
    kept: list[bytes],
    taken: dict[str, Entry],
    later: dict[str, int],
    fingerprints: dict[str, str],
) -> tuple[str, Mapping[str, Entry]] | None:
    """What `skim_known` gives once it has read the blocks it could."""
    if not taken and not later:
        return None
    try:
        rest = b"".join(kept).decode()
    except UnicodeDecodeError:
        return None
    if not later:
        return rest, taken  # nothing to make later: the file is let go
    made_at = functools.partial(_made_at, data, view)
    return rest, EntriesOnDemand(taken, later, fingerprints, made_at)


def _block_at(data: bytes, position: int) -> tuple[int, str]:
    """(where it ends, its text) of what BLOCK_PATTERN would take as the block at
    `position`: its comment lines, its header line and every line after it up to the
    next line that starts with `[` or `#` (no line of a block does); "" when there is no
    such block or it is not UTF-8."""
    line = position
    while data.startswith(b"#", line):
        line = data.find(b"\n", line) + 1
        if line == 0:
            return position, ""  # a last comment line without its line break: no block
    header_end = data.find(b"\n", line) + 1
    if header_end == 0:
        return position, ""
    ends = [data.find(b"\n[", header_end - 1), data.find(b"\n#", header_end - 1)]
    block_end = min((end for end in ends if end >= 0), default=len(data) - 1) + 1
    try:
        return block_end, data[position:block_end].decode()
    except UnicodeDecodeError:
        return position, ""
