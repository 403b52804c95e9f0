"""The review page in a real browser (headless Chromium): the example project after the
emulator flow, a hostile project, and a thousand-item page."""

from __future__ import annotations

import collections
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from specsync.state.lockfile_read import read_lockfile
from tests.helpers import EXAMPLES, env_for, specsync
from tests.helpers.chromium import LOAD_EVERY_PLAYER, OpenPage, chromium, png_is_blank


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def tab(browser: Any) -> Iterator[Any]:
    """One page for the module's tests, each opening its file in it anew (OpenPage.in_tab):
    a page of its own per test cost ~0.35 CPU-s of a new renderer each."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/ after `apply`, `status --wait --pull` and `review`: the flow README
    shows, against an emulator that renders in 0.1 s (`--emulator`'s take 2 s)."""
    project = tmp_path_factory.mktemp("example") / "project"
    shutil.copytree(EXAMPLES, project)
    with running_emulator(EmulatorConfig(render_seconds=0.1)) as emu:
        for command in (
            ["apply", "--rate", "100"],
            ["status", "--wait", "--pull", "--timeout", "60"],
            ["review"],
        ):
            result = specsync(command, project, env_for(emu.url))
            assert result.returncode == 0, (command, result.stderr)
    return project


def lockfile_of(project: Path) -> Path:
    # The lockfile `review` read: the page names it in its first line.
    for candidate in (project / "specsync.lock", *project.glob(".specsync/**/*.lock")):
        if candidate.is_file():
            return candidate
    raise AssertionError("no lockfile after apply")


def page_of(project: Path) -> Path:
    pages = sorted(project.glob("**/review/index.html"))
    assert len(pages) == 1, pages
    return pages[0]


def test_every_done_and_pulled_item_plays_and_nothing_leaves_the_disk(
    tab: Any, example: Path
) -> None:
    opened = OpenPage.in_tab(tab, page_of(example), viewport={"width": 1280, "height": 900})
    players = opened.page.evaluate(LOAD_EVERY_PLAYER)
    lock = read_lockfile(lockfile_of(example))
    done = sorted(key for key, entry in lock.entries.items() if entry.state == "done")
    assert done and len(done) == len(lock.entries)
    # Every done item has a player, and the emulator's H.264 MP4 really plays in Chromium.
    assert sorted(item for item, _, _ in players) == done
    assert all(duration > 0 and error is None for _, duration, error in players), players
    # Played to the end, with frames decoded: Debian's chromium decodes H.264 itself.
    played = opened.page.evaluate(
        """async () => {
          const video = document.querySelector("article.tile video");
          video.muted = true;
          const ended = new Promise((done) => video.addEventListener("ended", done));
          video.play().catch(() => {});  // may settle only as "ended" (one frame)
          await ended;
          return [video.videoWidth, video.getVideoPlaybackQuality().totalVideoFrames];
        }"""
    )
    assert played[0] == 16 and played[1] >= 1
    assert opened.off_disk_requests() == []
    assert opened.errors == []
    assert not png_is_blank(opened.page.screenshot(full_page=True))
    opened.close()


def test_counts_per_state_equal_the_lockfiles(tab: Any, example: Path) -> None:
    opened = OpenPage.in_tab(tab, page_of(example))
    shown = opened.page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#counts li')]"
        ".map(li => [li.dataset.count, Number(li.querySelector('.n').textContent)]))"
    )
    tiles = opened.page.evaluate(
        "[...document.querySelectorAll('article.tile')].map(t => t.dataset.state)"
    )
    recorded = collections.Counter(
        entry.state or "rendering" for entry in read_lockfile(lockfile_of(example)).entries.values()
    )
    assert collections.Counter(tiles) == recorded
    assert {state: shown[state] for state in recorded} == dict(recorded)
    opened.close()


def visible_ids(opened: OpenPage) -> list[str]:
    return opened.page.evaluate(
        "[...document.querySelectorAll('article.tile')].filter(t => t.offsetParent !== null)"
        ".map(t => t.dataset.id)"
    )


def test_filters_hide_and_show_the_right_tiles(tab: Any, example: Path) -> None:
    opened = OpenPage.in_tab(tab, page_of(example))
    everything = visible_ids(opened)
    assert len(everything) == 7
    page = opened.page
    page.select_option("select[name=locale]", "ja")
    assert visible_ids(opened) == ["welcome/ja"]
    assert page.locator("section.video:visible").count() == 1  # empty rows hide too
    page.select_option("select[name=locale]", "")
    page.select_option("select[name=state]", "failed")
    assert visible_ids(opened) == []
    page.select_option("select[name=state]", "done")
    assert visible_ids(opened) == everything
    page.fill("input[name=search]", "pricing-overview/")
    assert visible_ids(opened) == [i for i in everything if i.startswith("pricing-overview/")]
    page.fill("input[name=search]", "zwei tarife")  # script text, any case
    assert visible_ids(opened) == ["pricing-overview/de"]
    assert page.text_content("#shown") == "1 of 7 items shown"
    page.fill("input[name=search]", "")
    assert visible_ids(opened) == everything
    opened.close()


