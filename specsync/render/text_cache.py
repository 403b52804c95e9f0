"""The rendered-text cache: what a script rendered to, so that a warm run of unchanged
manifests is YAML + schema + lookups, with no Jinja at all.

An entry maps (script source, its variables, the content of every file it includes,
transitively, and the sandbox's version) to the normalised text it rendered to. It lives in
the same authenticated packs as compiled templates (render/cache.py: HMAC-SHA256 with a key
outside the cache, bounded by compaction, a bad entry dropped and never trusted,
`--no-cache` turns it off), in a folder of its own.

Only successful renders are stored: a failure is always rendered again, so its message and
place come from Jinja as they always did. A script is left to Jinja, uncached, whenever
what it reads cannot be named before rendering it: an `{% include %}` of anything but a
quoted name, any `{% import %}`, `{% from %}` or `{% extends %}`, an included file that is
missing, unreadable or outside the root, or a variable of a type YAML does not make.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from specsync.model import ItemSpec
from specsync.regular_files import NotRegular, files_stamp, read_regular
from specsync.render.cache import TemplateCache
from specsync.render.limits import MAX_INCLUDE_BYTES, MAX_TEMPLATE_CHARS

# Bump when what an entry means changes.
FORMAT = 1
# The modules whose code decides what a script renders to: a change to any of them (a
# new release, or an edited checkout) starts a new set of entries.
RENDER_MODULES = (
    *("sandbox.py", "root_loader.py", "render.py", "skeleton.py", "text.py", "limits.py"),
    "compiling.py",
)
# Any statement that loads another template, however it is spelt after its keyword.
_LOADING = re.compile(r"\{%[-+]?\s*(include|import|extends|from)\b")
# The one loading statement whose target is known before rendering: a quoted name.
_LITERAL_INCLUDE = re.compile(
    r"""\s*(['"])([^'"\\{}%]+)\1\s*(?:ignore\s+missing\s*)?(?:(?:with|without)\s+context\s*)?[-+]?%\}"""
)
_NOT_KNOWN = None  # what `_includes` says of a source whose includes cannot be named
SNIPPET_MATERIAL = "snippet-syntax\0"


def sandbox_fingerprint() -> str:
    """The render wing's version: its format, and the size and time of each module that
    decides a rendering (the package's own version is in the cache's key already)."""
    here = Path(__file__).parent
    return f"rendered-text-{FORMAT}|" + files_stamp(*(here / name for name in RENDER_MODULES))


def _includes(source: str) -> tuple[str, ...] | None:
    """The names `source` includes, or None when it loads anything that is not named."""
    names = []
    for found in _LOADING.finditer(source):
        if found.group(1) != "include":
            return _NOT_KNOWN
        literal = _LITERAL_INCLUDE.match(source, found.end())
        if literal is None:
            return _NOT_KNOWN
        names.append(literal.group(2))
    return tuple(names)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain_data(value: Any, depth: int = 0) -> bool:
    """Whether `value` is made of what YAML gives (so its repr names it exactly)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth > 50:
        return False
    if kind is list:
        return all(type(e) in _SCALARS or _plain_data(e, depth + 1) for e in value)
    if kind is dict:
        return all(
            type(key) is str and (type(e) in _SCALARS or _plain_data(e, depth + 1))
            for key, e in value.items()
        )
    return False


class RenderedTexts:
    """Rendered texts by what decides them, for the scripts of one manifest root."""

    def __init__(self, root: Path, *, enabled: bool = True) -> None:
        self.root = root.resolve()
        self.store = TemplateCache(sandbox_fingerprint(), enabled=enabled, folder="texts")
        self._sources: dict[str, str | None] = {}  # source -> its includes' digest line
        self._files: dict[str, tuple[str, tuple[str, ...] | None] | None] = {}

    @property
    def enabled(self) -> bool:
        return self.store.enabled

    def material(self, spec: ItemSpec) -> str | None:
        """What decides the spec's text, as one string (None: not cacheable)."""
        source = spec.template
        if not self.enabled or type(source) is not str or len(source) > MAX_TEMPLATE_CHARS:
            return None
        variables = spec.variables
        if type(variables) is not dict or not _plain_data(variables):
            return None
        if source in self._sources:
            included = self._sources[source]
        else:
            included = self._sources[source] = self._included_digests(source)
        if included is None:
            return None
        return f"{len(source)}\0{source}\0{variables!r}\0{included}"

    # A manifest's texts share one pack (the group is its path): the pre-commit run of one
    # file reads one pack, however many other files' texts the cache holds.

    def get(self, material: str, manifest: str) -> str | None:
        payload = self.store.get(material, manifest)
        if payload is None:
            return None
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            self.store.reject(material, manifest)
            return None
        self.store.stats.hits += 1
        return text

    def put(self, material: str, text: str, manifest: str) -> None:
        self.store.put(material, text.encode("utf-8"), manifest)

    def snippets_known_good(self, files: Iterable[Path]) -> bool:
        """Whether every readable template file given parsed in an earlier run, as it is
        now (so checking the unincluded ones needs no Jinja)."""
        for path in files:
            digest = _file_digest(path)
            if digest is not None and self.store.get(SNIPPET_MATERIAL + digest) is None:
                return False
        return True

    def remember_good_snippets(self, files: Iterable[Path]) -> None:
        for path in files:
            digest = _file_digest(path)
            if digest is not None:
                self.store.put(SNIPPET_MATERIAL + digest, b"ok")

    def flush(self) -> None:
        self.store.flush()

    # -- included files ---------------------------------------------------------------

    def _included_digests(self, source: str) -> str | None:
        """ "name=sha256;..." of every file the source includes, transitively (None: one
        cannot be named or read)."""
        pending = _includes(source)
        if pending is None:
            return None
        seen: dict[str, str] = {}
        queue = list(pending)
        while queue:
            name = queue.pop()
            if name in seen:
                continue
            read = self._file(name)
            if read is None:
                return None
            digest, nested = read
            if nested is None:
                return None
            seen[name] = digest
            queue.extend(nested)
        return ";".join(f"{name}={seen[name]}" for name in sorted(seen))

    def _file(self, name: str) -> tuple[str, tuple[str, ...] | None] | None:
        if name not in self._files:
            self._files[name] = self._read_file(name)
        return self._files[name]

    def _read_file(self, name: str) -> tuple[str, tuple[str, ...] | None] | None:
        """(sha256 of the file's bytes, the names it includes), as the sandbox's loader
        would find it under the root; None when that loader would refuse it."""
        parts = name.split("/")
        if name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
            return None
        try:
            real = self.root.joinpath(*parts).resolve(strict=True)
            if not real.is_relative_to(self.root):
                return None
            raw = read_regular(real, MAX_INCLUDE_BYTES)  # never blocks on a FIFO
            text = raw.decode("utf-8")
        except (OSError, RuntimeError, UnicodeDecodeError, NotRegular):
            return None
        if len(raw) > MAX_INCLUDE_BYTES or len(text) > MAX_TEMPLATE_CHARS:
            return None
        return hashlib.sha256(raw).hexdigest(), _includes(text)


def _file_digest(path: Path) -> str | None:
    """sha256 of a template file as the unincluded-file check reads it (None: that check
    skips it too: unreadable, not UTF-8 or too large)."""
    try:
        raw = read_regular(path, MAX_INCLUDE_BYTES)
        raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, NotRegular):
        return None
    if len(raw) > MAX_INCLUDE_BYTES:
        return None
    return hashlib.sha256(raw).hexdigest()
