"""The fingerprints of the last plan's items, kept with the fields they were made of.

Hashing 10,000 requests (SHA-256 of each one's canonical JSON: `model.fingerprints`) is the
largest part of plan's own work, ~22 ms of ~50 on the bench. Between two plans most items
did not change. An item whose request is of the usual shape and whose fields (text,
language, model, isExport) are exactly those its id had last time takes the fingerprint
made of them then; the others are hashed. The comparison is exact (string equality, the
types checked before, as `fingerprints` checks them), so a fingerprint taken from here is
the one hashing gives.

Kept in an authenticated store (the render wing's cache: HMAC, bounded, a bad entry
dropped, none with `--no-cache`), one entry per lockfile path in a pack of its own (no
plan reads another lockfile's), written again only when the items changed. Fewer than
MIN_ITEMS items are hashed as they are.
"""

from __future__ import annotations

import marshal
import operator
from itertools import repeat
from typing import Any

from specsync import model
from specsync.model import FINGERPRINT_SCHEME, Item, fingerprints, keep_fingerprints
from specsync.state.lockfile_skim_memo import MemoStore, code_stamp

# Bump when what an entry means changes (the fingerprint scheme, and an edit of the code
# that makes fingerprints, are in the store's version).
FORMAT = 1
STORE_VERSION = f"fingerprints-{FORMAT}\0{FINGERPRINT_SCHEME}\0" + code_stamp(
    model.__file__, __file__
)
# Below this many items, hashing costs less than reading and writing the memo.
MIN_ITEMS = 500

Columns = tuple[list[str], list[str], list[str], list[bool]]  # texts, languages, models, isExport
_FIELDS = tuple(operator.itemgetter(name) for name in ("text", "language", "model", "isExport"))


def planned_before(store: MemoStore, place: str) -> bool:
    """Has a plan of the lockfile at `place` run here before (this one is remembered)?

    The memos cost a first plan more than they save it (~25 ms on 10,000 items): a plan
    that finds no mark of an earlier one leaves this mark only, and keeps no memo. So a CI
    job on a fresh machine pays ~nothing; a second plan keeps them; the next ones use them.
    """
    material = f"planned before\0{place}"
    if store.get(material, place) is not None:
        return True
    store.put(material, b"1", place)
    return False


def remembered_fingerprints(
    items: list[Item], store: MemoStore | None, place: str
) -> dict[str, str]:
    """Item id -> fingerprint of every item, each kept as its `fingerprint` (what
    `model.fingerprints` gives), those of unchanged fields taken from what `store` keeps
    for `place` (the lockfile's path), which is brought up to date."""
    columns = None if store is None or len(items) < MIN_ITEMS else _usual_columns(items)
    if store is None or columns is None:
        return fingerprints(items)
    ids = [item.id for item in items]
    recalled = _recalled(store, place)
    if recalled is not None and recalled[0] == ids and recalled[1:5] == columns:
        values = recalled[5]  # the usual plan: nothing changed, compared in C
        keep_fingerprints(items, values)
        return dict(zip(ids, values, strict=True))
    if recalled is not None:
        _reuse(items, columns, recalled)
        store.reject(place, place)  # replaced below: the store keeps a key's first entry
    fingerprints([item for item in items if "fingerprint" not in vars(item)])
    values = [item.fingerprint for item in items]  # per item: an id given twice stays right
    store.put(place, marshal.dumps((FORMAT, ids, *columns, values)), place)
    return dict(zip(ids, values, strict=True))  # as `fingerprints` gives it


def _usual_columns(items: list[Item]) -> Columns | None:
    """The fields of every request, when each is of the usual shape: a plain dict with no
    `resolution`, text, language and model exactly str and isExport a bool (a value that
    only equals one, as True equals 1, may fingerprint otherwise); else None."""
    requests = [item.request for item in items]
    if set(map(type, requests)) != {dict}:
        return None
    if any(map(dict.__contains__, requests, repeat("resolution"))):
        return None
    try:
        texts, languages, models, exports = (list(map(get, requests)) for get in _FIELDS)
    except KeyError:
        return None
    if not set(map(type, texts)) == set(map(type, languages)) == set(map(type, models)) == {str}:
        return None
    if set(map(type, exports)) != {bool}:
        return None
    return texts, languages, models, exports


def _recalled(store: MemoStore, place: str) -> tuple[list[Any], ...] | None:
    """(ids, texts, languages, models, exports, fingerprints) kept for `place`, or None."""
    payload = store.get(place, place)
    if payload is None:
        return None
    try:
        version, *columns = marshal.loads(payload)
        if version != FORMAT or len(columns) != 6 or len({len(c) for c in columns}) != 1:
            raise ValueError("not a memo of this format")
        if not all(type(column) is list for column in columns):
            raise TypeError("not columns")
    except (EOFError, ValueError, TypeError):
        store.reject(place, place)
        return None
    return tuple(columns)


def _reuse(items: list[Item], columns: Columns, recalled: tuple[list[Any], ...]) -> None:
    """Keep the recalled fingerprint of each item whose fields are exactly those its id
    had (some items changed, came or went since)."""
    ids, texts, languages, models, exports, values = recalled
    where = {item_id: index for index, item_id in enumerate(ids)}
    now_texts, now_languages, now_models, now_exports = columns
    for position, item in enumerate(items):
        index = where.get(item.id)
        if (
            index is not None
            and now_texts[position] == texts[index]
            and now_languages[position] == languages[index]
            and now_models[position] == models[index]
            and now_exports[position] is exports[index]
            and type(values[index]) is str
        ):
            keep_fingerprints((item,), (values[index],))
