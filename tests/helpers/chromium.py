"""Headless Chromium for the review page's browser tests: Debian's `chromium` driven by
Playwright for Python (`executable_path`; `playwright install` is never run and no browser
is downloaded). Playwright rather than raw DevTools: its page, request and media calls are
the maintained way to say "open, click, wait for the video", and it ships no browser.

Without the browser the tests skip, naming why; under CI (CI=true) they fail instead:
`.ci/run` installs chromium with apt, so a missing one there is a broken setup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("SPECSYNC_TEST_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


# Playwright's viewport for a context made without one.
DEFAULT_VIEWPORT = {"width": 1280, "height": 720}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright Browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class OpenPage:
    """A page opened from disk, with every request it made and every error it raised.

    `OpenPage(browser, file, **options)` opens it in a context of its own (made with
    Playwright's context options); `OpenPage.in_tab(tab, file, ...)` opens it in `tab`, a
    page the tests of a module share (a new page costs its renderer ~0.35 CPU-s). Either
    way the page is loaded anew, and the lists hold only what happened since."""

    def __init__(self, browser: Any, page_file: Path, **options: Any) -> None:
        self.context: Any = browser.new_context(**options)
        self._open(self.context.new_page(), page_file)

    @classmethod
    def in_tab(
        cls,
        tab: Any,
        page_file: Path,
        *,
        viewport: dict[str, int] | None = None,
        color_scheme: str = "light",
    ) -> OpenPage:
        """`page_file` opened in the shared page `tab`, at `viewport` (Playwright's default,
        1280 x 720, when None) and in `color_scheme` (its default, light): each set every
        time, so that no test sees what an earlier one chose."""
        opened = cls.__new__(cls)
        opened.context = None  # the tab's, closed by whoever made it
        tab.set_viewport_size(viewport or DEFAULT_VIEWPORT)
        tab.emulate_media(color_scheme=color_scheme)
        opened._open(tab, page_file)
        return opened

    def _open(self, page: Any, page_file: Path) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []

        def dismiss(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self._listeners = {
            "request": lambda request: self.requests.append(request.url),
            "pageerror": lambda error: self.errors.append(str(error)),
            "dialog": dismiss,
        }
        for event, listener in self._listeners.items():
            page.on(event, listener)
        page.goto(page_file.resolve().as_uri())

    def off_disk_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith("file://")]

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
            return
        for event, listener in self._listeners.items():
            self.page.remove_listener(event, listener)
        self.page.goto("about:blank")  # stops what the page was doing (a playing video)


# Each player with a source, scrolled into view, until its metadata or an error is in:
# [id, duration, error code or null] per tile.
LOAD_EVERY_PLAYER = """
async () => {
  const results = [];
  for (const tile of document.querySelectorAll("article.tile")) {
    const video = tile.querySelector("video");
    if (!video) continue;
    tile.scrollIntoView();
    if (video.readyState < 1 && !video.error) {
      await new Promise((done) => {
        video.addEventListener("loadedmetadata", done, { once: true });
        video.addEventListener("error", done, { once: true });
        setTimeout(done, 10000);
        if (video.preload === "none") video.preload = "metadata";
      });
    }
    results.push([tile.dataset.id, video.duration, video.error ? video.error.code : null]);
  }
  return results;
}
"""


def png_is_blank(png: bytes) -> bool:
    """True when a PNG screenshot holds (nearly) one colour: its decoded scanlines use only
    a handful of byte values. Hand-written (a zlib read of the IDAT chunks) to need no image
    library for one yes/no."""
    import struct
    import zlib

    offset, data = 8, b""
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return len(set(zlib.decompress(data))) < 16
