"""forget: drop lockfile entries (orphans, mistakes); their ids stay under [forgotten]."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from specsync.plan import matches, require_matches
from specsync.state import journal as journal_mod
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import without
from specsync.state.lockfile_write import write_lockfile


def forget_matching(
    lockfile_path: Path, patterns: Sequence[str], *, dry_run: bool = False
) -> list[str]:
    """Drop the entries whose id matches any glob, under the apply lock; the ids dropped.

    Their ids move to the lockfile's `forgotten` section. A glob that matches no entry
    refuses the whole call (a typo must not pass as "done"); `dry_run` writes nothing.
    """
    with journal_mod.hold_apply_lock(lockfile_path):
        lock = read_lockfile(lockfile_path)
        require_matches("forget", patterns, lock.entries)
        dropped = sorted(item_id for item_id in lock.entries if matches(item_id, patterns))
        if dropped and not dry_run:
            write_lockfile(lockfile_path, without(lock, dropped))
    return dropped
