"""The download transport against a scripted loopback server: what is sent (no key, no
cookie, no ~/.netrc), where it may go, resuming, and every limit."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from specsync.service import download as transport
from specsync.service.download import DownloadError, DownloadLimits, StaleLink, download
from specsync.service.download_part import write_binding
from tests.helpers.hostile_server import HostileServer
from tests.helpers.threads import threads_started

# 2048 bytes that start as an MP4 does (an `ftyp` box): only a video is recorded as one.
VIDEO = (b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + bytes(range(256)) * 8)[:2048]

Script = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Server:
    url: str = ""
    routes: dict[str, Script] = field(default_factory=dict)
    seen: list[dict[str, str]] = field(default_factory=list)


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    length: int | None = None,
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)


def ranged(handler: BaseHTTPRequestHandler) -> None:
    """The whole video, or the rest of it from a `Range: bytes=N-`."""
    asked = handler.headers.get("Range")
    if not asked:
        send(handler, 200, VIDEO)
        return
    first = int(asked.removeprefix("bytes=").rstrip("-"))
    headers = {"Content-Range": f"bytes {first}-{len(VIDEO) - 1}/{len(VIDEO)}"}
    send(handler, 206, VIDEO[first:], headers)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.seen.append({"path": self.path, **dict(self.headers)})
            route = state.routes.get(self.path.split("?")[0])
            if route is None:
                send(self, 404, b"no")
            else:
                route(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def plant_part(target: Path, data: bytes, export: str = "") -> None:
    """A part an interrupted download of `export` left behind, with its binding."""
    target.with_name(f".{target.name}.part").write_bytes(data)
    write_binding(target, {"projectId": export, "total": len(VIDEO)})


def fetch(server: Server, path: str, target: Path, **limits: Any) -> transport.Downloaded:
    session = transport.download_session()
    try:
        return download(session, server.url + path, target, DownloadLimits(**limits))
    finally:
        session.close()


# where a download may go ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://example.invalid/v.mp4",
        "ftp://127.0.0.1/v.mp4",
        "https://user:pw@cdn.example/v.mp4",
        "http://127.0.0.1:notaport/v.mp4",
    ],
)
def test_urls_that_are_not_https_or_loopback_http_are_refused(url: str) -> None:
    with pytest.raises(DownloadError) as error:
        transport.check_download_url(url)
    assert "pw" not in str(error.value)


def test_https_anywhere_and_http_to_loopback_are_fetched() -> None:
    for url in ("https://cdn.example/v.mp4?sig=1", "http://127.0.0.1:9/v.mp4", "http://[::1]/v"):
        assert transport.check_download_url(url) == url


def test_no_key_no_cookie_and_no_netrc_reach_the_download_host(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))

    def with_cookie(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, VIDEO, {"Set-Cookie": "session=cookie-secret; Path=/"})

    server.routes["/v.mp4"] = with_cookie
    session = transport.download_session()
    try:
        for name in ("a.mp4", "b.mp4"):
            download(session, server.url + "/v.mp4", tmp_path / name)
    finally:
        session.close()
    assert len(server.seen) == 2
    for headers in server.seen:
        assert "Authorization" not in headers and "Cookie" not in headers, headers
        assert "secret" not in repr(headers)


def test_a_redirect_to_plain_http_elsewhere_is_refused_without_following(
    server: Server, tmp_path: Path
) -> None:
    server.routes["/v.mp4"] = lambda h: send(h, 302, b"", {"Location": "http://example.invalid/x"})
    with pytest.raises(DownloadError, match="refused the download URL"):
        fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert not (tmp_path / "v.mp4").exists()


def test_a_redirect_on_loopback_is_followed(server: Server, tmp_path: Path) -> None:
    server.routes["/v.mp4"] = lambda h: send(h, 302, b"", {"Location": "/real.mp4"})
    server.routes["/real.mp4"] = ranged
    result = fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == VIDEO
    assert result.sha256 == hashlib.sha256(VIDEO).hexdigest() and result.size == len(VIDEO)


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_refused_link_is_stale(server: Server, tmp_path: Path, status: int) -> None:
    server.routes["/v.mp4"] = lambda h: send(h, status, b"expired")
    with pytest.raises(StaleLink):
        fetch(server, "/v.mp4", tmp_path / "v.mp4")


# resuming -------------------------------------------------------------------------------------


def test_a_part_is_resumed_with_range(server: Server, tmp_path: Path) -> None:
    server.routes["/v.mp4"] = ranged
    plant_part(tmp_path / "v.mp4", VIDEO[:700])
    result = fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert server.seen[0]["Range"] == "bytes=700-"
    assert result.resumed_from == 700
    assert (tmp_path / "v.mp4").read_bytes() == VIDEO
    assert result.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert not (tmp_path / ".v.mp4.part").exists()


def test_a_video_another_pull_is_downloading_is_left_to_it(server: Server, tmp_path: Path) -> None:
    import fcntl
    import os

    server.routes["/v.mp4"] = ranged
    part = tmp_path / ".v.mp4.part"
    plant_part(tmp_path / "v.mp4", VIDEO[:300])
    fd = os.open(part, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a second pull holds it
        with pytest.raises(DownloadError, match="another specsync pull"):
            fetch(server, "/v.mp4", tmp_path / "v.mp4")
        assert server.seen == [] and part.read_bytes() == VIDEO[:300]
    finally:
        os.close(fd)
    result = fetch(server, "/v.mp4", tmp_path / "v.mp4")  # once it is gone: resumed
    assert result.resumed_from == 300 and (tmp_path / "v.mp4").read_bytes() == VIDEO


def test_a_refused_link_leaves_no_empty_part(server: Server, tmp_path: Path) -> None:
    server.routes["/v.mp4"] = lambda h: send(h, 410, b"expired")
    with pytest.raises(StaleLink):
        fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_200_to_a_range_request_starts_over(server: Server, tmp_path: Path) -> None:
    server.routes["/v.mp4"] = lambda h: send(h, 200, VIDEO)
    plant_part(tmp_path / "v.mp4", b"garbage that is not the start")
    result = fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert result.resumed_from == 0 and (tmp_path / "v.mp4").read_bytes() == VIDEO


def test_a_content_range_from_elsewhere_is_refused_and_the_part_dropped(
    server: Server, tmp_path: Path
) -> None:
    wrong = {"Content-Range": f"bytes 0-{len(VIDEO) - 1}/{len(VIDEO)}"}
    server.routes["/v.mp4"] = lambda h: send(h, 206, VIDEO, wrong)
    plant_part(tmp_path / "v.mp4", VIDEO[:700])
    with pytest.raises(DownloadError, match="sent bytes 0-"):
        fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert not (tmp_path / ".v.mp4.part").exists() and not (tmp_path / "v.mp4").exists()


def test_a_416_drops_the_part_and_fetches_the_whole_file(server: Server, tmp_path: Path) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("Range"):
            send(handler, 416, b"", {"Content-Range": f"bytes */{len(VIDEO)}"})
        else:
            send(handler, 200, VIDEO)

    server.routes["/v.mp4"] = answer
    plant_part(tmp_path / "v.mp4", VIDEO + b"too long")
    fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == VIDEO


# limits -----------------------------------------------------------------------------------------


def test_a_body_shorter_than_content_length_keeps_its_part_and_is_not_finished(
    server: Server, tmp_path: Path
) -> None:
    def short(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, VIDEO[:1000], length=len(VIDEO))
        handler.close_connection = True

    server.routes["/v.mp4"] = short
    with pytest.raises(DownloadError, match="resumes it"):
        fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert not (tmp_path / "v.mp4").exists()
    assert (tmp_path / ".v.mp4.part").read_bytes() == VIDEO[:1000]


def test_an_announced_size_over_the_cap_writes_nothing(server: Server, tmp_path: Path) -> None:
    server.routes["/v.mp4"] = ranged
    with pytest.raises(DownloadError, match="more than the limit of 1,000"):
        fetch(server, "/v.mp4", tmp_path / "v.mp4", max_bytes=1000)
    assert list(tmp_path.iterdir()) == []


def test_a_stream_over_the_cap_without_a_length_is_cut_and_removed(
    server: Server, tmp_path: Path
) -> None:
    def endless(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        for _ in range(64):
            handler.wfile.write(VIDEO)

    server.routes["/v.mp4"] = endless
    with pytest.raises(DownloadError, match="more bytes than the limit"):
        fetch(server, "/v.mp4", tmp_path / "v.mp4", max_bytes=10_000)
    assert list(tmp_path.iterdir()) == []


def test_too_little_free_space_writes_nothing(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/v.mp4"] = ranged

    class Usage:
        free = 1024

    monkeypatch.setattr(transport.shutil, "disk_usage", lambda path: Usage())
    with pytest.raises(DownloadError, match="not enough free space"):
        fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


# A stalled body and a real-time read timeout.
@pytest.mark.slow
def test_a_stalled_body_is_given_up_after_the_read_timeout(server: Server, tmp_path: Path) -> None:
    release = threading.Event()

    def stall(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(VIDEO)))
        handler.end_headers()
        handler.wfile.write(VIDEO[:100])
        handler.wfile.flush()
        release.wait(10)

    server.routes["/v.mp4"] = stall
    started = time.monotonic()
    try:
        with pytest.raises(DownloadError, match="read timeout"):
            fetch(server, "/v.mp4", tmp_path / "v.mp4", read_timeout=0.5)
    finally:
        release.set()
    assert time.monotonic() - started < 5
    assert (tmp_path / ".v.mp4.part").read_bytes() == VIDEO[:100]


# issue 25: a part belongs to one export; no download outlives its deadline -------------------


def test_a_part_of_another_export_starts_over(server: Server, tmp_path: Path) -> None:
    server.routes["/v.mp4"] = ranged
    plant_part(tmp_path / "v.mp4", b"\x00\x00\x00\x10ftypOTHER-EXPORT", export="P-A")
    session = transport.download_session()
    try:
        result = download(session, server.url + "/v.mp4", tmp_path / "v.mp4", export="P-B")
    finally:
        session.close()
    assert "Range" not in server.seen[0] and result.resumed_from == 0
    assert (tmp_path / "v.mp4").read_bytes() == VIDEO
    assert not (tmp_path / ".v.mp4.part.json").exists()


def test_a_resume_sends_if_range_and_a_changed_total_starts_over(
    server: Server, tmp_path: Path
) -> None:
    def changed(handler: BaseHTTPRequestHandler) -> None:
        asked = handler.headers.get("Range")
        if not asked:
            send(handler, 200, VIDEO, {"ETag": '"v2"'})
            return
        first = int(asked.removeprefix("bytes=").rstrip("-"))
        whole = len(VIDEO) + 10  # another file now, longer than the part's
        headers = {"Content-Range": f"bytes {first}-{whole - 1}/{whole}", "ETag": '"v2"'}
        send(handler, 206, (VIDEO + b"0123456789")[first:], headers)

    server.routes["/v.mp4"] = changed
    target = tmp_path / "v.mp4"
    part_file = tmp_path / ".v.mp4.part"
    part_file.write_bytes(VIDEO[:500])
    write_binding(target, {"projectId": "", "total": len(VIDEO), "etag": '"v1"'})
    result = fetch(server, "/v.mp4", target)
    assert server.seen[0]["Range"] == "bytes=500-" and server.seen[0]["If-Range"] == '"v1"'
    assert "Range" not in server.seen[1]  # the 206 was of another file: started over
    assert result.resumed_from == 0 and target.read_bytes() == VIDEO


@pytest.mark.parametrize("kind", ["fifo", "symlink", "hardlink"])
def test_anything_but_a_regular_part_of_one_link_is_replaced_not_used(
    server: Server, tmp_path: Path, kind: str
) -> None:
    import os

    server.routes["/v.mp4"] = ranged
    outside = tmp_path / "outside"
    outside.write_bytes(VIDEO[:1000])
    part_file = tmp_path / ".v.mp4.part"
    if kind == "fifo":
        os.mkfifo(part_file)
    elif kind == "symlink":
        part_file.symlink_to(outside)
    else:
        os.link(outside, part_file)
    write_binding(tmp_path / "v.mp4", {"projectId": "", "total": len(VIDEO)})
    result = fetch(server, "/v.mp4", tmp_path / "v.mp4")
    assert result.resumed_from == 0 and "Range" not in server.seen[0]
    assert (tmp_path / "v.mp4").read_bytes() == VIDEO
    assert outside.read_bytes() == VIDEO[:1000] and outside.stat().st_nlink == 1


# A trickling host and a real-time per-file deadline.
@pytest.mark.slow
def test_a_status_line_trickled_forever_meets_the_files_deadline(tmp_path: Path) -> None:
    with HostileServer("trickle", body=lambda request: b"", interval=0.1) as host:
        started = time.monotonic()
        with pytest.raises(DownloadError, match="gave up after 1 s") as caught:
            fetch_url(
                host.url + "/v.mp4", tmp_path / "v.mp4", grace=1.0, min_rate=1e9, max_bytes=1000
            )
        took = time.monotonic() - started
    assert not isinstance(caught.value, transport.Interrupted)
    assert 0.9 < took < 2.0, took
    assert not (tmp_path / "v.mp4").exists()


def test_a_stop_lets_a_trickled_body_go_at_once_and_keeps_the_part(
    server: Server, tmp_path: Path
) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(VIDEO)))
        handler.end_headers()
        try:
            for byte in VIDEO:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass

    server.routes["/v.mp4"] = slow
    stop = transport.DownloadStop()
    threading.Timer(0.6, stop.set).start()
    started = time.monotonic()
    with pytest.raises(transport.Interrupted, match="the next pull resumes it"):
        fetch_url(server.url + "/v.mp4", tmp_path / "v.mp4", stop=stop)
    assert time.monotonic() - started < 1.2
    kept = (tmp_path / ".v.mp4.part").read_bytes()
    assert 8 <= len(kept) < len(VIDEO) and VIDEO.startswith(kept)


def test_a_download_starts_no_thread(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline and the stop are kept at the socket (download_stop): the old watch
    started a thread per file."""
    server.routes["/v.mp4"] = lambda handler: send(handler, 200, VIDEO)
    with threads_started(monkeypatch) as started:
        fetch_url(server.url + "/v.mp4", tmp_path / "v.mp4", stop=transport.DownloadStop())
    assert (tmp_path / "v.mp4").read_bytes() == VIDEO
    # The loopback server in this process starts one per request; the download none.
    assert [name for name in started if "process_request_thread" not in name] == []


