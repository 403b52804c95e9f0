"""Shared fixtures. Keep additions small and each under its own heading comment."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator

# compiled-template cache ---------------------------------------------------------------
# Tests (and the specsync commands they start, which inherit the environment) never touch
# the user's own cache or cache key.
_CACHE_HOME = tempfile.mkdtemp(prefix="specsync-test-cache-")
os.environ["SPECSYNC_CACHE_DIR"] = os.path.join(_CACHE_HOME, "cache")
os.environ["SPECSYNC_CACHE_KEY_FILE"] = os.path.join(_CACHE_HOME, "config", "cache.key")

# emulator ------------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """A running built-in emulator (1 s renders, no faults), stopped after the test.

    For other settings: `with running_emulator(EmulatorConfig(...)) as emu:` in the test.
    """
    with running_emulator(EmulatorConfig(render_seconds=1.0)) as running:
        yield running
