"""Load one YAML manifest into plain values that remember where each was written.

Safe YAML only, built from libyaml's node graph by our own small constructor, so that we
can refuse what PyYAML would accept silently (duplicate keys, non-string keys, unknown
tags) and bound what it would not (nesting depth and node count before parsing, in
`yaml_limits`; alias expansion while constructing). Every refusal is a located Problem,
never a traceback.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from specsync.manifests.yaml_limits import YamlLoader as _Loader
from specsync.manifests.yaml_limits import check_nesting, check_node_count
from specsync.model import Document, InputError, Location, PathKey, Problem
from specsync.regular_files import NotRegular, open_regular

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_VALUES = 500_000  # values built once aliases are expanded ("billion laughs")

_TAG = "tag:yaml.org,2002:"
# The tags the builder tests, spelled out once (it tests one or more per YAML node).
_STR, _NULL, _BOOL, _INT, _FLOAT, _TIMESTAMP, _MERGE, _SEQ, _MAP = (
    _TAG + name
    for name in ("str", "null", "bool", "int", "float", "timestamp", "merge", "seq", "map")
)
_constructor = yaml.constructor.SafeConstructor()


class _Refused(Exception):
    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class Locator:
    """Maps value paths to locations; also knows where each string scalar starts."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.values: dict[PathKey, tuple[int, int]] = {}
        self.keys: dict[PathKey, tuple[int, int]] = {}
        self.first_lines: dict[PathKey, int] = {}
        # The source text of scalars YAML did not read as text (`0123` became 83), so that
        # a "quote it" message can show what was written.
        self.written: dict[PathKey, str] = {}
        # Problems the builder recovered from (a duplicate key keeps its first value and the
        # rest of the file is still read), so that one slip does not hide the file's others.
        self.problems: list[Problem] = []

    def __call__(self, path: PathKey, key: bool) -> Location:
        table = self.keys if key else self.values
        probe = path
        while True:
            found = table.get(probe) or self.values.get(probe)
            if found is not None:
                return Location(self.display, found[0], found[1])
            if not probe:
                return Location(self.display, 1, 1)
            probe = probe[:-1]


def scalar_first_line(document: Document, path: Sequence[str | int]) -> int:
    """Manifest line of a string scalar's first template line (0 when not exact)."""
    locator = document.locate_fn
    if isinstance(locator, Locator):
        return locator.first_lines.get(tuple(path), 0)
    return 0


def recovered_problems(document: Document) -> list[Problem]:
    """Problems found while loading that did not stop the load (duplicate keys)."""
    locator = document.locate_fn
    return list(locator.problems) if isinstance(locator, Locator) else []


def scalar_source(document: Document, path: Sequence[str | int]) -> str | None:
    """How a scalar that YAML did not read as text was written (`0123`), else None."""
    locator = document.locate_fn
    if isinstance(locator, Locator):
        return locator.written.get(tuple(path))
    return None


# Byte order marks of the encodings a manifest might be saved in by mistake, longest first
# (UTF-32-LE's starts with UTF-16-LE's).
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def wide_encoding(raw: bytes) -> str | None:
    """ "utf-16" or "utf-32" when `raw` starts with that encoding's byte order mark."""
    return next((name for bom, name in _WIDE_BOMS if raw.startswith(bom)), None)


def _decode(raw: bytes, display: str) -> str:
    encoding = wide_encoding(raw)
    if encoding is not None:
        raise InputError(
            Problem(
                Location(display, 1, 1),
                f"saved as {encoding.upper()}; save the file as UTF-8",
            )
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise InputError(
            Problem(
                Location(display, line, column),
                f"not valid UTF-8 (byte 0x{raw[error.start]:02x}); save the file as UTF-8",
            )
        ) from None
    return text.replace("\r\n", "\n")


def _tag_refusal(tag: str) -> str:
    shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    return f"the tag {shown!r} is not allowed: manifests hold plain YAML data only"


def _key_hint(node: yaml.ScalarNode, value: Any) -> str:
    raw = node.value
    if isinstance(value, bool):
        return (
            f"key {raw!r} is read as the boolean {str(value).lower()} (YAML 1.1): "
            f'quote it, e.g. "{raw}"'
        )
    if value is None:
        return f'key {raw!r} is read as null: quote it, e.g. "{raw}"'
    return f'key {raw!r} is read as a number: quote it, e.g. "{raw}"'


class _Builder:
    def __init__(self, locator: Locator) -> None:
        self.locator = locator
        self.count = 0

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Refused(
                node.start_mark,
                f"too many values after expanding aliases (over {MAX_VALUES:,}): "
                "is this an alias bomb?",
            )
        # Where the value starts (the first place given for a path is kept).
        if path not in self.locator.values:
            start = node.start_mark
            self.locator.values[path] = (start.line + 1, start.column + 1)
        if isinstance(node, yaml.ScalarNode):
            value = self.scalar(node, path)
            if not isinstance(value, str):
                self.locator.written[path] = node.value
            return value
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise _Refused(node.start_mark, _tag_refusal(node.tag))
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise _Refused(node.start_mark, _tag_refusal(node.tag))
            return self.mapping(node, path)
        raise _Refused(node.start_mark, "unsupported YAML node")  # pragma: no cover

    def scalar(self, node: yaml.ScalarNode, path: PathKey) -> Any:
        tag = node.tag
        if tag == _STR:
            start, end = node.start_mark, node.end_mark
            if node.style == "|":
                self.locator.first_lines[path] = start.line + 2
            elif start.line == end.line:
                self.locator.first_lines[path] = start.line + 1
            return node.value
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return _constructor.construct_yaml_bool(node)
        if tag == _INT:
            return _constructor.construct_yaml_int(node)
        if tag == _FLOAT:
            return _constructor.construct_yaml_float(node)
        if tag == _TIMESTAMP:
            return node.value  # dates stay as written: templates print them as text
        if tag == _MERGE:
            raise _Refused(node.start_mark, "merge keys (<<) are not supported: write the keys out")
        raise _Refused(node.start_mark, _tag_refusal(tag))

    def mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node.start_mark, "a mapping key must be a plain string")
            if key_node.tag == _MERGE:
                raise _Refused(
                    key_node.start_mark, "merge keys (<<) are not supported: write the keys out"
                )
            key = self.scalar(key_node, path)
            if not isinstance(key, str):
                raise _Refused(key_node.start_mark, _key_hint(key_node, key))
            line = key_node.start_mark.line + 1
            if key in first_seen:
                # The first value is kept and reading goes on: the rest of the file may hold
                # other problems worth reporting in the same run.
                mark = key_node.start_mark
                self.locator.problems.append(
                    Problem(
                        Location(self.locator.display, mark.line + 1, mark.column + 1),
                        f"duplicate key {key!r} (first at line {first_seen[key]})",
                        code="duplicate-key",
                    )
                )
                continue
            first_seen[key] = line
            child = (*path, key)
            self.locator.keys[child] = (line, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child)
        return result


