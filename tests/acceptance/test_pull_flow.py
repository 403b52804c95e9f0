"""pull end to end: apply → status --wait → pull through the installed command, against an
emulator behind a recording proxy that also serves as the download host (the progress
answers' download URLs are rewritten to point at it), so every download request and its
headers are seen, counted, and can be cut short or made hostile."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from specsync.emulator.video import project_video
from specsync.service.download_part import write_binding
from tests.helpers import SPECSYNC, assert_not_a_crash, env_for, specsync, tomllib
from tests.helpers.loopback import LoopbackServer

CANARY = "canary-key-pull-5d1e9a7c3b"
DOWNLOADS = "/downloads/"

MANIFEST = """\
specsync: 1
defaults:
  model: M000045058
  locales: [en, ko]
videos:
  welcome:
    script: "Welcome ({{ locale }})."
"""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    status: int = 0


# A hook may answer a download request itself: (handler, upstream status, headers, body)
# -> True when it wrote the answer.
Hook = Callable[[BaseHTTPRequestHandler, int, dict[str, str], bytes], bool]


@dataclass
class Proxy:
    url: str = ""
    upstream: str = ""
    seen: list[Seen] = field(default_factory=list)
    download_hook: Hook | None = None
    # Replaces the download URL in progress answers (a hostile service), when set.
    url_override: str | None = None

    def downloads(self) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(DOWNLOADS)]


def _answer(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes):
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


_KEPT = ("content-type", "content-range", "accept-ranges", "location")


@contextlib.contextmanager
def running_proxy(url_ttl: float) -> Iterator[Proxy]:
    """An emulator (renders in 0.1 s, download URLs valid for `url_ttl` seconds) behind a
    new proxy."""
    config = EmulatorConfig(render_seconds=0.1, api_key=CANARY, url_ttl=url_ttl)
    with running_emulator(config) as emu:
        state = Proxy(upstream=emu.url)
        upstream = urlsplit(emu.url)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._forward(self.rfile.read(length) if length else b"")

            def _forward(self, body: bytes) -> None:
                seen = Seen(self.command, self.path, dict(self.headers))
                state.seen.append(seen)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection = http.client.HTTPConnection(
                    upstream.hostname, upstream.port, timeout=10
                )
                try:
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    reply = connection.getresponse()
                    status, payload = reply.status, reply.read()
                    kept = {k: v for k, v in reply.getheaders() if k.lower() in _KEPT}
                finally:
                    connection.close()
                seen.status = status
                if self.path.startswith(DOWNLOADS):
                    hook = state.download_hook
                    if hook is not None and hook(self, status, kept, payload):
                        self.close_connection = True
                        return
                else:
                    payload = self._rewritten(payload)
                _answer(self, status, kept, payload)

            def _rewritten(self, payload: bytes) -> bytes:
                # The download host is this proxy (or whatever the test wants it to be).
                if state.url_override is None:
                    return payload.replace(state.upstream.encode(), state.url.encode())
                try:
                    document = json.loads(payload)
                    document["data"]["downloadUrl"] = state.url_override
                except (ValueError, KeyError, TypeError):
                    return payload
                return json.dumps(document).encode()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = LoopbackServer(Handler)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield state
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def service() -> Iterator[Proxy]:
    """The emulator and its proxy, shared by the module's tests (`proxy` gives each test a
    clean record and no hooks). The emulator keeps no state a pull changes: a project's
    state is in its id."""
    with running_proxy(url_ttl=3600.0) as state:
        yield state


@pytest.fixture
def proxy(service: Proxy) -> Proxy:
    """The module's proxy with nothing seen yet, no hooks and no URL override."""
    service.seen.clear()
    service.download_hook = None
    service.url_override = None
    return service


