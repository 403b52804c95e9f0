"""Included template files ("snippets"): where a problem in one is, and checking those that
no script includes.

A problem inside `snippets/outro.j2` is reported at `snippets/outro.j2:LINE:COL` (a place an
editor opens), not at the manifest line that included it; that line is named after. Jinja
knows the line only, so the column is found on that line: the undefined name, else the first
`{{`/`{%`, else the first character that is not blank.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from specsync.model import Location, Problem
from specsync.regular_files import open_regular, read_regular
from specsync.render.limits import MAX_INCLUDE_BYTES, TAG_START

if TYPE_CHECKING:  # Jinja is imported only when a script needs it (render/items.py)
    from jinja2 import Environment

# Files under the manifest root that are template sources, checked even when unused.
SNIPPET_SUFFIXES = (".j2", ".jinja", ".jinja2")
# Directory entries looked at while searching for unused snippets: a root that is a large
# checkout (no manifests/ folder) must not make every run walk it all.
MAX_ENTRIES_SEARCHED = 20_000

# The name in Jinja's "'x' is undefined".
UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")
__all__ = ["TAG_START", "UNDEFINED_NAME", "display_path", "snippet_files"]


def display_path(filename: str, cwd: Path | None) -> str:
    """`filename` relative to `cwd` (the current folder by default) when under it."""
    base = Path.cwd() if cwd is None else cwd
    try:
        return Path(filename).relative_to(base.resolve()).as_posix()
    except ValueError:
        return filename


def _line_text(filename: str, line: int) -> str:
    try:
        fd = open_regular(filename)  # never blocks on a FIFO
        with open(fd, encoding="utf-8", errors="replace") as handle:
            for number, text in enumerate(handle, start=1):
                if number == line:
                    return text.rstrip("\n")
                if number > line:
                    break
    except OSError:
        pass
    return ""


def _column(text: str, error: BaseException) -> int:
    from jinja2 import UndefinedError

    if isinstance(error, UndefinedError):
        name = UNDEFINED_NAME.match(error.message or "")
        if name:
            found = re.search(rf"\b{re.escape(name.group(1))}\b", text)
            if found:
                return found.start() + 1
    tag = TAG_START.search(text)
    if tag:
        return tag.start() + 1
    return len(text) - len(text.lstrip()) + 1 if text.strip() else 1


def included_location(
    filename: str,
    line: int | None,
    error: BaseException,
    cwd: Path | None,
    lines_read: dict[tuple[str, int], str] | None = None,
) -> Location:
    """Where a problem in an included file is: the file, the line Jinja gives, a column.

    `lines_read` keeps the lines already read during one run: a snippet that fails in every
    item that includes it is then read once, not once per item.
    """
    shown = display_path(filename, cwd)
    if not line:
        return Location(shown)
    key = (filename, line)
    text = lines_read.get(key) if lines_read is not None else None
    if text is None:
        text = _line_text(filename, line)
        if lines_read is not None:
            lines_read[key] = text
    return Location(shown, line, _column(text, error))


def snippet_files(root: Path) -> list[Path]:
    """Template files under `root` (up to MAX_ENTRIES_SEARCHED directory entries)."""
    found: list[Path] = []
    seen = 0
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        seen += len(subfolders) + len(files)
        found.extend(
            Path(folder) / name for name in sorted(files) if name.endswith(SNIPPET_SUFFIXES)
        )
        if seen > MAX_ENTRIES_SEARCHED:
            break
    return found


def unincluded_problems(
    environment: Environment, root: Path, reported: Collection[str], cwd: Path | None
) -> list[Problem]:
    """Syntax problems of template files under `root` that no script of this run included
    (an included one was checked by rendering it). `reported`: display paths that already
    have a problem, not checked twice."""
    from jinja2 import TemplateSyntaxError

    cache = environment.cache
    included = {template.filename for template in (cache or {}).values()}
    problems = []
    for path in snippet_files(root):
        filename = str(path.resolve())
        shown = display_path(filename, cwd)
        if filename in included or shown in reported:
            continue
        try:
            raw = read_regular(path, MAX_INCLUDE_BYTES)  # a FIFO named *.j2 never blocks
            source = raw.decode("utf-8").removeprefix("\ufeff")
        except (OSError, UnicodeDecodeError):
            continue  # reported by include when a script uses it; unused, it harms nothing
        if len(raw) > MAX_INCLUDE_BYTES:
            continue
        try:
            environment.parse(source, path.name, filename)
        except TemplateSyntaxError as error:
            problems.append(
                Problem(
                    included_location(filename, error.lineno, error, cwd),
                    f"template syntax error: {error.message} (in a file no script includes)",
                    code="template-syntax",
                )
            )
    return problems
