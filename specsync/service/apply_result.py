"""The end of an apply: fold the journal, and any answers it could not take, into the
lockfile; when that fails, say where every id is."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from specsync.errors import UserError
from specsync.service.apply_report import ApplyReport
from specsync.state import journal as journal_mod
from specsync.state.lockfile_data import Lockfile
from specsync.state.lockfile_write import write_lockfile


class ResultNotWritten(UserError):
    """The run's answers could not all be written where they belong (a full disk, EIO, a
    lockfile replaced by a folder): says where every id is."""


def write_result(lockfile_path: Path, lock: Lockfile, report: ApplyReport) -> bool:
    """Fold the journal (and any answers it could not take) into the lockfile and remove
    the journal; when that fails, raise ResultNotWritten naming where the ids are."""
    jpath = journal_mod.journal_path(lockfile_path)
    unwritten = report.unjournalled
    records = journal_mod.read_journal(jpath) + unwritten
    try:
        written = write_lockfile(lockfile_path, journal_mod.fold(lock, records))
    except OSError as error:
        # After the sentence saying why sending stopped, its own sentence.
        failed = "Could not" if report.stopped else "could not"
        stopped = f"{report.stopped}. " if report.stopped else ""
        raise ResultNotWritten(
            f"{stopped}{failed} write the lockfile {lockfile_path}: {error.strerror or error}. "
            f"The answers journalled before are safe in {jpath}: the next apply folds them "
            "(fix the problem first; nothing is resubmitted)."
            + _unwritten_lines(unwritten, "NOT recorded anywhere else, keep them")
        ) from None
    if unwritten:
        # The lockfile holds them now; the journal stays out of the way as usual.
        report.stopped = (report.stopped or "the journal could not be written") + (
            f". Recorded in {lockfile_path} from memory:"
            + _unwritten_lines(unwritten, "now in the lockfile")
        )
    jpath.unlink(missing_ok=True)
    return written


def _unwritten_lines(records: Sequence[dict[str, Any]], where: str) -> str:
    if not records:
        return ""
    lines = [f"\n{len(records)} answer(s) could not be journalled ({where}):"]
    for record in records:
        if record.get("event") == journal_mod.ACCEPTED:
            lines.append(
                f"  {record['id']}: projectId {record['projectId']} taskId {record['taskId']}"
            )
        else:
            lines.append(f"  {record['id']}: {record.get('event')} ({record.get('message', '')})")
    return "\n".join(lines)
