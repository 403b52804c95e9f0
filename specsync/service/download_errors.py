"""Why a video was not downloaded (messages never hold the URL's query: its signature)."""

from __future__ import annotations


class DownloadError(Exception):
    """This video was not downloaded; the message says why."""


class Unreachable(DownloadError):
    """The download host could not be reached (a cached URL of a host gone, a network
    problem): worth one fresh URL."""


class StaleLink(DownloadError):
    """The download host answered 403/404/410: the link expired or was refused."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the download link was refused (HTTP {status}): expired or invalid")
        self.status = status


class NotAVideo(DownloadError):
    """The host answered with something that is no MP4 (an error page, JSON, nothing)."""

    def __init__(self, status: int, why: str, head: bytes) -> None:
        super().__init__(
            f"the download host answered HTTP {status} with {why}, not an MP4 video "
            f"(first bytes: '{escaped(head)}'); nothing was kept"
        )


class Interrupted(DownloadError):
    """Stopped by a signal: the part is kept for the next pull."""


def escaped(data: bytes, limit: int = 32) -> str:
    """`data` as printable ASCII, everything else escaped (\\xNN), cut at `limit` bytes."""
    text = "".join(
        chr(b) if 0x20 <= b < 0x7F and b not in b"'\\" else f"\\x{b:02x}" for b in data[:limit]
    )
    return text + ("..." if len(data) > limit else "")
