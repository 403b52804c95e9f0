"""Shared fixtures. Keep additions small and each under its own heading comment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator

# emulator ------------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """A running built-in emulator (1 s renders, no faults), stopped after the test.

    For other settings: `with running_emulator(EmulatorConfig(...)) as emu:` in the test.
    """
    with running_emulator(EmulatorConfig(render_seconds=1.0)) as running:
        yield running
