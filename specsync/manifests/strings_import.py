"""`specsync strings import`: the filled `new` column written back as locale overrides.

Each row with a `new` text becomes (or replaces) the `script` of that item's locale
override, in the manifest that defines the item; nothing else in the file changes: ruamel's
round-trip mode keeps comments, key order, quoting and indentation. A row is refused, with
its CSV line, when its item is unknown or when its `current` cell no longer matches the
manifest (someone edited the script since the export): overwriting that edit silently
would lose work. The other rows are still written.
"""

from __future__ import annotations

import copy
import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specsync.atomic import write_bytes_atomic
from specsync.manifests.strings_catalogue import StringEntry
from specsync.manifests.strings_csv import ENCODING, unguard
from specsync.model import InputError, Location, Problem, canonical_locale
from specsync.regular_files import NotRegular, open_regular, read_regular

REQUIRED_COLUMNS = ("item", "current", "new")
MAX_CSV_BYTES = 50 * 1024 * 1024


@dataclass
class ImportReport:
    written: list[str] = field(default_factory=list)  # item ids given a new script
    unchanged: int = 0  # rows whose new text is the current one
    files: list[str] = field(default_factory=list)  # manifests rewritten
    problems: list[Problem] = field(default_factory=list)  # rows that could not be placed


@dataclass(frozen=True)
class _Change:
    entry: StringEntry
    text: str
    row: Location


def _csv_text(csv_path: Path, display: str) -> str:
    """The file's text: a regular file, at most MAX_CSV_BYTES, UTF-8."""
    try:
        # Never blocks on a FIFO, never reads a device forever: a regular file, capped.
        fd = open_regular(csv_path)
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(MAX_CSV_BYTES + 1)
    except NotRegular as error:
        raise InputError(Problem(Location(display), str(error), code="csv")) from None
    except OSError as error:
        raise InputError(Problem(Location(display), f"cannot read: {error.strerror}")) from None
    if len(raw) > MAX_CSV_BYTES:
        raise InputError(Problem(Location(display), "file is too large for a strings CSV"))
    try:
        text = raw.decode(ENCODING)
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise InputError(
            Problem(
                Location(display, line, column),
                f"the file is not UTF-8 (byte 0x{raw[error.start]:02x}): the spreadsheet saved "
                "it in a legacy encoding (such as Windows-1252), which loses characters; "
                "save it as CSV UTF-8",
                code="csv",
            )
        ) from None
    return text


def _rows(csv_path: Path, display: str) -> list[tuple[int, dict[str, str]]]:
    text = _csv_text(csv_path, display)
    delimiter = _delimiter(text)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as error:
        raise InputError(
            Problem(Location(display, 1, 1), f"CSV error: {error}", code="csv")
        ) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in fieldnames]
    if missing:
        raise InputError(
            Problem(
                Location(display, 1, 1),
                f"missing column {', '.join(missing)}: import a CSV made by "
                "`specsync strings export` (separated by commas, semicolons or tabs)",
                code="csv",
            )
        )
    rows = []
    start = reader.line_num + 1
    try:
        for row in reader:
            rows.append((start, {k: v or "" for k, v in row.items() if isinstance(k, str)}))
            start = reader.line_num + 1
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            # A cut-off file (a failed copy, a truncated download): importing the cut text
            # would write half a translation.
            message = (
                "a quoted cell opened in the row starting here is never closed: the file "
                "was cut off or a quote is missing; export again or fix the quote"
            )
        else:
            message = f"CSV error: {error}"
        raise InputError(Problem(Location(display, start, 1), message, code="csv")) from None
    return rows


_DELIMITERS = (",", ";", "\t")


def _delimiter(text: str) -> str:
    """The separator the header row is written with: `,` as exported, or `;` or tab as a
    spreadsheet in a locale with a decimal comma (de, fr) saves it. The header is the
    evidence: the separator that splits it into the required columns."""
    first_line = text.split("\n", 1)[0]
    for delimiter in _DELIMITERS:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        if all(column in header for column in REQUIRED_COLUMNS):
            return delimiter
    return ","


def _lost_characters(cell: str, current: str) -> bool:
    """Whether `cell` is `current` with characters turned into `?`: a sheet saved in a
    legacy code page that lacks them (Excel's "CSV" in a Western locale)."""
    if "?" not in cell or len(cell) != len(current) or cell == current:
        return False
    return all(a == b or (a == "?" and ord(b) > 0x7F) for a, b in zip(cell, current, strict=True))


