"""A lockfile's bytes, read safely: it is a regular file or absent.

A folder, a FIFO, a device or a dangling symlink is refused. The file is opened without
blocking and checked with fstat, so that a FIFO never hangs `plan` (and nothing swaps the
file between the check and the read).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from specsync.model import InputError, Location, Problem


def lockfile_bytes(path: Path) -> bytes | None:
    """The bytes of the lockfile at `path`, None when there is none; InputError (located
    at the path) when it cannot be read or is not a regular file."""
    name = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(
                Problem(
                    Location(name),
                    f"lockfile is a symlink to {os.readlink(path)}, which does not exist; "
                    "remove the link or point it at a lockfile",
                )
            ) from None
        return None
    except OSError as error:
        raise InputError(
            Problem(Location(name), f"cannot read lockfile: {error.strerror or error}")
        ) from None
    try:
        status = os.fstat(fd)
        kind = file_kind(status.st_mode)
        if kind is not None:
            raise InputError(
                Problem(
                    Location(name),
                    f"lockfile is {kind}, not a regular file; the lockfile must be a regular "
                    "file or absent (pass --lockfile with another path)",
                )
            )
        # In one read when the file is as long as fstat said (no copy of megabytes); a
        # file still growing is read on to its end.
        chunks = []
        while chunk := os.read(fd, max(status.st_size + 1, 1 << 16)):
            chunks.append(chunk)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as error:
        raise InputError(
            Problem(Location(name), f"cannot read lockfile: {error.strerror or error}")
        ) from None
    finally:
        os.close(fd)
    return data


def file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is ("a folder", "a FIFO", ...), for messages."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
