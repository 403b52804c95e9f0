"""The generated fast check (specsync/manifests/schema_check.py) against jsonschema, the reference.

The fast check may refuse more than jsonschema (a refusal only sends the document to
jsonschema), but it must never accept a document jsonschema refuses: that would let a bad
manifest through validation. These tests mutate rich manifests at every position with
values of every JSON type and compare the two verdicts on each.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import fastjsonschema
import pytest
from jsonschema import Draft202012Validator

from specsync.manifests import schema, schema_check
from specsync.manifests.load import parse_document
from tests.helpers import ROOT

BASES: list[dict[str, Any]] = [
    {
        "specsync": 1,
        "defaults": {
            "model": "M1",
            "isExport": True,
            "webhookUrl": "https://hooks.example.com/x",
            "resolution": "1080",
            "workspaceId": "ws-1",
            "locales": ["en", "ko"],
        },
        "vars": {"product": "Acme", "n": 3},
        "videos": {
            "welcome": {"script": "Hi {{ product }}", "locales": {"en": None, "ko": {}}},
            "pricing-2024": {
                "script": "x",
                "model": "M2",
                "isExport": False,
                "resolution": 720,
                "vars": {"a": [1, 2]},
                "locales": {
                    "zh-CN": {
                        "script": "y",
                        "vars": {},
                        "model": "M3",
                        "isExport": True,
                        "webhookUrl": "http://h/",
                        "resolution": "4k",
                        "workspaceId": "w",
                    }
                },
            },
        },
    },
    {"specsync": 1, "videos": {}},
    {"specsync": 1, "videos": {"a": {"script": "s", "locales": ["pt-BR"]}}},
]

PROBES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    1.0,
    1.5,
    -1,
    1080,
    1080.0,
    720,
    float("nan"),
    "",
    "x",
    "en",
    "en\n",
    "4k",
    "1080",
    "https://a.b",
    "https://a.b\n",
    "http://",
    "ftp://a.b",
    [],
    ["en"],
    ["en", 1],
    [""],
    {},
    {"en": None},
    {"en": {}},
    {"en": {"script": 1}},
    {"x": 1},
    {"script": "s"},
]
ODD_KEYS = ["scirpt", "x", "", "en", "en\n", "a/b", "-a", "e", "zh-CN", "specsync", "locales"]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


def _mutants(base: dict[str, Any]) -> Iterator[Any]:
    yield base
    for probe in PROBES:
        yield probe  # the whole document replaced
    for path in _paths(base):
        node = base
        for part in path:
            node = node[part]
        if path:
            for probe in PROBES:
                mutant = copy.deepcopy(base)
                _parent(mutant, path)[path[-1]] = copy.deepcopy(probe)
                yield mutant
            mutant = copy.deepcopy(base)
            del _parent(mutant, path)[path[-1]]
            yield mutant
        if isinstance(node, dict):
            for key in ODD_KEYS:
                for value in (None, "s", {}, {"script": "s"}):
                    mutant = copy.deepcopy(base)
                    target = mutant
                    for part in path:
                        target = target[part]
                    target[key] = value
                    yield mutant
                    if node:  # a renamed first key
                        mutant = copy.deepcopy(base)
                        target = mutant
                        for part in path:
                            target = target[part]
                        first = next(iter(target))
                        target[key] = target.pop(first)
                        yield mutant


def _has_trailing_newline(value: Any) -> bool:
    if isinstance(value, str):
        return value.endswith("\n")
    if isinstance(value, dict):
        return any(_has_trailing_newline(k) or _has_trailing_newline(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_trailing_newline(v) for v in value)
    return False


def _fast_accepts(document: Any) -> bool:
    try:
        schema_check.validate(document)
    except Exception:
        return False
    return True


def test_fast_check_never_accepts_what_jsonschema_refuses() -> None:
    reference = Draft202012Validator(schema.manifest_schema())
    compared = accepted = refused_more = 0
    for base in BASES:
        for mutant in _mutants(base):
            fast = _fast_accepts(copy.deepcopy(mutant))
            slow = reference.is_valid(mutant)
            compared += 1
            accepted += fast
            assert not (fast and not slow), f"fast check accepted an invalid document: {mutant!r}"
            if slow and not fast:
                refused_more += 1
                # The one known difference: fastjsonschema anchors `$` as `\Z`, so it
                # refuses "en\n" where Python's `re.search` (jsonschema) accepts it.
                assert _has_trailing_newline(mutant), f"fast check refused {mutant!r}"
    # The corpus is not degenerate: both verdicts occur many times.
    assert compared > 2000
    assert accepted > 100
    assert compared - accepted > 1000
    assert refused_more < compared / 50


def test_fast_check_does_not_write_into_the_data() -> None:
    document = copy.deepcopy(BASES[0])
    schema_check.validate(document)
    assert document == BASES[0]


def test_generated_module_matches_the_schema_file() -> None:
    source = (ROOT / "schemas" / "manifest.schema.json").read_bytes()
    assert hashlib.sha256(source).hexdigest() == schema_check.SCHEMA_SHA256, (
        "schemas/manifest.schema.json changed: run python tools/gen_schema_check.py"
    )
    assert schema._fast_check() is schema_check.validate


def test_generated_module_is_what_the_generator_writes() -> None:
    if fastjsonschema.VERSION != schema_check.FASTJSONSCHEMA_VERSION:
        pytest.skip("generated with another fastjsonschema release; the hash test still runs")
    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools" / "gen_schema_check.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.main(["--check"]) == 0


def test_a_stale_generated_module_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_check, "SCHEMA_SHA256", "0" * 64)
    schema._fast_check.cache_clear()
    try:
        assert schema._fast_check() is None
        bad = parse_document(b"specsync: 1\nvideos:\n  a: {scirpt: x}\n", "m.yaml")
        assert [str(p) for p in schema.validate_document(bad)] == [
            "m.yaml:3:7: unknown key 'scirpt' in video 'a' (did you mean 'script'?)"
        ]
    finally:
        monkeypatch.undo()
        schema._fast_check.cache_clear()


def test_valid_documents_are_checked_without_importing_jsonschema() -> None:
    code = (
        "import sys\n"
        "from specsync.manifests.load import parse_document\n"
        "from specsync.manifests.schema import validate_document\n"
        "doc = parse_document(b'specsync: 1\\nvideos: {a: {script: s}}\\n', 'm.yaml')\n"
        "assert validate_document(doc) == []\n"
        "print('jsonschema' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
