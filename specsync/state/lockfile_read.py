"""Reading the lockfile: strict, with every problem located at `path:line:col`, all at once.

Lockfiles as specsync writes them take `lockfile_quick`; anything else is read by tomllib.
Then every key and value is checked as the field tables of `lockfile_fields` say.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from specsync.model import (
    FINGERPRINT_SCHEME,
    FINGERPRINT_SCHEMES_READ,
    InputError,
    Location,
    Problem,
)
from specsync.project_names import is_rehearsal_lockfile
from specsync.state.lockfile_data import (
    Entry,
    Lockfile,
    Submission,
    empty,
    is_host_name,
)
from specsync.state.lockfile_fields import (
    ENTRY_FIELDS,
    ENTRY_KEYS,
    HISTORY_FIELDS,
    HISTORY_KEY,
    HISTORY_KEYS,
    entry_from_row,
    entry_rule_problems,
    new_submission,
    record_rule_problems,
    table_row,
    well_formed_entry,
)
from specsync.state.lockfile_fields import type_name as _type_name
from specsync.state.lockfile_locate import (
    Locations,
    conflict_problems,
    decode_lockfile,
    toml_problem,
    toml_reader,
)
from specsync.state.lockfile_open import lockfile_bytes
from specsync.state.lockfile_quick import read_canonical
from specsync.state.lockfile_skim import read_knowing
from specsync.state.lockfile_skim_memo import SkimMemo
from specsync.state.lockfile_write import END_LINE, LOCK_VERSION, quote

_UTF8_BOM = "\ufeff".encode()
# Keys of an item block and of the whole document.
_TOP_KEYS = ("version", "fingerprint", "emulator", "service", "items", "forgotten")


def parse_lockfile(
    text: str,
    path: str = "specsync.lock",
    known: Mapping[str, str] | None = None,
    *,
    blank_is_empty: bool = False,
    on_demand: bool = True,
) -> Lockfile:
    """Parse lockfile text (already decoded); raise InputError listing every problem.

    `known` (plan's item id -> fingerprint): entries that match are taken the quick way
    (`lockfile_skim.skim_known`), the same Entry values, some made only when asked for
    (`EntriesOnDemand`; all at once unless `on_demand`); the rest is read as always.
    A blank text (0 bytes, or only blank lines) is refused unless `blank_is_empty` (the
    merge driver's %O, which git leaves empty when two sides have no common ancestor).
    """
    text = text.removeprefix("\ufeff")
    if not text or text.isspace():
        if blank_is_empty:
            return empty()
        raise InputError(_blank_problem(path, text))
    if known:
        # A lone surrogate (no file decodes to one) is not UTF-8: the skim declines it.
        lock = read_knowing(
            text.encode("utf-8", "surrogatepass"), known, on_demand, _parse_rest(path)
        )
        if lock is not None:
            return lock
    return _parse(text, path, _load_document(text, path), Locations(path, text))


def _parse_rest(path: str) -> Callable[[str], Lockfile]:  # what the skim left, for read_knowing
    return lambda rest: _parse(rest, path, _load_document(rest, path), Locations(path, rest))


def _restore_advice(path: str) -> str:
    """How to get a damaged lockfile back: git keeps the real record, not a rehearsal's."""
    if is_rehearsal_lockfile(path):
        return (
            f"It is the record of `--emulator` rehearsals, which git does not keep: delete it "
            f"(`rm {path}`) and rehearse again"
        )
    return f"Restore it from git (`git checkout -- {path}`) or a backup"


def _blank_problem(path: str, text: str) -> Problem:
    """An empty lockfile is not "no lockfile": a failed copy, a bad checkout or a full disk
    leaves one, and read as none it would make apply export (and bill) every item again."""
    what = "is empty (0 bytes)" if not text else "holds only blank lines"
    start_over = f"; to start over on purpose (no export recorded), delete it (`rm {path}`)"
    return Problem(
        Location(path, 1, 1),
        f"the lockfile {what}, so what was exported is unknown; specsync will not read it "
        f"as 'nothing exported yet'. {_restore_advice(path)}"
        + ("" if is_rehearsal_lockfile(path) else start_over),
    )


def _parse(text: str, path: str, data: dict[str, Any], locate: Locations) -> Lockfile:
    problems: list[Problem] = []

    for key in data:
        if key not in _TOP_KEYS:
            problems.append(Problem(locate.key(key), f"unknown key `{key}`"))
    _check_version(data, locate, problems)
    _check_complete(data, text, path)
    _check_fingerprint_scheme(data, locate, problems)
    emulator = _parse_emulator(data, locate, problems)
    service = _parse_service(data, locate, problems)
    entries = _parse_items(data, locate, problems)
    forgotten = _parse_forgotten(data, locate, problems)

    if problems:
        raise InputError(problems)
    return Lockfile(
        entries,
        emulator=emulator,
        fingerprint_scheme=FINGERPRINT_SCHEME,
        forgotten=forgotten,
        service=service,
    )


def _load_document(text: str, path: str) -> dict[str, Any]:
    """The TOML document as a dict; git conflict markers and invalid TOML raise InputError."""
    conflicts = conflict_problems(path, text)
    if conflicts:
        raise InputError(conflicts)
    # Lockfiles as specsync writes them take the fast path; anything else, tomllib.
    data = read_canonical(text)
    if data is None:
        tomllib = toml_reader()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(toml_problem(path, text, error)) from None
        except RecursionError:
            # tomllib recurses once per nested array or inline table.
            raise InputError(_too_deep(path, text)) from None
    return data


def _too_deep(path: str, text: str) -> Problem:
    """Where arrays or inline tables nest deeper than any lockfile does (roughly: brackets
    inside strings count too, which only moves the reported column of a broken file)."""
    depth, line, column = 0, 1, 0
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        elif char in "[{":
            depth += 1
            if depth > 100:
                break
        elif char in "]}":
            depth -= 1
    return Problem(
        Location(path, line, max(column, 1)),
        "arrays or tables nested too deep: this is not a lockfile specsync wrote; "
        "restore it from git",
    )


def _check_version(data: dict[str, Any], locate: Locations, problems: list[Problem]) -> None:
    """`version` must be one this specsync reads; a newer one raises at once (upgrade)."""
    version = data.get("version")
    if "version" not in data:
        problems.append(Problem(Location(locate.path), "missing `version`"))
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


def _check_complete(data: dict[str, Any], text: str, path: str) -> None:
    """From version 2 on, the last line must be END_LINE: a file cut short (a full disk, a
    careless copy) would otherwise read as a valid, smaller lockfile, and every item it
    lost would be exported again. Version 1 files (older specsync) have no such line."""
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 2:
        return
    end = len(text)
    while end and text[end - 1] in "\r\n":
        end -= 1
    start = text.rfind("\n", 0, end) + 1
    if text[start:end].rstrip("\r") == END_LINE:
        return
    line = text.count("\n", 0, start) + 1
    raise InputError(
        Problem(
            Location(path, line, 1),
            f"the lockfile ends here, without its last line `{END_LINE}`: it was cut short "
            f"(truncated), and the entries after this point are missing. {_restore_advice(path)}; "
            "specsync will not guess what is missing",
        )
    )


def _check_fingerprint_scheme(
    data: dict[str, Any], locate: Locations, problems: list[Problem]
) -> None:
    """The top-level `fingerprint` must name the scheme this specsync computes."""
    scheme = data.get("fingerprint")
    if "fingerprint" not in data:
        problems.append(
            Problem(Location(locate.path), "missing `fingerprint` (the fingerprint scheme)")
        )
    elif not isinstance(scheme, str):
        problems.append(
            Problem(
                locate.key("fingerprint"),
                f"`fingerprint` must be a string, not {_type_name(scheme)}",
            )
        )
    elif scheme not in FINGERPRINT_SCHEMES_READ:
        problems.append(
            Problem(
                locate.key("fingerprint"),
                f"unknown fingerprint scheme {quote(scheme)} (this specsync knows "
                f"{quote(FINGERPRINT_SCHEME)}): upgrade specsync",
            )
        )


def _parse_emulator(data: dict[str, Any], locate: Locations, problems: list[Problem]) -> bool:
    emulator = data.get("emulator", False)
    if not isinstance(emulator, bool):
        problems.append(
            Problem(
                locate.key("emulator"),
                f"`emulator` must be true or false, not {_type_name(emulator)}",
            )
        )
        emulator = False
    return emulator


def _parse_service(data: dict[str, Any], locate: Locations, problems: list[Problem]) -> str:
    """The host the lockfile was applied against; "" when absent (an older lockfile)."""
    service = data.get("service", "")
    if not isinstance(service, str) or (service and not is_host_name(service)):
        # The value is not echoed: a pasted URL may hold a user name and password.
        what = _type_name(service) if not isinstance(service, str) else "other text"
        problems.append(
            Problem(
                locate.key("service"),
                '`service` must be a host name such as "app.aistudios.com" (lower case; '
                f"no scheme, user, port or path), not {what}",
            )
        )
        return ""
    return service


def _parse_items(
    data: dict[str, Any], locate: Locations, problems: list[Problem]
) -> dict[str, Entry]:
    """The entries of `items`; a broken entry's problems are located at its header."""
    entries: dict[str, Entry] = {}
    items = data.get("items", {})
    if not isinstance(items, dict):
        problems.append(Problem(locate.key("items"), "`items` must be a table of items"))
        items = {}
    unlocated = Location(locate.path)
    for item_id, table in items.items():
        entry = well_formed_entry(item_id, table)
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
    return entries


def _parse_forgotten(
    data: dict[str, Any], locate: Locations, problems: list[Problem]
) -> dict[str, tuple[Submission, ...]]:
    """The ids of forgotten entries, by item id."""
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
    return forgotten


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


def _parse_entry(
    item_id: str, table: Any, where: Location, problems: list[Problem]
) -> Entry | None:
    """The entry an item's table holds; None when it has problems (added to `problems`).
    Every field is checked as ENTRY_FIELDS says, then the rules between them."""
    label = f"item {quote(item_id)}"
    count = len(problems)
    if not _is_table(table, ENTRY_KEYS, label, where, problems):
        return None
    for field in ENTRY_FIELDS:
        value = table.get(field.key)
        if value is None:
            if field.required:
                problems.append(Problem(where, f"{label}: missing `{field.key}`"))
            continue
        wrong = field.problem(value)
        if wrong is not None:
            problems.append(Problem(where, f"{label}: {wrong}"))
    rules = entry_rule_problems("projectId" in table, "taskId" in table, "state" in table)
    problems.extend(Problem(where, f"{label}: {rule}") for rule in rules)
    history = _parse_history(table, label, where, problems)
    if len(problems) > count:
        return None
    return entry_from_row(table_row(item_id, table, history))


def _parse_history(
    table: dict[str, Any], label: str, where: Location, problems: list[Problem]
) -> tuple[Submission, ...]:
    """An entry's earlier exports; the records with problems are left out."""
    history: list[Submission] = []
    raw_history = table.get(HISTORY_KEY, [])
    if not isinstance(raw_history, list):
        problems.append(
            Problem(where, f"{label}: `history` must be an array, not {_type_name(raw_history)}")
        )
        raw_history = []
    for index, record in enumerate(raw_history, start=1):
        sub = _parse_submission(record, f"{label}: history entry {index}", where, problems)
        if sub is not None:
            history.append(sub)
    return tuple(history)


def _parse_submission(
    record: Any, label: str, where: Location, problems: list[Problem]
) -> Submission | None:
    """A history record, checked as HISTORY_FIELDS says; None when it has problems."""
    count = len(problems)
    if not _is_table(record, HISTORY_KEYS, label, where, problems):
        return None
    values: dict[str, Any] = {}
    for field in HISTORY_FIELDS:
        if field.key not in record:
            continue
        wrong = field.problem(record[field.key])
        if wrong is not None:
            problems.append(Problem(where, f"{label}: {wrong}"))
        values[field.attr] = record[field.key]
    problems.extend(Problem(where, f"{label}: {rule}") for rule in record_rule_problems(record))
    if len(problems) > count:
        return None
    return new_submission(values)


def read_lockfile(
    path: Path,
    known: Mapping[str, str] | None = None,
    *,
    blank_is_empty: bool = False,
    on_demand: bool = True,
    memo: SkimMemo | None = None,
) -> Lockfile:
    """Read and check a lockfile; a missing file is an empty lockfile, a blank one is
    refused (unless `blank_is_empty`: see `parse_lockfile`).

    The lockfile is a regular file or absent (`lockfile_open.lockfile_bytes`).

    Raises InputError with every problem located at `path:line:col` (per-item problems at
    the item's `[items."id"]` header line). `memo` (with `known`): where plan remembers
    what it skimmed (`lockfile_skim.skim_known`).
    """
    name = str(path)
    data = lockfile_bytes(path)
    if data is None:
        return empty()
    return _parse_bytes(data, name, known, blank_is_empty, on_demand, memo)


def _parse_bytes(
    data: bytes,
    name: str,
    known: Mapping[str, str] | None,
    blank_is_empty: bool,
    on_demand: bool,
    memo: SkimMemo | None,
) -> Lockfile:
    """`parse_lockfile` of the file's bytes: plan's skims them (decoding took longer),
    without the byte order marks decode_lockfile and parse_lockfile each take off."""
    if known:
        unmarked = data.removeprefix(_UTF8_BOM).removeprefix(_UTF8_BOM)
        lock = read_knowing(unmarked, known, on_demand, _parse_rest(name), memo)
        if lock is not None:
            return lock
    text = decode_lockfile(name, data)
    return parse_lockfile(text, name, blank_is_empty=blank_is_empty)
