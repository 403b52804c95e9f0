"""What the review page shows for each item: one tile per (video, locale), gathered from
the rendered items, the lockfile, the status cache and the pulled files.

A tile has one `state` (the lockfile's word where it has one) and `flags` for what holds
besides (not pulled, changed since export, file check failed, orphaned): the page's
filters and counts use both, and a missing thing says which command brings it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from specsync.item_words import RenderState
from specsync.model import Item
from specsync.plan import matches, same_export, word_changes
from specsync.regular_files import NotRegular, open_regular
from specsync.review.mp4 import movie_duration
from specsync.state.lockfile_data import DEFAULT_RESOLUTION, Entry, Lockfile

# Tile states, in the order the page lists them: the lockfile's render states, and two
# the page adds for items with no render to wait for.
DONE = str(RenderState.DONE)
RENDERING = str(RenderState.RENDERING)
FAILED = str(RenderState.FAILED)
UNCERTAIN = str(RenderState.UNCERTAIN)
PREVIEW = "preview"
NOT_EXPORTED = "not-exported"
STATES = (DONE, RENDERING, FAILED, UNCERTAIN, PREVIEW, NOT_EXPORTED)
# Flags: what holds besides the state.
NOT_PULLED = "not-pulled"
CHANGED = "changed"
FILE_BAD = "file-check-failed"
ORPHANED = "orphaned"
FLAGS = (NOT_PULLED, CHANGED, FILE_BAD, ORPHANED)
LABELS = {
    DONE: "done",
    RENDERING: "rendering",
    FAILED: "failed",
    UNCERTAIN: "uncertain",
    PREVIEW: "preview",
    NOT_EXPORTED: "never exported",
    NOT_PULLED: "not yet pulled",
    CHANGED: "changed since export",
    FILE_BAD: "file check failed",
    ORPHANED: "not in the manifests",
}

# Where `specsync pull` put an item's video (None for an id that is no path): the CLI
# passes pull's own `video_path`, so the two never disagree.
VideoLocator = Callable[[str], Path | None]
_CHUNK = 1 << 20


@dataclass(frozen=True)
class VideoFile:
    """A pulled file as found on disk, checked against the lockfile."""

    path: Path
    present: bool
    problem: str = ""  # why it is not good ("" when it matches the lockfile)
    size: int | None = None
    sha256: str | None = None
    duration: float | None = None  # seconds, from the file's own movie header


@dataclass(frozen=True)
class Tile:
    id: str
    video: str
    locale: str
    state: str
    flags: tuple[str, ...]
    # The script as the video says it (the exported text), with what the manifests say
    # now marked: ("equal"|"delete"|"insert", text) parts. One "equal" part when unchanged.
    script: tuple[tuple[str, str], ...]
    model: str
    resolution: str
    source: str  # file:line of the item in the manifests ("" when orphaned)
    project_id: str | None
    file: VideoFile | None  # None when there is nothing to look for (not done)
    progress: float | None
    next_step: str  # the command that brings what is missing ("" when nothing is)


@dataclass(frozen=True)
class Review:
    tiles: tuple[Tile, ...]  # sorted by id
    emulator: bool


def check_file(path: Path, entry: Entry) -> VideoFile:
    """The file on disk against the lockfile's sha256 and bytes (never shown as good when
    it differs, or when the lockfile has no hash to compare with)."""
    if not path.is_symlink() and not path.exists():
        return VideoFile(path, False)
    try:
        # Pull writes regular files: a symlink, FIFO or folder in their place is not one
        # of them (and a FIFO would block a plain open).
        descriptor = open_regular(path, follow=False)
    except NotRegular as error:
        return VideoFile(path, True, str(error))
    except OSError as error:
        return VideoFile(path, True, f"cannot be read: {error.strerror or error}")
    try:
        with os.fdopen(descriptor, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            digest = hashlib.sha256()
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
            duration = movie_duration(stream, size)
    except OSError as error:  # a failing disk, a file cut while read
        return VideoFile(path, True, f"cannot be read: {error.strerror or error}")
    sha = digest.hexdigest()
    problem = ""
    if entry.sha256 is None:
        problem = "no sha256 recorded in the lockfile to check it against"
    elif sha != entry.sha256.lower():
        problem = "sha256 differs from the lockfile's"
    elif entry.size is not None and entry.size != size:
        problem = f"{size:,} bytes; the lockfile says {entry.size:,}"
    return VideoFile(path, True, problem, size, sha, duration)


def _state(entry: Entry | None, item: Item | None) -> str:
    if entry is None:
        return NOT_EXPORTED
    if entry.state in (DONE, FAILED, UNCERTAIN):
        return str(entry.state)
    if entry.project_id is None:
        return NOT_EXPORTED
    is_export = entry.is_export
    if is_export is None and item is not None:
        is_export = item.request.get("isExport") is not False
    return PREVIEW if is_export is False else RENDERING


def _script(entry: Entry | None, item: Item | None) -> tuple[tuple[str, str], ...]:
    exported = entry.text if entry is not None and entry.project_id is not None else None
    current = str(item.request.get("text", "")) if item is not None else None
    if exported is None:
        return (("equal", current or (entry.text if entry else "") or ""),)
    if current is None or current == exported:
        return (("equal", exported),)
    return word_changes(exported, current)


def _next_step(tile_state: str, flags: Sequence[str], item_id: str, suffix: str) -> str:
    if tile_state == NOT_EXPORTED:
        return f"specsync apply{suffix} exports it"
    if tile_state == RENDERING:
        return f"specsync status{suffix} --wait brings the render"
    if tile_state == FAILED:
        return f"specsync apply{suffix} --replace '{item_id}' exports it again"
    if tile_state == UNCERTAIN:
        return (
            f"specsync reconcile{suffix} records it if the service has it; "
            f"specsync apply{suffix} --retry-uncertain sends it again"
        )
    if NOT_PULLED in flags or FILE_BAD in flags:
        return f"specsync pull{suffix} downloads it"
    if CHANGED in flags:
        return f"specsync plan{suffix} shows the change; specsync apply{suffix} exports it"
    return ""


def _resolution(entry: Entry | None, item: Item | None) -> str:
    if item is not None and item.request.get("resolution") is not None:
        return str(item.request["resolution"])
    if entry is not None and entry.resolution not in (None, DEFAULT_RESOLUTION):
        return str(entry.resolution)
    return "default (1080)"


def build_review(
    items: Sequence[Item],
    lock: Lockfile,
    locate_video: VideoLocator,
    status_cache: Mapping[str, Mapping[str, Any]],
    targets: Sequence[str] = (),
    emulator: bool = False,
    project_root: Path | None = None,
) -> Review:
    """Every item of the manifests and every lockfile entry, as tiles sorted by id.

    `project_root`: item sources are shown relative to it (as a reviewer finds them in
    the repository), not to the folder the command ran in."""
    by_id: dict[str, Item] = {item.id: item for item in items}
    ids = sorted(set(by_id) | set(lock.entries))
    if targets:
        ids = [key for key in ids if matches(key, targets)]
    suffix = " --emulator" if emulator else ""
    checks = _check_files(
        locate_video,
        [(key, lock.entries[key]) for key in ids if _state(lock.entries.get(key), None) == DONE],
    )
    tiles = []
    for key in ids:
        item, entry = by_id.get(key), lock.entries.get(key)
        tile_state = _state(entry, item)
        flags = []
        file = checks.get(key)
        if tile_state == DONE and (file is None or not file.present):
            flags.append(NOT_PULLED)
        if file is not None and file.present and file.problem:
            flags.append(FILE_BAD)
        exported = entry is not None and entry.project_id is not None
        if item is not None and entry is not None and exported and not same_export(item, entry):
            flags.append(CHANGED)
        if item is None:
            flags.append(ORPHANED)
        video, _, locale = key.partition("/")
        cached = status_cache.get(key) or {}
        progress = cached.get("progress") if entry is not None else None
        same_project = entry is not None and cached.get("projectId") == entry.project_id
        tiles.append(
            Tile(
                id=key,
                video=video,
                locale=locale,
                state=tile_state,
                flags=tuple(flags),
                script=_script(entry, item),
                model=_model(entry, item),
                resolution=_resolution(entry, item),
                source=_source(item, project_root),
                project_id=entry.project_id if entry is not None else None,
                file=file,
                progress=_progress(progress) if same_project else None,
                next_step=_next_step(tile_state, flags, key, suffix),
            )
        )
    return Review(tuple(tiles), emulator)


def _progress(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= 100 else None


def _source(item: Item | None, project_root: Path | None) -> str:
    if item is None:
        return ""
    location = item.source
    if project_root is not None and location.path:
        path = os.path.relpath(os.path.abspath(location.path), project_root)
        location = replace(location, path=Path(path).as_posix())
    return location.short


def _model(entry: Entry | None, item: Item | None) -> str:
    if item is not None:
        return str(item.request.get("model", ""))
    return entry.model or "" if entry is not None else ""


def _check_files(
    locate_video: VideoLocator, done: Sequence[tuple[str, Entry]]
) -> dict[str, VideoFile]:
    """check_file for every done item, a few at a time (hashing releases the GIL)."""

    def one(pair: tuple[str, Entry]) -> tuple[str, VideoFile | None]:
        key, entry = pair
        path = locate_video(key)
        return key, None if path is None else check_file(path, entry)

    if len(done) < 8:
        results = [one(pair) for pair in done]
    else:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(one, done))
    return {key: file for key, file in results if file is not None}