def parse_document(raw: bytes, display: str) -> Document:
    """Parse manifest bytes; raise InputError with a located Problem when refused."""
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(
            Problem(
                Location(display),
                f"file is too large ({len(raw) / 1024 / 1024:.1f} MiB; "
                f"the limit is {MAX_FILE_BYTES // 1024 // 1024} MiB)",
            )
        )
    text = _decode(raw, display)
    # Nodes first: the count stops early on a long flow line that the nesting check would
    # walk character by character (libyaml's own depth limit keeps the count shallow).
    check_node_count(text, display)
    check_nesting(text, display)
    locator = Locator(display)
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = None if node is None else _Builder(locator).build(node, ())
    except _Refused as refused:
        mark = refused.mark
        raise InputError(
            Problem(Location(display, mark.line + 1, mark.column + 1), refused.message)
        ) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = " ".join(part for part in (error.context, error.problem) if part)
        opened = error.context_mark
        if opened is not None and mark is not None and mark.line != opened.line:
            # An unclosed bracket or quote is reported where the parser gave up (often the
            # end of the file); the line that needs fixing is where it was opened.
            at_end = mark.index >= len(text.rstrip())
            message += f" (opened at line {opened.line + 1}, column {opened.column + 1})"
            if at_end:
                mark = opened
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = _indentation_hint(text, line, message, error.problem or "")
        raise InputError(
            Problem(
                Location(display, line, column), f"YAML syntax error: {message}", code="yaml-syntax"
            )
        ) from None
    except yaml.reader.ReaderError as error:
        # A character YAML forbids (NUL, other controls): libyaml gives a byte offset only.
        before = text.encode("utf-8")[: error.position]
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", errors="ignore")) + 1
        raise InputError(
            Problem(
                Location(display, before.count(b"\n") + 1, column),
                f"character U+{error.character:04X} is not allowed in YAML ({error.reason})",
            )
        ) from None
    except yaml.YAMLError as error:
        raise InputError(Problem(Location(display, 1, 1), f"YAML error: {error}")) from None
    except RecursionError:
        raise InputError(
            Problem(Location(display, 1, 1), "nesting is deeper than specsync reads")
        ) from None
    return Document(display, data, locator)


def _indentation_hint(text: str, line: int, message: str, problem: str) -> str:
    """libyaml's message, said in the words of the usual cause: a tab in the indentation
    (YAML indents with spaces only), or a line indented to no enclosing level."""
    lines = text.split("\n")
    written = lines[line - 1] if 0 < line <= len(lines) else ""
    indentation = written[: len(written) - len(written.lstrip(" \t"))]
    if "\t" in indentation or ("tab" in problem and "\t" in written):
        return (
            "a tab in the indentation: YAML indents with spaces only; replace the tab "
            f"with spaces ({message})"
        )
    if "did not find expected key" in problem or "expected <block end>" in problem:
        return f"{message}: check the indentation above (this line lines up with no level)"
    return message


def load_document(path: Path, display: str) -> Document:
    """Read and parse one manifest file (a regular file, at most the size cap)."""
    try:
        fd = open_regular(path)
    except (NotRegular, OSError) as error:
        raise InputError(read_problem(display, error)) from None
    try:
        raw = _read_capped(fd, display)
    except OSError as error:
        raise InputError(read_problem(display, error)) from None
    finally:
        os.close(fd)
    return parse_document(raw, display)


def read_problem(display: str, error: OSError | NotRegular) -> Problem:
    """The problem of a file that cannot be read, or is not a regular file."""
    if isinstance(error, NotRegular):
        return Problem(Location(display), str(error))
    return Problem(Location(display), f"cannot read: {error.strerror or error}")


def _read_capped(fd: int, display: str) -> bytes:
    """The whole file, or a located "too large" refusal once it passes the cap."""
    size = os.fstat(fd).st_size
    if size <= MAX_FILE_BYTES:
        parts = []
        remaining = MAX_FILE_BYTES + 1  # a file growing while read still stops here
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1024 * 1024))
            if not chunk:
                break
            parts.append(chunk)
            remaining -= len(chunk)
        raw = b"".join(parts)
        if len(raw) <= MAX_FILE_BYTES:
            return raw
        size = len(raw)
    raise InputError(
        Problem(
            Location(display),
            f"file is too large ({size / 1024 / 1024:.1f} MiB; "
            f"the limit is {MAX_FILE_BYTES // 1024 // 1024} MiB)",
        )
    )


def is_manifest(document: Document) -> bool:
    return isinstance(document.data, dict) and "specsync" in document.data