@pytest.fixture(scope="module")
def rendered(service: Proxy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project applied and rendered: both items done, their URLs cached by status (made
    once per module and emulator; each test gets a copy: `project`)."""
    return render_project(tmp_path_factory.mktemp("rendered"), service)


def render_project(root: Path, proxy: Proxy) -> Path:
    """Apply MANIFEST in `root` and wait until both items are done."""
    (root / "manifests").mkdir()
    (root / "manifests" / "videos.yaml").write_text(MANIFEST, encoding="utf-8")
    applied = pull(root, proxy, "apply")
    assert applied.returncode == 0, applied.stderr
    waited = pull(root, proxy, "status", "--wait", "--timeout", "20")
    assert waited.returncode == 0, waited.stderr
    return root


@pytest.fixture
def project(tmp_path: Path, rendered: Path, proxy: Proxy) -> Path:
    """A copy of the rendered project in the test's own folder."""
    shutil.copytree(rendered, tmp_path, symlinks=True, dirs_exist_ok=True)
    return tmp_path


def pull_env(proxy: Proxy) -> dict[str, str]:
    return env_for(proxy.url, key=CANARY, NO_COLOR="1", SPECSYNC_REQUEST_DEADLINE="5")


def pull(project: Path, proxy: Proxy, *args: str) -> Any:
    command = list(args) if args and args[0] in ("apply", "status") else ["pull", *args]
    return specsync([*command], project, env=pull_env(proxy))


def entries(project: Path) -> dict[str, dict[str, Any]]:
    with open(project / "specsync.lock", "rb") as handle:
        items: dict[str, dict[str, Any]] = tomllib.load(handle)["items"]
    return items


def video_of(project: Path, item: str) -> Path:
    video, locale = item.split("/")
    return project / "videos" / video / f"{locale}.mp4"


def expected(project: Path, item: str) -> bytes:
    return project_video(entries(project)[item]["projectId"])


def bind_part(project: Path, item: str) -> None:
    """Say that the part of `item` belongs to its current export (as a pull that was cut
    short leaves it)."""
    export = entries(project)[item]["projectId"]
    write_binding(video_of(project, item), {"projectId": export, "total": None})


def assert_no_key_sent_to(seen: list[Seen]) -> None:
    for request in seen:
        names = {name.lower() for name in request.headers}
        assert "authorization" not in names and "cookie" not in names, request.headers
        assert CANARY not in json.dumps(request.headers) + request.path


# the flow --------------------------------------------------------------------------------


def test_pull_writes_every_video_records_hashes_and_a_second_pull_sends_nothing(
    project: Path, proxy: Proxy
) -> None:
    result = pull(project, proxy, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {i["id"]: i["outcome"] for i in document["items"]} == {
        "welcome/en": "downloaded",
        "welcome/ko": "downloaded",
    }
    lock = entries(project)
    for item in ("welcome/en", "welcome/ko"):
        data = video_of(project, item).read_bytes()
        assert data == expected(project, item)
        assert lock[item]["bytes"] == len(data)
        assert lock[item]["sha256"] == __import__("hashlib").sha256(data).hexdigest()
    assert len(proxy.downloads()) == 2
    assert_no_key_sent_to(proxy.downloads())
    assert CANARY not in result.stdout + result.stderr
    assert "http" not in (project / "specsync.lock").read_text(encoding="utf-8")

    before = len(proxy.seen)
    again = pull(project, proxy)
    assert again.returncode == 0, again.stderr
    assert len(proxy.seen) == before  # not one request: the hashes match
    assert "2 unchanged" in again.stderr
    verified = pull(project, proxy, "--verify")
    assert verified.returncode == 0 and "2 verified" in verified.stderr
    assert len(proxy.seen) == before
    # Files on disk need no credentials either.
    keyless = {k: v for k, v in pull_env(proxy).items() if k != "AISTUDIOS_API_KEY"}
    assert specsync(["pull"], project, env=keyless).returncode == 0


def test_a_truncated_or_changed_file_is_found_by_verify_and_fetched_again(
    project: Path, proxy: Proxy
) -> None:
    assert pull(project, proxy).returncode == 0
    en, ko = video_of(project, "welcome/en"), video_of(project, "welcome/ko")
    en.write_bytes(en.read_bytes()[:100])
    ko.write_bytes(ko.read_bytes().replace(b"specsync", b"SPECSYNC"))
    verified = pull(project, proxy, "--verify")
    assert verified.returncode == 1
    assert "changed   welcome/en" in verified.stderr and "changed   welcome/ko" in verified.stderr
    ko.unlink()
    assert "missing   welcome/ko" in pull(project, proxy, "--verify").stderr
    before = len(proxy.downloads())
    result = pull(project, proxy)
    assert result.returncode == 0, result.stderr
    assert len(proxy.downloads()) == before + 2
    assert en.read_bytes() == expected(project, "welcome/en")
    assert ko.read_bytes() == expected(project, "welcome/ko")


# Real-time expiry: download URLs that live 1 s, waited out.
@pytest.mark.slow
def test_an_expired_url_is_refreshed_through_the_progress_endpoint(tmp_path: Path) -> None:
    with running_proxy(url_ttl=1.0) as proxy:
        project = render_project(tmp_path, proxy)
        time.sleep(1.2)  # the emulator's --url-ttl is 1 s: the cached URLs have expired
        result = pull(project, proxy, "--target", "welcome/en")
        assert result.returncode == 0, result.stderr
        statuses = [s.status for s in proxy.downloads()]
        assert statuses == [410, 200]
        progress = [s for s in proxy.seen if "/progress/" in s.path]
        assert progress[-1].headers.get("Authorization") == CANARY  # the API gets the key
        assert video_of(project, "welcome/en").read_bytes() == expected(project, "welcome/en")
        assert not video_of(project, "welcome/ko").exists()


def test_an_interrupted_download_resumes_with_range(project: Path, proxy: Proxy) -> None:
    def cut(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes):
        if status != 200:
            return False
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:300])  # then the connection closes
        return True

    proxy.download_hook = cut
    first = pull(project, proxy, "--target", "welcome/en")
    assert first.returncode == 1
    assert "the next pull resumes it" in first.stderr
    assert "sha256" not in entries(project)["welcome/en"]
    part = project / "videos" / "welcome" / ".en.mp4.part"
    assert part.stat().st_size == 300
    assert not video_of(project, "welcome/en").exists()

    proxy.download_hook = None
    second = pull(project, proxy, "--target", "welcome/en")
    assert second.returncode == 0, second.stderr
    last = proxy.downloads()[-1]
    assert last.headers.get("Range") == "bytes=300-" and last.status == 206
    assert "resumed at 300" in second.stderr
    assert video_of(project, "welcome/en").read_bytes() == expected(project, "welcome/en")
    assert not part.exists()
    assert entries(project)["welcome/en"]["bytes"] == len(expected(project, "welcome/en"))


