"""Fetching one rendered video to disk: safely, resumably, verified.

Download URLs are signed, short-lived links on a host that is not the API's, so the
request carries nothing of ours: a session of its own, no Authorization header, no
cookies, no `~/.netrc` (requests would read it for a request without auth), and redirects
are followed by hand, each checked like the first URL (https, or plain http to loopback).

The body streams into `.<name>.part` beside the target (a stable name, so that the next
run resumes it with `Range: bytes=N-`); only a complete body of the announced length is
renamed over the target. A rename replaces a symlink at the target, never writes through
it. Each read of the body has its own timeout: a large video may take long, a stalled one
is given up.

Length checks: a body shorter than its Content-Length (or than Content-Range's total) is
kept as a part and never renamed; one longer than the Content-Range total or the size cap
is refused and removed. A 200 with a Content-Length is read to exactly that length (HTTP
ends the body there; anything after it is not part of the answer), and a 200 with no
length at all is bounded by the size cap alone.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.cookiejar
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3.exceptions

from specsync.service.credentials import is_loopback_host
from specsync.state.atomic import fsync_dir

DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB: far above a rendered avatar video
CHUNK_SIZE = 1 << 16
MAX_REDIRECTS = 5
# Left free on the disk besides the video, so a pull never fills it to the last byte.
FREE_SPACE_MARGIN = 16 * 1024**2
# An expired or tampered link: the progress endpoint hands out a fresh one.
STALE_LINK_STATUSES = (403, 404, 410)
_CONTENT_RANGE = re.compile(r"bytes (\d{1,18})-(\d{1,18})/(\d{1,18}|\*)\Z")


class DownloadError(Exception):
    """This video was not downloaded; the message says why (no URL query in it)."""


class Unreachable(DownloadError):
    """The download host could not be reached (a cached URL of a host gone, a network
    problem): worth one fresh URL."""


class StaleLink(DownloadError):
    """The download host answered 403/404/410: the link expired or was refused."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the download link was refused (HTTP {status}): expired or invalid")
        self.status = status


@dataclass(frozen=True)
class DownloadLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # for each read of the body, not the whole download


@dataclass(frozen=True)
class Downloaded:
    sha256: str
    size: int
    resumed_from: int  # bytes a previous run had already fetched (0: from the start)


def shown_url(url: str) -> str:
    """scheme://host/path of a URL, for messages: its query holds the link's signature."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unreadable URL)"
    text = f"{parts.scheme}://{host}{port}{parts.path}"
    return "".join(char if char.isprintable() else "?" for char in text)[:200]


def check_download_url(url: str) -> str:
    """The URL when it may be fetched: https, or plain http to a loopback address; anything
    else (file://, plain http elsewhere, user info) raises DownloadError before a request."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise DownloadError(f"the download URL is not a valid URL: {shown_url(url)}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise DownloadError(
            f"refused the download URL {shown_url(url)}: only https (or http to loopback) "
            "is fetched"
        )
    if parts.username is not None or parts.password is not None:
        raise DownloadError(f"refused the download URL {shown_url(url)}: it holds a user name")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise DownloadError(
            f"refused the download URL {shown_url(url)}: plain http to a host that is not "
            "loopback (use https)"
        )
    return url


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # An auth callable keeps requests from adding credentials from ~/.netrc.
    request.headers.pop("Authorization", None)
    return request


def download_session() -> requests.Session:
    """A plain session for download hosts: no auth, no cookies, no automatic retries.

    Proxy and CA settings from the environment (HTTPS_PROXY, REQUESTS_CA_BUNDLE) still apply.
    """
    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.auth = _no_auth
    # Identity encoding: the bytes counted against Content-Length are the file's bytes.
    session.headers = requests.structures.CaseInsensitiveDict(
        {"User-Agent": "specsync", "Accept": "*/*", "Accept-Encoding": "identity"}
    )
    adapter = requests.adapters.HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def part_path(target: Path) -> Path:
    """Where an unfinished download of `target` is kept between runs."""
    return target.with_name(f".{target.name}.part")


