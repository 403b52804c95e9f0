"""forget: drop lockfile entries (orphans, mistakes); their ids stay under [forgotten]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from specsync.plan import matches, require_matches
from specsync.service.apply import recover
from specsync.service.apply_prepare import marked_for_run
from specsync.state import journal as journal_mod
from specsync.state.lockfile_data import Lockfile
from specsync.state.lockfile_read import read_lockfile
from specsync.state.lockfile_update import without
from specsync.state.lockfile_write import write_lockfile


@dataclass(frozen=True)
class Forgotten:
    dropped: list[str]  # the item ids whose entries were (or would be) dropped
    recovered: int = 0  # journal records of an interrupted apply folded first


def forget_matching(
    lockfile_path: Path, patterns: Sequence[str], *, dry_run: bool = False
) -> Forgotten:
    """Drop the entries whose id matches any glob, under the apply lock.

    Their ids move to the lockfile's `forgotten` section. A journal an interrupted apply
    left is folded first, as apply would: an item it holds (often the uncertain one the user
    wants gone) is then forgettable, and its ids are kept like any other. A glob that
    matches no entry refuses the whole call (a typo must not pass as "done"); `dry_run`
    writes nothing and matches against the lockfile as the next apply would see it.
    """
    lockfile_path = Path(lockfile_path)
    with journal_mod.hold_apply_lock(lockfile_path):
        # Matched against the lockfile as the next apply will see it, before anything is
        # written: a glob that matches nothing leaves the journal and the lockfile alone.
        lock = read_lockfile(lockfile_path)
        view = journal_mod.read_lock_view(lockfile_path, lock=lock)
        require_matches("forget", patterns, view.entries)
        if dry_run:
            return Forgotten(sorted(i for i in view.entries if matches(i, patterns)))
        lock, recovered = _with_journal_folded(lockfile_path, lock)
        dropped = sorted(item_id for item_id in lock.entries if matches(item_id, patterns))
        if dropped:
            write_lockfile(lockfile_path, without(lock, dropped))
    return Forgotten(dropped, recovered)


def _with_journal_folded(lockfile_path: Path, lock: Lockfile) -> tuple[Lockfile, int]:
    path = journal_mod.journal_path(lockfile_path, create=False)
    if not path.exists():
        return lock, 0
    service = journal_mod.journal_service(path)
    if service is not None:
        # An empty lockfile takes the kind of the run that journalled, by apply's own rule.
        lock = marked_for_run(lock, bool(service["emulator"]), "")
    emulator = lock.emulator
    host = lock.service or (str(service["host"]) if service else "")
    # The journal of the other kind of service, or of another host, is refused, not folded.
    return recover(lockfile_path, lock, emulator, host)