def plan_changes(
    csv_path: Path, display: str, entries: Sequence[StringEntry]
) -> tuple[list[_Change], int, list[Problem]]:
    """The rows to write, how many were unchanged, and the rows refused."""
    by_id = {entry.id: entry for entry in entries}
    changes: list[_Change] = []
    unchanged = 0
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line, row in _rows(csv_path, display):
        new = unguard(row.get("new", ""))
        if not new.strip():
            continue  # not translated (yet)
        at = Location(display, line, 1)
        item_id = unguard(row.get("item", "")).strip()
        video, _, locale = item_id.partition("/")
        item_id = f"{video}/{canonical_locale(locale)}" if locale else item_id
        entry = by_id.get(item_id)
        if entry is None:
            problems.append(
                Problem(at, f"no item {item_id!r} in the manifests", code="strings-unknown-item")
            )
            continue
        if item_id in seen:
            problems.append(
                Problem(
                    at,
                    f"{item_id}: a second row for this item (first at line {seen[item_id]})",
                    code="strings-duplicate-row",
                )
            )
            continue
        seen[item_id] = line
        if new == entry.current:
            unchanged += 1  # already in (this CSV was imported before): nothing to do
            continue
        written_current = unguard(row.get("current", ""))
        if _lost_characters(written_current, entry.current):
            problems.append(
                Problem(
                    at,
                    f"{item_id}: characters were lost by the spreadsheet (they became `?`): "
                    "the file was not saved as UTF-8; save it as CSV UTF-8 and import again",
                    code="csv-encoding",
                )
            )
            continue
        if written_current != entry.current:
            problems.append(
                Problem(
                    at,
                    f"{item_id}: the script changed since the export (the `current` cell no "
                    f"longer matches {entry.display}:{entry.line}); export again and carry "
                    "the translation over",
                    code="strings-stale-row",
                )
            )
            continue
        changes.append(_Change(entry, new, at))
    return changes, unchanged, problems


def import_csv(csv_path: Path, display: str, entries: Sequence[StringEntry]) -> ImportReport:
    """Write every placeable row; refused rows are in the report's problems."""
    changes, unchanged, problems = plan_changes(csv_path, display, entries)
    report = ImportReport(unchanged=unchanged, problems=problems)
    by_file: dict[Path, list[_Change]] = {}
    for change in changes:
        by_file.setdefault(change.entry.manifest, []).append(change)
    for manifest, file_changes in by_file.items():
        try:
            _rewrite(manifest, file_changes)
            written = list(file_changes)
        except _NotWritten:
            # One change the file cannot take must not hold back the others: each alone.
            written = []
            for change in file_changes:
                try:
                    _rewrite(manifest, [change])
                    written.append(change)
                except _NotWritten as refused:
                    report.problems.append(
                        Problem(
                            change.row, f"{change.entry.id}: {refused}", code="strings-not-written"
                        )
                    )
        if written:
            report.files.append(written[0].entry.display)
            report.written.extend(c.entry.id for c in written)
    return report


class _NotWritten(Exception):
    """A manifest could not be rewritten safely; it is left as it was."""