def test_status_wait_pull_downloads_each_video_as_it_finishes(tmp_path: Path, proxy: Proxy) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "videos.yaml").write_text(MANIFEST, encoding="utf-8")
    assert pull(tmp_path, proxy, "apply").returncode == 0
    result = pull(tmp_path, proxy, "status", "--wait", "--pull", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {i["id"]: i["state"] for i in document["items"]} == {
        "welcome/en": "done",
        "welcome/ko": "done",
    }
    assert [i["outcome"] for i in document["pull"]["items"]] == ["downloaded", "downloaded"]
    for item in ("welcome/en", "welcome/ko"):
        assert video_of(tmp_path, item).read_bytes() == expected(tmp_path, item)
        assert entries(tmp_path)[item]["state"] == "done"
        assert entries(tmp_path)[item]["bytes"] == len(expected(tmp_path, item))
    assert len(proxy.downloads()) == 2
    assert_no_key_sent_to(proxy.downloads())


# hostile download hosts --------------------------------------------------------------------


def test_a_video_over_the_size_cap_is_refused_with_nothing_written(
    project: Path, proxy: Proxy
) -> None:
    result = pull(project, proxy, "--max-bytes", "500")
    assert result.returncode == 1
    assert "more than the limit of 500" in result.stderr
    assert list((project / "videos").rglob("*")) in ([], [project / "videos" / "welcome"])
    assert "sha256" not in entries(project)["welcome/en"]


def test_a_body_longer_than_announced_is_not_recorded(project: Path, proxy: Proxy) -> None:
    def longer(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes):
        # The emulator's own 206 and Content-Range for the rest of the file, then a body
        # that runs on (no Content-Length: it ends when the connection closes).
        assert status == 206, status
        handler.send_response(206)
        handler.send_header("Content-Range", headers["Content-Range"])
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body + b"extra bytes")
        return True

    part = project / "videos" / "welcome" / ".en.mp4.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(expected(project, "welcome/en")[:100])  # resumed with Range: bytes=100-
    bind_part(project, "welcome/en")
    proxy.download_hook = longer
    result = pull(project, proxy, "--target", "welcome/en")
    assert result.returncode == 1
    assert "more bytes than announced" in result.stderr
    assert proxy.downloads()[-1].headers.get("Range") == "bytes=100-"
    assert not video_of(project, "welcome/en").exists() and not part.exists()
    assert "sha256" not in entries(project)["welcome/en"]


