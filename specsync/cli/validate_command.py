"""validate: check manifests (YAML, schema, ids, templates) with no network; the
pre-commit hook's command. Its options and help live here; its work and report in
cli/validate_run.py, which main's fast path runs too (a plain `specsync validate` never
loads click: cli/fast_path.py)."""

from __future__ import annotations

import click

from specsync.cli.options import (
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    format_option,
)
from specsync.cli.validate_run import run_validate


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
    return run_validate(paths, root, no_cache, output_format)
