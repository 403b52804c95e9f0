"""The review page without a browser: the MP4 header, each tile's state and file check,
escaping, the policy and the command."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import re
import struct
import time
from pathlib import Path

from specsync.emulator.video import project_video
from specsync.plan import word_changes
from specsync.review.mp4 import movie_duration
from specsync.review.page import render_page
from specsync.state.lockfile_data import empty
from specsync.state.lockfile_update import uncertain_entry, with_entries, with_state
from tests.helpers import SPECSYNC, assert_not_a_crash, run, specsync
from tests.helpers.page_samples import build, done_and_pulled, exported, item, pulled, write_review


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def duration_of(data: bytes) -> float | None:
    return movie_duration(io.BytesIO(data), len(data))


def test_duration_comes_from_the_movie_header() -> None:
    assert duration_of(project_video("P1")) == 1.0
    version1 = bytes([1, 0, 0, 0]) + bytes(16) + struct.pack(">IQ", 600, 9000)
    # moov after a large mdat, as files without faststart have it; mvhd version 1.
    data = box(b"ftyp", b"isom") + box(b"mdat", bytes(5000)) + box(b"moov", box(b"mvhd", version1))
    assert duration_of(data) == 15.0
    # A 64-bit box size (size field 1, the length after the type), as large files have.
    mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + 100) + bytes(100)
    assert duration_of(mdat + box(b"moov", box(b"mvhd", version1))) == 15.0


def test_a_broken_header_has_no_duration() -> None:
    good = project_video("P1")
    assert duration_of(good[:100]) is None  # cut inside moov
    assert duration_of(b"") is None and duration_of(os.urandom(4096)) is None
    # A box claiming more bytes than the file has; an unknown duration; a zero timescale.
    assert duration_of(struct.pack(">I4s", 2**31, b"moov") + bytes(64)) is None
    unknown = bytes(12) + struct.pack(">II", 1000, 0xFFFFFFFF)
    assert duration_of(box(b"moov", box(b"mvhd", unknown))) is None
    assert duration_of(box(b"moov", box(b"mvhd", bytes(12) + struct.pack(">II", 0, 5)))) is None
    # Thousands of empty boxes: looked at up to a bound, quickly.
    started = time.perf_counter()
    assert duration_of(box(b"free", b"") * 100_000) is None
    assert time.perf_counter() - started < 0.5


def test_word_changes_cover_both_texts() -> None:
    parts = word_changes("Team at 29 dollars a month.", "Team at 39 dollars a month, yearly.")
    assert "".join(t for k, t in parts if k != "insert") == "Team at 29 dollars a month."
    assert "".join(t for k, t in parts if k != "delete") == "Team at 39 dollars a month, yearly."
    assert ("delete", "29") in parts and ("insert", "39") in parts


def test_every_state_gets_its_tile_and_the_command_that_brings_what_is_missing(
    tmp_path: Path,
) -> None:
    done, rendering, failed, uncertain, new, changed, preview, unpulled = (
        item("a/en", "Done."),
        item("a/ko", "Rendering."),
        item("b/en", "Failed."),
        item("b/ko", "Uncertain."),
        item("c/en", "Never exported."),
        item("c/ko", "Changed now."),
        item("d/en", "A preview.", isExport=False),
        item("d/ko", "Done, not pulled."),
    )
    lock = with_entries(
        empty(),
        [
            exported(done, "P1"),
            exported(rendering, "P2"),
            exported(failed, "P3"),
            uncertain_entry(None, uncertain.id, uncertain.fingerprint, "2026-12-01"),
            exported(item("c/ko", "Changed then."), "P5"),
            exported(preview, "P6"),
            exported(unpulled, "P7"),
        ],
    )
    lock = pulled(tmp_path, lock, done, "P1")
    lock = with_state(with_state(lock, "b/en", "failed"), "d/ko", "done")
    all_items = [done, rendering, failed, uncertain, new, changed, preview, unpulled]
    tiles = {tile.id: tile for tile in build(tmp_path, all_items, lock, emulator=True).tiles}

    def seen(key: str) -> tuple[str, tuple[str, ...], str]:
        return tiles[key].state, tiles[key].flags, tiles[key].next_step

    assert seen("a/en") == ("done", (), "")
    assert tiles["a/en"].file is not None and tiles["a/en"].file.duration == 1.0
    assert seen("a/ko") == ("rendering", (), "specsync status --emulator --wait brings the render")
    assert (
        seen("b/en")[:2] == ("failed", ())
        and "apply --emulator --replace 'b/en'" in seen("b/en")[2]
    )
    assert seen("b/ko")[0] == "uncertain" and "reconcile" in seen("b/ko")[2]
    assert seen("c/en") == ("not-exported", (), "specsync apply --emulator exports it")
    assert seen("c/ko")[:2] == ("rendering", ("changed",))
    assert tiles["c/ko"].script == (
        ("equal", "Changed "),
        ("delete", "then"),
        ("insert", "now"),
        ("equal", "."),
    )
    assert seen("d/en")[0] == "preview"
    assert seen("d/ko") == ("done", ("not-pulled",), "specsync pull --emulator downloads it")
    assert tiles["a/en"].source == "manifests/m.yaml:3"


def test_a_file_that_fails_the_check_is_never_shown_as_good(tmp_path: Path) -> None:
    one, two, three, four = (item(f"v/{x}", "Text.") for x in ("en", "ko", "ja", "de"))
    lock = with_entries(
        empty(), [exported(x, f"P{n}") for n, x in enumerate((one, two, three, four))]
    )
    for n, x in enumerate((one, two, three, four)):
        lock = pulled(tmp_path, lock, x, f"P{n}")
    videos = tmp_path / "videos" / "v"
    (videos / "ko.mp4").write_bytes(project_video("other"))  # another video's bytes
    (videos / "ja.mp4").unlink()
    os.mkfifo(videos / "ja.mp4")  # a FIFO would block an open: never opened
    (videos / "de.mp4").unlink()
    (videos / "de.mp4").symlink_to(videos / "en.mp4")
    review = build(tmp_path, [one, two, three, four], lock)
    files = {tile.id: tile.file for tile in review.tiles}
    assert files["v/en"] is not None and files["v/en"].problem == ""
    assert (
        files["v/ko"] is not None and files["v/ko"].problem == "sha256 differs from the lockfile's"
    )
    assert files["v/ja"] is not None and files["v/ja"].problem == "not a regular file (a FIFO)"
    assert files["v/de"] is not None
    assert files["v/de"].problem == "not a regular file (a symbolic link)"
    flags = {tile.id: tile.flags for tile in review.tiles}
    assert flags == {
        "v/en": (),
        "v/ko": ("file-check-failed",),
        "v/ja": ("file-check-failed",),
        "v/de": ("file-check-failed",),
    }
    page = render_page(review, tmp_path / "review", "specsync.lock")
    assert page.count("sha256 differs from the lockfile&#39;s") == 1
    assert page.count("matches the lockfile") == 1


def test_the_policy_allows_exactly_the_inline_style_and_script(tmp_path: Path) -> None:
    one = item("v/en", "Text.")
    lock = pulled(tmp_path, with_entries(empty(), [exported(one, "P1")]), one, "P1")
    page = render_page(build(tmp_path, [one], lock), tmp_path / "review", "specsync.lock")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None and page.index(policy.group(0)) < page.index("<title>")
    text = html.unescape(policy.group(1))
    directives = dict(d.strip().split(" ", 1) for d in text.split(";"))
    assert directives["default-src"] == "'none'" and directives["media-src"] == "'self'"
    for tag in ("style", "script"):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        assert body is not None
        digest = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
        assert directives[f"{tag}-src"] == f"'sha256-{digest}'"
    assert 'src="../videos/v/en.mp4"' in page
    assert "http:" not in page and "https:" not in page and "file:" not in page


def test_review_command_writes_beside_the_lockfile_and_refuses_an_unmatched_target(
    tmp_path: Path,
) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en, ko]}\nvideos:\n  hello:\n"
        "    script: Hello.\n",
        encoding="utf-8",
    )
    (tmp_path / "specsync.yaml").write_text("specsync: 1\n", encoding="utf-8")
    (tmp_path / "manifests" / "sub").mkdir()
    result = specsync(["review"], tmp_path / "manifests" / "sub")
    assert result.returncode == 0, result.stderr
    assert "Review: 2 items (2 not-exported)." in result.stderr
    page = (tmp_path / "review" / "index.html").read_text(encoding="utf-8")
    assert page.count('data-state="not-exported"') == 2 and "specsync apply exports it" in page
    assert page.count("<code>manifests/m.yaml:4</code>") == 2  # from the project root
    other = specsync(["review", "--out", "elsewhere/page", "--format", "json"], tmp_path)
    assert other.returncode == 0 and (tmp_path / "elsewhere/page/index.html").is_file()
    document = json.loads(other.stdout)
    assert document["page"] == "elsewhere/page/index.html"
    assert [(i["id"], i["state"], i["next"]) for i in document["items"]] == [
        ("hello/en", "not-exported", "specsync apply exports it"),
        ("hello/ko", "not-exported", "specsync apply exports it"),
    ]
    unmatched = specsync(["review", "--target", "nothing/*"], tmp_path)
    assert unmatched.returncode == 1 and "nothing/*" in unmatched.stderr
    assert_not_a_crash(unmatched)


def test_a_rehearsal_review_names_sources_from_the_project_not_from_its_state_folder(
    tmp_path: Path,
) -> None:
    # `review --emulator` reads .specsync/emulator.lock; sources were named from that
    # folder ("../manifests/m.yaml:4"), not from the project as every other message.
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  hello:\n"
        "    script: Hello.\n",
        encoding="utf-8",
    )
    (tmp_path / "specsync.yaml").write_text("specsync: 1\n", encoding="utf-8")
    result = specsync(["review", "--emulator"], tmp_path / "manifests")
    assert result.returncode == 0, result.stderr
    assert "Review: 1 item (1 not-exported)." in result.stderr  # one item, not "1 items"
    page = (tmp_path / "review" / "index.html").read_text(encoding="utf-8")
    assert "<code>manifests/m.yaml:4</code>" in page and "../manifests" not in page
    assert "/.specsync/emulator.lock</code>" in page  # named from where it ran
    assert not (tmp_path / ".specsync" / "review").exists()


def test_a_thousand_items_build_in_under_two_seconds_into_under_two_megabytes(
    tmp_path: Path,
) -> None:
    """The issue's figure, for the page's own work (bench/bench_review.py times the whole
    command, manifests included): every file hashed and its header read, the page written."""
    items, lock = done_and_pulled(tmp_path, videos=200, locales=5)
    started = time.perf_counter()
    page = write_review(tmp_path, items, lock)
    assert time.perf_counter() - started < 2.0
    assert page.stat().st_size < 2_000_000
    assert page.read_text(encoding="utf-8").count("<article") == 1000


def test_review_refuses_bad_manifests_and_a_page_path_it_cannot_write(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    manifest = tmp_path / "manifests" / "m.yaml"
    manifest.write_text("specsync: 1\nvideos:\n  hello: {script: Hi.}\n", encoding="utf-8")
    broken = specsync(["review"], tmp_path)  # no model, no locale
    assert broken.returncode == 1 and "manifests/m.yaml:3" in broken.stderr
    assert not (tmp_path / "review").exists()
    manifest.write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  hello: {script: Hi.}\n",
        encoding="utf-8",
    )
    outside = tmp_path / "outside.html"
    outside.write_text("not yours", encoding="utf-8")
    (tmp_path / "review").mkdir()
    (tmp_path / "review" / "index.html").symlink_to(outside)
    linked = specsync(["review"], tmp_path)
    assert linked.returncode == 1 and "symbolic link" in linked.stderr
    assert outside.read_text(encoding="utf-8") == "not yours"
    (tmp_path / "taken").write_text("a file", encoding="utf-8")
    taken = specsync(["review", "--out", "taken"], tmp_path)
    assert taken.returncode == 1 and "cannot write the page" in taken.stderr
    assert_not_a_crash(linked)
    assert_not_a_crash(taken)


def test_open_hands_the_page_to_the_desktop_opener(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  hello: {script: Hi.}\n",
        encoding="utf-8",
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"  # what click.launch runs on Linux
    opener.write_text(f'#!/bin/sh\necho "$1" > {tmp_path}/opened\n', encoding="utf-8")
    opener.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    # A real process: the opener it starts is left running, not waited for.
    result = run([SPECSYNC, "review", "--open"], tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    for _ in range(100):  # the opener runs beside specsync, not waited for
        if (tmp_path / "opened").exists():
            break
        time.sleep(0.05)
    opened = (tmp_path / "opened").read_text(encoding="utf-8").strip()
    assert opened == str((tmp_path / "review" / "index.html").resolve())  # click unquotes
    env["PATH"] = str(tmp_path / "nothing")  # no opener at all: said, not an error
    unopened = specsync(["review", "--open"], tmp_path, env)
    assert unopened.returncode == 0, unopened.stderr
    assert "could not open a browser" in unopened.stderr
