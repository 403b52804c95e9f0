"""The secret that authenticates the compiled-template cache: a key file outside the cache
(`$SPECSYNC_CACHE_KEY_FILE`, else `$XDG_CONFIG_HOME/specsync/cache.key`, else
`~/.config/specsync/cache.key`), created 0o600 on first use, and refused when another user
owns it or others may read or write it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from specsync.regular_files import open_regular

SECRET_BYTES = 32


class CacheUnusable(Exception):
    """The cache cannot be used this run (no trustworthy key); not an error for the user."""


def default_key_file(environ: Mapping[str, str] = os.environ) -> Path:
    """`$SPECSYNC_CACHE_KEY_FILE`, else `$XDG_CONFIG_HOME/specsync/cache.key`, else
    `~/.config/specsync/cache.key`: outside the cache, which CI may restore from elsewhere."""
    if environ.get("SPECSYNC_CACHE_KEY_FILE"):
        return Path(environ["SPECSYNC_CACHE_KEY_FILE"])
    if environ.get("XDG_CONFIG_HOME"):
        return Path(environ["XDG_CONFIG_HOME"]) / "specsync" / "cache.key"
    return Path.home() / ".config" / "specsync" / "cache.key"


def read_secret(key_file: Path, cache_dir: Path) -> bytes:
    """The cache's secret, read from `key_file` (created on first use); CacheUnusable when
    there is no trustworthy one."""
    key_file = key_file.absolute()
    cache_dir = cache_dir.absolute()
    if key_file.parent == cache_dir or cache_dir in key_file.parents:
        raise CacheUnusable(f"the cache key {key_file} must not live inside the cache")
    try:
        return _read_key(key_file)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise CacheUnusable(f"cannot read the cache key {key_file}: {error}") from None
    try:
        _create_key(key_file)
        return _read_key(key_file)
    except OSError as error:
        raise CacheUnusable(f"cannot create the cache key {key_file}: {error}") from None


def _read_key(path: Path) -> bytes:
    fd = open_regular(path)  # a FIFO planted there never blocks a run
    try:
        status = os.fstat(fd)
        # Anyone else able to write the key could forge entries; anyone else able to read
        # it could too, with write access to the cache.
        if hasattr(os, "getuid") and status.st_uid != os.getuid():
            raise CacheUnusable(f"the cache key {path} belongs to another user")
        if status.st_mode & 0o077:
            raise CacheUnusable(f"the cache key {path} is readable or writable by others")
        secret = os.read(fd, SECRET_BYTES + 1)
    finally:
        os.close(fd)
    if len(secret) != SECRET_BYTES:
        raise CacheUnusable(f"the cache key {path} is damaged; delete it to get a new one")
    return secret


def _create_key(path: Path) -> None:
    """Write a fresh key to a private temporary file, then link it into place.

    Linking fails when another run created the key first; then that key is the one used.
    """
    import secrets
    import tempfile

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".cache-key-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SECRET_BYTES))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
