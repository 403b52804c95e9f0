"""The part file of an unfinished download, `.<name>.part` beside the target, and what binds
it to the export it belongs to.

The part is the only file a download writes into, so it is opened with care: without
following a symlink (O_NOFOLLOW), without blocking on a FIFO, and only when it is a regular
file with one link; anything else at its name is unlinked (the name, never what it pointed
at) and a fresh part is made. Every later read and write goes through that one descriptor,
under an exclusive flock for the whole download (two pulls at once never mix their bytes).

A part is resumed only for the export it was started for: `.<name>.part.json` records the
projectId, the total length and the validators (ETag, Last-Modified) the host announced.
When the binding is missing, unreadable or names another export, the part starts over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from specsync.regular_files import NotRegular, open_regular, read_regular
from specsync.service.download_errors import DownloadError

MAX_BINDING_BYTES = 64 * 1024


def part_path(target: Path) -> Path:
    """Where an unfinished download of `target` is kept between runs."""
    return target.with_name(f".{target.name}.part")


def binding_path(target: Path) -> Path:
    """Which export the part of `target` belongs to (JSON)."""
    return target.with_name(f".{target.name}.part.json")


def read_binding(target: Path) -> dict[str, Any] | None:
    """The recorded binding of the part of `target`; None when missing or unreadable."""
    try:
        raw = read_regular(binding_path(target), MAX_BINDING_BYTES)
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def write_binding(target: Path, binding: dict[str, Any]) -> None:
    """Record `binding` atomically: a temporary file renamed over the name (a symlink or a
    hard link planted there is replaced, never written through)."""
    folder = target.parent
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(binding, handle, sort_keys=True)
        os.replace(temporary, binding_path(target))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def forget_part(target: Path, fd: int | None = None) -> None:
    """Start over: the part emptied (through `fd` when given) and its binding removed."""
    if fd is not None:
        os.ftruncate(fd, 0)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(binding_path(target))


@contextlib.contextmanager
def claimed_part(target: Path) -> Iterator[int]:
    """A read-write descriptor on the part of `target`, locked for the whole block.

    An empty part left by a download that never started is removed at the end.
    """

    part = part_path(target)
    fd = _open_part(part)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(
                "another specsync pull is downloading this video right now; "
                "run pull again once it is done"
            ) from None
        if not names(part, os.fstat(fd)):
            # Locked a part that another pull has just renamed into place.
            raise DownloadError("another specsync pull has just written this video")
        try:
            yield fd
        finally:
            with contextlib.suppress(OSError):
                info = os.fstat(fd)
                if info.st_size == 0 and names(part, info):
                    os.unlink(part)
                    forget_part(target)
    finally:
        os.close(fd)


def _open_part(part: Path) -> int:
    """The part opened read-write: a regular file of one link, or made afresh."""
    flags = os.O_RDWR | os.O_CREAT
    try:
        fd = open_regular(part, flags, follow=False)
    except NotRegular:
        fd = None  # a symlink, a FIFO, a device, a folder: never written through
    except OSError as error:
        if error.errno not in (errno.ELOOP, errno.EMLINK):
            raise
        fd = None
    if fd is not None and os.fstat(fd).st_nlink == 1:
        return fd
    if fd is not None:
        os.close(fd)  # a hard link planted at the part's name: the other name keeps its file
    _unlink_in_the_way(part)
    return open_regular(part, flags | os.O_EXCL, follow=False)


def _unlink_in_the_way(part: Path) -> None:
    try:
        info = os.lstat(part)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        raise DownloadError(f"{part} is a folder in the way of the download")
    os.unlink(part)


def names(path: Path, info: os.stat_result) -> bool:
    """True when `path` is still the file `info` describes."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino)
