"""Review pages built straight from items, a lockfile and files, for the page tests."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from specsync.emulator.video import project_video
from specsync.model import Item, Location, build_request
from specsync.review.page import render_page, write_page
from specsync.review.tiles import Review, build_review
from specsync.service.pull import video_path
from specsync.state.lockfile_data import Entry, Lockfile, empty
from specsync.state.lockfile_update import (
    submitted_entry,
    with_download,
    with_entries,
    with_state,
)


def item(item_id: str, text: str, line: int = 3, **fields: object) -> Item:
    video, _, locale = item_id.partition("/")
    request = build_request(locale, text, {"model": "M1", "isExport": True, **fields})
    return Item(item_id, video, locale, request, Location("manifests/m.yaml", line, 5))


def exported(item: Item, project_id: str) -> Entry:
    entry = submitted_entry(None, item.id, item.fingerprint, project_id, "T", "2026-12-01")
    return entry.with_request(item.request)


def pulled(root: Path, lock: Lockfile, item: Item, project_id: str) -> Lockfile:
    """`item` done, its video where pull puts it, hash and bytes recorded."""
    video = project_video(project_id)
    path = root / "videos" / item.video / f"{item.locale}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(video)
    lock = with_state(lock, item.id, "done")
    return with_download(lock, item.id, project_id, hashlib.sha256(video).hexdigest(), len(video))


def build(root: Path, items: list[Item], lock: Lockfile, **options: object) -> Review:
    videos = functools.partial(video_path, root / "videos")
    return build_review(items, lock, videos, {}, **options)  # type: ignore[arg-type]


def done_and_pulled(root: Path, videos: int, locales: int) -> tuple[list[Item], Lockfile]:
    """videos x locales items, every one exported, done and pulled under `root`."""
    items = [
        item(f"video-{v:04d}/{locale}", f"Script {v} in {locale}: welcome to lesson {v}.")
        for v in range(videos)
        for locale in ("en", "ko", "ja", "de", "fr", "es", "it", "nl")[:locales]
    ]
    lock = with_entries(empty(), [exported(it, f"P{n}") for n, it in enumerate(items)])
    for number, one in enumerate(items):
        lock = pulled(root, lock, one, f"P{number}")
    return items, lock


def write_review(root: Path, items: list[Item], lock: Lockfile) -> Path:
    """The page of `items` as `specsync review` writes it: root/review/index.html."""
    review = build(root, items, lock)
    return write_page(root / "review", render_page(review, root / "review", "specsync.lock"))


def done_and_pulled_project(root: Path, videos: int, locales: int) -> Path:
    """done_and_pulled's page."""
    return write_review(root, *done_and_pulled(root, videos, locales))
