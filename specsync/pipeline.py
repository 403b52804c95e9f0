"""The read side of the job: manifest paths in, rendered items out (or every problem)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from specsync.model import InputError, Item


def load_items(
    paths: Sequence[str], *, root: str | None = None, cwd: Path | None = None
) -> list[Item]:
    """Discover, load, validate, expand and render; items sorted by id.

    Raises InputError carrying every problem found, sorted by file and line.
    """
    raise InputError("validation is not implemented yet")
