"""The fingerprints of the last plan's items, kept with the fields they were made of.

Hashing 10,000 requests (SHA-256 of each one's canonical JSON: `model.fingerprints`) is the
largest part of plan's own work, ~22 ms of ~50 on the bench. Between two plans most items
did not change. When every request is as it was last time, value for value and type for
type (their marshalled bytes are equal), each takes the fingerprint made of it then;
otherwise an item whose request is of the usual shape and whose fields (text, language,
model, isExport) are exactly those its id had takes its own, and the others are hashed.
Every comparison is exact (bytes, or string equality with the types checked first), so a
fingerprint taken from here is the one hashing gives.

Kept in an authenticated store (the render wing's cache: HMAC, bounded, a bad entry
dropped, none with `--no-cache`), one entry per lockfile path in a pack of its own (no
plan reads another lockfile's), written again only when the items changed. Fewer than
MIN_ITEMS items are hashed as they are.
"""

from __future__ import annotations

import marshal
import operator
from itertools import repeat
from typing import Any, NamedTuple

from specsync import model
from specsync.model import FINGERPRINT_SCHEME, Item, fingerprints, keep_fingerprints
from specsync.regular_files import files_stamp
from specsync.state.lockfile_skim_memo import MemoStore

# Bump when what an entry means changes (the fingerprint scheme, and an edit of the code
# that makes fingerprints, are in the store's version).
FORMAT = 1
STORE_VERSION = f"fingerprints-{FORMAT}\0{FINGERPRINT_SCHEME}\0" + files_stamp(
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
    `model.fingerprints` gives), those of unchanged requests taken from what `store` keeps
    for `place` (the lockfile's path), which is brought up to date."""
    if store is None or len(items) < MIN_ITEMS:
        return fingerprints(items)
    ids = [item.id for item in items]
    bodies = [item.request for item in items]
    requests = _marshalled(bodies)
    recalled = _recalled(store, place)
    if recalled is not None and requests is not None and recalled.requests == requests:
        # The usual plan: every request as it was, value for value and type for type
        # (marshal writes True and 1, a str and a subclass, apart), compared in C.
        keep_fingerprints(items, recalled.fingerprints)
        return dict(zip(ids, recalled.fingerprints, strict=True))
    columns = _usual_columns(bodies)
    if recalled is not None:
        by_item = _columns_of(recalled)
        if columns is not None and by_item is not None:
            if by_item[0] == ids and by_item[1:] == columns:
                # The same fields, item for item, marshalled otherwise (equal objects
                # shared otherwise, as a split run's and one process's are): the memo
                # stands as it is, not written again each time the two alternate.
                keep_fingerprints(items, recalled.fingerprints)
                return dict(zip(ids, recalled.fingerprints, strict=True))
            _reuse(items, columns, by_item, recalled.fingerprints)
        store.reject(place, place)  # replaced below: the store keeps a key's first entry
    fingerprints([item for item in items if "fingerprint" not in vars(item)])
    values = [item.fingerprint for item in items]  # per item: an id given twice stays right
    if requests is not None:
        fields = None if columns is None else marshal.dumps((ids, *columns))
        store.put(place, marshal.dumps((FORMAT, requests, fields, values)), place)
    return dict(zip(ids, values, strict=True))  # as `fingerprints` gives it


def _marshalled(requests: list[Any]) -> bytes | None:
    """The requests as marshal writes them (None: a value it does not write, a subclass
    among them). Equal bytes read back as equal values of the same types: what a
    fingerprint is made of, and more (a webhook); object sharing may make equal requests
    differ, never different ones equal."""
    try:
        return marshal.dumps(requests)
    except ValueError:
        return None


def _usual_columns(requests: list[Any]) -> Columns | None:
    """The fields of every request, when each is of the usual shape: a plain dict with no
    `resolution`, text, language and model exactly str and isExport a bool (a value that
    only equals one, as True equals 1, may fingerprint otherwise); else None."""
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


class _Recalled(NamedTuple):
    requests: bytes  # the requests, marshalled
    columns: bytes | None  # (ids, texts, languages, models, exports), marshalled: usual ones
    fingerprints: list[str]


def _recalled(store: MemoStore, place: str) -> _Recalled | None:
    """What is kept for `place`, or None (a memo that does not read is dropped)."""
    payload = store.get(place, place)
    if payload is None:
        return None
    try:
        version, requests, columns, values = marshal.loads(payload)
        if version != FORMAT or type(requests) is not bytes or type(values) is not list:
            raise ValueError("not a memo of this format")
        if columns is not None and type(columns) is not bytes:
            raise TypeError("not columns")
        if set(map(type, values)) - {str}:
            raise TypeError("a fingerprint that is not text")
    except (EOFError, ValueError, TypeError):
        store.reject(place, place)
        return None
    return _Recalled(requests, columns, values)


def _columns_of(recalled: _Recalled) -> tuple[list[Any], ...] | None:
    """(ids, texts, languages, models, exports) of the items recalled, each as long as
    their fingerprints; None when there are none or they do not read."""
    try:
        columns = tuple(marshal.loads(recalled.columns or b""))
    except (EOFError, ValueError, TypeError):
        return None
    count = len(recalled.fingerprints)
    if len(columns) != 5 or any(type(c) is not list or len(c) != count for c in columns):
        return None
    return columns


def _reuse(
    items: list[Item], columns: Columns, recalled: tuple[list[Any], ...], values: list[str]
) -> None:
    """Keep the recalled fingerprint of each item whose fields are exactly those its id
    had (some items changed, came or went since)."""
    ids, texts, languages, models, exports = recalled
    where = {item_id: index for index, item_id in enumerate(ids)}
    now_texts, now_languages, now_models, now_exports = columns
    keep = object.__setattr__  # an Item is frozen to everyone else (model.keep_fingerprints)
    for position, item in enumerate(items):
        index = where.get(item.id)
        if (
            index is not None
            and now_texts[position] == texts[index]
            and now_languages[position] == languages[index]
            and now_models[position] == models[index]
            and now_exports[position] is exports[index]
        ):
            keep(item, "fingerprint", values[index])
