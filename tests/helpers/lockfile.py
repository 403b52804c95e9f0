"""Reading what specsync recorded, as a test checks it: the lockfile as plain TOML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.paths import tomllib


def lock_items(root: Path) -> dict[str, dict[str, Any]]:
    """The `items` table of `root`/specsync.lock; empty when there is no lockfile or no item."""
    path = root / "specsync.lock"
    if not path.exists():
        return {}
    items: dict[str, dict[str, Any]] = tomllib.loads(path.read_text("utf-8")).get("items", {})
    return items
