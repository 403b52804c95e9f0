"""`specsync status` against the vendor's progress shapes (the emulator speaks them by default).

The real service says `finish` (not specsync's `done`) and hands out the download URL a poll
after progress reaches 100. status takes progress >= 100 with a URL as done, whatever the
word, and shows the word.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from tests.helpers import EXAMPLES, specsync


@pytest.mark.slow
def test_status_finishes_items_the_vendor_shapes_call_finish(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns("specsync.lock", ".specsync"))
    applied = specsync(["apply", "--emulator"], cwd=project)
    assert applied.returncode == 0, applied.stderr

    with running_emulator(EmulatorConfig()) as emu:
        env = {**os.environ, "SPECSYNC_API_BASE": emu.url, "AISTUDIOS_API_KEY": "k"}
        # The rehearsal's lockfile, named: an emulator through the API base uses the
        # lockfile it is given.
        rehearsal = ["--lockfile", ".specsync/emulator.lock"]
        status = specsync(["status", "--wait", "--timeout", "6", *rehearsal], cwd=project, env=env)

    assert status.returncode == 0, status.stdout + status.stderr
    output = status.stdout + status.stderr
    assert "7 items: 7 done" in output
    assert "[finish]" in output  # the service's own word, shown
