"""The translators' CSV: its columns, and the guard against formula injection.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
return, which some read past) as a formula: a script like `=HYPERLINK(...)` must not become
one on a translator's machine. Such a cell is written with a leading apostrophe, which
spreadsheets show as text. So that every text round-trips exactly, the guard is a bijection:
a text is guarded when it starts with any number of apostrophes and then one of those
characters, and on import one apostrophe is removed from exactly such a cell. `'Tis` stays
`'Tis` both ways.
"""

from __future__ import annotations

import re

COLUMNS = ("item", "locale", "source", "current", "new", "where")
# UTF-8 with a byte order mark: Excel reads a CSV without one as the local code page.
ENCODING = "utf-8-sig"

_NEEDS_GUARD = re.compile(r"'*[=+\-@\t\r]")


def guard(text: str) -> str:
    """The cell for `text`, safe to open in a spreadsheet."""
    return "'" + text if _NEEDS_GUARD.match(text) else text


def unguard(cell: str) -> str:
    """The text a guarded cell stands for (`guard`'s inverse); Windows line ends become LF."""
    cell = cell.replace("\r\n", "\n")
    if cell.startswith("'") and _NEEDS_GUARD.match(cell, 1):
        return cell[1:]
    return cell