def test_a_stop_cuts_a_host_that_accepted_and_never_answers(tmp_path: Path) -> None:
    """Blocked on the status line: the stop shuts that socket down at once."""
    # A status line's first byte after 30 s: a host that accepted and stalls.
    with HostileServer("trickle", body=lambda request: b"", interval=30) as host:
        stop = transport.DownloadStop()
        started = time.monotonic()  # before the timer starts: it fires 0.3 s after, or later
        threading.Timer(0.3, stop.set).start()
        with pytest.raises(transport.Interrupted, match="interrupted after 0 bytes"):
            fetch_url(host.url + "/v.mp4", tmp_path / "v.mp4", stop=stop)
        took = time.monotonic() - started
    assert 0.3 <= took < 1.0, took


def test_a_stop_set_before_the_download_starts_sends_nothing(tmp_path: Path) -> None:
    with HostileServer("trickle", body=lambda request: b"", interval=30) as host:
        stop = transport.DownloadStop()
        stop.set()
        with pytest.raises(transport.Interrupted, match="before it started"):
            fetch_url(host.url + "/v.mp4", tmp_path / "v.mp4", stop=stop)
    assert host.requests == []


def test_through_an_http_proxy_a_trickle_meets_the_files_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is honoured (the session keeps the environment's proxies); the proxy's
    connections keep the file's deadline too. The old watch never saw them: a proxy that
    trickles held the download for as long as it trickled."""
    with HostileServer("trickle", body=lambda request: b"", interval=0.05) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        started = time.monotonic()
        with pytest.raises(DownloadError, match="gave up after 1 s") as caught:
            fetch_url(
                "http://127.0.0.1:9/v.mp4",
                tmp_path / "v.mp4",
                grace=0.6,
                min_rate=1e9,
                max_bytes=1000,
            )
        took = time.monotonic() - started
    assert not isinstance(caught.value, transport.Interrupted)
    assert len(proxy.requests) == 1 and proxy.requests[0].path == "http://127.0.0.1:9/v.mp4"
    assert 0.6 <= took < 1.5, took


def fetch_url(
    url: str, target: Path, stop: transport.DownloadStop | None = None, **limits: Any
) -> transport.Downloaded:
    session = transport.download_session()
    try:
        return download(session, url, target, DownloadLimits(**limits), stop=stop)
    finally:
        session.close()


@pytest.mark.parametrize(
    ("content_type", "body", "refused"),
    [
        ("application/xml", b"<?xml version='1.0'?><Error>AccessDenied</Error>", True),
        ("text/plain", b"Forbidden", True),  # no ftyp box
        ("text/plain", VIDEO, False),  # a CDN that mislabels an MP4: the bytes decide
        ("binary/octet-stream", VIDEO, False),
    ],
)
def test_what_is_a_video_is_decided_by_type_and_bytes(
    server: Server, tmp_path: Path, content_type: str, body: bytes, refused: bool
) -> None:
    server.routes["/v.mp4"] = lambda h: send(h, 200, body, {"Content-Type": content_type})
    if refused:
        with pytest.raises(transport.NotAVideo, match="nothing was kept"):
            fetch(server, "/v.mp4", tmp_path / "v.mp4")
        assert list(tmp_path.iterdir()) == []
    else:
        assert fetch(server, "/v.mp4", tmp_path / "v.mp4").size == len(VIDEO)
