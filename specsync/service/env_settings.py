"""Settings read from the environment by more than one command (apply, `status --wait`):
each parsed one way, and refused with its name when it is not a usable value."""

from __future__ import annotations

import math
from collections.abc import Mapping

from specsync.service.errors import ConfigError


def seconds_from_env(env: Mapping[str, str], name: str, default: float) -> float:
    """A number of seconds (finite, not negative) from the environment, or the default."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{name} must be a number of seconds (0 or more), got {text!r}")
    return seconds
