"""How long `specsync review` takes for a big project, and how big its page is.

Builds a project of ITEMS items (bench/gen_manifests.py, `distinct` scripts: every tile has
its own text), records every item as exported, done and pulled in the lockfile, writes a
small MP4 per item where `pull` would (the emulator's video: each file is hashed and its
header read, as on a real project), then times `specsync review` as a user runs it (a fresh
process, median of --runs) and prints one row:

    python bench/bench_review.py --items 1000 --runs 3

"command s" is `specsync review` end to end in a fresh process (start-up, manifests,
lockfile, files, page); "page build s" the page's own work once items and lockfile are
read (files hashed, headers read, HTML rendered and written). The issue asks for under 2 s
and under 2 MB for 1,000 items; bench/README.md keeps the last figures.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_manifests  # noqa: E402 - a script folder, not a package

from specsync.emulator.video import project_video  # noqa: E402
from specsync.manifests.pipeline import load_items  # noqa: E402
from specsync.state.lockfile_data import empty  # noqa: E402
from specsync.state.lockfile_update import (  # noqa: E402
    submitted_entry,
    with_download,
    with_entries,
    with_state,
)
from specsync.state.lockfile_write import write_lockfile  # noqa: E402

SPECSYNC = [sys.executable, "-m", "specsync"]


def make_project(root: Path, items: int) -> None:
    """manifests/, specsync.lock (every item done and pulled) and videos/ under `root`."""
    gen_manifests.generate(root / "manifests", items=items, shape="distinct")
    (root / "specsync.yaml").write_text("specsync: 1\n", encoding="utf-8")
    rendered = load_items(["manifests"], cwd=root)
    entries = []
    for number, item in enumerate(rendered):
        entry = submitted_entry(
            None, item.id, item.fingerprint, f"P{number}", f"T{number}", "2026-12-01T00:00:00Z"
        )
        entries.append(entry.with_request(item.request))
    lock = with_entries(empty(), entries)
    for number, item in enumerate(rendered):
        video = project_video(f"P{number}")
        path = root / "videos" / item.video / f"{item.locale}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(video)
        lock = with_state(lock, item.id, "done")
        lock = with_download(
            lock, item.id, f"P{number}", hashlib.sha256(video).hexdigest(), len(video)
        )
    write_lockfile(root / "specsync.lock", lock)


def time_page(root: Path) -> float:
    """The page's own work in this process: the lockfile and manifests already read, every
    file hashed and its header read, the page rendered and written."""
    import functools

    from specsync.review.page import render_page, write_page
    from specsync.review.tiles import build_review
    from specsync.service.pull import video_path
    from specsync.state.lockfile_read import read_lockfile

    items = load_items(["manifests"], cwd=root)
    lock = read_lockfile(root / "specsync.lock")
    started = time.perf_counter()
    review = build_review(items, lock, functools.partial(video_path, root / "videos"), {})
    write_page(root / "review", render_page(review, root / "review", "specsync.lock"))
    return time.perf_counter() - started


def time_review(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*SPECSYNC, "review"], cwd=root, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(items: int, runs: int) -> tuple[float, float, int]:
    """(median seconds of `specsync review`, of the page's own work, bytes of the page)."""
    with tempfile.TemporaryDirectory(prefix="specsync-review-bench-") as folder:
        root = Path(folder)
        make_project(root, items)
        time_review(root)  # warm: the template cache, as every run after the first
        seconds = statistics.median(time_review(root) for _ in range(runs))
        page = statistics.median(time_page(root) for _ in range(runs))
        return seconds, page, (root / "review" / "index.html").stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seconds, page, size = measure(args.items, args.runs)
    print("items  command s (median)  page build s (median)  page bytes  bytes per item")
    print(f"{args.items:<6} {seconds:<19.2f} {page:<22.2f} {size:<11,} {size // args.items:,}")


if __name__ == "__main__":
    main()