def file_digest(path: Path) -> tuple[str, int] | None:
    """(sha256 hex, size) of a regular file (not a symlink); None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        size = 0
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size
    finally:
        os.close(fd)


def download(
    session: requests.Session,
    url: str,
    target: Path,
    limits: DownloadLimits = DownloadLimits(),
    on_bytes: Callable[[int], None] | None = None,
) -> Downloaded:
    """Fetch `url` into `target` (its folder must exist); resume a part a run left behind.

    Raises StaleLink (403/404/410: ask for a fresh URL) or DownloadError. A body cut short
    leaves its part for the next run to resume; one that breaks a limit leaves nothing.
    """
    part = part_path(target)
    if os.path.islink(part):
        os.unlink(part)  # never write through a link planted at the part's name
    with _claimed(part):
        return _download_claimed(session, url, part, target, limits, on_bytes)


@contextlib.contextmanager
def _claimed(part: Path) -> Iterator[None]:
    """Hold an exclusive lock on the part file for the whole download.

    Two pulls at once (two terminals, `status --wait --pull` beside `pull`) would otherwise
    append into the same part and each record the hash of its own stream, not of the file.
    flock, on the part itself: nothing extra in the videos folder, and the OS releases it
    when a pull dies. An empty part left by a download that never started is removed.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no second-pull protection
        yield
        return
    fd = os.open(part, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(
                "another specsync pull is downloading this video right now; "
                "run pull again once it is done"
            ) from None
        if not _names(part, os.fstat(fd)):
            # Locked a part that another pull has just renamed into place.
            raise DownloadError("another specsync pull has just written this video")
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                info = os.fstat(fd)
                if info.st_size == 0 and _names(part, info):
                    os.unlink(part)
    finally:
        os.close(fd)


def _names(path: Path, info: os.stat_result) -> bool:
    """True when `path` is still the file `info` describes."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino)


def _download_claimed(
    session: requests.Session,
    url: str,
    part: Path,
    target: Path,
    limits: DownloadLimits,
    on_bytes: Callable[[int], None] | None,
) -> Downloaded:
    offset = _regular_size(part)
    response = _get(session, url, limits, offset)
    try:
        if offset and response.status_code == 416:
            response.close()
            _remove(part)  # the part is not a prefix of this file: start over
            offset = 0
            response = _get(session, url, limits, 0)
        offset, total = _body_plan(response, offset, part)
        if total is not None and total > limits.max_bytes:
            _remove(part)
            raise DownloadError(
                f"the video is {total:,} bytes, more than the limit of {limits.max_bytes:,} "
                "(--max-bytes); nothing was written"
            )
        if total is not None:
            _check_free_space(target.parent, total - offset)
        return _stream(response, part, target, offset, total, limits, on_bytes)
    finally:
        response.close()


def _get(
    session: requests.Session, url: str, limits: DownloadLimits, offset: int
) -> requests.Response:
    """GET with redirects followed by hand (each hop checked); raises StaleLink/DownloadError."""
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    for _ in range(MAX_REDIRECTS + 1):
        check_download_url(url)
        try:
            response = session.get(
                url,
                headers=headers,
                stream=True,
                allow_redirects=False,
                timeout=(limits.connect_timeout, limits.read_timeout),
            )
        except requests.exceptions.RequestException as error:
            raise Unreachable(
                f"could not fetch {shown_url(url)}: {_network_problem(error)}"
            ) from None
        if response.is_redirect:
            location = response.headers.get("Location") or ""
            response.close()
            url = urljoin(url, location)
            continue
        if response.status_code in STALE_LINK_STATUSES:
            response.close()
            raise StaleLink(response.status_code)
        if response.status_code not in (200, 206) and not (offset and response.status_code == 416):
            response.close()
            raise DownloadError(f"the download host answered HTTP {response.status_code}")
        return response
    raise DownloadError(f"more than {MAX_REDIRECTS} redirects; gave up")


def _body_plan(response: requests.Response, offset: int, part: Path) -> tuple[int, int | None]:
    """(where the body starts in the file, the file's whole length when announced)."""
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise DownloadError(f"the video came compressed (Content-Encoding: {encoding[:40]})")
    length = _content_length(response)
    if response.status_code == 200:
        if offset:
            _remove(part)  # the server ignored Range: the whole file comes again
        return 0, length
    match = _CONTENT_RANGE.match((response.headers.get("Content-Range") or "").strip())
    if match is None or not offset:
        raise DownloadError("the download host answered 206 without a usable Content-Range")
    first, last, whole = match.groups()
    total = None if whole == "*" else int(whole)
    if int(first) != offset or (total is not None and int(last) != total - 1):
        _remove(part)
        raise DownloadError(
            f"the download host sent bytes {first}-{last} when asked for {offset}-; the "
            "partial file was removed, the next pull starts over"
        )
    if length is not None and length != int(last) - int(first) + 1:
        raise DownloadError("Content-Length and Content-Range of the answer disagree")
    return offset, total


def _content_length(response: requests.Response) -> int | None:
    value = (response.headers.get("Content-Length") or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise DownloadError("the download host sent an unreadable Content-Length")
    return int(value)


def _check_free_space(directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed + FREE_SPACE_MARGIN:
        raise DownloadError(
            f"not enough free space in {directory}: {needed:,} bytes needed, {free:,} free"
        )


def _stream(
    response: requests.Response,
    part: Path,
    target: Path,
    offset: int,
    total: int | None,
    limits: DownloadLimits,
    on_bytes: Callable[[int], None] | None,
) -> Downloaded:
    digest = hashlib.sha256()
    if offset:
        with open(part, "rb") as existing:
            while chunk := existing.read(1 << 20):
                digest.update(chunk)
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_APPEND if offset else os.O_TRUNC
    fd = os.open(part, flags, 0o644)
    size = offset
    try:
        with os.fdopen(fd, "wb") as handle:
            try:
                # read1: whatever has arrived, so a stall keeps what came before it.
                while chunk := response.raw.read1(CHUNK_SIZE, decode_content=False):
                    size += len(chunk)
                    if size > limits.max_bytes or (total is not None and size > total):
                        raise _Overrun(size)
                    handle.write(chunk)
                    digest.update(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
            except (
                requests.exceptions.RequestException,
                urllib3.exceptions.HTTPError,
                OSError,
            ) as error:
                if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise
                handle.flush()
                raise DownloadError(
                    f"the download stopped after {size:,} bytes ({_network_problem(error)}); "
                    "the next pull resumes it"
                ) from None
            handle.flush()
            os.fsync(handle.fileno())
    except _Overrun as overrun:
        _remove(part)
        limit = "the limit (--max-bytes)" if overrun.size > limits.max_bytes else "announced"
        raise DownloadError(
            f"the download host sent more bytes than {limit}; nothing was recorded"
        ) from None
    if total is not None and size != total:
        # A body cut short without an error (no Content-Length to hold it to): resumable.
        raise DownloadError(
            f"the download ended after {size:,} of {total:,} bytes; the next pull resumes it"
        )
    os.replace(part, target)  # replaces a symlink at `target` itself
    fsync_dir(target.parent)
    return Downloaded(digest.hexdigest(), size, offset)


class _Overrun(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _regular_size(path: Path) -> int:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return 0
    if not stat.S_ISREG(info.st_mode):
        raise DownloadError(f"{path} is in the way and is not a regular file")
    return info.st_size


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _network_problem(error: BaseException) -> str:
    """What went wrong, without the URL (its query is the link's signature)."""
    if isinstance(error, (requests.exceptions.ConnectTimeout,)):
        return "connect timeout"
    if isinstance(error, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
        return "no data within the read timeout"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS error (certificate?)"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "connection failed or broke"
    if isinstance(error, urllib3.exceptions.ProtocolError):
        return "the connection broke (body shorter than announced)"
    return type(error).__name__
