"""The read side of the job: manifest paths in, rendered items out (or every problem)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from pathlib import Path

from specsync.model import InputError, Item, Problem


def load_items(
    paths: Sequence[str],
    *,
    root: str | None = None,
    cwd: Path | None = None,
    use_cache: bool = True,
    on_compile: Callable[[int], None] | None = None,
) -> list[Item]:
    """Discover, load, validate, expand and render; items sorted by id.

    `use_cache=False` (`--no-cache`) compiles every script afresh instead of reusing the
    persistent compiled-template cache. `on_compile(n)` hears how many scripts are about to
    be compiled (the slow part of a first run), before they are.

    Raises InputError carrying every problem found, sorted by file and line. Problems of
    one stage stop the later stages only for the files they concern, so one run reports as
    much as can be known.
    """
    from specsync.manifests import discovery, expand, schema
    from specsync.manifests import load as manifest
    from specsync.render import render

    here = Path.cwd() if cwd is None else cwd
    files = discovery.find_manifests(paths, here)
    manifest_root = discovery.manifest_root(paths, root, here)
    problems: list[Problem] = []
    documents = []
    for path, display in files:
        try:
            document = manifest.load_document(path, display)
        except InputError as error:
            problems.extend(error.problems)
            continue
        # Files found by searching carry `specsync:`; one named explicitly must too, and
        # validate_document says so when it does not.
        schema_problems = schema.validate_document(document)
        if schema_problems:
            problems.extend(schema_problems)
            continue
        documents.append(document)
    specs, expand_problems = expand.expand_documents(documents)
    problems.extend(expand_problems)
    items, render_problems = render.render_items(
        specs, manifest_root, use_cache=use_cache, on_compile=on_compile
    )
    problems.extend(render_problems)
    if problems:
        raise InputError(problems)
    return sorted(items, key=lambda item: item.id)


def select_items(items: Sequence[Item], patterns: Sequence[str]) -> list[Item]:
    """Items whose id matches any glob (all items when no pattern is given)."""
    if not patterns:
        return list(items)
    return [item for item in items if any(fnmatch.fnmatchcase(item.id, p) for p in patterns)]