@pytest.mark.parametrize(
    "url",
    ["http://example.invalid/video.mp4", "file:///etc/passwd", "ftp://127.0.0.1/v.mp4"],
)
def test_a_download_url_that_is_not_https_or_loopback_is_refused_without_a_request(
    project: Path, proxy: Proxy, url: str
) -> None:
    # Whether the URL comes from status's cache or from the service: refused.
    cache = project / ".specsync" / "status.json"
    document = json.loads(cache.read_text(encoding="utf-8"))
    document["items"]["welcome/en"]["downloadUrl"] = url
    cache.write_text(json.dumps(document), encoding="utf-8")
    proxy.url_override = url
    result = pull(project, proxy, "--target", "welcome/en")
    assert result.returncode == 1
    assert "refused the download URL" in result.stderr
    assert "passwd" not in result.stdout
    assert proxy.downloads() == []
    assert not video_of(project, "welcome/en").exists()


def test_a_symlink_at_the_target_is_replaced_not_written_through(
    project: Path, proxy: Proxy
) -> None:
    victim = project / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    target = video_of(project, "welcome/en")
    target.parent.mkdir(parents=True)
    target.symlink_to(victim)
    (target.parent / ".en.mp4.part").symlink_to(victim)
    result = pull(project, proxy, "--target", "welcome/en")
    assert result.returncode == 0, result.stderr
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not target.is_symlink()
    assert target.read_bytes() == expected(project, "welcome/en")


def test_an_out_dir_that_cannot_be_written_is_a_clean_error(project: Path, proxy: Proxy) -> None:
    blocker = project / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    result = pull(project, proxy, "--out", str(blocker / "videos"))
    assert result.returncode == 1
    assert "cannot write" in result.stderr
    assert_not_a_crash(result)
    assert "sha256" not in entries(project)["welcome/en"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_dir_is_a_clean_error(project: Path, proxy: Proxy) -> None:
    out = project / "videos"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = pull(project, proxy)
    finally:
        out.chmod(0o700)
    assert result.returncode == 1
    assert "cannot write" in result.stderr
    assert_not_a_crash(result)


# issue 25: every byte on disk is the export it claims to be ---------------------------------


def cut_after(size: int) -> Hook:
    """A download hook that sends the whole length announced, then only `size` bytes."""

    def cut(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes):
        if status != 200:
            return False
        handler.send_response(200)
        handler.send_header("Content-Type", "video/mp4")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:size])
        return True

    return cut


def test_a_part_of_an_earlier_export_is_never_resumed_with_a_later_one(
    project: Path, proxy: Proxy
) -> None:
    proxy.download_hook = cut_after(300)
    first = pull(project, proxy, "--target", "welcome/en")
    assert first.returncode == 1 and "the next pull resumes it" in first.stderr
    part = project / "videos" / "welcome" / ".en.mp4.part"
    assert part.stat().st_size == 300
    export_a = entries(project)["welcome/en"]["projectId"]
    # A new export B of the same item (same length: only the bytes differ).
    replaced = pull(project, proxy, "apply", "--replace", "welcome/en")
    assert replaced.returncode == 0, replaced.stderr
    assert pull(project, proxy, "status", "--wait", "--timeout", "20").returncode == 0
    export_b = entries(project)["welcome/en"]["projectId"]
    assert export_b != export_a
    proxy.download_hook = None
    second = pull(project, proxy, "--target", "welcome/en")
    assert second.returncode == 0, second.stderr
    assert "Range" not in proxy.downloads()[-1].headers  # started over, not resumed
    assert video_of(project, "welcome/en").read_bytes() == project_video(export_b)
    assert pull(project, proxy, "--verify", "--target", "welcome/en").returncode == 0
    assert not part.exists()


def answer_with(status: int, content_type: str, body: bytes) -> Hook:
    def hook(handler: BaseHTTPRequestHandler, upstream: int, headers: dict[str, str], _: bytes):
        _answer(handler, status, {"Content-Type": content_type}, body)
        return True

    return hook


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        ("text/html", b"<html>AccessDenied</html>", "HTTP 200 with Content-Type text/html"),
        ("application/json", b'{"error": "expired"}', "with Content-Type application/json"),
        ("video/mp4", b"", "HTTP 200 with an empty body"),
        ("video/mp4", b"\x00" * 500, "without an MP4 `ftyp` box"),
    ],
    ids=["html", "json", "empty", "no-ftyp"],
)
def test_only_an_mp4_is_recorded_as_a_video(
    project: Path, proxy: Proxy, content_type: str, body: bytes, says: str
) -> None:
    proxy.download_hook = answer_with(200, content_type, body)
    result = pull(project, proxy, "--target", "welcome/en")
    assert result.returncode == 1, result.stderr
    assert says in result.stderr and "nothing was kept" in result.stderr, result.stderr
    if body:
        assert f"first bytes: '{body[:20].decode('latin-1')}".replace("\x00", "\\x00") in (
            result.stderr
        ), result.stderr
    assert "sha256" not in entries(project)["welcome/en"]
    assert [p.name for p in (project / "videos" / "welcome").iterdir()] == []  # nothing kept
    assert pull(project, proxy, "--verify", "--target", "welcome/en").returncode == 0  # no hash


