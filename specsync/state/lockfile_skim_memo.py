"""What plan's skim found at each block of a lockfile, remembered by the file's digest.

Matching the current-export expression (`lockfile_skim.CURRENT_EXPORT_BYTES`) at each of
10,000 blocks is most of plan's reading of a lockfile: ~18 ms of ~27 on the bench's, whose
manifests are otherwise read from warm caches. What it finds at a position depends on the
file's bytes and the expression alone. So the skim remembers, for each block position it
looked at, where the current export there ends with its id and fingerprint, or that there
is none; the next plan of the same bytes (SHA-256: ~2.5 ms for 4 MB) looks them up. A
position the memo does not hold is matched as before, and remembered.

The memo lives in an authenticated store (`MemoStore`: the render wing's cache, HMAC-SHA256
with a key outside the cache, bounded, a bad entry dropped, off with `--no-cache`), each
lockfile's in a pack of its own (`SkimMemo` reads and writes it). A file below
MIN_MEMO_BYTES is skimmed as before: hashing it would cost about what it saves.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from collections.abc import Callable
from typing import Protocol

from specsync.regular_files import files_stamp

# Bump when what a payload means changes (the expression itself is in the store's version).
FORMAT = 1
# Below this size a file is skimmed without a memo: ~300 blocks, where the digest and the
# store's reading cost about what looking up the blocks saves.
MIN_MEMO_BYTES = 128 * 1024
# What `CurrentExports.at` gives where no current export stands: no end, no id.
NOTHING = (-1, "", "")

Found = tuple[int, str, str]  # (end, id, fingerprint), or NOTHING
Columns = tuple[list[int], list[int], list[str], list[str]]  # positions, ends, ids, fps
Chain = tuple[list[str], list[str], list[int], list[int]]  # ids, fps, positions, ends


class MemoStore(Protocol):
    """Bytes by material, authenticated and bounded (render/cache.py's TemplateCache):
    `get` gives only what `put` stored, or None; neither raises."""

    def get(self, material: str, group: str | None = None) -> bytes | None: ...

    def put(self, material: str, payload: bytes, group: str | None = None) -> None: ...

    def reject(self, material: str, group: str | None = None) -> None: ...


def store_version(expression: str) -> str:
    """The store's version for memos of `expression`: a new expression, or an edit of the
    code that reads them, a new memo."""
    code = files_stamp(os.path.join(os.path.dirname(__file__), "lockfile_skim.py"), __file__)
    return hashlib.sha256(f"skim-memo-{FORMAT}\0{expression}\0{code}".encode()).hexdigest()


class SkimMemo:
    """The memos kept in `store`: `recall(data)` gives the digest of a lockfile's bytes
    and the columns remembered of them (None: none, or an entry that does not read, which
    is dropped); `remember` stores the columns of a digest. `group` (the lockfile's path)
    keeps one lockfile's memos in one pack of the store, apart from other lockfiles': a
    plan reads no other lockfile's memo, and compaction keeps a pack to its latest ones."""

    __slots__ = ("group", "store")

    def __init__(self, store: MemoStore, group: str) -> None:
        self.store = store
        self.group = group

    def remember(self, digest: str, columns: Columns, *, replacing: bool) -> None:
        """Store `columns` for `digest` (`replacing` the memo recalled of it: the store
        keeps a key's first entry, so that one is dropped first)."""
        if replacing:
            self.store.reject(digest, self.group)
        self.store.put(digest, marshal.dumps((FORMAT, *columns)), self.group)

    def recall(self, data: bytes) -> tuple[str, Columns | None]:
        digest = hashlib.sha256(data).hexdigest()
        payload = self.store.get(digest, self.group)
        if payload is None:
            return digest, None
        try:
            version, *columns = marshal.loads(payload)
            positions, ends, ids, fingerprints = columns  # ValueError: not 4 columns
            if version != FORMAT or not (
                len(positions) == len(ends) == len(ids) == len(fingerprints)
            ):
                raise ValueError("not a memo of this format")
        except (EOFError, ValueError, TypeError):
            self.store.reject(digest, self.group)
            return digest, None
        return digest, (positions, ends, ids, fingerprints)


class CurrentExports:
    """What stands at each block position of one lockfile's bytes: (end, id, fingerprint)
    of the current export there, else NOTHING.

    `chain(start)` gives the blocks the memo holds as current exports one right after
    another from `start`: what plan of a lockfile it skimmed before compares at once. Any
    other position is asked of `at`, which answers from the memo when it can and from
    `match` otherwise, keeping the answer. `remember` stores what was new.
    """

    __slots__ = (
        "_columns",
        "_cursor",
        "_digest",
        "_found",
        "_match",
        "_memo",
        "_new",
        "_recalled",
    )

    def __init__(self, data: bytes, match: Callable[[int], Found], memo: SkimMemo | None) -> None:
        self._match = match
        self._memo = memo if memo is not None and len(data) >= MIN_MEMO_BYTES else None
        self._digest, columns = ("", None) if self._memo is None else self._memo.recall(data)
        self._recalled = columns is not None
        self._columns: Columns = ([], [], [], []) if columns is None else columns
        self._cursor = 0  # the memo's next position, as the skim goes forward
        self._found: dict[int, Found] | None = None  # by position, made when first needed
        self._new = False

    def chain(self, start: int) -> Chain | None:
        """(ids, fingerprints, positions, ends) of the current exports the memo holds one
        right after another from `start`, no id twice; None when there are none."""
        positions, ends, ids, fingerprints = self._columns
        count = ends.index(NOTHING[0]) if NOTHING[0] in ends else len(ends)
        if not count or positions[0] != start or ends[: count - 1] != positions[1:count]:
            return None
        chained = ids[:count] if count < len(ids) else ids
        if len(set(chained)) != count:
            return None
        self._cursor = count
        if count == len(ids):
            return ids, fingerprints, positions, ends
        return chained, fingerprints[:count], positions[:count], ends[:count]

    def at(self, position: int) -> Found:
        """What stands at `position`."""
        if self._memo is None:
            return self._match(position)  # nothing to remember it in
        positions, ends, ids, fingerprints = self._columns
        cursor = self._cursor
        if cursor < len(positions) and positions[cursor] == position:
            self._cursor = cursor + 1  # the usual case: the next position the memo holds
            return ends[cursor], ids[cursor], fingerprints[cursor]
        if self._found is None:
            self._found = dict(zip(positions, zip(ends, ids, fingerprints)))  # noqa: B905
        found = self._found.get(position)
        if found is None:
            found = self._found[position] = self._match(position)
            self._new = True
        return found

    def remember(self) -> None:
        """Store what was matched this time (nothing when the memo held it all), in the
        order of the positions (`chain` reads them so)."""
        if self._memo is None or not self._new or self._found is None:
            return
        found = sorted(self._found.items())
        positions = [position for position, _ in found]
        ends = [end for _, (end, _, _) in found]
        ids = [item_id for _, (_, item_id, _) in found]
        fingerprints = [fingerprint for _, (_, _, fingerprint) in found]
        columns = (positions, ends, ids, fingerprints)
        self._memo.remember(self._digest, columns, replacing=self._recalled)
        self._new = False
