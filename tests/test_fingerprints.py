"""`model.fingerprints` (plan's one loop over every item) and `Item.fingerprint` kept on the
item: the very hashes `fingerprint` gives, so every lockfile written before still matches."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import random
from collections import OrderedDict, defaultdict
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from specsync.model import FINGERPRINT_FIELDS, Item, Location, fingerprint, fingerprints
from specsync.state.lockfile_read import parse_lockfile


def _item(item_id: str, request: dict[str, Any]) -> Item:
    video, _, locale = item_id.partition("/")
    return Item(item_id, video, locale, request, Location("m.yaml", 1, 1))


def _documented(request: dict[str, Any]) -> str:
    """The scheme as docs/lockfile.md writes it: SHA-256 of json.dumps, keys sorted, with
    `resolution` only when set."""
    names = ("language", "text", "model", "isExport", "resolution")
    values = {name: request.get(name) for name in names}
    if values["resolution"] is None:
        del values["resolution"]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_fingerprints_are_the_documented_hashes_for_every_kind_of_request() -> None:
    pieces = ["a", '"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "한", "😀", "\u2028", "/"]
    rng = random.Random(28)
    items = []
    for number in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        request: dict[str, Any] = {
            "language": rng.choice(["en", "pt-BR", text]),
            "text": text,
            "model": rng.choice(["M000045058", text, None]),
            "isExport": rng.choice([True, False, 1, None]),
            "webhookUrl": rng.choice([None, "https://hooks.example/x"]),
        }
        resolution = rng.choice([None, None, "720", 1080, "1080"])
        if resolution is not None:
            request["resolution"] = resolution
        items.append(_item(f"v{number}/en", request))
    found = fingerprints(items)
    assert list(found) == [item.id for item in items]
    for item in items:
        assert found[item.id] == fingerprint(item.request) == _documented(dict(item.request))
        assert item.fingerprint == found[item.id]  # kept on the item


# An entry `apply --emulator` wrote (the bench's first item, written by specsync before
# `fingerprints` existed): its fingerprint must still be the item's.
_WRITTEN_BY_APPLY = """\
# specsync.lock: what specsync has exported. Written by specsync; commit it, do not edit it.
# Docs: docs/lockfile.md
version = 2
fingerprint = "sha256-json-v2"
emulator = true
service = "127.0.0.1"

[items."f0000-v00/de"]
fingerprint = "f17101153b02289d9b8580060c365ddca4c82959a4ce18bb844540f00b6acc95"
projectId = "emu-1a250baca18-bb8-dd8888f6a-f821ef497bb3a465"
taskId = "37cdfee0c836462d841bbec7c77f2312"
submittedAt = "2026-12-07T13:39:08Z"
language = "de"
model = "M000045058"
isExport = true
resolution = "default"
text = "[de] Hi Viewer 0, welcome to Acme Cloud.\\nThis is lesson 1 (de).\\nQuestions? Visit \
support@acme.example."

