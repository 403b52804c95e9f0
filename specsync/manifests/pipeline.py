"""The read side of the job: manifest paths in, rendered items out (or every problem)."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from specsync.manifests.project_file import ProjectFiles, ProjectSettings
from specsync.manifests.split import Loaded
from specsync.model import Document, InputError, Item, ItemSpec, Problem


@dataclass
class SpecSet:
    """Everything read before rendering: item specs, the documents they came from (by display
    path, with the file's path and project settings) and the problems found so far."""

    specs: list[ItemSpec]
    documents: dict[str, tuple[Path, Document, ProjectSettings]]
    problems: list[Problem]


def read_specs(paths: Sequence[str], cwd: Path) -> SpecSet:
    """Discover, load, schema-check and expand (no rendering); every problem collected.

    Problems of one stage stop the later stages only for the part they concern (a file, a
    video), so one run reports as much as can be known.
    """
    from specsync.manifests.project_file import ProjectFiles

    projects = ProjectFiles(cwd)
    files, problems = find_files(paths, cwd, projects)
    read = read_files(files, projects)
    read.problems[:0] = problems
    return read


def find_files(
    paths: Sequence[str], cwd: Path, projects: ProjectFiles
) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """The manifests named or found under `paths`, as (path, display path), and the
    problems of the files that could not be taken (unreadable, no manifest, missing). The
    others are still read, so one run reports every problem; any problem fails the run."""
    from specsync.manifests import discovery

    try:
        files, problems = discovery.search_manifests(paths, cwd, ignored=projects.ignores)
    except InputError as error:
        raise InputError(
            [p.with_code("file") for p in error.problems] + projects.problems
        ) from None
    if projects.problems:
        # While a project file is broken every file of its project counts as excluded
        # (ProjectFiles.ignores): its folder "holds no manifest" would only be noise.
        problems = [p for p in problems if p.code != "no-manifests"]
    return files, [p.with_code("file") for p in problems]


def read_files(files: Sequence[tuple[Path, str]], projects: ProjectFiles) -> SpecSet:
    """`read_specs` of files already found."""
    from specsync.manifests import expand, schema
    from specsync.manifests import load as manifest

    problems: list[Problem] = []
    documents: dict[str, tuple[Path, Document, ProjectSettings]] = {}
    for path, display in files:
        try:
            document = manifest.load_document(path, display)
        except InputError as error:
            problems.extend(p.with_code("yaml") for p in error.problems)
            continue
        problems.extend(manifest.recovered_problems(document))
        # Files found by searching carry `specsync:`; one named explicitly must too, and
        # check_document says so when it does not. A problem inside one video leaves the
        # file's other videos to be expanded and rendered: every problem at once.
        checked = schema.check_document(document)
        problems.extend(checked.problems)
        if checked.whole_file:
            continue
        project = projects.for_manifest(path)
        if project is None:
            continue  # its project file is broken (reported once): its settings are unknown
        if checked.bad_videos:
            document = _without_videos(document, checked.bad_videos)
        documents[document.path] = (path, document, project)
    problems.extend(projects.problems)
    specs, expand_problems = expand.expand_documents(
        [document for _, document, _ in documents.values()],
        {display: project for display, (_, _, project) in documents.items()},
    )
    problems.extend(expand_problems)
    return SpecSet(specs, documents, problems)


def load_items(
    paths: Sequence[str],
    *,
    root: str | None = None,
    cwd: Path | None = None,
    use_cache: bool = True,
    on_compile: Callable[[int], None] | None = None,
    warnings: list[Problem] | None = None,
    while_waiting: Callable[[], object] | None = None,
) -> list[Item]:
    """Discover, load, validate, expand and render; items sorted by id.

    `use_cache=False` (`--no-cache`) compiles every script afresh instead of reusing the
    persistent compiled-template cache. `on_compile(n)` hears how many scripts are about to
    be compiled (the slow part of a first run), before they are. `warnings`, when given,
    receives the problems that do not stop a run (untranslated locales).

    A large run is split between two processes (manifests/split.py) when two CPUs are
    there; what it gives and prints is the same either way (`while_waiting`: see there).

    Raises InputError carrying every problem found, sorted by file and line. Problems of
    one stage stop the later stages only for the part they concern, so one run reports as
    much as can be known: a schema error in one video hides no template error in another.
    """
    from specsync.manifests import discovery, split
    from specsync.manifests.project_file import ProjectFiles

    here = Path.cwd() if cwd is None else cwd
    projects = ProjectFiles(here)
    files, file_problems = find_files(paths, here, projects)
    manifest_root, chosen = discovery.manifest_root(paths, root, here)
    load = functools.partial(
        _read_and_render,
        projects=projects,
        manifest_root=manifest_root,
        use_cache=use_cache,
        cwd=here,
        # Unused snippets are checked in the manifests' own folder only: the current folder
        # taken as a last resort may be any checkout, with others' templates in it.
        check_unincluded=chosen,
    )
    loaded = split.load_split(files, load, on_compile, while_waiting)
    if loaded is None:
        loaded = load(files, on_compile)
    problems = file_problems + loaded.problems
    items = loaded.items
    if not problems:
        from specsync.manifests.project_file import NO_PROJECT
        from specsync.manifests.untranslated import untranslated_problems

        def project_of(display: str) -> ProjectSettings:
            return loaded.projects.get(display, NO_PROJECT)

        errors, warned = untranslated_problems(items, project_of)
        problems.extend(errors)
        if warnings is not None:
            warnings.extend(sorted(warned))
    if problems:
        raise InputError(problems)
    return sorted(items, key=lambda item: item.id)


def _read_and_render(
    files: Sequence[tuple[Path, str]],
    on_compile: Callable[[int], None] | None,
    *,
    projects: ProjectFiles,
    manifest_root: Path,
    use_cache: bool,
    cwd: Path,
    check_unincluded: bool,
) -> Loaded:
    """Read, expand and render `files`: the items, every problem (before the untranslated
    check, which needs every item of the run) and each document's project settings."""
    from specsync.render import items as render

    read = read_files(files, projects)
    items, render_problems = render.render_items(
        read.specs,
        manifest_root,
        use_cache=use_cache,
        on_compile=on_compile,
        cwd=cwd,
        check_unincluded=check_unincluded,
    )
    problems = read.problems + [p.with_code("template") for p in render_problems]
    return Loaded(
        items,
        problems,
        {display: project for display, (_, _, project) in read.documents.items()},
        rendered_all=not render_problems,
    )


def _without_videos(document: Document, videos: Collection[str]) -> Document:
    """The document minus videos whose schema problems are already reported."""
    kept = {k: v for k, v in document.data["videos"].items() if k not in videos}
    return replace(document, data={**document.data, "videos": kept})


def select_items(items: Sequence[Item], patterns: Sequence[str]) -> list[Item]:
    """Items whose id matches any glob (all items when no pattern is given)."""
    if not patterns:
        return list(items)
    return [item for item in items if any(fnmatch.fnmatchcase(item.id, p) for p in patterns)]
