"""Fetching one rendered video to disk: safely, resumably, verified, bounded in time.

The body streams into the part `.<name>.part` beside the target (download_part: opened
without following links, bound to its export), so that the next run resumes it with
`Range: bytes=N-` and `If-Range`; only a complete body of the announced length, starting
with an MP4 `ftyp` box, is renamed over the target. A rename replaces a symlink at the
target, never writes through it. An answer that is no video (an HTML or JSON type, an
empty body, no `ftyp` box) is refused with its status and first bytes, nothing kept.

Time: each read has its own timeout (a stalled host), and each file an overall deadline,
`grace + size / min_rate` (a trickling host); a signal's `stop` ends it at once. Both keep
the part (download_stop).

Length checks: a body shorter than its Content-Length (or than Content-Range's total) is
kept as a part and never renamed; one longer than the Content-Range total or the size cap
is refused and removed. A 200 with a Content-Length is read to exactly that length (HTTP
ends the body there; anything after it is not part of the answer), and a 200 with no
length at all is bounded by the size cap alone.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3.exceptions

from specsync.atomic import fsync_dir
from specsync.regular_files import open_regular
from specsync.service.download_errors import (
    DownloadError,
    Interrupted,
    NotAVideo,
    StaleLink,
    Unreachable,
)
from specsync.service.download_http import (
    BadRange,
    body_plan,
    check_download_url,
    download_session,
    get,
    network_problem,
    shown_url,
)
from specsync.service.download_part import (
    claimed_part,
    forget_part,
    names,
    part_path,
    read_binding,
    write_binding,
)
from specsync.service.download_stop import DEADLINE, STOPPED, DownloadStop, Watch, watched

__all__ = [
    "DownloadError",
    "DownloadLimits",
    "DownloadStop",
    "Downloaded",
    "Interrupted",
    "NotAVideo",
    "StaleLink",
    "Unreachable",
    "check_download_url",
    "download",
    "download_session",
    "file_digest",
    "part_path",
    "shown_url",
]

DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB: far above a rendered avatar video
CHUNK_SIZE = 1 << 16
# Left free on the disk besides the video, so a pull never fills it to the last byte.
FREE_SPACE_MARGIN = 16 * 1024**2
# The default per-file deadline: 30 s, then 64 KiB/s (a 50 MB video: 13 minutes; the 2 GiB
# cap of a file of unknown length: 9 hours). Far below any real link, far above a trickle.
DEFAULT_MIN_RATE = 64 * 1024
DEADLINE_GRACE = 30.0


@dataclass(frozen=True)
class DownloadLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # for each read of the body, not the whole download
    # The whole file must come at this rate at least (bytes/s) after `grace` seconds: the
    # deadline of a host that trickles (each read in time, the file never done).
    min_rate: float = DEFAULT_MIN_RATE
    grace: float = DEADLINE_GRACE

    def deadline(self, size: int) -> float:
        """Seconds a download of `size` bytes may take, all in all."""
        return self.grace + size / self.min_rate


@dataclass(frozen=True)
class Downloaded:
    sha256: str
    size: int
    resumed_from: int  # bytes a previous run had already fetched (0: from the start)


def file_digest(path: Path, expected_size: int | None = None) -> tuple[str, int] | None:
    """(sha256 hex, size) of a regular file (not a symlink, never a FIFO: no open blocks);
    None when there is none. A file whose size is not `expected_size` is not read (a 100
    GB sparse file in a video's place costs a stat): ("", its size)."""
    try:
        fd = open_regular(path, follow=False)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if expected_size is not None and size != expected_size:
            return "", size
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
    *,
    export: str = "",
    stop: DownloadStop | None = None,
) -> Downloaded:
    """Fetch `url`, the video of export `export` (its projectId), into `target` (its folder
    must exist); resume a part a run left behind for the same export.

    Raises StaleLink (403/404/410: ask for a fresh URL), Interrupted (`stop` was set: the
    part is kept) or DownloadError. A body cut short, or past the file's deadline, leaves
    its part for the next run to resume; one that breaks a limit or is no video leaves
    nothing.
    """
    if stop is not None and stop.is_set():
        raise Interrupted("interrupted before it started")
    with claimed_part(target) as fd, watched(limits.deadline(limits.max_bytes), stop) as watch:
        transfer = _Transfer(session, url, target, fd, limits, on_bytes, export, watch)
        try:
            return transfer.run()
        except DownloadError:
            if watch.fired == STOPPED:
                raise Interrupted(
                    f"interrupted after {transfer.size:,} bytes; the next pull resumes it"
                ) from None
            if watch.fired == DEADLINE:
                raise DownloadError(
                    f"gave up after {watch.seconds:,.0f} s with {transfer.size:,} bytes: "
                    f"slower than the minimum rate (--min-rate {limits.min_rate:,.0f} "
                    "bytes/s); the next pull resumes it"
                ) from None
            raise


