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
from collections.abc import Callable
from typing import Any

from specsync.state.lockfile_fields import (
    ENTRY_FIELDS,
    HISTORY_FIELDS,
    HISTORY_KEY,
    SHA256_FORM,
    Field,
    plain_run,
)

__all__ = ["END_LINE", "SHA256_FORM", "read_canonical"]

# The fixed last line of a lockfile from format version 2 on (written by lockfile_write).
END_LINE = "# end of specsync.lock"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_HEADER = r'\[(items|forgotten)\.("(?:[^"\\]|\\.)*")\]\Z'  # compiled when met
_INTEGER = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_COMMENT_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is all TOML allows
# Every escape of a TOML basic string: the short ones, \uXXXX and \UXXXXXXXX (a Unicode
# scalar value: no surrogate, at most U+10FFFF). Anything else after a backslash (`\e`,
# `\x41`, a short \u) is not TOML 1.0, which tomllib reads: declined.
_ESCAPE = r"(?s)\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.?))"  # compiled when met
# json's own string decoder (in C); typeshed does not declare it.
_json_string: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
# A backslash that may not start an escape JSON and TOML read the same way (\/, a
# surrogate, \U, ...). It may also flag a backslash that an escaped one before it makes a
# plain character: the slower decoder then reads that string, no harm done.
_JSON_DIFFERS = re.compile(r'\\(?!["\\bfnrt]|u(?![dD][89a-fA-F])[0-9A-Fa-f]{4})')
_SHORT = {'"': '"', "\\": "\\", "b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}


class NotCanonical(Exception):
    pass


def _unescape(match: re.Match[str]) -> str:
    four, eight, short = match.groups()
    if short is not None:
        try:
            return _SHORT[short]
        except KeyError:
            raise NotCanonical from None
    code = int(four or eight, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise NotCanonical
    return chr(code)


def decoded(inner: str) -> str:
    """The value of a basic string's inside (no raw control character or lone quote)."""
    if "\\" not in inner:
        return inner
    if _JSON_DIFFERS.search(inner) is None:
        # Every backslash starts an escape JSON reads as TOML does: json's C decoder.
        return _json_string(f'"{inner}"', 1)[0]
    return re.sub(_ESCAPE, _unescape, inner)


def _string(token: str) -> str:
    """A TOML basic string token (quotes included) -> its value."""
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise NotCanonical
    inner = token[1:-1]
    # No raw control character, escaped or not: a raw tab is legal TOML but never written by
    # specsync (keep the reading simple).
    if _CONTROL.search(inner):
        raise NotCanonical
    if '"' in inner.replace("\\\\", "").replace('\\"', ""):
        raise NotCanonical  # a quote no backslash escapes ends the string early
    return decoded(inner)


def _value(token: str) -> Any:
    if token.startswith('"'):
        return _string(token)
    if token == "true":
        return True
    if token == "false":
        return False
    if _INTEGER.match(token):
        return int(token)
    raise NotCanonical


# -- the forms of values, as the writer writes them ----------------------------------------
# A basic string: runs of characters other than a quote, backslash or control character,
# between escapes (`plain_run`). Unrolled (no nested repeat) and possessive (`*+`: never
# given back), which matches the same as backtracking would: the value's characters
# exclude its closing quote. The escapes are those JSON reads as TOML does (`JSON_ESCAPE`:
# a value holding only these always decodes), and `\U` with eight hex digits (`_unescape`
# checks its value); anything else after a backslash (`\e`, `\x41`, a surrogate) is left
# to the line reader, which declines what TOML refuses.
JSON_ESCAPE = r'\\(?:["\\bfnrt]|u(?![dD][89a-fA-F])[0-9A-Fa-f]{{4}})'
_STRING = r'"(?P<{name}>' + plain_run(JSON_ESCAPE + r"|\\U[0-9A-Fa-f]{{8}}") + r')"'
_FORMS = {
    "string": _STRING,
    "integer": r"(?P<{name}>0|[1-9][0-9]{{0,17}})",
    "boolean": r"(?P<{name}>true|false)",
}


def form_pattern(field: Field, name: str | None) -> str:
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
        rf'(?:(?:(?<=\{{ )|(?<="), ){f.key} = {form_pattern(f, f.attr if capture else None)})?+'
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
        rf"(?:{f.key} = {form_pattern(f, f.attr)}\n)" + ("" if f.required else "?+")
        for f in ENTRY_FIELDS
    )
    + rf"(?:{HISTORY_KEY} = \[\n(?P<{HISTORY_KEY}>(?:{_record_pattern(False)}\n)*+)\]\n)?+"
    + r"\n*+"
    # Whole blocks only: anything else after these lines belongs to the block, which is
    # then left to the line reader (or tomllib).
    + r"(?=\[|#|\Z)"
)
RECORD_PATTERN = _record_pattern(True) + r"\n"


