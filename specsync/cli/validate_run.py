"""validate's work and its report, without click.

The `validate` command and main's fast path (cli/fast_path.py) both end here, so the two
print the same bytes and exit alike. Text goes out flushed at once, as click.echo writes it.
"""

from __future__ import annotations

import json
import sys

from specsync.cli.console import announce_compile, counted, print_warnings
from specsync.cli.exit_codes import EXIT_INVALID, EXIT_OK
from specsync.manifests.pipeline import load_items
from specsync.model import InputError, Item, Problem


def run_validate(
    paths: tuple[str, ...], root: str | None, no_cache: bool, output_format: str
) -> int:
    """Check the manifests at `paths` and report; the exit code (problems raise InputError
    in text format, for main to print)."""
    warnings: list[Problem] = []
    try:
        items = load_items(
            paths,
            root=root,
            use_cache=not no_cache,
            on_compile=announce_compile,
            warnings=warnings,
        )
    except InputError as error:
        if output_format != "json":
            raise
        print_json(error.problems, [], [])
        return EXIT_INVALID
    if output_format == "json":
        print_json([], items, warnings)
        return EXIT_OK
    print_warnings(warnings)
    videos = {item.video for item in items}
    summary = f"valid: {counted(len(items), 'item')} from {counted(len(videos), 'video')}"
    if warnings:
        summary += f", {counted(len(warnings), 'warning')}"
    print(summary, file=sys.stderr, flush=True)
    return EXIT_OK


def print_json(problems: list[Problem], items: list[Item], warnings: list[Problem]) -> None:
    """The `--format json` document on stdout."""
    # report_json brings plan and the lockfile's data model, which a text run never needs:
    # imported here only (the pre-commit case pays for every module it loads).
    from specsync.cli.report_json import validate_document

    document = validate_document(problems, items, warnings)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    # JSON is UTF-8 whatever the locale says (click.echo wrote it so for an ASCII locale;
    # print would fail on a quoted Korean key there): bytes, when the stream has a buffer.
    out = sys.stdout
    binary = getattr(out, "buffer", None)
    if binary is None:
        out.write(text)
    else:
        out.flush()
        binary.write(text.encode("utf-8"))
        binary.flush()
    out.flush()
