"""`specsync strings export|import`: the translators' round trip through a CSV."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click

from specsync.cli.console import counted, print_problems
from specsync.cli.exit_codes import EXIT_INVALID, EXIT_OK
from specsync.cli.options import PATHS_ARGUMENT, format_option
from specsync.cli.report_json import problem_element
from specsync.manifests.strings_catalogue import read_catalogue
from specsync.manifests.strings_csv import ENCODING
from specsync.manifests.strings_export import export_csv, write_export
from specsync.manifests.strings_import import import_csv, summary
from specsync.model import canonical_locale


@click.group()
def strings() -> None:
    """Translators' round trip: export scripts to a CSV, import the filled column back.

    \b
    Examples:
      specsync strings export --locale ko --locale ja --out strings.csv
      specsync strings import strings.csv && specsync plan
    """


@strings.command("export")
@PATHS_ARGUMENT
@click.option(
    "--locale",
    "locales",
    multiple=True,
    metavar="L",
    help="Only items of locale L; repeatable (default: every locale).",
)
@click.option(
    "--source-locale",
    metavar="L",
    help="The `source` column shows locale L's script (default: the video's own script).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the CSV here (default: stdout).",
)
@format_option(
    ("text", "json"),
    "json (with --out): {file, rows, locales} on stdout; without --out the CSV is stdout.",
)
def export_command(
    paths: tuple[str, ...],
    locales: tuple[str, ...],
    source_locale: str | None,
    out: str | None,
    output_format: str,
) -> None:
    """Write a CSV (UTF-8 with BOM): item, locale, source, current, new, where.

    Import reads it back saved with `,`, `;` or tab separators.

    `current` is the template source the item uses now (its locale's own script, else the
    video's); translators fill `new`. Cells a spreadsheet would run as a formula get a
    leading apostrophe, which import removes again (docs/strings.md).
    """

    if output_format == "json" and out is None:
        raise click.UsageError("--format json reports on a file: pass --out FILE too")
    entries = read_catalogue(paths, Path.cwd())
    text = export_csv(entries, locales, source_locale)
    rows = _rows_in(text)
    if out is None:
        sys.stdout.buffer.write(text.encode(ENCODING))
        sys.stdout.flush()
    else:
        write_export(Path(out), text.encode(ENCODING))
    if output_format == "json":
        chosen = sorted({e.locale for e in entries if not locales or e.locale in _codes(locales)})
        document = {"file": out, "rows": rows, "locales": chosen}
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    click.echo(f"exported {counted(rows, 'row')}" + (f" to {out}" if out else ""), err=True)


def _codes(locales: tuple[str, ...]) -> set[str]:
    return {canonical_locale(code) for code in locales}


def _rows_in(text: str) -> int:
    """Data rows in the exported CSV (a quoted cell may span lines, so lines do not count)."""

    return max(sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1, 0)


@strings.command("import")
@click.argument("csv_file", metavar="FILE", type=click.Path(dir_okay=False))
@PATHS_ARGUMENT
@format_option(
    ("text", "json"),
    "json: {ok, written, unchanged, files, problems} on stdout alone (problems as validate's).",
)
def import_command(csv_file: str, paths: tuple[str, ...], output_format: str) -> int:
    """Write the `new` column back as locale script overrides, keeping comments and layout.

    Rows whose `current` cell no longer matches the manifest (edited since the export) or
    whose item is unknown are reported with their CSV line and not written; the other rows
    are. Exit 1 when any row was not placed. Then `specsync plan` shows the updates.
    """

    entries = read_catalogue(paths, Path.cwd())
    report = import_csv(Path(csv_file), csv_file, entries)
    if output_format == "json":
        document = {
            "ok": not report.problems,
            "written": sorted(report.written),
            "unchanged": report.unchanged,
            "files": report.files,
            "problems": [problem_element(p) for p in sorted(set(report.problems))],
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    elif report.problems:
        print_problems(report.problems)
    click.echo(summary(report), err=True)
    return EXIT_INVALID if report.problems else EXIT_OK
