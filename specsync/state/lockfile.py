"""The lockfile, `specsync.lock`: what specsync has exported, one small TOML block per item.

Reading is strict (every problem located at `path:line:col`, all at once); writing is
deterministic (same lockfile -> same bytes, items sorted by id in code-point order, keys in a
fixed order) and atomic (temp file in the same folder, fsync, rename, fsync the folder).
Because every item is an independent block and the output is deterministic, an entry that is
not touched comes out byte-identical, and two branches adding different items merge cleanly
in git. `merge` and `merge_text_files` implement `specsync merge-driver` (entry by entry).

The format is described for people in docs/lockfile.md.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from specsync.model import FINGERPRINT_SCHEME, InputError, Location, Problem
from specsync.state.lockdata import Entry, Lockfile, Submission, empty
from specsync.state.lockfile_fast import ENTRY_KEYS, read_canonical

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

LOCK_VERSION = 1

STATES = ("done", "failed", "uncertain")

HEADER = (
    "# specsync.lock: what specsync has exported. Written by specsync; commit it, do not edit it.\n"
    "# Docs: docs/lockfile.md\n"
)

CONFLICT_HINT = "unresolved git merge conflict; run `specsync merge-driver` or resolve by hand"

# Keys of an item block, in the order they are written.
_ENTRY_KEYS = ENTRY_KEYS
HISTORY_KEYS = ("projectId", "taskId", "submittedAt", "fingerprint")
_TOP_KEYS = ("version", "fingerprint", "emulator", "items", "forgotten")


# updates ---------------------------------------------------------------------------------


def _with_entry(lock: Lockfile, entry: Entry) -> Lockfile:
    return replace(lock, entries={**lock.entries, entry.id: entry})


def add_history(history: Iterable[Submission], extra: Iterable[Submission]) -> tuple:
    """History plus the extra submissions whose ids it does not hold yet, order kept."""
    result = list(history)
    seen = {(s.project_id, s.task_id) for s in result}
    for sub in extra:
        if (sub.project_id, sub.task_id) not in seen:
            seen.add((sub.project_id, sub.task_id))
            result.append(sub)
    return tuple(result)


def submitted_entry(
    old: Entry | None,
    id: str,
    fingerprint: str,
    project_id: str,
    task_id: str,
    submitted_at: str,
) -> Entry:
    """The entry after an accepted export (see `with_submission`); `old` may be None."""
    history: tuple[Submission, ...] = ()
    state = None
    if old is not None:
        history = old.history
        previous = old.submission()
        if previous is not None and (previous.project_id, previous.task_id) != (
            project_id,
            task_id,
        ):
            history = add_history(history, [previous])
        elif previous is not None and old.state in ("done", "failed"):
            state = old.state
    return Entry(
        id=id,
        fingerprint=fingerprint,
        project_id=project_id,
        task_id=task_id,
        submitted_at=submitted_at,
        state=state,
        history=history,
    )


def uncertain_entry(old: Entry | None, id: str, fingerprint: str, attempted_at: str) -> Entry:
    """The entry after a request of unknown outcome (see `with_uncertain`)."""
    if old is None:
        return Entry(id=id, fingerprint=fingerprint, state="uncertain", attempted_at=attempted_at)
    previous = old.submission()
    history = old.history
    if previous is not None and old.state != "uncertain":
        history = add_history(history, [previous])
    return old._replace(
        fingerprint=fingerprint,
        state="uncertain",
        attempted_at=attempted_at,
        history=history,
    )


def with_submission(
    lock: Lockfile,
    id: str,
    fingerprint: str,
    project_id: str,
    task_id: str,
    submitted_at: str,
) -> Lockfile:
    """Record an accepted export. Ids it replaces move to the entry's history.

    The state is cleared (a new render starts), except when the very same ids are recorded
    again (folding a journal twice), so that a known "done"/"failed" is not forgotten.
    """
    old = lock.entries.get(id)
    entry = submitted_entry(old, id, fingerprint, project_id, task_id, submitted_at)
    return _with_entry(lock, entry)


def with_uncertain(lock: Lockfile, id: str, fingerprint: str, attempted_at: str) -> Lockfile:
    """Record a request whose outcome is unknown. Existing ids are kept on the entry.

    Because `fingerprint` now names the attempt, the current export (if any) is also listed
    in history with its own fingerprint: the attempt may have replaced it.
    """
    return _with_entry(lock, uncertain_entry(lock.entries.get(id), id, fingerprint, attempted_at))


def with_entries(lock: Lockfile, entries: Iterable[Entry]) -> Lockfile:
    """The lockfile with these entries added or replaced (one copy, however many)."""
    return replace(lock, entries={**lock.entries, **{entry.id: entry for entry in entries}})


def with_state(lock: Lockfile, id: str, state: str | None) -> Lockfile:
    """Set an entry's render state ("done", "failed", "uncertain", or None to clear it)."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown state {state!r}; expected one of {', '.join(STATES)}")
    old = lock.entries[id]
    if old.state == state:
        return lock
    return _with_entry(lock, old._replace(state=state))


