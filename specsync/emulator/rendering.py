"""Simulated rendering: a project's progress follows from its id and the clock alone."""

from __future__ import annotations

import math
from dataclasses import dataclass

from specsync.emulator.ids import Project

# A failing render stops at this share of its render time.
FAILURE_POINT = 0.5
# specsync's own words (the emulator's default shapes)...
RENDERING = "rendering"
DONE = "done"
FAILED = "failed"
PREVIEW = "preview"  # `isExport: false`: shown on the dashboard, never rendered
# ...and the real service's, on the progress endpoint: undocumented, but `finish` appears
# in its pages for a finished export; `processing` is our stand-in for "not yet", `draft`
# for a preview. No failure word is documented (docs/vendor.md: all assumed).
VENDOR_WORDS = {RENDERING: "processing", DONE: "finish", FAILED: "failed", PREVIEW: "draft"}
# The project endpoints' `state`: the project list page says "exported" when ready.
PROJECT_WORDS = {RENDERING: "processing", DONE: "exported", FAILED: "failed", PREVIEW: "draft"}


@dataclass(frozen=True)
class Progress:
    progress: float  # 0-100, one decimal, as the service's float
    state: str  # rendering | done | failed


def progress_at(project: Project, now: float) -> Progress:
    if project.preview:
        return Progress(0.0, PREVIEW)
    elapsed = max(0.0, now - project.created)
    end = project.render_seconds * (FAILURE_POINT if project.fails else 1.0)
    if elapsed >= end:
        if project.fails:
            return Progress(FAILURE_POINT * 100, FAILED)
        return Progress(100.0, DONE)
    # Rounded down, so that only a finished render ever says 100.
    share = math.floor(elapsed / project.render_seconds * 1000) / 10
    return Progress(min(99.9, share), RENDERING)
