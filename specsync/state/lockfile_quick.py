"""A fast reader for lockfiles exactly as specsync writes them; None for anything else.

`tomllib` is pure Python and reads a 10,000-item lockfile (3.7 MB, scripts included) in
about 0.8 s, more than the rest of `plan` together. specsync writes a small, fixed subset of
TOML (see `lockfile_write.dumps`): comments, `key = value` lines with basic strings, booleans or
integers, `[items."ID"]`/`[forgotten."ID"]` headers and a `history` array of one-line inline
tables. This reader takes that subset and returns the same dict `tomllib` would. At anything
it does not recognise or cannot prove identical (a duplicate key, an escape TOML refuses),
it returns None and the caller uses `tomllib`, which also gives the located error for a
broken file. The blocks it reads are built from the field tables of `lockfile_fields`.
"""

from __future__ import annotations

import functools
import json.decoder
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from specsync.item_words import FINAL_STATES
from specsync.state.lockfile_data import EntriesOnDemand, Entry
from specsync.state.lockfile_fields import (
    ENTRY_FIELDS,
    HISTORY_FIELDS,
    HISTORY_KEY,
    SHA256_FORM,
    Field,
    entry_from_row,
    row_is_well_formed,
    well_formed_record,
)

__all__ = ["END_LINE", "SHA256_FORM", "read_canonical", "skim_known"]

