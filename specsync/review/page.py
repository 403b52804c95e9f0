"""The review page: one HTML file from a Review, with its style and script inline.

Escaping is Jinja2's autoescape (every value from manifests, lockfile or service goes
through it); control characters and bidirectional overrides are also shown as visible
`\\uXXXX` marks, so a script or id can neither hide text nor reorder what is shown around
it. The Content-Security-Policy allows exactly the inline style and script (by hash), media
from the page's own place (the pulled videos, by relative link) and nothing else: no
fetch, no image, no font, no form target, no base URL.
"""

from __future__ import annotations

import base64
import datetime
import errno
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from specsync import __version__
from specsync.atomic import write_bytes_atomic
from specsync.review.tiles import FLAGS, LABELS, STATES, Review, Tile

# Players of the first tiles read their metadata at once, so a page opened without
# JavaScript shows them ready; the rest wait for the script's observer (or a click).
EAGER_PLAYERS = 24

# C0/C1 controls (but newline and tab in scripts), DEL, and the bidi embeddings, overrides
# and isolates: shown as marks, never passed to the page as they are.
_HIDDEN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_HIDDEN_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\ufeff]")


@dataclass(frozen=True)
class ShownTile:
    """A tile with what the page needs to link and say."""

    tile: Tile
    href: str  # relative URL of the video ("" when there is nothing to play)
    preload: str
    file_name: str
    missing: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tile, name)


def _asset(name: str) -> str:
    return (resources.files("specsync.review") / "assets" / name).read_text(encoding="utf-8")


def _hash_source(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(css: str, js: str) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            f"style-src {_hash_source(css)}",
            f"script-src {_hash_source(js)}",
            "media-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


def _marked(pattern: re.Pattern[str], text: str) -> Any:
    if not pattern.search(text):
        return escape(text)
    pieces = []
    last = 0
    for match in pattern.finditer(text):
        pieces.append(escape(text[last : match.start()]))
        # Only hex digits are put into the markup: nothing of the text itself.
        pieces.append(Markup(f'<bdi class="esc">\\u{ord(match.group()):04x}</bdi>'))
        last = match.end()
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)


def visible_name(value: Any) -> Any:
    """An id, path or word with every control and bidi character shown as a mark."""
    return _marked(_HIDDEN_NAME, "" if value is None else str(value))


def visible_text(value: Any) -> Any:
    """A script: newlines and tabs kept, other controls and bidi overrides shown as marks."""
    return _marked(_HIDDEN_TEXT, str(value))


def human_size(size: int | None) -> str:
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size:,} bytes"  # pragma: no cover - the loop always returns


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (no movie header)"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def _href(page_dir: Path, file: Path) -> str:
    relative = os.path.relpath(os.path.abspath(file), os.path.abspath(page_dir))
    return quote(Path(relative).as_posix())


def _missing(tile: Tile) -> str:
    if tile.file is not None and tile.file.present:
        return f"The file cannot be played here: {tile.file.problem}."
    return {
        "not-exported": "Never exported: no video yet.",
        "rendering": "Exported, still rendering (or not checked since).",
        "failed": "The render failed.",
        "uncertain": "The export request's outcome is unknown.",
        "preview": "A preview (isExport: false): no video file is made.",
        "done": "Rendered, but not pulled: no file here.",
    }.get(tile.state, "No video.")


def shown_tiles(review: Review, page_dir: Path) -> Iterator[ShownTile]:
    eager = EAGER_PLAYERS
    for tile in review.tiles:
        file = tile.file
        playable = file is not None and file.present and file.size is not None
        href = _href(page_dir, file.path) if playable and file is not None else ""
        preload = "none"
        if href and eager > 0:
            preload, eager = "metadata", eager - 1
        yield ShownTile(
            tile,
            href,
            preload,
            os.path.relpath(file.path, page_dir) if file is not None else "",
            "" if href else _missing(tile),
        )


def _counts(review: Review) -> list[tuple[str, str, int]]:
    counts = []
    for name in STATES:
        counts.append((name, LABELS[name], sum(1 for t in review.tiles if t.state == name)))
    for name in FLAGS:
        counts.append((name, LABELS[name], sum(1 for t in review.tiles if name in t.flags)))
    return [entry for entry in counts if entry[2] or entry[0] in STATES]


def render_page(review: Review, page_dir: Path, lockfile: str, targets_given: bool = False) -> str:
    """The whole page as text."""

    css, js = _asset("review.css"), _asset("review.js")
    environment = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        visible=visible_name,
        visible_text=visible_text,
        size=human_size,
        duration=human_duration,
    )
    template = environment.from_string(_asset("page.html.j2"))
    tiles = list(shown_tiles(review, page_dir))
    rows: dict[str, list[ShownTile]] = {}
    for tile in tiles:
        rows.setdefault(tile.video, []).append(tile)
    return template.render(
        policy=content_security_policy(css, js),
        css=css,
        js=js,
        version=__version__,
        tiles=tiles,
        rows=list(rows.items()),
        locales=sorted({tile.locale for tile in tiles}),
        counts=_counts(review),
        labels=LABELS,
        lockfile=lockfile,
        emulator=review.emulator,
        built=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        filtered=targets_given,
    )


def write_page(out_dir: Path, page: str) -> Path:
    """DIR/index.html, replaced atomically (a reader never sees half a page)."""

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "index.html"
    if target.is_symlink():
        # The atomic writer would replace the link's target, wherever it points.
        raise OSError(errno.ELOOP, "is a symbolic link; refusing to write through it", target)
    write_bytes_atomic(target, page.encode("utf-8"))
    return target
