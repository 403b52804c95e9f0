"""Where the checkout and its examples are, and the TOML reader of this Python."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

__all__ = ["EXAMPLES", "ROOT", "tomllib"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