def without(lock: Lockfile, ids: Iterable[str]) -> Lockfile:
    """The lockfile without the given entries (ids not present are ignored).

    Their ids move to `forgotten`, so that no id the service handed out is ever lost.
    """
    drop = set(ids) & set(lock.entries)
    forgotten = dict(lock.forgotten)
    for key in drop:
        entry = lock.entries[key]
        current = [sub for sub in (entry.submission(),) if sub is not None]
        kept = add_history(forgotten.get(key, ()), [*entry.history, *current])
        if kept:
            forgotten[key] = kept
    return replace(
        lock,
        entries={k: v for k, v in lock.entries.items() if k not in drop},
        forgotten=forgotten,
    )


# writing ---------------------------------------------------------------------------------


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f\ud800-\udfff]')


def quote(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest kept."""
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


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _comment(text: str) -> str:
    """One comment line; line breaks and other control characters become spaces."""
    clean = "".join(" " if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in text)
    return f"# {clean}".rstrip()


def _dump_entry(entry: Entry) -> str:
    lines = [f"[items.{quote(entry.id)}]", f"fingerprint = {quote(entry.fingerprint)}"]
    optional = (
        ("projectId", entry.project_id),
        ("taskId", entry.task_id),
        ("submittedAt", entry.submitted_at),
        ("state", entry.state),
        ("attemptedAt", entry.attempted_at),
    )
    lines.extend(f"{key} = {quote(value)}" for key, value in optional if value is not None)
    if entry.language is not None:
        lines.append(f"language = {quote(entry.language)}")
    if entry.model is not None:
        lines.append(f"model = {quote(entry.model)}")
    if entry.is_export is not None:
        lines.append(f"isExport = {'true' if entry.is_export else 'false'}")
    if entry.text is not None:
        lines.append(f"text = {quote(entry.text)}")
    lines.extend(_dump_history(entry.history))
    return "\n".join(lines) + "\n"


def _dump_history(history: Sequence[Submission]) -> list[str]:
    if not history:
        return []
    lines = ["history = ["]
    for sub in history:
        values = (sub.project_id, sub.task_id, sub.submitted_at, sub.fingerprint)
        pairs = ", ".join(
            f"{key} = {quote(value)}" for key, value in zip(HISTORY_KEYS, values, strict=True)
        )
        lines.append(f"  {{ {pairs} }},")
    lines.append("]")
    return lines


def dumps(lock: Lockfile, comments: Mapping[str, Sequence[str]] | None = None) -> str:
    """The lockfile's text; same lockfile -> same text. `comments` go above an item's block."""
    parts = [
        HEADER
        + f"version = {LOCK_VERSION}\n"
        + f"fingerprint = {quote(lock.fingerprint_scheme)}\n"
        + f"emulator = {'true' if lock.emulator else 'false'}\n"
    ]
    for key in sorted(lock.entries):
        notes = "".join(_comment(note) + "\n" for note in (comments or {}).get(key, ()))
        parts.append(notes + _dump_entry(lock.entries[key]))
    for key in sorted(lock.forgotten):
        block = [f"[forgotten.{quote(key)}]", *_dump_history(lock.forgotten[key])]
        parts.append("\n".join(block) + "\n")
    return "\n".join(parts)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, default_mode: int = 0o644) -> bool:
    """Replace `path` with `data` atomically; False (nothing written) when already identical.

    A temp file in the same folder is written, flushed and fsynced, then renamed over the
    target, and the folder is fsynced so the rename survives a power cut. The existing file's
    permission bits are kept. A symlink is followed: its target is replaced, not the link.
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        current: bytes | None = target.read_bytes()
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        current, mode = None, default_mode
    if current == data:
        return False
    directory = target.parent
    import tempfile  # only writers need it

    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_dir(directory)
    return True


def write_lockfile(path: Path, lock: Lockfile) -> bool:
    """Write the lockfile atomically; False when the file already holds exactly these bytes."""
    return write_bytes_atomic(Path(path), dumps(lock).encode("utf-8"))


# reading ---------------------------------------------------------------------------------

_ITEM_HEADER = re.compile(r"^\s*\[\s*items\s*\.")
_SIMPLE_HEADER = re.compile(r'^\[items\."([^"\\\x00-\x1f\x7f]*)"\]$')
_TOP_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
_MARKERS = ("<<<<<<<", "|||||||", "=======", ">>>>>>>")
_MARKER_LINE = re.compile(r"^(?:<{7}|\|{7}|={7}|>{7})(?:[ \t\r]|$)", re.MULTILINE)
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def split_lines(text: str) -> list[str]:
    """Lines as TOML counts them (only \\n ends a line; str.splitlines also splits on U+2028)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _type_name(value: Any) -> str:
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


class Locations:
    """Where things are in the lockfile text: item headers and top-level keys, by line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._items: dict[str, int] | None = None
        self._keys: dict[str, int] = {}

    def _scan(self) -> dict[str, int]:
        # Only a lockfile with problems needs locations: scan on first use.
        if self._items is not None:
            return self._items
        self._items = {}
        in_table = False
        for number, line in enumerate(split_lines(self.text), start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                in_table = True
                if _ITEM_HEADER.match(line) and not stripped.startswith("[["):
                    item = self._item_id(stripped)
                    if item is not None:
                        self._items.setdefault(item, number)
            elif not in_table:
                match = _TOP_KEY.match(line)
                if match:
                    self._keys.setdefault(match.group(1), number)
        return self._items

    @staticmethod
    def _item_id(header: str) -> str | None:
        simple = _SIMPLE_HEADER.match(header)
        if simple:  # the way specsync writes it, with nothing to unescape
            return simple.group(1)
        try:
            parsed = tomllib.loads(header)
        except tomllib.TOMLDecodeError:
            return None
        items = parsed.get("items")
        if isinstance(items, dict) and len(items) == 1:
            ((key, value),) = items.items()
            if value == {}:
                return key
        return None

    def item(self, item_id: str) -> Location:
        items = self._scan()
        return Location(self.path, items.get(item_id, 0), 1 if item_id in items else 0)

    def key(self, key: str) -> Location:
        self._scan()
        line = self._keys.get(key, 0)
        return Location(self.path, line, 1 if line else 0)


def conflict_problems(path: str, text: str) -> list[Problem]:
    # Substring tests first (much faster than a MULTILINE search over megabytes), then
    # one pass in C; the line scan below names the lines.
    if not any(marker in text for marker in _MARKERS) or not _MARKER_LINE.search(text):
        return []
    problems = []
    markers = []
    for number, line in enumerate(split_lines(text), start=1):
        for marker in _MARKERS:
            if line.startswith(marker) and (len(line) == 7 or line[7] in " \t\r"):
                markers.append((number, marker))
    starts = [number for number, marker in markers if marker == "<<<<<<<"]
    for number in starts or [number for number, _ in markers[:1]]:
        problems.append(Problem(Location(path, number, 1), CONFLICT_HINT))
    return problems


def decode_lockfile(path: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise InputError(
            Problem(
                Location(path, line, column),
                f"lockfile is not UTF-8 (byte 0x{data[error.start]:02x}); "
                "restore it from git or delete it",
            )
        ) from None
    return text.removeprefix("\ufeff")


def toml_problem(path: str, text: str, error: Exception) -> Problem:
    message = str(error)
    line = getattr(error, "lineno", None)
    column = getattr(error, "colno", None)
    match = _TOML_POSITION.search(message)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
    elif _TOML_AT_END.search(message):
        message = _TOML_AT_END.sub("", message)
        lines = split_lines(text) or [""]
        line, column = len(lines), len(lines[-1]) + 1
    return Problem(Location(path, line or 0, column or 0), f"invalid TOML: {message}")


def parse_lockfile(text: str, path: str = "specsync.lock") -> Lockfile:
    """Parse lockfile text (already decoded); raise InputError listing every problem."""
    text = text.removeprefix("\ufeff")
    conflicts = conflict_problems(path, text)
    if conflicts:
        raise InputError(conflicts)
    # Lockfiles as specsync writes them take the fast path; anything else, tomllib.
    data = read_canonical(text)
    if data is None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(toml_problem(path, text, error)) from None
    if not data:
        return empty()
    locate = Locations(path, text)
    problems: list[Problem] = []
    whole = Location(path)

    for key in data:
        if key not in _TOP_KEYS:
            problems.append(Problem(locate.key(key), f"unknown key `{key}`"))

    version = data.get("version")
    if "version" not in data:
        problems.append(Problem(whole, "missing `version`"))
    elif not isinstance(version, int) or isinstance(version, bool):
        problems.append(
            Problem(
                locate.key("version"), f"`version` must be an integer, not {_type_name(version)}"
            )
        )
    elif version > LOCK_VERSION:
        raise InputError(
            Problem(
                locate.key("version"),
                f"lockfile version {version} was written by a newer specsync: upgrade "
                f"(this one reads version {LOCK_VERSION})",
            )
        )
    elif version < 1:
        problems.append(Problem(locate.key("version"), f"unsupported lockfile version {version}"))

    scheme = data.get("fingerprint")
    if "fingerprint" not in data:
        problems.append(Problem(whole, "missing `fingerprint` (the fingerprint scheme)"))
    elif not isinstance(scheme, str):
        problems.append(
            Problem(
                locate.key("fingerprint"),
                f"`fingerprint` must be a string, not {_type_name(scheme)}",
            )
        )
    elif scheme != FINGERPRINT_SCHEME:
        problems.append(
            Problem(
                locate.key("fingerprint"),
                f"unknown fingerprint scheme {quote(scheme)} (this specsync knows "
                f"{quote(FINGERPRINT_SCHEME)}): upgrade specsync",
            )
        )

    emulator = data.get("emulator", False)
    if not isinstance(emulator, bool):
        problems.append(
            Problem(
                locate.key("emulator"),
                f"`emulator` must be true or false, not {_type_name(emulator)}",
            )
        )
        emulator = False

    entries: dict[str, Entry] = {}
    items = data.get("items", {})
    if not isinstance(items, dict):
        problems.append(Problem(locate.key("items"), "`items` must be a table of items"))
        items = {}
    unlocated = Location(path)
    for item_id, table in items.items():
        entry = _well_formed_entry(item_id, table)
        if entry is not None:
            entries[item_id] = entry
            continue
        before = len(problems)
        entry = _parse_entry(item_id, table, unlocated, problems)
        if len(problems) > before:
            # Locating needs a scan of the text: only a broken entry pays for it.
            where = locate.item(item_id)
            problems[before:] = [replace(p, location=where) for p in problems[before:]]
        if entry is not None:
            entries[item_id] = entry

    forgotten: dict[str, tuple[Submission, ...]] = {}
    raw_forgotten = data.get("forgotten", {})
    if not isinstance(raw_forgotten, dict):
        problems.append(Problem(locate.key("forgotten"), "`forgotten` must be a table"))
        raw_forgotten = {}
    for item_id, table in raw_forgotten.items():
        where = locate.key("forgotten")
        records = table.get("history", []) if isinstance(table, dict) else None
        if not isinstance(records, list):
            problems.append(Problem(where, f"forgotten {quote(item_id)} must hold a history"))
            continue
        subs = [
            _parse_submission(r, f"forgotten {quote(item_id)}", where, problems) for r in records
        ]
        forgotten[item_id] = tuple(sub for sub in subs if sub is not None)

    if problems:
        raise InputError(problems)
    return Lockfile(
        entries, emulator=emulator, fingerprint_scheme=FINGERPRINT_SCHEME, forgotten=forgotten
    )


def _is_table(
    value: Any, allowed: Sequence[str], label: str, where: Location, problems: list[Problem]
) -> bool:
    """Is `value` a TOML table? Unknown keys in it are problems (it still counts as one)."""
    if not isinstance(value, dict):
        problems.append(Problem(where, f"{label} must be a table, not {_type_name(value)}"))
        return False
    problems.extend(
        Problem(where, f"{label}: unknown key `{key}`") for key in value if key not in allowed
    )
    return True


_ENTRY_KEY_SET = frozenset(_ENTRY_KEYS) - {"history"}
_ENTRY_STRINGS = tuple(key for key in _ENTRY_KEYS if key not in ("isExport", "history"))


def _well_formed_entry(item_id: str, table: Any) -> Entry | None:
    """The entry of a table `_parse_entry` would accept without a word, checked quickly;
    None for anything else (with history, say), which `_parse_entry` then reads and words.
    `plan` reads every entry of the lockfile: this is most of that time."""
    if type(table) is not dict or not _ENTRY_KEY_SET.issuperset(table):
        return None
    get = table.get
    for key in _ENTRY_STRINGS:
        value = get(key)
        if value is not None and type(value) is not str:
            return None
    fingerprint, state, is_export = get("fingerprint"), get("state"), get("isExport")
    if (
        not fingerprint
        or (state is not None and state not in STATES)
        or (is_export is not None and type(is_export) is not bool)
        or ("projectId" in table) != ("taskId" in table)
    ):
        return None
    return Entry(
        item_id,
        fingerprint,
        get("projectId"),
        get("taskId"),
        get("submittedAt"),
        state,
        get("attemptedAt"),
        (),
        get("language"),
        get("model"),
        is_export,
        get("text"),
    )


def _parse_entry(
    item_id: str, table: Any, where: Location, problems: list[Problem]
) -> Entry | None:
    label = f"item {quote(item_id)}"
    count = len(problems)
    if not _is_table(table, _ENTRY_KEYS, label, where, problems):
        return None

    def text(key: str, required: bool = False) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                problems.append(Problem(where, f"{label}: missing `{key}`"))
            return None
        if not isinstance(value, str) or (required and not value):
            what = _type_name(value) if not isinstance(value, str) else "empty"
            problems.append(
                Problem(where, f"{label}: `{key}` must be a non-empty string, not {what}")
            )
            return None
        return value

    fingerprint = text("fingerprint", required=True)
    project_id = text("projectId")
    task_id = text("taskId")
    submitted_at = text("submittedAt")
    state = text("state")
    attempted_at = text("attemptedAt")
    language = text("language")
    model = text("model")
    request_text = text("text")
    is_export = table.get("isExport")
    if is_export is not None and not isinstance(is_export, bool):
        problems.append(
            Problem(
                where, f"{label}: `isExport` must be true or false, not {_type_name(is_export)}"
            )
        )
        is_export = None
    if state is not None and state not in STATES:
        problems.append(
            Problem(
                where,
                f"{label}: unknown state {quote(state)} (expected one of {', '.join(STATES)})",
            )
        )
    if ("projectId" in table) != ("taskId" in table):
        problems.append(Problem(where, f"{label}: `projectId` and `taskId` go together"))

    history: list[Submission] = []
    raw_history = table.get("history", [])
    if not isinstance(raw_history, list):
        problems.append(
            Problem(where, f"{label}: `history` must be an array, not {_type_name(raw_history)}")
        )
        raw_history = []
    for index, record in enumerate(raw_history, start=1):
        sub = _parse_submission(record, f"{label}: history entry {index}", where, problems)
        if sub is not None:
            history.append(sub)

    if len(problems) > count or fingerprint is None:
        return None
    return Entry(
        id=item_id,
        fingerprint=fingerprint,
        project_id=project_id,
        task_id=task_id,
        submitted_at=submitted_at,
        state=state,
        attempted_at=attempted_at,
        history=tuple(history),
        language=language,
        model=model,
        is_export=is_export,
        text=request_text,
    )


def _parse_submission(
    record: Any, label: str, where: Location, problems: list[Problem]
) -> Submission | None:
    count = len(problems)
    if not _is_table(record, HISTORY_KEYS, label, where, problems):
        return None
    values: dict[str, str] = {}
    for key in HISTORY_KEYS:
        value = record.get(key, "")
        required = key in ("projectId", "taskId")
        if key not in record and required:
            problems.append(Problem(where, f"{label}: missing `{key}`"))
        elif not isinstance(value, str):
            problems.append(
                Problem(where, f"{label}: `{key}` must be a string, not {_type_name(value)}")
            )
        else:
            values[key] = value
    if len(problems) > count:
        return None
    return Submission(
        values["projectId"], values["taskId"], values["submittedAt"], values["fingerprint"]
    )


def read_lockfile(path: Path) -> Lockfile:
    """Read and check a lockfile; a missing file is an empty lockfile.

    Raises InputError with every problem located at `path:line:col` (per-item problems at
    the item's `[items."id"]` header line).
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return empty()
    except OSError as error:
        raise InputError(
            Problem(Location(name), f"cannot read lockfile: {error.strerror or error}")
        ) from None
    return parse_lockfile(decode_lockfile(name, data), name)


# merging ---------------------------------------------------------------------------------

_STATE_RANK = {None: 0, "done": 1, "failed": 1, "uncertain": 2}


def _merge_same_project(ours: Entry, theirs: Entry) -> Entry:
    """Both sides changed an entry that names the same export: combine them."""
    winner = ours if _STATE_RANK[ours.state] >= _STATE_RANK[theirs.state] else theirs
    other = theirs if winner is ours else ours
    history = add_history(winner.history, other.history)
    return winner._replace(history=_sorted_history(history))


def _sorted_history(history: Iterable[Submission]) -> tuple[Submission, ...]:
    """Oldest first (by `submittedAt`; the sort is stable)."""
    return tuple(sorted(history, key=lambda sub: sub.submitted_at))


def _merge_entries(
    base: Lockfile, ours: Lockfile, theirs: Lockfile
) -> tuple[dict[str, Entry], dict[str, str]]:
    merged: dict[str, Entry] = {}
    conflicts: dict[str, str] = {}
    for item_id in sorted(set(base.entries) | set(ours.entries) | set(theirs.entries)):
        b = base.entries.get(item_id)
        o = ours.entries.get(item_id)
        t = theirs.entries.get(item_id)
        if o == t or t == b:
            result = o
        elif o == b:
            result = t
        elif o is None or t is None:
            # Deleted on one side, changed on the other: keep the change (no id is lost).
            result = o if o is not None else t
        elif o.project_id == t.project_id:
            result = _merge_same_project(o, t)
        else:
            extra = [s for s in (t.submission(),) if s is not None]
            history = add_history(o.history, [*t.history, *extra])
            result = o._replace(history=_sorted_history(history))
            conflicts[item_id] = (
                f"CONFLICT: {quote(item_id)} was exported on both sides: projectId "
                f"{o.project_id or '(none)'} (ours) and {t.project_id or '(none)'} (theirs); "
                "ours is kept, theirs is in its history; check which video is right"
            )
        if result is not None:
            merged[item_id] = result
    return merged, conflicts


def _merge_forgotten(ours: Lockfile, theirs: Lockfile) -> dict[str, tuple[Submission, ...]]:
    merged = dict(ours.forgotten)
    for key, subs in theirs.forgotten.items():
        merged[key] = add_history(merged.get(key, ()), subs)
    return merged


def _merged(base: Lockfile, ours: Lockfile, theirs: Lockfile) -> tuple[Lockfile, dict[str, str]]:
    entries, conflicts = _merge_entries(base, ours, theirs)
    lock = Lockfile(
        entries,
        emulator=ours.emulator or theirs.emulator,
        fingerprint_scheme=ours.fingerprint_scheme,
        forgotten=_merge_forgotten(ours, theirs),
    )
    return lock, conflicts


def merge(base: Lockfile, ours: Lockfile, theirs: Lockfile) -> tuple[Lockfile, list[str]]:
    """Three-way merge, entry by entry. Returns the merged lockfile and conflict messages.

    An entry changed on one side only is taken from that side; deleted on one side and
    unchanged on the other, it is deleted. Changed differently on both sides but naming the
    same projectId, the histories are joined and the later state wins. Different projectIds
    are a conflict: ours is kept with theirs' ids added to its history, so no id is lost.
    """
    lock, conflicts = _merged(base, ours, theirs)
    return lock, [conflicts[key] for key in sorted(conflicts)]


def merge_text_files(base_path: Path, ours_path: Path, theirs_path: Path) -> list[str]:
    """`specsync merge-driver %O %A %B`: merge into `ours_path`, return conflict messages.

    The base may be missing or empty (no common ancestor). Conflicted blocks get a
    `# CONFLICT: ...` comment line above them so that a person sees them in the file.
    """
    base = read_lockfile(Path(base_path))
    ours = read_lockfile(Path(ours_path))
    theirs = read_lockfile(Path(theirs_path))
    lock, conflicts = _merged(base, ours, theirs)
    text = dumps(lock, {key: [message] for key, message in conflicts.items()})
    write_bytes_atomic(Path(ours_path), text.encode("utf-8"))
    return [conflicts[key] for key in sorted(conflicts)]