def test_a_hard_link_planted_at_the_part_is_not_written_into(project: Path, proxy: Proxy) -> None:
    outside = project / "outside.bin"
    video = expected(project, "welcome/en")
    outside.write_bytes(video[:1000] if len(video) > 1000 else video[:100])
    before = outside.read_bytes()
    folder = project / "videos" / "welcome"
    folder.mkdir(parents=True)
    os.link(outside, folder / ".en.mp4.part")
    bind_part(project, "welcome/en")  # even with a binding that names the right export
    result = pull(project, proxy, "--target", "welcome/en")
    assert result.returncode == 0, result.stderr
    assert outside.read_bytes() == before and outside.stat().st_nlink == 1
    assert video_of(project, "welcome/en").read_bytes() == video
    assert "Range" not in proxy.downloads()[-1].headers


def test_a_fifo_at_the_video_blocks_neither_pull_nor_verify(project: Path, proxy: Proxy) -> None:
    assert pull(project, proxy).returncode == 0
    target = video_of(project, "welcome/en")
    target.unlink()
    os.mkfifo(target)
    started = time.monotonic()
    verified = pull(project, proxy, "--verify")
    assert verified.returncode == 1 and "missing   welcome/en" in verified.stderr
    assert "not a regular file" in verified.stderr
    fetched = pull(project, proxy)
    assert fetched.returncode == 0, fetched.stderr
    assert time.monotonic() - started < 20
    assert target.read_bytes() == expected(project, "welcome/en")  # the FIFO was replaced


def trickle(interval: float, forever: bool = False) -> Hook:
    """The video's headers at once, then its body one byte per `interval` seconds."""

    def slow(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes):
        if status != 200:
            return False
        handler.send_response(200)
        handler.send_header("Content-Type", "video/mp4")
        handler.send_header("Content-Length", str(len(body) * (1000 if forever else 1)))
        handler.end_headers()
        try:
            for byte in body * (1000 if forever else 1):
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass  # the client let go
        return True

    return slow


# A trickling host and a real-time deadline: 2 s of a download at 20 bytes/s.
@pytest.mark.slow
def test_a_trickling_host_meets_the_per_file_deadline_and_the_part_is_resumed(
    project: Path, proxy: Proxy
) -> None:
    proxy.download_hook = trickle(0.05)
    env = {**pull_env(proxy), "SPECSYNC_REQUEST_DEADLINE": "1"}
    size = len(expected(project, "welcome/en"))
    started = time.monotonic()
    result = specsync(["pull", "--target", "welcome/en", "--min-rate", str(size)], project, env)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "gave up after 2 s" in result.stderr and "--min-rate" in result.stderr, result.stderr
    assert took < 8, took  # deadline: 1 s grace + size / rate = 2 s
    part = project / "videos" / "welcome" / ".en.mp4.part"
    kept = part.stat().st_size
    assert 8 <= kept < size
    proxy.download_hook = None
    resumed = pull(project, proxy, "--target", "welcome/en")
    assert resumed.returncode == 0, resumed.stderr
    assert proxy.downloads()[-1].headers.get("Range") == f"bytes={kept}-"
    assert video_of(project, "welcome/en").read_bytes() == expected(project, "welcome/en")


