"""The names of what specsync keeps in a project, defined once: the project root's finder,
the journal's state folder and the lockfile reader's advice all follow them."""

from __future__ import annotations

from pathlib import Path, PurePath

LOCKFILE_NAME = "specsync.lock"
PROJECT_FILE_NAME = "specsync.yaml"
MANIFESTS_DIR = "manifests"
# Beside a lockfile: its journal, apply lock and status cache (git-ignored). Under the
# project root it also holds the rehearsal record of every `--emulator` run.
STATE_DIR_NAME = ".specsync"
EMULATOR_LOCKFILE_NAME = "emulator.lock"


def is_rehearsal_lockfile(path: str | PurePath) -> bool:
    """Whether `path` is the git-ignored record of `--emulator` runs, which git cannot
    restore (a damaged one is deleted and the rehearsal run again)."""
    parts = PurePath(path).parts
    return parts[-2:] == (STATE_DIR_NAME, EMULATOR_LOCKFILE_NAME)


def project_folder(lockfile: Path) -> Path:
    """The project folder a lockfile belongs to (where videos/ and review/ live): the
    lockfile's own folder, or for the rehearsal lockfile the one holding `.specsync/`."""
    resolved = lockfile.resolve()
    return resolved.parent.parent if is_rehearsal_lockfile(resolved) else resolved.parent
