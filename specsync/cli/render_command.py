"""render: print each item's exact request body, as apply would send it."""

from __future__ import annotations

import json

import click

from specsync.cli.console import counted
from specsync.cli.options import (
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    announce_compile,
    format_option,
    target_option,
)
from specsync.cli.report_json import render_document
from specsync.cli.report_text import render_text
from specsync.manifests.pipeline import load_items, select_items
from specsync.plan import require_matches


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
    every = load_items(paths, root=root, use_cache=not no_cache, on_compile=announce_compile)
    require_matches("--target", targets, (item.id for item in every))
    items = select_items(every, targets)
    if output_format == "json":
        click.echo(json.dumps(render_document(items), ensure_ascii=False, indent=2))
        return
    click.echo(render_text(items), nl=False)
    click.echo(counted(len(items), "item"), err=True)
