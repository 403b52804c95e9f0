"""A fast reader for lockfiles exactly as specsync writes them; None for anything else.

`tomllib` is pure Python and reads a 10,000-item lockfile (3.7 MB, scripts included) in
about 0.8 s, more than the rest of `plan` together. specsync writes a small, fixed subset of
TOML (see `lockfile_write.dumps`): comments, `key = value` lines with basic strings, booleans or
integers, `[items."ID"]`/`[forgotten."ID"]` headers and a `history` array of one-line inline
tables. This reader takes that subset line by line and returns the same dict `tomllib`
would. At the first line it does not recognise, or anything it cannot prove identical
(a duplicate key, an escape JSON and TOML read differently), it returns None and the caller
uses `tomllib`, which also gives the located error for a broken file.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Container, Mapping
from typing import Any

from specsync.state.lockdata import Entry

# The fixed last line of a lockfile from format version 2 on (written by lockfile_write).
END_LINE = "# end of specsync.lock"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_HEADER = re.compile(r'\[(items|forgotten)\.("(?:[^"\\]|\\.)*")\]\Z')
_INTEGER = re.compile(r"(?:0|[1-9][0-9]*)\Z")
# Escapes where JSON and TOML agree: \" \\ \b \t \n \f \r and \uXXXX outside surrogates.
_SAFE_ESCAPES = re.compile(r'\\(?:["\\btnfr]|u(?![dD][89abAB])[0-9A-Fa-f]{4})')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_COMMENT_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is all TOML allows
_HISTORY_KEYS = ("projectId", "taskId", "submittedAt", "fingerprint")
# Keys of an item block, in the order `lockfile_write.dumps` writes them (lockfile_read
# uses this too).
ENTRY_KEYS = (
    "fingerprint",
    "projectId",
    "taskId",
    "submittedAt",
    "state",
    "attemptedAt",
    "sha256",
    "bytes",
    "language",
    "model",
    "isExport",
    "resolution",
    "text",
    "history",
)


class _NotCanonical(Exception):
    pass


def _string(token: str) -> str:
    """A TOML basic string token (quotes included) -> its value."""
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise _NotCanonical
    inner = token[1:-1]
    # No raw control character, escaped or not: a raw tab is legal TOML but never written by
    # specsync (keep the reading simple), and JSON, which reads the escapes, allows a DEL.
    if _CONTROL.search(inner):
        raise _NotCanonical
    if "\\" not in inner:
        if '"' in inner:
            raise _NotCanonical
        return inner
    # Every backslash must start an escape both languages read the same way.
    if _SAFE_ESCAPES.sub("", inner).count("\\"):
        raise _NotCanonical
    try:
        value = json.loads(token)
    except ValueError:
        raise _NotCanonical from None
    if not isinstance(value, str):
        raise _NotCanonical
    return value


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


def _history_record(line: str) -> dict[str, str]:
    # `  { projectId = "…", taskId = "…", submittedAt = "…", fingerprint = "…" },`
    if not (line.startswith("  { ") and line.endswith(" },")) or "\\" in line:
        raise _NotCanonical
    record: dict[str, str] = {}
    pairs = line[4:-3].split('", ')
    for index, pair in enumerate(pairs):
        key, sep, raw = pair.partition(" = ")
        if not sep or key not in _HISTORY_KEYS or key in record:
            raise _NotCanonical
        # The split took the closing quote of every value but the last, which keeps its own
        # (a last value without one is damage, not a value to mend).
        token = raw if index == len(pairs) - 1 else raw + '"'
        record[key] = _string(token)
    return record


def read_canonical(text: str) -> dict[str, Any] | None:
    """The document as `tomllib.loads(text)` gives it, or None when not sure."""
    try:
        return _read_blocks(text)
    except _NotCanonical:
        return None


def _string_field(name: str) -> str:
    """A basic string with no raw control character or quote, its inside captured as `name`
    (escapes are checked by `_string`)."""
    return rf'"(?P<{name}>[^"\\\x00-\x1f\x7f]*(?:\\[^\x00-\x1f\x7f][^"\\\x00-\x1f\x7f]*)*)"'


# One item block exactly as `lockfile_write.dumps` writes it, matched whole by one regular
# expression: ten times faster than reading its lines one by one. Compiled on first use
# (2 ms): plan's reading of a lockfile as specsync wrote it seldom needs it.
_ITEM_BLOCK_PATTERN = (
    r"(?:#[^\n\x00-\x08\x0b-\x1f\x7f]*\n)*"  # comments written above a block
    + rf"\[items\.{_string_field('id')}\]\n"
    + rf"fingerprint = {_string_field('fingerprint')}\n"
    + "".join(
        rf"(?:{key} = {_string_field(key)}\n)?" for key in ENTRY_KEYS[1 : ENTRY_KEYS.index("bytes")]
    )
    + r"(?:bytes = (?P<bytes>0|[1-9][0-9]{0,17})\n)?"
    + "".join(
        rf"(?:{key} = {_string_field(key)}\n)?"
        for key in ENTRY_KEYS[ENTRY_KEYS.index("bytes") + 1 : ENTRY_KEYS.index("isExport")]
    )
    + r"(?:isExport = (?P<isExport>true|false)\n)?"
    + rf"(?:resolution = {_string_field('resolution')}\n)?"
    + rf"(?:text = {_string_field('text')}\n)?"
    + r"(?:history = \[\n(?P<history>(?:  \{ [^\n]* \},\n)*)\]\n)?"
    + r"\n*"
)


@functools.cache
def _item_block() -> re.Pattern[str]:
    return re.compile(_ITEM_BLOCK_PATTERN)


def _plain(inner: str | None) -> str | None:
    if inner is None or "\\" not in inner:
        return inner
    return _string(f'"{inner}"')


def _read_blocks(text: str) -> dict[str, Any]:
    """The top-level keys line by line, then the item blocks whole; any block this does
    not match sends the whole text to the line reader."""
    start = text.find("\n[")
    if start < 0:
        return _read(text)
    document = _read(text[: start + 1])
    items: dict[str, dict[str, Any]] = {}
    position, end = start + 1, len(text)
    block = _item_block().match
    while position < end:
        match = block(text, position)
        if match is None:
            break
        fields = match.groupdict()  # in the order written, as tomllib gives keys
        name = _plain(fields.pop("id"))
        if name in items or not name:
            raise _NotCanonical
        entry: dict[str, Any] = {}
        for key, value in fields.items():
            if value is None:
                continue
            if key == "isExport":
                entry[key] = value == "true"
            elif key == "bytes":
                entry[key] = int(value)
            elif key == "history":
                entry[key] = [_history_record(line) for line in value.split("\n")[:-1]]
            else:
                entry[key] = _plain(value)
        items[name] = entry
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
            records = []
            while index < len(lines) and lines[index] != "]":
                records.append(_history_record(lines[index]))
                index += 1
            if index == len(lines):
                raise _NotCanonical
            index += 1
            current[key] = records
            continue
        current[key] = _value(raw)
    return document


# -- plan's reading: entries whose fingerprint plan already knows -------------------------
# `plan` needs the whole of an entry only where the item differs from it; for the usual
# unchanged item the id, fingerprint, ids and state decide. Such blocks are taken here
# straight from a block expression into the Entry `lockfile_read` would make of them;
# everything else (changed items, history, escapes, forgotten, the top-level keys) is left
# in the text for the thorough reader, which also words any problem.


def _plain_string(name: str) -> str:
    """A basic string with no escape at all (what a plain entry holds)."""
    return rf'"(?P<{name}>[^"\\\x00-\x1f\x7f]*+)"'


def backtracking(pattern: str) -> str:
    """The pattern with its possessive repeats made ordinary ones (Python 3.10 has none);
    only for patterns with no literal `*+` or `?+`."""
    return pattern.replace("*+", "*").replace("?+", "?")


# An item block as `_ITEM_BLOCK_PATTERN` reads it, without escapes and without history: most of a
# lockfile, matched faster, and what it matches needs no unescaping. Its repeats are
# possessive (`*+`, `?+`: never given back), a quarter faster on 10,000 blocks and the same
# matches: a value's characters exclude its closing quote, and each optional line starts
# with its own key, which nothing after it may start with (tests/state/test_lockfile_fast.py
# compares it with its backtracking twin).
PLAIN_BLOCK_PATTERN = (
    r"(?:#[^\n\x00-\x08\x0b-\x1f\x7f]*+\n)*+"
    + rf"\[items\.{_plain_string('id')}\]\n"
    + rf"fingerprint = {_plain_string('fingerprint')}\n"
    + "".join(
        rf"(?:{key} = {_plain_string(key)}\n)?+"
        for key in ENTRY_KEYS[1 : ENTRY_KEYS.index("bytes")]
    )
    + r"(?:bytes = (?P<bytes>0|[1-9][0-9]{0,17})\n)?+"
    + "".join(
        rf"(?:{key} = {_plain_string(key)}\n)?+"
        for key in ENTRY_KEYS[ENTRY_KEYS.index("bytes") + 1 : ENTRY_KEYS.index("isExport")]
    )
    + r"(?:isExport = (?P<isExport>true|false)\n)?+"
    + rf"(?:resolution = {_plain_string('resolution')}\n)?+"
    + rf"(?:text = {_plain_string('text')}\n)?+"
    + r"\n*+"
    # Whole blocks only: a history or anything else after these lines belongs to the
    # block, which is then left to the thorough reader.
    + r"(?=\[|#|\Z)"
)
_PLAIN_BLOCK = re.compile(
    PLAIN_BLOCK_PATTERN if sys.version_info >= (3, 11) else backtracking(PLAIN_BLOCK_PATTERN)
)
# The block's groups come in the order the file has them (ENTRY_KEYS after the id): taken
# all at once by `match.groups()`, then put in the Entry's order by index.
assert _PLAIN_BLOCK.groupindex == {
    name: number for number, name in enumerate(("id", *ENTRY_KEYS[:-1]), start=1)
}
_BOOLEANS = {None: None, "true": True, "false": False}
SHA256_FORM = re.compile(r"[0-9a-f]{64}\Z")  # a video's digest, as both readers accept it


def skim_known(
    text: str, known: Mapping[str, str], states: Container[str | None]
) -> tuple[str, dict[str, Entry]] | None:
    """(the text without the blocks of entries whose fingerprint is `known[id]`, their
    entries); None when nothing could be taken (the caller reads the whole text).

    A block is taken only when it is canonical, holds no escape and no history, and is an
    entry `lockfile_read` would accept without a word (`states`: the state words it
    accepts). A duplicate id is left for the thorough reader to report.
    """
    start = text.find("\n[")
    if start < 0:
        return None
    kept: list[str] = [text[: start + 1]]
    taken: dict[str, Entry] = {}
    position, end = start + 1, len(text)
    plain = _PLAIN_BLOCK.match
    known_fingerprint, booleans, sha256_form = known.get, _BOOLEANS, SHA256_FORM.match
    make_entry = tuple.__new__  # Entry(*fields) without its keyword-handling __new__
    for_thorough_reader = kept.append
    while position < end:
        match = plain(text, position)
        if match is None:
            # Escapes or history: left to the thorough reader, if the block is canonical.
            other = _item_block().match(text, position)
            if other is None:
                break
            for_thorough_reader(text[position : other.end()])
            position = other.end()
            continue
        found = match.end()
        # id, fingerprint, projectId, taskId, submittedAt, state, attemptedAt, sha256,
        # bytes, language, model, isExport, resolution, text
        fields = match.groups()
        item_id, fingerprint, project_id, state, sha256 = (
            fields[0],
            fields[1],
            fields[2],
            fields[5],
            fields[7],
        )
        if (
            known_fingerprint(item_id) != fingerprint
            or not fingerprint
            or item_id in taken
            # What `lockfile_read` checks of an entry (`_well_formed_entry`):
            or (project_id is None) != (fields[3] is None)
            or (project_id is None and state is None)
            or (state is not None and state not in states)
            or (sha256 is not None and not sha256_form(sha256))
        ):
            for_thorough_reader(text[position:found])
        else:
            size = fields[8]
            taken[item_id] = make_entry(
                Entry,
                (
                    *fields[:7],  # id .. attemptedAt
                    (),  # history: a block with one is not plain
                    fields[9],  # language
                    fields[10],  # model
                    booleans[fields[11]],  # isExport
                    fields[13],  # text
                    fields[12],  # resolution
                    sha256,
                    None if size is None else int(size),
                ),
            )
        position = found
    if not taken:
        return None
    kept.append(text[position:])
    return "".join(kept), taken
