"""`specsync strings export`: the translators' CSV of a manifest set."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from specsync.atomic import write_bytes_atomic
from specsync.manifests.strings_catalogue import StringEntry
from specsync.manifests.strings_csv import COLUMNS, guard
from specsync.model import InputError, Location, Problem, canonical_locale


def source_texts(entries: Sequence[StringEntry], source_locale: str | None) -> dict[str, str]:
    """video -> its source text: the script of `source_locale` when given (the videos
    without that locale have none), else the video's own `script` (empty when every locale
    has its own)."""
    if source_locale is None:
        return {e.video: e.video_script or "" for e in entries}
    wanted = canonical_locale(source_locale)
    return {e.video: e.current for e in entries if e.locale == wanted}


def export_csv(
    entries: Sequence[StringEntry],
    locales: Sequence[str] = (),
    source_locale: str | None = None,
) -> str:
    """The CSV text (without the byte order mark; the caller writes the file as ENCODING).

    One row per item of the chosen locales (all when none are given), sorted by item id:
    item, locale, source text, current text, an empty `new` column, and where it is defined.
    """
    chosen = {canonical_locale(code) for code in locales}
    if chosen and not any(e.locale in chosen for e in entries):
        raise InputError(
            Problem(
                Location("--locale"),
                f"no item has locale {', '.join(sorted(chosen))}",
                code="usage",
            )
        )
    sources = source_texts(entries, source_locale)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, as spreadsheets write it
    writer.writerow(COLUMNS)
    for entry in entries:
        if chosen and entry.locale not in chosen:
            continue
        writer.writerow(
            (
                guard(entry.id),
                guard(entry.locale),
                guard(sources.get(entry.video, "")),
                guard(entry.current),
                "",
                # A file name can start with `=` too: every cell is guarded.
                guard(f"{entry.display}:{entry.line}"),
            )
        )
    return out.getvalue()


# Files an export must never replace: a slip such as `--out manifests/a.yaml` or
# `--out specsync.lock` would destroy work that is not in the CSV.
_PROTECTED_SUFFIXES = (".yaml", ".yml", ".lock", ".j2", ".jinja", ".jinja2")


def write_export(path: Path, data: bytes) -> None:
    """Write the CSV to `path` through a temp file and a rename (never half a file),
    replacing only a regular file that is not a manifest, snippet or lockfile."""
    display = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise InputError(Problem(Location(display), f"cannot write: {error.strerror}")) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError(Problem(Location(display), "cannot write: not a regular file"))
    if info is not None and path.suffix.lower() in _PROTECTED_SUFFIXES:
        raise InputError(
            Problem(
                Location(display),
                f"refusing to replace a {path.suffix} file with the CSV: choose another --out",
                code="usage",
            )
        )
    try:
        write_bytes_atomic(path, data)
    except OSError as error:
        raise InputError(
            Problem(Location(display), f"cannot write: {error.strerror or error}")
        ) from None
