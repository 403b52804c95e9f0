"""The project root, found the way git finds `.git`.

Every command run from a subfolder (`cd manifests && specsync apply .`) must use the
project's lockfile, not start a second one there and export everything again.
"""

from __future__ import annotations

import os
from pathlib import Path

from specsync.errors import UserError
from specsync.project_names import (
    EMULATOR_LOCKFILE_NAME,
    LOCKFILE_NAME,
    MANIFESTS_DIR,
    PROJECT_FILE_NAME,
    STATE_DIR_NAME,
)


def find_project_root(start: Path) -> Path | None:
    """The nearest folder, from `start` upwards, holding specsync.lock or specsync.yaml.

    Like git's safe.directory, a marker owned by another user does not count: a stray
    /tmp/specsync.lock planted by someone else must not become a project's lockfile.
    """
    here = Path(os.path.abspath(start))
    for folder in (here, *here.parents):
        if is_project(folder):
            refuse_nested(folder)
            return folder
    return None


def is_project(folder: Path) -> bool:
    """Whether `folder` holds a marker (specsync.lock or specsync.yaml) of the user's own."""
    return _is_ours(folder / LOCKFILE_NAME) or _is_ours(folder / PROJECT_FILE_NAME)


def enclosing_project(folder: Path) -> Path | None:
    """The project whose manifests/ folder holds `folder` (a project nested in another's
    manifests), or None."""
    here = Path(os.path.abspath(folder))
    for outer in here.parents:
        if here.is_relative_to(outer / MANIFESTS_DIR) and is_project(outer):
            return outer
    return None


def refuse_nested(folder: Path) -> None:
    """Raise InputError when `folder` (a project) lies inside another project's manifests.

    Its manifests belong to the outer project's runs too: a run of each, each with its own
    lockfile, would export the same items twice. Refused from either side, before anything
    is sent (docs/project-file.md, "Nested projects").
    """
    outer = enclosing_project(folder)
    if outer is None:
        return
    from specsync.model import InputError, Location, Problem

    markers = [name for name in (PROJECT_FILE_NAME, LOCKFILE_NAME) if (folder / name).exists()]
    marker = folder / (markers[0] if markers else PROJECT_FILE_NAME)
    raise InputError(
        Problem(
            Location(str(marker)),
            f"a project inside the {MANIFESTS_DIR}/ of the project at {outer}: its items "
            "would be exported by both, each with its own lockfile. Move this folder out of "
            f"{outer / MANIFESTS_DIR}, or remove its {' and '.join(markers)} so that its "
            f"manifests are part of {outer}",
            code="nested-project",
        )
    )


def _is_ours(path: Path) -> bool:
    try:
        status = path.lstat()
    except OSError:
        return False
    return not hasattr(os, "getuid") or status.st_uid == os.getuid()


def foreign_owner(path: Path) -> int | None:
    """The uid owning `path` when it exists and is not the user's (git's safe.directory
    rule, as for the markers above); None otherwise."""
    try:
        status = path.lstat()
    except OSError:
        return None
    if not hasattr(os, "getuid") or status.st_uid == os.getuid():
        return None
    return status.st_uid


def default_lockfile(cwd: Path) -> str:
    """The project's lockfile, as a path relative to `cwd` (how messages name it)."""
    root = find_project_root(cwd) or Path(os.path.abspath(cwd))
    return os.path.relpath(root / LOCKFILE_NAME, cwd)


# Where every `--emulator` run keeps its rehearsal record, under the project root: inside
# `.specsync/` (git-ignored), never `specsync.lock`, so a rehearsal never marks, fills or
# blocks the real record (README "Trying it out"; docs/lockfile.md).


def lockfile_for_mode(cwd: Path, given: str | None, *, emulator: bool, create: bool = False) -> str:
    """The lockfile a command uses: the one decision, for every command and mode.

    `given` (--lockfile) always wins. Otherwise the project's specsync.lock, or for an
    `--emulator` run `.specsync/emulator.lock` of the project (relative to `cwd`, as
    messages name it). `create`: make that `.specsync/` folder (git-ignored) for a writer.
    An emulator reached through SPECSYNC_API_BASE is not `--emulator`: it keeps the
    lockfile it is given.
    """
    if given is not None:
        return given
    if not emulator:
        return default_lockfile(cwd)
    root = find_project_root(cwd) or Path(os.path.abspath(cwd))
    folder = root / STATE_DIR_NAME
    if create and not folder.is_dir():
        try:
            folder.mkdir()
            (folder / ".gitignore").write_text("*\n", encoding="utf-8")
        except OSError as error:
            raise UserError(
                f"cannot make {folder} for the rehearsal lockfile of --emulator runs: "
                f"{error.strerror or error}; pass --lockfile FILE to keep it elsewhere"
            ) from None
    return os.path.relpath(folder / EMULATOR_LOCKFILE_NAME, cwd)


def default_manifest_paths(cwd: Path) -> tuple[str, ...]:
    """`manifests/` of the project when it is found above `cwd`; else nothing, which means
    `manifests/` here (and its own message when it is missing)."""
    root = find_project_root(cwd)
    if root is None or root == Path(os.path.abspath(cwd)):
        return ()
    manifests = root / MANIFESTS_DIR
    return (os.path.relpath(manifests, cwd),) if manifests.is_dir() else ()
