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
from collections.abc import Callable, Mapping
from typing import Any

from specsync.item_words import FINAL_STATES
from specsync.state.lockfile_data import EntriesOnDemand, Entry
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

__all__ = ["CURRENT_EXPORT_PATTERN", "skim_known"]


# A string as the block expression takes it, but without `\U` (whose value the reader
# must check): a value of this form always decodes.
_DECODABLE = f'"{plain_run(JSON_ESCAPE.format())}"'
_PLAIN_ID = f'"({plain_run()})"'  # an id with no escape (an escaped one is read)


def _current_export_line(field: Field) -> str:
    """One field's line in CURRENT_EXPORT_PATTERN ("" when the key must be absent)."""
    if field.attr in ("project_id", "task_id"):
        return rf"{field.key} = {_DECODABLE}\n"  # a current export has both ids
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
    value = _DECODABLE if field.form == "string" else form_pattern(field, None)
    return rf"(?:{field.key} = {value}\n)?+"


# The block of an entry plan may leave unmade (`skim_known`): one the block expression
# takes (a subset of its form), that the thorough check accepts without a word (each
# checked value as its field's `pattern` says, the ids together), a current export (both
# ids, not `uncertain`), with no history and no escape that might not decode. Its id and
# fingerprint are its groups 1 and 2. tests/state/test_lockfile_quick.py checks each of
# these against BLOCK_PATTERN and `row_is_well_formed` on many blocks.
CURRENT_EXPORT_PATTERN = (
    r"(?:#[^\n\x00-\x08\x0b-\x1f\x7f]*+\n)*+"
    + rf"\[items\.{_PLAIN_ID}\]\n"
    + "".join(_current_export_line(f) for f in ENTRY_FIELDS)
    + r"\n*+(?=\[|#|\Z)"
)


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


def _made_at(text: str, item_id: str, position: int) -> Entry:
    """The Entry of the block at `position` that `skim_known` left to be made (a current
    export CURRENT_EXPORT_PATTERN took): what the quick reading makes of it."""
    match = compiled(BLOCK_PATTERN).match(text, position)
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


def skim_known(
    text: str, known: Mapping[str, str], *, on_demand: bool = True
) -> tuple[str, Mapping[str, Entry]] | None:
    """(the text without the blocks of entries whose fingerprint is `known[id]`, their
    entries); None when nothing could be taken (the caller reads the whole text).

    A block is taken only when it is canonical and is an entry `lockfile_read` would
    accept without a word (`row_is_well_formed`). The entry of a current export with no
    history is made only when asked for (plan asks for none; all at once unless
    `on_demand`: for a caller that will ask for every one). A duplicate id is left for the
    thorough reader to report.
    """
    start = text.find("\n[")
    if start < 0:
        return None
    kept: list[str] = [text[: start + 1]]
    taken: dict[str, Entry] = {}
    later: dict[str, int] = {}
    fingerprints: dict[str, str] = {}
    position, end = start + 1, len(text)
    # Compiled on first use (a few ms each): a plan of unchanged items needs only this one.
    current_export = compiled(CURRENT_EXPORT_PATTERN).match if on_demand else None
    known_fingerprint, backslash = known.get, text.find
    any_escape = backslash("\\", position) >= 0  # one scan: most files have none at all
    for_thorough_reader = kept.append
    while position < end:
        if current_export is not None:
            # An unchanged item's: checked by the expression alone, nothing decoded or made.
            current = current_export(text, position)
            if current is not None:
                item_id, fingerprint = current.group(1, 2)
                if (
                    known_fingerprint(item_id) == fingerprint
                    and item_id not in later
                    and item_id not in taken
                ):
                    later[item_id] = position
                    fingerprints[item_id] = fingerprint
                    position = current.end()
                    continue
        if text.startswith(END_LINE, position):
            break  # the last line: no block expression to compile for it
        match = compiled(BLOCK_PATTERN).match(text, position)
        if match is None:
            break
        found = match.end()
        escaped = any_escape and backslash("\\", position, found) >= 0
        entry = _known_entry(match.groups(), escaped, known, taken, later)
        if entry is None:
            for_thorough_reader(text[position:found])
        else:
            taken[entry.id] = entry
        position = found
    if not taken and not later:
        return None
    kept.append(text[position:])
    if not later:
        return "".join(kept), taken  # nothing to make later: the text is let go
    made_at = functools.partial(_made_at, text)
    return "".join(kept), EntriesOnDemand(taken, later, fingerprints, made_at)