def test_keys_move_between_tiles_and_play(tab: Any, example: Path) -> None:
    opened = OpenPage.in_tab(tab, page_of(example))
    page = opened.page
    focused = "document.activeElement.dataset.id || null"
    page.keyboard.press("j")
    first = page.evaluate(focused)
    page.keyboard.press("j")
    second = page.evaluate(focused)
    page.keyboard.press("k")
    assert page.evaluate(focused) == first != second
    # The video lasts a second: listen for its start rather than poll `paused` after it.
    page.evaluate(
        "() => { window.started = false; document.activeElement.querySelector('video')"
        ".addEventListener('play', () => { window.started = true; }); }"
    )
    page.keyboard.press(" ")
    page.wait_for_function("() => window.started === true")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "search"
    opened.close()


def test_readable_without_javascript(browser: Any, example: Path) -> None:
    opened = OpenPage(browser, page_of(example), java_script_enabled=False)
    page = opened.page
    assert len(visible_ids(opened)) == 7
    assert not page.is_visible("#filters")
    assert "every item is listed below" in page.inner_text("body")
    opened.close()


def test_narrow_window_and_both_colour_schemes(tab: Any, example: Path) -> None:
    narrow = OpenPage.in_tab(tab, page_of(example), viewport={"width": 360, "height": 740})
    assert narrow.page.evaluate("document.documentElement.scrollWidth") <= 360
    narrow.close()
    colours = {}
    for scheme in ("light", "dark"):
        opened = OpenPage.in_tab(tab, page_of(example), color_scheme=scheme)
        colours[scheme] = opened.page.evaluate("getComputedStyle(document.body).backgroundColor")
        opened.close()
    assert colours == {"light": "rgb(255, 255, 255)", "dark": "rgb(13, 17, 23)"}


HOSTILE_SCRIPT = (
    'Hi </script><img src=x onerror="window.pwned=1;alert(1)"> '
    "<script>window.pwned=2</script> bell\a esc\x1b[31m "
    "rtl \u202eevil\u202c مرحبا بكم https://evil.example/x.png"
)


class Listener(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Listener.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A project whose script and orphaned lockfile entry carry markup, controls and RTL."""
    from specsync.state.lockfile_data import empty
    from specsync.state.lockfile_update import submitted_entry, with_entries
    from specsync.state.lockfile_write import write_lockfile

    (tmp_path / "manifests").mkdir()
    manifest = tmp_path / "manifests" / "hostile.yaml"
    script = HOSTILE_SCRIPT.replace("\\", "\\\\").replace('"', '\\"')
    script = script.replace("\a", "\\a").replace("\x1b", "\\e")
    manifest.write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\n"
        f'videos:\n  evil:\n    script: "{script}"\n',
        encoding="utf-8",
    )
    orphan = submitted_entry(
        None, "gone/en\u202e<b>x", "f" * 64, "<img src=y onerror=alert(2)>", "T", "2026-12-01"
    )
    orphan = orphan.with_request({"language": "en", "text": HOSTILE_SCRIPT, "model": "M<1>"})
    write_lockfile(tmp_path / "specsync.lock", with_entries(empty(), [orphan]))
    result = specsync(["review"], tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_hostile_values_show_as_text_and_run_nothing(tab: Any, hostile: Path) -> None:
    page_file = hostile / "review" / "index.html"
    html = page_file.read_text(encoding="utf-8")
    assert "<img" not in html and "\x1b" not in html
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        opened = OpenPage.in_tab(tab, page_file)
        page = opened.page
        assert page.evaluate("document.querySelectorAll('img, b, [onerror]').length") == 0
        assert page.evaluate("document.querySelectorAll('script').length") == 1  # ours
        assert page.evaluate("window.pwned") is None
        assert opened.dialogs == [] and opened.errors == []
        scripts = page.locator("article.tile .script").all_inner_texts()
        assert len(scripts) == 2
        for text in scripts:
            assert '</script><img src=x onerror="window.pwned=1;alert(1)">' in text
            assert "bell\\u0007 esc\\u001b[31m" in text
            assert "\\u202eevil\\u202c مرحبا بكم" in text
        shown = page.inner_text("body")
        assert "en\\u202e<b>x" in shown
        assert "\u202e" not in shown and "\x1b" not in shown  # marks, never the characters
        # The policy forbids the network even to script that runs: a fetch to a listening
        # loopback server is refused before it leaves the page.
        port = server.server_address[1]
        refused = page.evaluate(
            f"fetch('http://127.0.0.1:{port}/leak').then(() => false, () => true)"
        )
        assert refused and Listener.hits == []
        assert opened.off_disk_requests() == []
        opened.close()
    finally:
        server.shutdown()
        server.server_close()


# Scaling: a thousand tiles laid out and scrolled in Chromium (5-10 s).
@pytest.mark.slow
def test_a_thousand_tiles_load_players_only_near_the_view(tab: Any, tmp_path: Path) -> None:
    from tests.helpers.page_samples import done_and_pulled_project

    page_file = done_and_pulled_project(tmp_path, videos=200, locales=5)
    opened = OpenPage.in_tab(tab, page_file, viewport={"width": 1280, "height": 900})
    page = opened.page
    waiting = "[...document.querySelectorAll('video')].filter(v => v.preload === 'none').length"
    assert page.evaluate("document.querySelectorAll('article.tile').length") == 1000
    assert page.evaluate(waiting) > 900  # far below the view: not loaded
    last = page.locator("article.tile").last
    last.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const v = [...document.querySelectorAll('video')].pop();"
        " return v.preload === 'metadata' && v.readyState >= 1 && v.duration > 0; }"
    )
    assert opened.off_disk_requests() == []
    opened.close()
