"""validate: check manifests (YAML, schema, ids, templates) with no network; the
pre-commit hook's command, so it imports only what checking needs."""

from __future__ import annotations

import json

import click

from specsync.cli.console import counted, print_warnings
from specsync.cli.exit_codes import EXIT_INVALID, EXIT_OK
from specsync.cli.options import (
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    announce_compile,
    format_option,
)
from specsync.manifests.pipeline import load_items
from specsync.model import InputError, Item, Problem


def print_json(problems: list[Problem], items: list[Item], warnings: list[Problem]) -> None:
    """The `--format json` document on stdout."""
    # report_json brings plan and the lockfile's data model, which a text run never needs:
    # the one import kept lazy here (the pre-commit case pays for every module it loads).
    from specsync.cli.report_json import validate_document

    document = validate_document(problems, items, warnings)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@click.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
@format_option(
    ("text", "json"),
    "json: one object per problem and per warning (file, line, column, code, message, "
    "item) on stdout alone; codes in docs/problems.md.",
)
def validate(paths: tuple[str, ...], root: str | None, no_cache: bool, output_format: str) -> int:
    """Check manifests: YAML, schema, ids, templates. No network.

    PATH is a manifest file or a directory searched recursively for *.yaml/*.yml files
    (default: manifests/); each must carry `specsync: 1` unless the project file's
    `ignore:` excludes it. Every problem is printed as path:line:col: message, all at
    once; warnings (an untranslated locale) too, without failing. Exit 0 when valid, 1
    when not.

    \b
    Examples:
      specsync validate
      specsync validate manifests/onboarding.yaml manifests/promo/
      specsync validate --format json | jq -r '.problems[].code'
    """
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
    click.echo(summary, err=True)
    return EXIT_OK
