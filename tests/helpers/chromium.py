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
    """A page opened from disk, with every request it made and every error it raised."""

    def __init__(self, browser: Any, page_file: Path, **options: Any) -> None:
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

        def dismiss(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", dismiss)
        self.page.goto(page_file.resolve().as_uri())

    def off_disk_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith("file://")]

    def close(self) -> None:
        self.context.close()


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
