"""Where a lockfile problem is, as `path:line:col`.

The text's own problems are found and located here before it is parsed (not UTF-8, git
merge markers, invalid TOML); `Locations` finds the line of an item or top-level key, for
the problems `lockfile_read` finds in the parsed data.
"""

from __future__ import annotations

import re
import sys
from types import ModuleType

from specsync.model import InputError, Location, Problem


def toml_reader() -> ModuleType:
    """tomllib (tomli before 3.11), imported on first use: a lockfile as specsync wrote it
    never needs it, and its import is a cost every `plan` would pay."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # pragma: no cover - Python 3.10 only

    return tomli  # pragma: no cover


# Says how to get out, not just what is wrong. Keeping both sides is the advice because
# taking one side (`git checkout --theirs`) would drop the other side's ids.
CONFLICT_HINT = (
    "unresolved git merge conflict: resolve it by keeping both sides' entries (delete only "
    "the <<<<<<<, ======= and >>>>>>> lines; if one item ends up twice, keep one block and "
    "put the other's projectId/taskId in its history), then run `specsync plan` to check "
    'and `git add` the file. With the merge driver configured (README, "The '
    'lockfile") git merges lockfiles without markers'
)

# Only a lockfile with a problem needs these: compiled on first use (re's own cache), not
# at every plan's start.
_ITEM_HEADER = r"^\s*\[\s*items\s*\."
_SIMPLE_HEADER = r'^\[items\."([^"\\\x00-\x1f\x7f]*)"\]$'
_TOP_KEY = r"^\s*([A-Za-z0-9_-]+)\s*="
_MARKERS = ("<<<<<<<", "|||||||", "=======", ">>>>>>>")
_MARKER_LINE = r"(?m)^(?:<{7}|\|{7}|={7}|>{7})(?:[ \t\r]|$)"
_TOML_POSITION = r"\s*\(at line (\d+), column (\d+)\)\s*$"
_TOML_AT_END = r"\s*\(at end of document\)\s*$"


def split_lines(text: str) -> list[str]:
    """Lines as TOML counts them (only \\n ends a line; str.splitlines also splits on U+2028)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


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
                if re.match(_ITEM_HEADER, line) and not stripped.startswith("[["):
                    item = self._item_id(stripped)
                    if item is not None:
                        self._items.setdefault(item, number)
            elif not in_table:
                match = re.match(_TOP_KEY, line)
                if match:
                    self._keys.setdefault(match.group(1), number)
        return self._items

    @staticmethod
    def _item_id(header: str) -> str | None:
        simple = re.match(_SIMPLE_HEADER, header)
        if simple:  # the way specsync writes it, with nothing to unescape
            return simple.group(1)
        tomllib = toml_reader()
        try:
            parsed = tomllib.loads(header)
        except tomllib.TOMLDecodeError:
            return None
        items = parsed.get("items")
        if isinstance(items, dict) and len(items) == 1:
            ((key, value),) = items.items()
            if value == {}:
                return str(key)
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
    if not any(marker in text for marker in _MARKERS) or not re.search(_MARKER_LINE, text):
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
    match = re.search(_TOML_POSITION, message)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
    elif re.search(_TOML_AT_END, message):
        message = re.sub(_TOML_AT_END, "", message)
        lines = split_lines(text) or [""]
        line, column = len(lines), len(lines[-1]) + 1
    return Problem(Location(path, line or 0, column or 0), f"invalid TOML: {message}")