def _scalar(text: str, literal: bool) -> Any:
    """A multi-line script as a `|` block (readable in review), else double-quoted (never
    plain: `no` or `0123` must stay text for a YAML 1.1 reader)."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

    if literal and "\n" in text:
        return LiteralScalarString(text)
    return DoubleQuotedScalarString(text)


def _override_map(locales: Any, code: str) -> Any:
    """The override mapping of locale `code` (as written) in a locales mapping, made a
    block mapping when it was empty or null."""
    from ruamel.yaml.comments import CommentedMap

    entry = locales[code]
    if not isinstance(entry, dict):
        entry = CommentedMap()
        locales[code] = entry
    if not entry:
        entry.fa.set_block_style()
    return entry


def _locales_map(video: Any, codes: Sequence[str]) -> Any:
    """The video's locales as a mapping: a list (its own, or the defaults' it used) becomes
    `code: {}` entries in the same order, so an override can be added; the set of locales
    and so every other item stays the same."""
    from ruamel.yaml.comments import CommentedMap

    locales = video.get("locales")
    if isinstance(locales, dict):
        return locales
    mapping = CommentedMap()
    for code in codes:
        empty = CommentedMap()
        empty.fa.set_flow_style()
        mapping[code] = empty
    video["locales"] = mapping
    return mapping


def _rewrite(manifest: Path, changes: Sequence[_Change]) -> None:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.util import load_yaml_guess_indent

    try:
        raw = read_regular(manifest)  # never blocks on a FIFO swapped in since the load
        original = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise _NotWritten(f"cannot read {manifest}: {error}") from None
    if not os.access(manifest.parent, os.W_OK | os.X_OK):
        # Checked up front as well as caught below: the file is replaced through a temp
        # file beside it, so its folder must be writable even when the file itself is.
        raise _NotWritten(
            f"cannot write {manifest}: its folder is not writable (the file is replaced "
            "through a temporary file beside it)"
        )
    bom = raw.startswith(b"\xef\xbb\xbf")
    crlf = "\r\n" in original
    text = original.replace("\r\n", "\n")
    try:
        data, indent, block_seq_indent = load_yaml_guess_indent(text)
    except YAMLError as error:
        raise _NotWritten(f"ruamel.yaml cannot read the manifest: {error}") from None
    yaml = YAML()  # round-trip mode: comments, order and quoting survive
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never fold a long script over lines
    yaml.indent(mapping=indent or 2, sequence=indent or 2, offset=block_seq_indent or 0)
    before = _loaded(text, "original")  # read once: both tries compare with it
    rewritten = ""
    for literal in (True, False):  # a block scalar cannot hold every text: then quoted
        data = yaml.load(text)
        for change in changes:
            _place(data, change, literal)
        out = io.StringIO()
        yaml.dump(data, out)
        rewritten = out.getvalue()
        try:
            _check(before, rewritten, changes)
            break
        except _NotWritten:
            if not literal:
                raise
    if crlf:
        rewritten = rewritten.replace("\n", "\r\n")
    try:
        write_bytes_atomic(manifest, (b"\xef\xbb\xbf" if bom else b"") + rewritten.encode("utf-8"))
    except OSError as error:
        raise _NotWritten(f"cannot write {manifest}: {error.strerror or error}") from None


def _place(data: Any, change: _Change, literal: bool) -> None:
    entry = change.entry
    video = data["videos"][entry.video]
    locales = _locales_map(video, entry.codes)
    override = _override_map(locales, entry.code)
    override["script"] = _scalar(change.text, literal)


def _expected(original: Any, changes: Sequence[_Change]) -> Any:
    """The plain data the manifest should hold after the changes: the original's, with only
    the changed scripts (and a list of locales become a mapping) different."""
    expected = copy.deepcopy(original)
    for change in changes:
        entry = change.entry
        video = expected["videos"][entry.video]
        if not isinstance(video.get("locales"), dict):
            video["locales"] = {code: {} for code in entry.codes}
        locales = video["locales"]
        if not isinstance(locales.get(entry.code), dict):
            locales[entry.code] = {}
        locales[entry.code]["script"] = change.text
    return expected


def _loaded(text: str, name: str) -> Any:
    """`text` as specsync's own loader reads it (its data); either text not loading means
    the rewrite cannot be checked, so it is not written."""
    from specsync.manifests.load import parse_document

    try:
        return parse_document(text.encode("utf-8"), name).data
    except InputError as error:
        raise _NotWritten(f"the rewritten manifest would not load ({error})") from None


def _check(before: Any, rewritten: str, changes: Sequence[_Change]) -> None:
    """Read the rewritten text with specsync's own loader: it must load, and hold exactly
    the original's data (`before`, read the same way) with only the new scripts changed.
    This catches whatever the YAML 1.2 round trip could change for a YAML 1.1 reader, and
    an override shared through an anchor (writing into it would change the other locales
    too)."""
    after = _loaded(rewritten, "rewritten")
    if after != _expected(before, changes):
        raise _NotWritten(
            "rewriting the manifest would change more than these scripts (an override "
            "shared through a YAML anchor?); edit it by hand"
        )


def summary(report: ImportReport) -> str:
    def counted(number: int, noun: str) -> str:
        return f"{number} {noun}{'' if number == 1 else 's'}"

    return (
        f"imported {counted(len(report.written), 'script')} into "
        f"{counted(len(report.files), 'manifest')}; {report.unchanged} unchanged; "
        f"{counted(len(report.problems), 'row')} not placed"
    )
