"""Simulated rendering: a project's progress follows from its id and the clock alone."""

from __future__ import annotations

from dataclasses import dataclass

from specsync.emulator.ids import Project

# A failing render stops at this share of its render time.
FAILURE_POINT = 0.5
RENDERING = "rendering"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class Progress:
    progress: int  # 0-100
    state: str  # rendering | done | failed


def progress_at(project: Project, now: float) -> Progress:
    elapsed = max(0.0, now - project.created)
    end = project.render_seconds * (FAILURE_POINT if project.fails else 1.0)
    if elapsed >= end:
        if project.fails:
            return Progress(int(FAILURE_POINT * 100), FAILED)
        return Progress(100, DONE)
    share = elapsed / project.render_seconds
    return Progress(min(99, int(share * 100)), RENDERING)


def download_path(project_id: str) -> str:
    return f"/downloads/{project_id}.mp4"


def placeholder_video(project_id: str) -> bytes:
    """A small stand-in for the rendered file (not a playable video)."""
    return f"specsync emulator placeholder video for {project_id}\n".encode("ascii")
