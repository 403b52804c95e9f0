"""The lockfile's fields, written down once.

`ENTRY_FIELDS` (an `[items."ID"]` block) and `HISTORY_FIELDS` (a record of its `history`
array) say, per field, its TOML key, the attribute it fills, its TOML form, whether it is
required, and what a value must be. Everything else follows from them: the order
`lockfile_write` writes keys in, the block expressions of `lockfile_quick`, the checks and
messages of `lockfile_read`, and the field list of docs/lockfile.md (a test compares it).

Rules between fields (ids go together; an entry says something) are `entry_rule_problems`
and `record_rule_problems`, also used by every reader.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from specsync.item_words import RenderState
from specsync.state.lockfile_data import STATES, Entry, Submission

Form = Literal["string", "integer", "boolean"]
_PYTHON_TYPE: dict[str, type] = {"string": str, "integer": int, "boolean": bool}

SHA256_FORM = re.compile(r"[0-9a-f]{64}\Z")  # a pulled video's digest: SHA-256, lower-case hex
# The characters a basic string holds as they are: any but a quote, a backslash or a
# control character ([^"\\\x00-\x1f\x7f]). The quick readers match every character of a
# lockfile's strings against them, so they are spelled as `re` matches them fastest: runs
# of those below U+0100 (one table) and runs of the others, in turn. A single set reaching
# past U+00FF matches as fast, but compiling it takes ~3 ms.
PLAIN_CHARACTER = r'[^"\\\x00-\x1f\x7f]'
_NARROW_PLAIN = r"[ !#-\[\]-~\x80-\xff]"
_WIDE = r"[^\x00-\xff]"


def plain_run(between: str = "") -> str:
    """A regular expression for any run of plain characters (`PLAIN_CHARACTER*`) and,
    when given, of the tokens `between` matches (each starting with a character that is
    not plain, such as an escape's backslash): unrolled, so its repeats may be possessive."""
    wide = f"{_WIDE}{_WIDE}*+"  # not `++`: `backtracking` makes `*+` ordinary for 3.11.2
    others = f"{wide}|{between}" if between else wide
    return f"{_NARROW_PLAIN}*+(?:(?:{others}){_NARROW_PLAIN}*+)*+"


def type_name(value: Any) -> str:
    """`a string`, `an integer`, ...: what a TOML value is, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f\ud800-\udfff]')
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def quote(text: str) -> str:
    """A TOML basic string, the form of every string in the lockfile: quotes, backslashes
    and control characters escaped, the rest kept."""
    if not _NEEDS_ESCAPE.search(text):
        return f'"{text}"'
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"lone surrogate U+{code:04X} cannot be written to the lockfile")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class Field(NamedTuple):
    """One key of a lockfile table. (A named tuple: made at import more cheaply than a
    frozen dataclass, on plan's path.)"""

    key: str  # the TOML key
    attr: str  # the Entry / Submission attribute it fills
    form: Form
    required: bool = False
    # What a value of the right form must also be (None: anything of the form), and the
    # problem to say when it is not (the value is given).
    valid: Callable[[Any], bool] | None = None
    wrong: Callable[[Any], str] | None = None
    # Values `valid` (and `required`) accept, as a regular expression over the value as
    # written (inside the quotes of a string, no escape): lets `lockfile_quick` check a
    # block without reading it. None: none given (a block holding the key is read).
    pattern: str | None = None

    def problem(self, value: Any) -> str | None:
        """What is wrong with a value present under this key (None: it is fine)."""
        python_type = _PYTHON_TYPE[self.form]
        right_form = type(value) is python_type  # bool is not an int here
        if right_form and (self.valid is None or self.valid(value)):
            return None
        if self.wrong is not None:
            return self.wrong(value)
        return f"`{self.key}` must be {_FORM_WORDS[self.form]}, not {type_name(value)}"


_FORM_WORDS = {"string": "a string", "integer": "an integer", "boolean": "true or false"}


def _entry_text(key: str, *, required: bool = False) -> Field:
    def wrong(value: Any) -> str:
        what = type_name(value) if not isinstance(value, str) else "empty"
        return f"`{key}` must be a non-empty string, not {what}"

    attr = "".join(f"_{char.lower()}" if char.isupper() else char for char in key)
    non_empty = f"(?={PLAIN_CHARACTER}){plain_run()}" if required else None
    return Field(key, attr, "string", required, (bool if required else None), wrong, non_empty)


def _unknown_state(value: Any) -> str:
    if not isinstance(value, str):
        return f"`state` must be a non-empty string, not {type_name(value)}"
    return f"unknown state {quote(value)} (expected one of {', '.join(STATES)})"


def _wrong_size(value: Any) -> str:
    shown = str(value) if type(value) is int else type_name(value)
    return f"`bytes` must be a whole number of bytes (0 or more), not {shown}"


# An item block's keys, in the order they are written (`history`, an array of
# HISTORY_FIELDS records, comes last and is not a field of this table).
ENTRY_FIELDS: tuple[Field, ...] = (
    _entry_text("fingerprint", required=True),
    _entry_text("projectId"),
    _entry_text("taskId"),
    _entry_text("submittedAt"),
    Field(
        "state",
        "state",
        "string",
        valid=STATES.__contains__,
        wrong=_unknown_state,
        pattern="|".join(STATES),
    ),
    _entry_text("attemptedAt"),
    Field(
        "sha256",
        "sha256",
        "string",
        valid=lambda value: SHA256_FORM.match(value) is not None,
        wrong=lambda value: "`sha256` must be 64 lower-case hex digits (a SHA-256)",
        pattern=SHA256_FORM.pattern.removesuffix(r"\Z"),
    ),
    Field(
        "bytes",
        "size",
        "integer",
        valid=lambda value: value >= 0,
        wrong=_wrong_size,
        pattern=r"0|[1-9][0-9]{0,17}",  # no sign: never below 0
    ),
    _entry_text("language"),
    _entry_text("model"),
    Field(
        "isExport",
        "is_export",
        "boolean",
        wrong=lambda value: f"`isExport` must be true or false, not {type_name(value)}",
    ),
    _entry_text("resolution"),
    _entry_text("text"),
)
HISTORY_KEY = "history"
ENTRY_KEYS: tuple[str, ...] = (*(f.key for f in ENTRY_FIELDS), HISTORY_KEY)


def _attempt_state(value: Any) -> bool:
    return value in STATES


# A record of `history`, keys in the order they are written. projectId and taskId go
# together; a record without them is a request of unknown outcome (state `uncertain`).
HISTORY_FIELDS: tuple[Field, ...] = (
    Field("projectId", "project_id", "string"),
    Field("taskId", "task_id", "string"),
    Field("submittedAt", "submitted_at", "string"),
    Field("fingerprint", "fingerprint", "string"),
    Field("state", "state", "string", valid=_attempt_state, wrong=_unknown_state),
    Field("attemptedAt", "attempted_at", "string"),
)
HISTORY_KEYS: tuple[str, ...] = tuple(f.key for f in HISTORY_FIELDS)

_ENTRY_AND_HISTORY_KEYS = frozenset(ENTRY_KEYS)
_ENTRY_TYPES = tuple((f.key, _PYTHON_TYPE[f.form]) for f in ENTRY_FIELDS)

# A row: an entry's values in the order written, `(id, *ENTRY_FIELDS, history)`, absent
# ones None (history: ()). `entry_from_row` puts them in the Entry by attribute name.
ROW_ATTRS: tuple[str, ...] = ("id", *(f.attr for f in ENTRY_FIELDS), HISTORY_KEY)
assert sorted(ROW_ATTRS) == sorted(Entry._fields), "ENTRY_FIELDS and Entry disagree"
_TO_ENTRY_ORDER = operator.itemgetter(*(ROW_ATTRS.index(name) for name in Entry._fields))
_ROW_CHECKS = tuple(
    (index, f.valid, f.required)
    for index, f in enumerate(ENTRY_FIELDS, start=1)
    if f.valid is not None or f.required
)
_PROJECT, _TASK, _STATE = (ROW_ATTRS.index(a) for a in ("project_id", "task_id", "state"))


def entry_from_row(row: Sequence[Any]) -> Entry:
    """The Entry of a row whose values are known good: the one constructor of readers."""
    return tuple.__new__(Entry, _TO_ENTRY_ORDER(row))


def row_is_well_formed(row: Sequence[Any]) -> bool:
    """Would the thorough check accept this row (every value already of its field's form)
    without a word? Each field's own check, then the rules between fields (as
    `entry_rule_problems` words them)."""
    for index, valid, required in _ROW_CHECKS:
        value = row[index]
        if value is None:
            if required:
                return False
        elif valid is not None and not valid(value):
            return False
    return not entry_rule_problems(
        row[_PROJECT] is not None, row[_TASK] is not None, row[_STATE] is not None
    )


_NOTHING_WRONG: list[str] = []


def entry_rule_problems(has_project: bool, has_task: bool, has_state: bool) -> list[str]:
    """What is wrong between an entry's fields (each field itself is checked alone)."""
    if has_project == has_task and (has_project or has_state):
        return _NOTHING_WRONG  # the usual entry, answered without building a list
    problems = []
    if has_project != has_task:
        problems.append("`projectId` and `taskId` go together")
    if not (has_project or has_task or has_state):
        # specsync writes an entry only with ids or a state: this one says nothing.
        problems.append("has neither a `projectId` nor a `state`")
    return problems


def record_rule_problems(record: Mapping[str, Any]) -> list[str]:
    """What is wrong between a history record's fields: an accepted export has both ids,
    a request of unknown outcome (`uncertain`) neither."""
    has_project, has_task = "projectId" in record, "taskId" in record
    uncertain = record.get("state") == RenderState.UNCERTAIN
    if has_project and has_task:
        return ["an export with ids is not `uncertain`"] if uncertain else []
    if uncertain and not has_project and not has_task:
        return []
    return [f"missing `{key}`" for key in ("projectId", "taskId") if key not in record]


def table_row(item_id: str, table: Mapping[str, Any], history: tuple[Submission, ...]) -> list[Any]:
    """The row of an item's table (by key; absent: None)."""
    get = table.get
    return [item_id, *(get(key) for key, _ in _ENTRY_TYPES), history]


def well_formed_entry(item_id: str, table: Any) -> Entry | None:
    """The entry of a table that the thorough check would accept without a word, checked
    quickly; None for anything else (the thorough check then reads and words it).
    `plan` reads every entry of the lockfile: this is most of that time."""
    if type(table) is not dict or not _ENTRY_AND_HISTORY_KEYS.issuperset(table):
        return None
    get = table.get
    history: tuple[Submission, ...] = ()
    records = get(HISTORY_KEY)
    if records is not None:
        if type(records) is not list:
            return None
        subs = [well_formed_record(record) for record in records]
        history = tuple(sub for sub in subs if sub is not None)
        if len(history) != len(subs):
            return None
    for key, python_type in _ENTRY_TYPES:
        value = get(key)
        if value is not None and type(value) is not python_type:
            return None
    row = table_row(item_id, table, history)
    return entry_from_row(row) if row_is_well_formed(row) else None


_RECORD_CHECKS = tuple((f.key, f.attr, f.valid) for f in HISTORY_FIELDS)
_HISTORY_KEY_SET = frozenset(HISTORY_KEYS)


def well_formed_record(record: Any) -> Submission | None:
    """The Submission of a history record that the thorough check accepts; else None."""
    if type(record) is not dict or not _HISTORY_KEY_SET.issuperset(record):
        return None
    values: dict[str, Any] = {}
    for key, attr, valid in _RECORD_CHECKS:
        value = record.get(key)
        if value is not None and (type(value) is not str or (valid and not valid(value))):
            return None
        values[attr] = value
    if record_rule_problems(record):
        return None
    return new_submission(values)


def new_submission(values: Mapping[str, Any]) -> Submission:
    """A Submission from checked values by attribute (the four strings default to "")."""
    return Submission(
        project_id=values.get("project_id") or "",
        task_id=values.get("task_id") or "",
        submitted_at=values.get("submitted_at") or "",
        fingerprint=values.get("fingerprint") or "",
        state=values.get("state"),
        attempted_at=values.get("attempted_at"),
    )


def entry_values(entry: Entry) -> list[tuple[str, Any]]:
    """(key, value) of an entry's fields in the order written, those it knows only."""
    return [
        (field.key, value)
        for field in ENTRY_FIELDS
        if (value := getattr(entry, field.attr)) is not None
    ]


def record_values(record: Submission) -> list[tuple[str, str]]:
    """(key, value) of a history record in the order written: the ids and the time only
    when known (an uncertain attempt has none), the state and attempt time when set."""
    pairs = []
    for field in HISTORY_FIELDS:
        value = getattr(record, field.attr)
        if value is None or (not value and field.key in ("projectId", "taskId")):
            continue
        if not value and field.key == "submittedAt" and not record.has_ids:
            continue
        pairs.append((field.key, value))
    return pairs
