"""Reading a path that must be a regular file, without ever blocking on it.

Every reader of a path the user (or anyone sharing the folder) controls opens it here: a
FIFO, a device or a socket in its place would block `open()` or `read()` forever (a FIFO
named `*.j2` under the manifests, at the journal's path, at a video's path). The open is
non-blocking and the type is checked on the open descriptor, so nothing can swap the file
between the check and the read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class NotRegular(OSError):
    """A path that is no regular file (a FIFO, a device, a socket, a folder): never read.

    An OSError, so that a reader which tolerates unreadable files tolerates these too; its
    message says what the path is ("not a regular file (a FIFO)").
    """

    _KINDS = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    )

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not a regular file"

    @classmethod
    def describe(cls, path: Path | str, mode: int | None = None) -> str:
        if mode is None:
            mode = os.stat(path).st_mode
        kind = next((name for test, name in cls._KINDS if test(mode)), "a special file")
        return f"not a regular file ({kind})"


def open_regular(
    path: Path | str, flags: int = os.O_RDONLY, *, follow: bool = True, mode: int = 0o644
) -> int:
    """A descriptor on `path` opened with `flags`, which must name a regular file.

    Non-blocking open, type checked with fstat on the descriptor (raises NotRegular and
    closes it otherwise); `follow=False` also refuses a symlink at `path` (O_NOFOLLOW);
    `mode` is the permission of a file O_CREAT makes.
    Blocking mode is restored for the caller (it means nothing for a regular file).
    """
    extra = _NONBLOCK | _CLOEXEC | (0 if follow else _NOFOLLOW)
    try:
        fd = os.open(path, flags | extra, mode)
    except OSError as error:
        if not follow and _NOFOLLOW and os.path.islink(path):
            raise NotRegular(NotRegular.describe(path, os.lstat(path).st_mode)) from error
        if error.errno == errno.ENXIO:
            # A FIFO opened for writing with no reader (or a device with nothing behind it)
            # fails before fstat could tell what it is: say what it is, not "no such device".
            raise NotRegular(NotRegular.describe(path)) from error
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(NotRegular.describe(path, mode))
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path | str, limit: int | None = None) -> bytes:
    """The bytes of the regular file at `path` (NotRegular for anything else); with
    `limit`, at most limit + 1 of them (so the caller can tell "too large")."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        return handle.read() if limit is None else handle.read(limit + 1)


def read_regular_text(path: Path | str, encoding: str = "utf-8", errors: str = "strict") -> str:
    return read_regular(path).decode(encoding, errors)


def files_stamp(*paths: Path | str) -> str:
    """Each file's name, size and time ("?" when it cannot be read), one string: what a
    cache keys on where its entries depend on code that may be edited in place (the
    render modules, plan's memos), where a release changes the cache's version anyway."""
    stamps = []
    for path in paths:
        name = os.path.basename(path)
        try:
            status = os.stat(path)
        except OSError:
            stamps.append(f"{name}:?")
        else:
            stamps.append(f"{name}:{status.st_size}:{status.st_mtime_ns}")
    return "|".join(stamps)