# Possessive repeats came with Python 3.11, and matched wrongly where the repeated part
# itself backtracks until 3.11.5 (CPython gh-106052): a block with a history stopped short
# on Debian 12's 3.11.2, and such a pattern may even match what the ordinary one refuses.
POSSESSIVE_REPEATS_WORK = sys.version_info >= (3, 11, 5)


def backtracking(pattern: str) -> str:
    """The pattern with its possessive repeats made ordinary ones (for interpreters whose
    possessive repeats are missing or wrong); only for patterns with no literal `*+` or
    `?+`."""
    return pattern.replace("*+", "*").replace("?+", "?")


@functools.cache
def compiled(pattern: str) -> re.Pattern[str]:
    # Compiled on first use (a few ms): a lockfile with no item needs none.
    return re.compile(pattern if POSSESSIVE_REPEATS_WORK else backtracking(pattern))


_KEY_OF = {f.attr: f.key for f in (*ENTRY_FIELDS, *HISTORY_FIELDS)}
_INTEGER_ATTRS = frozenset(f.attr for f in ENTRY_FIELDS if f.form == "integer")
_BOOLEAN_ATTRS = frozenset(f.attr for f in ENTRY_FIELDS if f.form == "boolean")
BOOLEANS = {"true": True, "false": False}


def history_records(text: str) -> list[dict[str, str]]:
    """The history records of a block's `history` lines, as tomllib gives them."""
    records = []
    position, end = 0, len(text)
    match_record = compiled(RECORD_PATTERN).match
    while position < end:
        match = match_record(text, position)
        if match is None:
            raise NotCanonical
        records.append(
            {
                _KEY_OF[attr]: decoded(value)
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
            table[HISTORY_KEY] = history_records(value)
        elif attr in _BOOLEAN_ATTRS:
            table[_KEY_OF[attr]] = BOOLEANS[value]
        elif attr in _INTEGER_ATTRS:
            table[_KEY_OF[attr]] = int(value)
        else:
            table[_KEY_OF[attr]] = decoded(value)
    return table


def read_canonical(text: str) -> dict[str, Any] | None:
    """The document as `tomllib.loads(text)` gives it, or None when not sure."""
    try:
        return _read_blocks(text)
    except NotCanonical:
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
    block = compiled(BLOCK_PATTERN).match
    while position < end:
        match = block(text, position)
        if match is None:
            break
        name = decoded(match.group("id"))
        if name in items or not name:
            raise NotCanonical
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
            raise NotCanonical
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
                raise NotCanonical
            continue
        if line.startswith("["):
            match = re.match(_HEADER, line)
            if match is None:
                raise NotCanonical
            kind, name = match.group(1), _string(match.group(2))
            if kind not in tables:
                if kind in document:
                    raise NotCanonical
                tables[kind] = document[kind] = {}
            if name in tables[kind]:
                raise NotCanonical
            current = tables[kind][name] = {}
            continue
        key, sep, raw = line.partition(" = ")
        if not sep or not _BARE_KEY.match(key) or key in current:
            raise NotCanonical
        if current is document and key in ("items", "forgotten"):
            raise NotCanonical
        if raw == "[":
            end = index
            while end < len(lines) and lines[end] != "]":
                end += 1
            if end == len(lines):
                raise NotCanonical
            current[key] = history_records("".join(line + "\n" for line in lines[index:end]))
            index = end + 1
            continue
        current[key] = _value(raw)
    return document
