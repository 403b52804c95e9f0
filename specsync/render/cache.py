"""A persistent cache of compiled Jinja templates, authenticated so that it never runs code
it did not write itself.

Compiling a Jinja template (parse, generate Python, compile it) costs about 0.25 ms; building
a template from already compiled code costs about 0.02 ms. A translated catalogue holds
thousands of distinct scripts, so a warm cache turns seconds into tenths.

Cached entries are marshalled code objects, that is, code that will run. A cache directory
can be restored in CI from another branch or written by anyone who can write to it, so every
entry carries an HMAC-SHA256 whose key lives outside the cache directory
(`$SPECSYNC_CACHE_KEY_FILE`, else `$XDG_CONFIG_HOME/specsync/cache.key`, else
`~/.config/specsync/cache.key`, created 0o600: `cache_key`). Anything that does not
verify, is truncated, corrupt or from another Python/Jinja2/specsync version is ignored and
recompiled, never an error: the cache can only make a run faster, never change what it does.

Storage: one folder per format version in `$SPECSYNC_CACHE_DIR` (default
`$XDG_CACHE_HOME/specsync`, else `~/.cache/specsync`), holding SHARDS pack files; an entry
lives in the pack its key names. A run reads only the packs of its own scripts, so a cache
grown large with other projects' scripts costs a small run neither time nor memory.
Measured on 10,000 templates (17 MB of code): a single pack was read in ~6 ms and written in
~60 ms, where 10,000 small files took ~0.1 s to read and ~0.7 s to write atomically; 64
packs keep nearly all of that. New entries are appended with one `write` on an O_APPEND
descriptor (a torn tail is detected by its framing and dropped); a pack that held a bad
entry, or grew mostly stale, is rewritten whole to a temporary file and renamed into place.

Records are framed and authenticated as render/cache_pack.py says, with key =
sha256(version fingerprint, environment fingerprint, source) (render/cache_fingerprint.py).

A split run (manifests/split.py) defers every cache's writes (`defer_writes`): its second
process hands its writes over (`harvest`), the first takes them (`absorb`) and writes once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import marshal
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from specsync.regular_files import open_regular
from specsync.render.cache_fingerprint import VERSION_FINGERPRINT, environment_fingerprint
from specsync.render.cache_key import CacheUnusable, default_key_file, read_secret
from specsync.render.cache_pack import (
    HEADER,
    MAGIC,
    Pack,
    read_pack,
    record_mac,
)

# Packs per cache folder; an entry's pack is the first byte of its key, modulo this.
SHARDS = 64
# Rewrite a pack, keeping only what this run used, once all packs together would be this
# big (each pack: this / SHARDS) and the pack is mostly stale.
COMPACT_BYTES = 64 * 1024 * 1024

__all__ = [
    "HEADER",
    "MAGIC",
    "SHARDS",
    "VERSION_FINGERPRINT",
    "CacheHarvest",
    "TemplateCache",
    "environment_fingerprint",
    "read_pack",
]


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """`$SPECSYNC_CACHE_DIR`, else `$XDG_CACHE_HOME/specsync`, else `~/.cache/specsync`."""
    if environ.get("SPECSYNC_CACHE_DIR"):
        return Path(environ["SPECSYNC_CACHE_DIR"])
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "specsync"
    return Path.home() / ".cache" / "specsync"


@dataclass
class CacheStats:
    """What one run did with the compiled-template cache (a docstring keeps dataclasses from
    importing inspect to write one)."""

    hits: int = 0
    misses: int = 0
    stored: int = 0
    rejected: int = 0  # entries that failed verification or did not load


@dataclass
class CacheHarvest:
    """What one process of a split run did to a cache, for the parent to write: its new
    entries, the keys it used (a pack is compacted to what the run used), the packs it
    found damaged and where its grouped keys live. Plain data: it crosses a pipe."""

    cache_dir: str
    key_file: str
    folder: str
    fingerprint: str
    new: dict[bytes, bytes]
    used: set[bytes]
    damaged: set[int]
    placed: dict[bytes, int]


class TemplateCache:
    """Compiled template code by source, for one environment fingerprint.

    `load` and `store` never raise for any state of the cache directory; `flush` writes
    what was stored (call it once, at the end of a run, or use the cache as a context
    manager). A disabled cache (`enabled=False`, for `--no-cache`, or no usable key) loads
    nothing and stores nothing.
    """

    def __init__(
        self,
        environment_fingerprint: str,
        *,
        cache_dir: Path | None = None,
        key_file: Path | None = None,
        enabled: bool = True,
        folder: str = "templates",
    ) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.folder = folder  # packs of another kind of entry live in a folder of their own
        self.version = VERSION_FINGERPRINT
        self.key_file = key_file if key_file is not None else default_key_file()
        self.stats = CacheStats()
        self.fingerprint = environment_fingerprint
        # While a split run defers writes (`defer_writes`), `flush` writes nothing: one
        # process writes every cache, once, at the end (manifests/split.py).
        self.deferred = _deferred is not None
        if _deferred is not None:
            _deferred.append(self)
        self.disabled_reason: str | None = None if enabled else "disabled"
        self._prefix = hashlib.sha256(
            f"{self.version}\0{folder}\0{environment_fingerprint}\0".encode()
        )
        self._secret: bytes | None = None
        self._packs: dict[int, Pack] = {}  # by shard, read on first use
        self._new: dict[bytes, bytes] = {}  # key -> payload, not yet written
        self._used: set[bytes] = set()
        self._placed: dict[bytes, int] = {}  # key -> the pack its caller chose for it
        self._group_shards: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self.disabled_reason is None

    @property
    def pack_dir(self) -> Path:
        tag = hashlib.sha256(self.version.encode()).hexdigest()[:16]
        return self.cache_dir / f"{self.folder}-{tag}"

    def shard_path(self, shard: int) -> Path:
        return self.pack_dir / f"{shard:02x}.pack"

    def source_path(self, source: str) -> Path:
        """The pack file that holds (or would hold) the entry of `source`."""
        return self.shard_path(_shard_of(self._key(source)))

    def _shard(self, key: bytes) -> int:
        return self._placed.get(key, _shard_of(key))

    def _pack_of(self, key: bytes) -> Pack:
        return self._load_shard(self._shard(key))

    def __enter__(self) -> TemplateCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flush()

    # -- reading ---------------------------------------------------------------------

    def get(self, material: str, group: str | None = None) -> bytes | None:
        """The verified payload stored for `material`, or None (a miss, or a bad entry).

        `group` (given alike to `put`) keeps the entries of one group in one pack, so a
        run that needs one group's entries reads one pack, not every one.
        """
        if not self._ready():
            return None
        key = self._place(material, group)
        self._used.add(key)
        payload = self._new.get(key)
        if payload is None:
            payload = self._verified_payload(key)
        if payload is None:
            self.stats.misses += 1
        return payload

    def put(self, material: str, payload: bytes, group: str | None = None) -> None:
        """Remember `payload` for `material`; written by `flush`."""
        if not self._ready():
            return
        key = self._place(material, group)
        self._used.add(key)
        if key in self._new or key in self._pack_of(key).index:
            return
        self._new[key] = payload
        self.stats.stored += 1

    def reject(self, material: str, group: str | None = None) -> None:
        """Drop the entry of `material`, whose payload did not make sense."""
        if self._ready():
            self._reject(self._place(material, group))

    def _place(self, material: str, group: str | None) -> bytes:
        key = self._key(material)
        if group is not None:
            shard = self._group_shards.get(group)
            if shard is None:  # a manifest's thousands of texts: its digest once
                digest = hashlib.sha256(group.encode("utf-8", "surrogatepass")).digest()
                shard = self._group_shards[group] = _shard_of(digest)
            self._placed[key] = shard
        return key

    def load(self, source: str) -> CodeType | None:
        """The verified compiled code for `source`, or None (a miss, or a bad entry)."""
        payload = self.get(source)
        if payload is None:
            return None
        key = self._key(source)
        try:
            code = marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            code = None
        if not isinstance(code, CodeType):
            self._reject(key)
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return code

    def _verified_payload(self, key: bytes, pack: Pack | None = None) -> bytes | None:
        """The payload of `key` in `pack` (default: the pack it is placed in), verified."""
        assert self._secret is not None
        if pack is None:
            pack = self._pack_of(key)
        found = pack.index.get(key)
        if found is None:
            return None
        offset, length, mac = found
        payload = pack.data[offset : offset + length]
        expected = record_mac(self._secret, key, payload)
        if not hmac.compare_digest(mac, expected):
            self._reject(key, pack)
            return None
        return payload

    def _reject(self, key: bytes, pack: Pack | None = None) -> None:
        self.stats.rejected += 1
        if pack is None:
            pack = self._pack_of(key)
        pack.index.pop(key, None)
        pack.damaged = True

    # -- writing ---------------------------------------------------------------------

    def store(self, source: str, code: CodeType) -> None:
        """Remember compiled code for `source`; written by `flush`."""
        self.put(source, marshal.dumps(code))

    def flush(self) -> None:
        """Append new entries to their packs (or rewrite a pack when damaged or mostly stale).

        Failing to write (read-only or full disk, permissions) only costs speed next time.
        """
        if not self.enabled or self._secret is None or self.deferred:
            return
        new_by_shard: dict[int, dict[bytes, bytes]] = {}
        for key, payload in self._new.items():
            new_by_shard.setdefault(self._shard(key), {})[key] = payload
        for shard, pack in list(self._packs.items()):
            new = new_by_shard.get(shard, {})
            rewrite = pack.damaged or (
                len(pack.data) > COMPACT_BYTES // SHARDS
                and self._used_bytes(pack) < len(pack.data) / 2
            )
            if not new and not rewrite:
                continue
            path = self.shard_path(shard)
            try:
                self._ensure_cache_dir()
                if rewrite:
                    keep = {**self._live_payloads(pack, only_used=not pack.damaged), **new}
                    self._replace_pack(path, self._encode(keep))
                else:
                    self._append(path, self._encode(new))
            except OSError:
                pass
            pack.damaged = False
        self._new.clear()

    def place(self) -> tuple[str, str, str, str]:
        """What tells this cache's entries from another's: where, under which key, which
        kind, for which environment."""
        return (str(self.cache_dir), str(self.key_file), self.folder, self.fingerprint)

    def harvest(self) -> CacheHarvest:
        """This process's writes, left for another process to `absorb` and flush."""
        harvest = CacheHarvest(
            *self.place(),
            dict(self._new),
            set(self._used),
            {shard for shard, pack in self._packs.items() if pack.damaged},
            {key: shard for key, shard in self._placed.items() if key in self._used},
        )
        self._new.clear()
        return harvest

    def absorb(self, harvest: CacheHarvest) -> None:
        """Take another process's writes, to be written by this one's `flush`."""
        if not self._ready():
            return
        self._placed.update(harvest.placed)
        self._used |= harvest.used
        for key, payload in harvest.new.items():
            if key not in self._new and key not in self._pack_of(key).index:
                self._new[key] = payload
        for shard in harvest.damaged:
            self._load_shard(shard).damaged = True
        # A pack this process did not read may still be due for compaction (what the run
        # used is now known): read those that are large enough to be.
        for shard in {self._shard(key) for key in harvest.used} - self._packs.keys():
            with contextlib.suppress(OSError):
                if self.shard_path(shard).stat().st_size > COMPACT_BYTES // SHARDS:
                    self._load_shard(shard)

    def _load_shard(self, shard: int) -> Pack:
        pack = self._packs.get(shard)
        if pack is None:
            pack = self._packs[shard] = read_pack(self.shard_path(shard))
        return pack

    def _used_bytes(self, pack: Pack) -> int:
        return sum(entry[1] for key, entry in pack.index.items() if key in self._used)

    def _live_payloads(self, pack: Pack, *, only_used: bool) -> dict[bytes, bytes]:
        assert self._secret is not None
        keys = [k for k in pack.index if not only_used or k in self._used]
        live = {}
        for key in keys:
            # This pack's own record: a key found here may be placed elsewhere by this run
            # (a group's pack), and that pack must not be read while packs are iterated.
            payload = self._verified_payload(key, pack)
            if payload is not None:
                live[key] = payload
        return live

    def _encode(self, entries: Mapping[bytes, bytes]) -> bytes:
        assert self._secret is not None
        chunks = []
        for key, payload in entries.items():
            mac = record_mac(self._secret, key, payload)
            chunks += [HEADER.pack(MAGIC, key, len(payload), mac), payload]
        return b"".join(chunks)

    def _append(self, path: Path, blob: bytes) -> None:
        # One write on an O_APPEND descriptor: concurrent runs never interleave records,
        # and a crash leaves at worst a torn tail that readers recognise and drop.
        # Not blocking on a FIFO planted at a pack's name (a FIFO refuses with NotRegular).
        fd = open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode=0o600)
        try:
            os.write(fd, blob)
        finally:
            os.close(fd)

    def _replace_pack(self, path: Path, blob: bytes) -> None:
        import tempfile

        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".pack-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _ensure_cache_dir(self) -> None:
        if self.pack_dir.is_dir():
            return
        created = not self.cache_dir.is_dir()
        self.cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.pack_dir.mkdir(mode=0o700, exist_ok=True)
        # The single pack of specsync before packs were split: never read again.
        with contextlib.suppress(OSError):
            (self.cache_dir / f"{self.pack_dir.name}.pack").unlink()
        if not created:
            return
        # Keep the cache out of commits and backups when it is pointed inside a project.
        (self.cache_dir / ".gitignore").write_text("*\n", encoding="utf-8")
        (self.cache_dir / "CACHEDIR.TAG").write_text(
            "Signature: 8a477f597d28d172789f06886806bc55\n"
            "# specsync's compiled-template cache; safe to delete.\n",
            encoding="utf-8",
        )

    # -- setup -----------------------------------------------------------------------

    def _key(self, source: str) -> bytes:
        digest = self._prefix.copy()
        digest.update(source.encode("utf-8", "surrogatepass"))
        return digest.digest()

    def _ready(self) -> bool:
        """Read the secret on first use; disable the cache if that fails."""
        if self._secret is not None:
            return True
        if not self.enabled:
            return False
        try:
            self._secret = read_secret(self.key_file, self.cache_dir)
        except CacheUnusable as reason:
            self.disabled_reason = str(reason)
            return False
        return True


def _shard_of(key: bytes) -> int:
    return key[0] % SHARDS


# The caches made while writes are deferred (a split run's halves), else None.
_deferred: list[TemplateCache] | None = None


def defer_writes() -> None:
    """Caches made from now on write nothing until `deferred_caches` ends the deferral."""
    global _deferred
    _deferred = []


def deferred_caches() -> list[TemplateCache]:
    """End the deferral: the caches made during it, whose `flush` now writes."""
    global _deferred
    caches, _deferred = _deferred or [], None
    for cache in caches:
        cache.deferred = False
    return caches


def absorb_harvests(caches: list[TemplateCache], harvests: list[CacheHarvest]) -> None:
    """Each harvest into the cache of the same folder and fingerprint (made if none is)."""
    for harvest in harvests:
        place = (harvest.cache_dir, harvest.key_file, harvest.folder, harvest.fingerprint)
        for cache in caches:
            if cache.place() == place:
                break
        else:
            cache = TemplateCache(
                harvest.fingerprint,
                cache_dir=Path(harvest.cache_dir),
                key_file=Path(harvest.key_file),
                folder=harvest.folder,
            )
            caches.append(cache)
        cache.absorb(harvest)
