"""review: write a static page to watch every pulled video beside its script."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from specsync.cli.console import counted, shown
from specsync.cli.exit_codes import EXIT_OK
from specsync.cli.options import (
    LOCKFILE_OPTION,
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    announce_compile,
    emulator_flag,
    format_option,
    mode_lockfile,
    target_option,
)
from specsync.cli.pull_command import resolve_out
from specsync.cli.report_json import review_document
from specsync.errors import UserError
from specsync.manifests.pipeline import load_items
from specsync.plan import require_matches
from specsync.project_names import project_folder
from specsync.review.page import render_page, write_page
from specsync.review.tiles import build_review
from specsync.service.pull import video_path
from specsync.service.status import read_cache
from specsync.state.journal import read_lock_view

if TYPE_CHECKING:
    from specsync.review.tiles import Review

DEFAULT_PAGE_DIR = "review"


@click.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
@LOCKFILE_OPTION
@click.option(
    "--out",
    "out_dir",
    default=None,
    metavar="DIR",
    help="Where the page goes, as DIR/index.html (default: review/ beside the lockfile).",
)
@click.option(
    "--videos",
    "videos_dir",
    default=None,
    metavar="DIR",
    help="Where `specsync pull` put the videos (default: videos/ beside the lockfile, as "
    "pull's default).",
)
@target_option("Only items whose id (VIDEO/LOCALE) matches GLOB; repeatable.")
@click.option("--open", "open_page", is_flag=True, help="Open the page in your browser.")
@emulator_flag("Review the lockfile and videos of `apply --emulator` runs.")
@format_option(
    ("text", "json"),
    "json: {page, items: [{id, state, flags, source, projectId, file, next}]} on stdout "
    "alone (the page is written either way).",
)
def review(
    paths: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    lockfile: str,
    out_dir: str | None,
    videos_dir: str | None,
    targets: tuple[str, ...],
    open_page: bool,
    use_emulator: bool,
    output_format: str,
) -> int:
    """Write a static review page: one row per video, one tile per locale, each with the
    pulled video, its script (words changed since the export marked, as `plan` shows them),
    state, model, resolution, file size, duration, sha256 check and where it is defined.

    No network and no server: open DIR/index.html from disk, a file share or a CI artifact
    (keep DIR and the videos folder side by side: the page links them relatively). Items
    not exported, not rendered or not pulled are listed too, each naming the command that
    brings what is missing. Filters, search and keys need JavaScript; the page reads
    without it.

    \b
    Examples:
      specsync apply --emulator
      specsync status --emulator --wait --pull
      specsync review --emulator --open
      specsync review --out build/review --target 'welcome/*'
    """

    # --emulator: the rehearsal lockfile (.specsync/emulator.lock), as every command.
    path = Path(mode_lockfile(lockfile, use_emulator))
    items = load_items(paths, root=root, use_cache=not no_cache, on_compile=announce_compile)
    lock = read_lock_view(path)
    require_matches("--target", targets, [*(item.id for item in items), *lock.entries])
    # The project's folder, where videos/ and review/ live and sources are named from (a
    # rehearsal lockfile sits in .specsync/, they do not).
    project = project_folder(path)
    page_dir = Path(out_dir) if out_dir else project / DEFAULT_PAGE_DIR
    videos = resolve_out(videos_dir, path)
    result = build_review(
        items,
        lock,
        functools.partial(video_path, videos),
        read_cache(path),
        targets,
        emulator=use_emulator or lock.emulator,
        project_root=project,
    )
    written = write_review_page(result, page_dir, str(path), targets_given=bool(targets))
    print_review(result, written, output_format)
    if open_page:
        open_in_browser(written)
    return EXIT_OK


def write_review_page(result: Review, page_dir: Path, lockfile: str, targets_given: bool) -> Path:
    """Render and write the page; a disk that refuses it is the user's problem, named."""
    page = render_page(result, page_dir, lockfile, targets_given=targets_given)
    try:
        return write_page(page_dir, page)
    except OSError as error:
        where = error.filename or page_dir
        raise UserError(f"cannot write the page {where}: {error.strerror}") from None


def print_review(result: Review, written: Path, output_format: str) -> None:
    """Count the items by state on stderr; print the page's path, or the JSON document."""

    counts: dict[str, int] = {}
    for tile in result.tiles:
        counts[tile.state] = counts.get(tile.state, 0) + 1
    summary = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    click.echo(f"Review: {counted(len(result.tiles), 'item')} ({summary or 'none'}).", err=True)
    if output_format == "json":
        document = review_document(result, str(written))
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        click.echo(shown(str(written)))


def open_in_browser(written: Path) -> None:
    """Open the page; say so when no browser could."""

    if click.launch(written.resolve().as_uri()) != 0:
        click.echo(f"could not open a browser: open {shown(str(written))} yourself", err=True)