def _interrupted(args: list[str], cwd: Path, env: dict[str, str], part: Path, sig: int):
    """Start `args`, wait for bytes in `part`, send `sig`; (exit code, seconds to exit)."""
    import signal as signals
    import subprocess

    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size >= 8):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no download started"
            time.sleep(0.05)
        sent = time.monotonic()
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()  # closes the pipes whatever happened
    assert process.returncode in (130, -sig) or sig == signals.SIGINT, (process.returncode, stderr)
    assert_not_a_crash(stderr)
    return process.returncode, took


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_pull_ends_within_two_seconds_of_a_signal_keeping_the_part(
    project: Path, proxy: Proxy, signal_name: str
) -> None:
    import signal as signals

    proxy.download_hook = trickle(0.05, forever=True)  # would take hours
    part = project / "videos" / "welcome" / ".en.mp4.part"
    code, took = _interrupted(
        [SPECSYNC, "pull"], project, pull_env(proxy), part, getattr(signals, signal_name)
    )
    assert code == 130 and took < 2.5, (code, took)
    assert part.stat().st_size >= 8  # kept for the next pull


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_status_wait_pull_ends_within_two_seconds_of_a_signal(
    tmp_path: Path, proxy: Proxy, signal_name: str
) -> None:
    import signal as signals

    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "videos.yaml").write_text(MANIFEST, encoding="utf-8")
    assert pull(tmp_path, proxy, "apply").returncode == 0
    proxy.download_hook = trickle(0.05, forever=True)
    part = tmp_path / "videos" / "welcome" / ".en.mp4.part"
    code, took = _interrupted(
        [SPECSYNC, "status", "--wait", "--pull"],
        tmp_path,
        pull_env(proxy),
        part,
        getattr(signals, signal_name),
    )
    assert code == 130 and took < 2.5, (code, took)
    assert part.stat().st_size >= 8


def test_a_full_disk_while_recording_hashes_names_what_is_on_disk(
    tmp_path: Path, proxy: Proxy
) -> None:
    from tests.helpers.tmpfs import tmpfs

    with tmpfs(tmp_path / "small", "size=512k") as root:
        (root / "manifests").mkdir()
        (root / "manifests" / "videos.yaml").write_text(MANIFEST, encoding="utf-8")
        assert pull(root, proxy, "apply").returncode == 0
        assert pull(root, proxy, "status", "--wait", "--timeout", "20").returncode == 0
        lockfile = (root / "specsync.lock").read_bytes()
        filler = os.open(root / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError):
                while True:
                    os.write(filler, b"\0" * 4096)
        finally:
            os.close(filler)
        out = tmp_path / "videos"
        result = pull(root, proxy, "--out", str(out))
        assert result.returncode == 1, result.stderr
        assert_not_a_crash(result)
        assert "cannot record the hashes" in result.stderr, result.stderr
        assert "On disk and not recorded:" in result.stderr
        assert "welcome/en.mp4" in result.stderr and "welcome/ko.mp4" in result.stderr
        assert (root / "specsync.lock").read_bytes() == lockfile  # whole, unchanged
        assert (out / "welcome" / "en.mp4").read_bytes() == expected(root, "welcome/en")
        (root / "filler").unlink()
        again = pull(root, proxy, "--out", str(out))
        assert again.returncode == 0, again.stderr
        assert entries(root)["welcome/en"]["bytes"] == len(expected(root, "welcome/en"))


def test_a_huge_sparse_file_in_a_videos_place_is_judged_by_its_size(
    project: Path, proxy: Proxy
) -> None:
    assert pull(project, proxy).returncode == 0
    target = video_of(project, "welcome/en")
    with open(target, "r+b") as handle:
        handle.truncate(200 * 1024**3)  # 200 GiB, sparse: reading it would take minutes
    started = time.monotonic()
    verified = pull(project, proxy, "--verify", "--format", "json")
    assert time.monotonic() - started < 10
    assert verified.returncode == 1
    item = next(i for i in json.loads(verified.stdout)["items"] if i["id"] == "welcome/en")
    assert item["outcome"] == "changed" and item["bytes"] == 200 * 1024**3
    assert item["sha256"] is None


def test_a_signal_still_records_the_videos_already_downloaded(project: Path, proxy: Proxy) -> None:
    import signal as signals

    slow_one = expected(project, "welcome/ko")
    endless = trickle(0.05, forever=True)

    def hook(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes):
        return endless(handler, status, headers, body) if body == slow_one else False

    proxy.download_hook = hook
    part = project / "videos" / "welcome" / ".ko.mp4.part"
    code, took = _interrupted(
        [SPECSYNC, "pull", "--concurrency", "2"], project, pull_env(proxy), part, signals.SIGINT
    )
    assert code == 130 and took < 2.5, (code, took)
    recorded = entries(project)
    assert recorded["welcome/en"]["bytes"] == len(expected(project, "welcome/en"))
    assert "sha256" not in recorded["welcome/ko"]
    assert part.stat().st_size >= 8
