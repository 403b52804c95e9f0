"""Replacing a file so that a crash leaves either the old bytes or the new, never a mix.

A temp file in the same folder is written and fsynced, renamed over the target, and the
folder is fsynced. Used for the lockfile and for the small files beside it in `.specsync/`.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress
from pathlib import Path

from specsync.regular_files import read_regular


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, default_mode: int = 0o644) -> bool:
    """Replace `path` with `data` atomically; False (nothing written) when already identical.

    A temp file in the same folder is written, flushed and fsynced, then renamed over the
    target, and the folder is fsynced so the rename survives a power cut. The existing file's
    permission bits are kept. A symlink is followed: its target is replaced, not the link.
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        info = target.stat()
    except FileNotFoundError:
        current, mode = None, default_mode
    else:
        if not stat.S_ISREG(info.st_mode):
            # Renaming over a device or a FIFO would replace it (as root, /dev/null itself).
            raise OSError(errno.EINVAL, "not a regular file, refusing to replace it", str(target))
        current, mode = read_regular(target), stat.S_IMODE(info.st_mode)
    if current == data:
        return False
    directory = target.parent
    import tempfile  # only writers need it

    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_dir(directory)
    return True