# The fixed last line of a lockfile from format version 2 on (written by lockfile_write).
END_LINE = "# end of specsync.lock"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_HEADER = re.compile(r'\[(items|forgotten)\.("(?:[^"\\]|\\.)*")\]\Z')
_INTEGER = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_COMMENT_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is all TOML allows
# Every escape of a TOML basic string: the short ones, \uXXXX and \UXXXXXXXX (a Unicode
# scalar value: no surrogate, at most U+10FFFF). Anything else after a backslash (`\e`,
# `\x41`, a short \u) is not TOML 1.0, which tomllib reads: declined.
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.?))", re.DOTALL)
# json's own string decoder (in C); typeshed does not declare it.
_json_string: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
# A backslash that may not start an escape JSON and TOML read the same way (\/, a
# surrogate, \U, ...). It may also flag a backslash that an escaped one before it makes a
# plain character: the slower decoder then reads that string, no harm done.
_JSON_DIFFERS = re.compile(r'\\(?!["\\bfnrt]|u(?![dD][89a-fA-F])[0-9A-Fa-f]{4})')
_SHORT = {'"': '"', "\\": "\\", "b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}


class _NotCanonical(Exception):
    pass


def _unescape(match: re.Match[str]) -> str:
    four, eight, short = match.groups()
    if short is not None:
        try:
            return _SHORT[short]
        except KeyError:
            raise _NotCanonical from None
    code = int(four or eight, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise _NotCanonical
    return chr(code)


def _decoded(inner: str) -> str:
    """The value of a basic string's inside (no raw control character or lone quote)."""
    if "\\" not in inner:
        return inner
    if _JSON_DIFFERS.search(inner) is None:
        # Every backslash starts an escape JSON reads as TOML does: json's C decoder.
        return _json_string(f'"{inner}"', 1)[0]
    return _ESCAPE.sub(_unescape, inner)


def _string(token: str) -> str:
    """A TOML basic string token (quotes included) -> its value."""
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise _NotCanonical
    inner = token[1:-1]
    # No raw control character, escaped or not: a raw tab is legal TOML but never written by
    # specsync (keep the reading simple).
    if _CONTROL.search(inner):
        raise _NotCanonical
    if '"' in inner.replace("\\\\", "").replace('\\"', ""):
        raise _NotCanonical  # a quote no backslash escapes ends the string early
    return _decoded(inner)


def _value(token: str) -> Any:
    if token.startswith('"'):
        return _string(token)
    if token == "true":
        return True
    if token == "false":
        return False
    if _INTEGER.match(token):
        return int(token)
    raise _NotCanonical


# -- the forms of values, as the writer writes them ----------------------------------------
# A basic string: runs of characters other than a quote, backslash or control character,
# between escapes. Unrolled (no nested repeat) and possessive (`*+`: never given back),
# which matches the same as backtracking would: the value's characters exclude its closing
# quote. The escapes are those JSON reads as TOML does (`_JSON_ESCAPE`: a value holding
# only these always decodes), and `\U` with eight hex digits (`_unescape` checks its
# value); anything else after a backslash (`\e`, `\x41`, a surrogate) is left to the line
# reader, which declines what TOML refuses.
_JSON_ESCAPE = r'\\(?:["\\bfnrt]|u(?![dD][89a-fA-F])[0-9A-Fa-f]{{4}})'
_STRING = (
    r'"(?P<{name}>[^"\\\x00-\x1f\x7f]*+'
    r"(?:(?:" + _JSON_ESCAPE + r"|\\U[0-9A-Fa-f]{{8}})"
    r'[^"\\\x00-\x1f\x7f]*+)*+)"'
)
_FORMS = {
    "string": _STRING,
    "integer": r"(?P<{name}>0|[1-9][0-9]{{0,17}})",
    "boolean": r"(?P<{name}>true|false)",
}


def _form(field: Field, name: str | None) -> str:
    """The field's value form, its value captured as `name` (None: not captured)."""
    pattern = _FORMS[field.form]
    if name is None:
        return pattern.replace("(?P<{name}>", "(?:").format()
    return pattern.format(name=name)


def _record_pattern(capture: bool) -> str:
    """One history record as the writer writes it: its keys in HISTORY_FIELDS order, each
    optional (which ones a record needs is the readers' check), the first right after the
    brace and every other after `, ` (TOML allows no trailing comma in an inline table)."""
    pairs = [
        rf'(?:(?:(?<=\{{ )|(?<="), ){f.key} = {_form(f, f.attr if capture else None)})?+'
        for f in HISTORY_FIELDS
    ]
    return r"  \{ " + "".join(pairs) + r" \},"


# One item block exactly as `lockfile_write.dumps` writes it, matched whole by one regular
# expression: ten times faster than reading its lines one by one. Its group names are the
# attributes of ENTRY_FIELDS (and `id`, `history`); each optional line starts with its own
# key, which nothing after it may start with, so possessive repeats match as backtracking
# ones would (tests/state/test_lockfile_quick.py compares the two).
BLOCK_PATTERN = (
    r"(?:#[^\n\x00-\x08\x0b-\x1f\x7f]*+\n)*+"  # comments written above a block
    + r"\[items\."
    + _STRING.format(name="id")
    + r"\]\n"
    + "".join(
        rf"(?:{f.key} = {_form(f, f.attr)}\n)" + ("" if f.required else "?+") for f in ENTRY_FIELDS
    )
    + rf"(?:{HISTORY_KEY} = \[\n(?P<{HISTORY_KEY}>(?:{_record_pattern(False)}\n)*+)\]\n)?+"
    + r"\n*+"
    # Whole blocks only: anything else after these lines belongs to the block, which is
    # then left to the line reader (or tomllib).
    + r"(?=\[|#|\Z)"
)
RECORD_PATTERN = _record_pattern(True) + r"\n"


# A string as the block expression takes it, but without `\U` (whose value `_unescape`
# checks): a value of this form always decodes.
_DECODABLE = r'"[^"\\\x00-\x1f\x7f]*+(?:' + _JSON_ESCAPE.format() + r'[^"\\\x00-\x1f\x7f]*+)*+"'
_PLAIN_ID = r'"([^"\\\x00-\x1f\x7f]*+)"'  # an id with no escape (an escaped one is read)


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
    value = _DECODABLE if field.form == "string" else _form(field, None)
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


def backtracking(pattern: str) -> str:
    """The pattern with its possessive repeats made ordinary ones (Python 3.10 has none);
    only for patterns with no literal `*+` or `?+`."""
    return pattern.replace("*+", "*").replace("?+", "?")


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # Compiled on first use (a few ms): a lockfile with no item needs none.
    return re.compile(pattern if sys.version_info >= (3, 11) else backtracking(pattern))


_KEY_OF = {f.attr: f.key for f in (*ENTRY_FIELDS, *HISTORY_FIELDS)}
_INTEGER_ATTRS = frozenset(f.attr for f in ENTRY_FIELDS if f.form == "integer")
_BOOLEAN_ATTRS = frozenset(f.attr for f in ENTRY_FIELDS if f.form == "boolean")
_BOOLEANS = {"true": True, "false": False}


def _records(text: str) -> list[dict[str, str]]:
    """The history records of a block's `history` lines, as tomllib gives them."""
    records = []
    position, end = 0, len(text)
    match_record = _compiled(RECORD_PATTERN).match
    while position < end:
        match = match_record(text, position)
        if match is None:
            raise _NotCanonical
        records.append(
            {
                _KEY_OF[attr]: _decoded(value)
                for attr, value in match.groupdict().items()
                if value is not None
            }
        )
        position = match.end()
    return records


def _block_table(match: re.Match[str]) -> dict[str, Any]:
    """An item block's table as tomllib gives it (keys in the order written)."""
    table: dict[str, Any] = {}
    for attr, value in match.groupdict().items():
        if value is None or attr == "id":
            continue
        if attr == HISTORY_KEY:
            table[HISTORY_KEY] = _records(value)
        elif attr in _BOOLEAN_ATTRS:
            table[_KEY_OF[attr]] = _BOOLEANS[value]
        elif attr in _INTEGER_ATTRS:
            table[_KEY_OF[attr]] = int(value)
        else:
            table[_KEY_OF[attr]] = _decoded(value)
    return table


def read_canonical(text: str) -> dict[str, Any] | None:
    """The document as `tomllib.loads(text)` gives it, or None when not sure."""
    try:
        return _read_blocks(text)
    except _NotCanonical:
        return None


def _read_blocks(text: str) -> dict[str, Any]:
    """The top-level keys line by line, then the item blocks whole; any block this does
    not match sends the whole text to the line reader."""
    start = text.find("\n[")
    if start < 0:
        return _read(text)
    document = _read(text[: start + 1])
    items: dict[str, dict[str, Any]] = {}
    position, end = start + 1, len(text)
    block = _compiled(BLOCK_PATTERN).match
    while position < end:
        match = block(text, position)
        if match is None:
            break
        name = _decoded(match.group("id"))
        if name in items or not name:
            raise _NotCanonical
        items[name] = _block_table(match)
        position = match.end()
    if text.startswith(END_LINE, position) and not text[position + len(END_LINE) :].strip("\n"):
        position = end  # the fixed last line (a comment) and nothing after it
    if position < end:
        rest = _read(text[position:])  # `forgotten` blocks, or something unusual
        if not text.startswith("[forgotten.", position) or set(rest) != {"forgotten"}:
            return _read(text)
        document["forgotten"] = rest["forgotten"]
    if items:
        if "items" in document:
            raise _NotCanonical
        document["items"] = items
    return document


def _read(text: str) -> dict[str, Any]:
    """The subset line by line: the top-level keys, `forgotten` blocks, anything unusual."""
    document: dict[str, Any] = {}
    tables: dict[str, dict[str, Any]] = {}
    current = document
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line or line.startswith("#"):
            if _COMMENT_CONTROL.search(line):
                raise _NotCanonical
            continue
        if line.startswith("["):
            match = _HEADER.match(line)
            if match is None:
                raise _NotCanonical
            kind, name = match.group(1), _string(match.group(2))
            if kind not in tables:
                if kind in document:
                    raise _NotCanonical
                tables[kind] = document[kind] = {}
            if name in tables[kind]:
                raise _NotCanonical
            current = tables[kind][name] = {}
            continue
        key, sep, raw = line.partition(" = ")
        if not sep or not _BARE_KEY.match(key) or key in current:
            raise _NotCanonical
        if current is document and key in ("items", "forgotten"):
            raise _NotCanonical
        if raw == "[":
            end = index
            while end < len(lines) and lines[end] != "]":
                end += 1
            if end == len(lines):
                raise _NotCanonical
            current[key] = _records("".join(line + "\n" for line in lines[index:end]))
            index = end + 1
            continue
        current[key] = _value(raw)
    return document


# -- plan's reading: entries whose fingerprint plan already knows -------------------------
# `plan` needs the whole of an entry only where the item differs from it; for the usual
# unchanged item the id, fingerprint, ids and state decide. Such a block (a current
# export with no history) is checked by CURRENT_EXPORT_PATTERN alone and made into the
# Entry `lockfile_read` makes of it only when asked for (`EntriesOnDemand`); other blocks
# of known items are taken from the block expression into that Entry at once (through the
# same check, `row_is_well_formed`); everything else (changed items, forgotten, the
# top-level keys, anything odd) is left in the text for the thorough reader, which also
# words any problem.


# Where each form sits in a block's groups, `(id, *ENTRY_FIELDS, history)`: a row.
_ID_AND_STRINGS = (0, *(i for i, f in enumerate(ENTRY_FIELDS, start=1) if f.form == "string"))
# The values that are not strings, and what makes a Python value of their text.
_CONVERT: dict[str, Callable[[str], Any]] = {"integer": int, "boolean": _BOOLEANS.__getitem__}
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
                row[index] = _decoded(value)
    for index, convert in _CONVERTERS:
        value = row[index]
        if value is not None:
            row[index] = convert(value)
    lines = row[_HISTORY_INDEX]
    if lines is None:
        row[_HISTORY_INDEX] = ()
    else:
        records = [well_formed_record(record) for record in _records(lines)]
        history = tuple(record for record in records if record is not None)
        if len(history) != len(records):
            return None
        row[_HISTORY_INDEX] = history
    return row


def _made_at(text: str, item_id: str, position: int) -> Entry:
    """The Entry of the block at `position` that `skim_known` left to be made (a current
    export CURRENT_EXPORT_PATTERN took): what the quick reading makes of it."""
    match = _compiled(BLOCK_PATTERN).match(text, position)
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
        item_id = item_id if "\\" not in item_id else _decoded(item_id)
        if known.get(item_id) != groups[_FINGERPRINT_INDEX] or item_id in taken:
            return None
        if item_id in later:
            return None
        row = _row(groups, escaped)
    except _NotCanonical:
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
    # Each expression compiled on first use (a few ms): a plan with every item unchanged
    # needs only the first.
    current_export = _compiled(CURRENT_EXPORT_PATTERN).match if on_demand else None
    known_fingerprint, backslash = known.get, text.find
    any_escape = backslash("\\", position) >= 0  # one scan: most files have none at all
    for_thorough_reader = kept.append
    while position < end:
        if current_export is not None:
            # The usual block of an unchanged item: checked by the expression alone, its
            # entry left unmade (nothing is decoded or built).
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
        match = _compiled(BLOCK_PATTERN).match(text, position)
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
