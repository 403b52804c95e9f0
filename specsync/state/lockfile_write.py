"""Writing the lockfile, `specsync.lock`: what specsync has exported, one TOML block per item.

`dumps` gives the text and `write_lockfile` puts it on disk. Writing is deterministic (same
lockfile -> same bytes, items sorted by id in code-point order, keys in a fixed order) and
atomic (see `atomic`). Because every item is an independent block and the output is
deterministic, an entry that is not touched comes out byte-identical, and two branches
adding different items merge cleanly in git.

The fields and their order are `lockfile_fields`' tables; the format is described for people
in docs/lockfile.md; `lockfile_read` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from specsync.atomic import write_bytes_atomic
from specsync.state.lockfile_data import Entry, Lockfile, Submission
from specsync.state.lockfile_fields import (
    HISTORY_KEY,
    entry_values,
    quote,
    record_values,
)
from specsync.state.lockfile_quick import END_LINE

# END_LINE and quote are named here too: the lockfile's last line and its string form.
__all__ = ["END_LINE", "LOCK_VERSION", "dumps", "quote", "write_lockfile"]

# 2: the file ends with END_LINE, so that a file cut short is detected (see lockfile_read).
LOCK_VERSION = 2

HEADER = (
    "# specsync.lock: what specsync has exported. Written by specsync; commit it, do not edit it.\n"
    "# Docs: docs/lockfile.md\n"
)


def _comment(text: str) -> str:
    """One comment line; line breaks and other control characters become spaces."""
    clean = "".join(" " if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in text)
    return f"# {clean}".rstrip()


def _dump_entry(entry: Entry) -> str:
    # In ENTRY_FIELDS order; a field the entry does not know is left out.
    lines = [f"[items.{quote(entry.id)}]"]
    lines.extend(f"{key} = {_value(value)}" for key, value in entry_values(entry))
    lines.extend(_dump_history(entry.history))
    return "\n".join(lines) + "\n"


def _value(value: str | int | bool) -> str:
    """A TOML value: a basic string, an integer, or true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return quote(value)


def _dump_history(history: Sequence[Submission]) -> list[str]:
    if not history:
        return []
    lines = [f"{HISTORY_KEY} = ["]
    for record in history:
        pairs = ", ".join(f"{key} = {quote(value)}" for key, value in record_values(record))
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
        + "".join(_comment(note) + "\n" for note in (comments or {}).get("", ()))
        + (f"service = {quote(lock.service)}\n" if lock.service else "")
    ]
    for key in sorted(lock.entries):
        notes = "".join(_comment(note) + "\n" for note in (comments or {}).get(key, ()))
        parts.append(notes + _dump_entry(lock.entries[key]))
    for key in sorted(lock.forgotten):
        block = [f"[forgotten.{quote(key)}]", *_dump_history(lock.forgotten[key])]
        parts.append("\n".join(block) + "\n")
    # A fixed last line: a file cut at any line boundary lacks it. Being the same on every
    # branch, it never makes a git merge conflict.
    parts.append(END_LINE + "\n")
    return "\n".join(parts)


def write_lockfile(path: Path, lock: Lockfile) -> bool:
    """Write the lockfile atomically; False when the file already holds exactly these bytes."""
    return write_bytes_atomic(Path(path), dumps(lock).encode("utf-8"))
