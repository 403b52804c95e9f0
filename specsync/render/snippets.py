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
from specsync.regular_files import NotRegular, open_regular, read_regular
from specsync.render.limits import MAX_INCLUDE_BYTES, MAX_TEMPLATE_CHARS, TAG_START
from specsync.render.skeleton import SLOT_PREFIX

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


class IncludeRefused(Exception):
    """A name `{% include %}` may not load; the message says why (Jinja's loader raises it
    as TemplateNotFound)."""


def read_included(root: Path, name: str) -> tuple[str, str]:
    """(source, real path) of the file `{% include name %}` loads from under `root` (a
    resolved path): a relative, `/`-separated name, a regular UTF-8 file of bounded size
    whose real location is inside the root. Raises IncludeRefused otherwise. Jinja's
    loader (render/root_loader.py) and the Jinja-free renderer (render/subset.py) both
    read included files here."""
    if not name or name.startswith("/") or "\\" in name or ":" in name.split("/")[0]:
        raise IncludeRefused(f"{name} (include paths are relative to the manifest root)")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise IncludeRefused(f"{name} (include paths may not use '.', '..' or '//')")
    if "\0" in name:  # no file has such a name (and the OS refuses to look one up)
        raise IncludeRefused(f"{name!r} (an include path cannot hold a NUL character)")
    path = root.joinpath(*parts)
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise IncludeRefused(f"{name} (no such file under {root})") from None
    if not real.is_relative_to(root):
        raise IncludeRefused(f"{name} (it leads outside the manifest root)")
    if not real.is_file():
        raise IncludeRefused(f"{name} (not a regular file)")
    try:
        raw = read_regular(real, MAX_INCLUDE_BYTES)
    except NotRegular:  # swapped for a FIFO since the check: never blocks
        raise IncludeRefused(f"{name} (not a regular file)") from None
    if len(raw) > MAX_INCLUDE_BYTES:
        raise IncludeRefused(f"{name} (larger than {MAX_INCLUDE_BYTES:,} bytes)")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise IncludeRefused(f"{name} (not UTF-8 at byte {error.start})") from None
    if source.startswith("\ufeff"):
        source = source[1:]
    if len(source) > MAX_TEMPLATE_CHARS:
        raise IncludeRefused(f"{name} (over {MAX_TEMPLATE_CHARS:,} characters)")
    if SLOT_PREFIX in source:  # names render/skeleton.py gives a shape's text runs
        raise IncludeRefused(f"{name} (it uses a name reserved by specsync: {SLOT_PREFIX})")
    return source, str(real)


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
