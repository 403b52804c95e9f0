"""validate, render and schema: the commands that only read manifests."""

from __future__ import annotations

import json

import click

from specsync.cli.options import (
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    announce_compile,
    format_option,
    target_option,
)


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
    # The work and the report live without click: main's fast path runs the same function.
    from specsync.cli.validate_run import run_validate

    return run_validate(paths, root, no_cache, output_format)


@click.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
@target_option()
@format_option(
    ("text", "json"),
    "json: one array sorted by item id, on stdout alone.",
)
def render(
    paths: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    targets: tuple[str, ...],
    output_format: str,
) -> None:
    """Print each item's exact request body, as apply would send it.

    \b
    Examples:
      specsync render --target 'welcome/*'
      specsync render --format json | jq '.[0].request.text'
    """
    from specsync.cli.report_json import render_document
    from specsync.cli.report_text import render_text
    from specsync.manifests.pipeline import load_items, select_items
    from specsync.plan import require_matches

    every = load_items(paths, root=root, use_cache=not no_cache, on_compile=announce_compile)
    require_matches("--target", targets, (item.id for item in every))
    items = select_items(every, targets)
    if output_format == "json":
        click.echo(json.dumps(render_document(items), ensure_ascii=False, indent=2))
        return
    click.echo(render_text(items), nl=False)
    from specsync.cli.console import counted

    click.echo(counted(len(items), "item"), err=True)


@click.command()
@click.option(
    "--project",
    is_flag=True,
    help="Print the project file's schema (specsync.yaml) instead.",
)
def schema(project: bool) -> None:
    """Print the manifest JSON Schema (draft 2020-12).

    Point editors at it for completion and hover docs, with this first line in a manifest:
    # yaml-language-server: $schema=schemas/manifest.schema.json

    \b
    Examples:
      specsync schema > manifest.schema.json
      specsync schema --project > project.schema.json
    """
    from specsync.manifests.schema import project_schema, schema_text

    if project:
        click.echo(json.dumps(project_schema(), indent=2))
        return
    click.echo(schema_text(), nl=False)
