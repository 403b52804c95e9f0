"""schema: print the manifest (or project file) JSON Schema, for editors."""

from __future__ import annotations

import json

import click

from specsync.manifests.schema import project_schema, schema_text


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
    if project:
        click.echo(json.dumps(project_schema(), indent=2))
        return
    click.echo(schema_text(), nl=False)
