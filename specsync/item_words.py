"""The words for what happens to an item, each set defined once and used by type.

They are `StrEnum`s, so they compare equal to, print as and serialise as their plain
words: the lockfile, the journal and every `--format json` document keep the exact strings
they always had.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10

    class StrEnum(str, Enum):
        """3.11's StrEnum: a member is its value, in str() and format() alike."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, format_spec: str) -> str:
            return str.__format__(self, format_spec)


class PlanAction(StrEnum):
    """What plan says apply will do with an item."""

    CREATE = "create"
    UPDATE = "update"
    REUSE = "reuse"  # the script matches an earlier export in history: made current, not sent
    UNCHANGED = "unchanged"
    ORPHANED = "orphaned"
    UNCERTAIN = "uncertain"


class Answer(StrEnum):
    """The service's answer to one export request, as the client reads it and the journal
    records it. Only ACCEPTED carries ids; UNCERTAIN means no readable answer came."""

    ACCEPTED = "accepted"
    FAILED = "failed"
    UNCERTAIN = "uncertain"


class ItemOutcome(StrEnum):
    """What one apply run did with an item it chose."""

    SUBMITTED = "submitted"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    SKIPPED = "skipped"  # never sent: the run stopped first (401/403, a signal)
    REUSED = "reused"  # an earlier export made current again: nothing sent


class RenderState(StrEnum):
    """Where an exported item's render stands (`status`). The lockfile keeps only the
    stable ones: DONE, FAILED, and UNCERTAIN for a request whose outcome is unknown."""

    SUBMITTED = "submitted"
    RENDERING = "rendering"
    DONE = "done"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    # `isExport: false`: the service only shows the project on its dashboard, never renders
    # it (docs/vendor.md): nothing to wait for, nothing to download. Never in the lockfile.
    PREVIEW = "preview"


# The render states an entry of the lockfile records (None until one is known): the others
# are passing states that only `status` shows.
RECORDED_STATES: tuple[RenderState, ...] = (
    RenderState.DONE,
    RenderState.FAILED,
    RenderState.UNCERTAIN,
)
# Recorded states of an export that finished rendering (the others say nothing about it).
FINAL_STATES: tuple[RenderState, ...] = (RenderState.DONE, RenderState.FAILED)