# end of specsync.lock
"""


def test_an_entry_written_by_the_old_code_still_matches() -> None:
    request = {
        "language": "de",
        "text": "[de] Hi Viewer 0, welcome to Acme Cloud.\nThis is lesson 1 (de).\n"
        "Questions? Visit support@acme.example.",
        "model": "M000045058",
        "isExport": True,
        "webhookUrl": "https://hooks.example.com/aistudios",
    }
    item = _item("f0000-v00/de", request)
    known = fingerprints([item])
    lock = parse_lockfile(_WRITTEN_BY_APPLY, "specsync.lock", known)
    assert lock.entries["f0000-v00/de"].fingerprint == known[item.id] == item.fingerprint
    from specsync.plan import make_plan

    [planned] = make_plan([item], lock).items
    assert planned.action == "unchanged"


def test_the_kept_fingerprint_follows_the_item() -> None:
    request = {"language": "en", "text": "Hi", "model": "M1", "isExport": True}
    item = _item("a/en", request)
    assert "fingerprint" not in item.__dict__  # computed on first use only
    first = item.fingerprint
    assert item.__dict__["fingerprint"] == first == fingerprint(request)
    changed = dataclasses.replace(item, request={**request, "text": "Hello"})
    assert changed.fingerprint == fingerprint(changed.request) != first
    assert pickle.loads(pickle.dumps(item)).fingerprint == first
    assert dataclasses.fields(item)[-1].name == "source"  # not a field: not in eq or repr
    assert item == _item("a/en", request)
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.fingerprint = "0" * 64
    assert type(Item.fingerprint).__name__ == "_KeptFingerprint"  # the class's own


def test_fingerprints_takes_what_an_item_already_kept() -> None:
    item = _item("a/en", {"language": "en", "text": "Hi", "model": "M1", "isExport": True})
    kept = item.fingerprint
    assert fingerprints([item, item]) == {"a/en": kept}


def test_the_bench_lockfile_sample_is_real(tmp_path: Path) -> None:
    # The sample above is read by the thorough reader as well (no quick path at all).
    lock = parse_lockfile(_WRITTEN_BY_APPLY, str(tmp_path / "specsync.lock"))
    assert lock.entries["f0000-v00/de"].model == "M000045058"


def test_keeping_fingerprints_makes_no_object_per_item() -> None:
    # Read through `item.__dict__`, the kept fingerprint made a dict of every item's
    # attributes: 10,000 tracked objects in a plan, which woke the cyclic collector
    # mid-plan. Kept as an attribute, it makes none. (The count is the interpreter's, so
    # another thread may add a few: the fewest of three tries, far below one an item.)
    import gc

    made = []
    for _ in range(3):
        items = [
            _item(f"v{i}/en", {"language": "en", "text": f"t{i}", "isExport": True})
            for i in range(2000)
        ]
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            before = gc.get_count()[0]
            found = fingerprints(items)
            made.append(gc.get_count()[0] - before)
        finally:
            if was_enabled:
                gc.enable()
        assert found == {item.id: fingerprint(item.request) for item in items}
        assert all(item.fingerprint == found[item.id] for item in items)
    assert min(made) < 100, made  # the result dict and little else, not 2,000


class _Text(str):
    """A str subclass: equal to its text, yet not the exact type the quick path takes."""


def _reference(request: Any) -> str:
    """The scheme as docs/lockfile.md writes it, read with `.get` from the request as given
    (a defaultdict's missing field is None here too, never its default)."""
    values = {name: request.get(name) for name in FINGERPRINT_FIELDS}
    if values["resolution"] is None:
        del values["resolution"]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_PIECES = ["a", "Z", " ", '"', "\\", "/", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f"]
_PIECES += ["\x80", "é", "ß", "한", "😀", "\u2028", "\u2029", "\ufeff", "\U0010ffff", "{", "}"]


def _request(rng: random.Random) -> Any:
    """A request of the usual shape most often, any unusual one sometimes: the languages
    and models come from small pools, so that one call holds many items of each head and
    items whose heads differ in one field only (the memo must keep them apart)."""
    text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 30)))
    request: dict[str, Any] = {
        "language": rng.choice(["en", "de", "pt-BR", "".join(["e", "n"]), 'a"b', "a\\b"]),
        "text": text,
        "model": rng.choice(["M1", "M2", "".join(["M", "1"]), "M\u2028", "é"]),
        "isExport": rng.choice([True, False]),
        "webhookUrl": rng.choice([None, "https://hooks.example/x"]),
    }
    if rng.random() < 0.3:  # something unusual
        name = rng.choice(["language", "text", "model", "isExport"])
        request[name] = rng.choice([None, 1, 0, 1.0, "true", _Text("en"), _Text(text), ["en"]])
    if rng.random() < 0.05:
        del request[rng.choice(["language", "text", "model", "isExport"])]
    if rng.random() < 0.2:
        request["resolution"] = rng.choice([None, "720", 1080, "1080", True])
    if rng.random() < 0.3:  # the usual one with the text as language or model
        request[rng.choice(["language", "model"])] = text
    order = list(request)
    rng.shuffle(order)  # key order never counts
    request = {name: request[name] for name in order}
    kind = rng.random()
    if kind < 0.03:
        return MappingProxyType(request)
    if kind < 0.06:  # [] would give the default, .get gives None: json's null
        return defaultdict(lambda: True, request)
    if kind < 0.08:
        return OrderedDict(request)
    return request


@pytest.mark.parametrize("seed", range(5))
def test_fingerprints_equal_the_documented_json_for_generated_requests(seed: int) -> None:
    # Differential: the quick path (a head's hash made once per (language, model, isExport)
    # and copied) against json.dumps, over one call of many items whose heads repeat and
    # differ, with every kind of text, value and mapping. A memo keyed on less than all
    # three (or on values before their types are checked: True == 1) fails here.
    rng = random.Random(seed)
    items = [_item(f"v{number}/x", _request(rng)) for number in range(4000)]
    found = fingerprints(items)
    assert list(found) == [item.id for item in items]
    for item in items:
        assert found[item.id] == _reference(item.request), item.request
        assert item.fingerprint == found[item.id]


def test_heads_differing_in_one_field_never_share_a_hash() -> None:
    # Every pair of the same text, alternating in one call: a memo that mixed any two
    # heads up gives one of them the other's hash.
    requests = [
        {"language": language, "text": "Hi", "model": model, "isExport": is_export}
        for is_export in (True, False, 1, 0)
        for language in ("en", "de", 'e"n')
        for model in ("M1", "M2")
    ]
    items = [_item(f"v{n}/x", request) for n, request in enumerate(requests * 3)]
    found = fingerprints(items)
    assert [found[item.id] for item in items] == [_reference(item.request) for item in items]
    assert len(set(found.values())) == len(requests)


@pytest.mark.parametrize("field", ["text", "language", "model"])
def test_a_lone_surrogate_is_refused_as_json_refuses_it(field: str) -> None:
    # No UTF-8 for it: the quick path raises json's own error, message and all (after items
    # of the same head, so a head is already made).
    usual = {"language": "en", "text": "Hi", "model": "M1", "isExport": True}
    odd = {**usual, field: "x\ud800y"}
    with pytest.raises(UnicodeEncodeError) as expected:
        _reference(odd)
    items = [_item("a/en", usual), _item("b/en", odd)]
    with pytest.raises(UnicodeEncodeError) as raised:
        fingerprints(items)
    assert str(raised.value) == str(expected.value)
    with pytest.raises(UnicodeEncodeError) as alone:
        fingerprint(odd)
    assert str(alone.value) == str(expected.value)