class _Transfer:
    """One download into a claimed part: the request(s), the checks, the stream."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        target: Path,
        fd: int,
        limits: DownloadLimits,
        on_bytes: Callable[[int], None] | None,
        export: str,
        watch: Watch,
    ) -> None:
        self.session, self.url, self.target, self.fd = session, url, target, fd
        self.limits, self.on_bytes, self.export, self.watch = limits, on_bytes, export, watch
        self.size = 0
        self.timeouts = (limits.connect_timeout, limits.read_timeout)

    def run(self) -> Downloaded:
        binding = read_binding(self.target)
        offset = os.fstat(self.fd).st_size
        if offset and not self._resumable(binding, offset):
            forget_part(self.target, self.fd)
            offset, binding = 0, None
        for _ in range(2):
            response = get(self.session, self.url, self.timeouts, offset, binding)
            try:
                if offset and response.status_code == 416:
                    forget_part(self.target, self.fd)  # not a prefix of this file
                    offset, binding = 0, None
                    continue
                try:
                    start, total = body_plan(response, offset)
                except BadRange:
                    forget_part(self.target, self.fd)
                    raise
                if start < offset:  # the host sent the whole file again
                    forget_part(self.target, self.fd)
                if start and not _same_file(binding, response, total):
                    # Another file than the part's (a new export, a changed object).
                    forget_part(self.target, self.fd)
                    offset, binding = 0, None
                    continue
                self._check_video(response, total)
                if not start:
                    write_binding(self.target, _binding(self.export, response, total))
                self._check_room(start, total)
                return self._stream(response, start, total)
            finally:
                response.close()
        raise DownloadError("the download host keeps answering for another file; gave up")

    def _resumable(self, binding: dict[str, Any] | None, offset: int) -> bool:
        if binding is None or binding.get("projectId") != self.export:
            return False
        return offset < 8 or _is_mp4_head(os.pread(self.fd, 8, 0))

    def _check_video(self, response: requests.Response, total: int | None) -> None:
        kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        # An error page or an API answer; other types are judged by the bytes (`ftyp`): a
        # CDN that calls an MP4 text/plain still serves a video.
        if any(word in kind for word in ("html", "json", "xml")):
            head = response.raw.read(64, decode_content=False) or b""
            forget_part(self.target, self.fd)
            raise NotAVideo(response.status_code, f"Content-Type {kind[:60]}", head)
        if total == 0:
            forget_part(self.target, self.fd)
            raise NotAVideo(response.status_code, "an empty body", b"")

    def _check_room(self, start: int, total: int | None) -> None:
        limits = self.limits
        if total is not None and total > limits.max_bytes:
            forget_part(self.target, self.fd)
            raise DownloadError(
                f"the video is {total:,} bytes, more than the limit of {limits.max_bytes:,} "
                "(--max-bytes); nothing was written"
            )
        if total is not None:
            self.watch.set_deadline(limits.deadline(total - start))
            _check_free_space(self.target.parent, total - start)

    def _stream(self, response: requests.Response, start: int, total: int | None) -> Downloaded:
        fd, limits = self.fd, self.limits
        digest = hashlib.sha256()
        for position in range(0, start, 1 << 20):
            digest.update(os.pread(fd, min(1 << 20, start - position), position))
        os.lseek(fd, start, os.SEEK_SET)
        self.size = start
        checked = start >= 8
        try:
            # read1: whatever has arrived, so a stall keeps what came before it.
            while chunk := response.raw.read1(CHUNK_SIZE, decode_content=False):
                if self.size + len(chunk) > limits.max_bytes or (
                    total is not None and self.size + len(chunk) > total
                ):
                    forget_part(self.target, fd)
                    over = self.size + len(chunk) > limits.max_bytes
                    limit = "the limit (--max-bytes)" if over else "announced"
                    raise DownloadError(
                        f"the download host sent more bytes than {limit}; nothing was recorded"
                    )
                _write_all(fd, chunk)
                self.size += len(chunk)
                digest.update(chunk)
                if not checked and self.size >= 8:
                    checked = True
                    self._check_head(response)
                if self.on_bytes is not None:
                    self.on_bytes(len(chunk))
        except (
            requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError,
            OSError,
        ) as error:
            if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise DownloadError(
                f"the download stopped after {self.size:,} bytes ({network_problem(error)}); "
                "the next pull resumes it"
            ) from None
        if self.watch.fired:
            raise DownloadError("cut by the watch")  # the caller says which
        if self.size == 0:
            forget_part(self.target, fd)
            raise NotAVideo(response.status_code, "an empty body", b"")
        if not checked:
            self._check_head(response)
        if total is not None and self.size != total:
            # A body cut short without an error (no Content-Length to hold it to): resumable.
            raise DownloadError(
                f"the download ended after {self.size:,} of {total:,} bytes; the next pull "
                "resumes it"
            )
        os.fsync(fd)
        part = part_path(self.target)
        if not names(part, os.fstat(fd)):
            raise DownloadError(f"{part} was replaced during the download; not recorded")
        os.replace(part, self.target)  # replaces a symlink at `target` itself
        forget_part(self.target)
        fsync_dir(self.target.parent)
        return Downloaded(digest.hexdigest(), self.size, start)

    def _check_head(self, response: requests.Response) -> None:
        head = os.pread(self.fd, 64, 0)
        if not _is_mp4_head(head):
            forget_part(self.target, self.fd)
            raise NotAVideo(response.status_code, "a body without an MP4 `ftyp` box", head)


def _is_mp4_head(head: bytes) -> bool:
    """An ISO BMFF file starts with its `ftyp` box: a 32-bit size (at least 8, or 1 for a
    64-bit size) and the type."""
    if len(head) < 8 or head[4:8] != b"ftyp":
        return False
    size = int.from_bytes(head[:4], "big")
    return size == 1 or size >= 8


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _binding(export: str, response: requests.Response, total: int | None) -> dict[str, Any]:
    return {
        "projectId": export,
        "total": total,
        "etag": response.headers.get("ETag"),
        "lastModified": response.headers.get("Last-Modified"),
    }


def _same_file(
    binding: dict[str, Any] | None, response: requests.Response, total: int | None
) -> bool:
    """Whether a 206 continues the file the part holds: same total, same validators."""
    if binding is None:
        return False
    if binding.get("total") is not None and total is not None and binding["total"] != total:
        return False
    for header, key in (("ETag", "etag"), ("Last-Modified", "lastModified")):
        now, before = response.headers.get(header), binding.get(key)
        if now is not None and before is not None and now != before:
            return False
    return True


def _check_free_space(directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed + FREE_SPACE_MARGIN:
        raise DownloadError(
            f"not enough free space in {directory}: {needed:,} bytes needed, {free:,} free"
        )
