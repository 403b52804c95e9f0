"""The project file's generated fast check (manifests/project_schema_check.py) against
jsonschema, the reference, as test_schema_check.py does for manifests.

It may refuse more than jsonschema (a refusal only sends the file to jsonschema, which words
the problem) but must never accept a project file jsonschema refuses.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from specsync.manifests import project_schema_check, schema
from specsync.manifests.load import parse_document

BASES: list[dict[str, Any]] = [
    {
        "specsync": 1,
        "defaults": {"model": "M1", "locales": {"en": None, "ko": {"model": "M2"}}},
        "vars": {"product": "Acme", "n": [1, 2]},
        "ignore": ["manifests/data/*.yaml", "reviewers.yaml"],
        "checks": {"untranslated-locale": {"level": "error", "off-for": ["promo-*"]}},
    },
    {"specsync": 1, "ignore": [], "checks": {"untranslated-locale": "off"}},
    {"specsync": 1, "checks": {}},
]
PROBES: list[Any] = [
    None,
    True,
    0,
    1,
    1.5,
    "",
    "x",
    "warning",
    "error",
    "off",
    "en",
    "a" * 1025,
    [],
    [""],
    ["x"],
    ["x", 1],
    {},
    {"level": "off"},
    {"level": "loud"},
    {"x": 1},
]
ODD_KEYS = ["", "x", "videos", "ignore", "checks", "level", "off-for", "untranslated-locale"]


def _mutants(value: Any) -> Iterator[Any]:
    """`value`, each of its parts replaced by every probe, each key removed, odd keys added."""
    yield value
    yield from PROBES
    if isinstance(value, dict):
        for key in value:
            for child in _mutants(value[key]):
                yield {**value, key: child}
            yield {name: item for name, item in value.items() if name != key}
        for key in ODD_KEYS:
            yield {**value, key: "off"}
            yield {**value, key: ["x"]}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for child in _mutants(item):
                yield [*value[:index], child, *value[index + 1 :]]


def _fast_accepts(document: Any) -> bool:
    try:
        project_schema_check.validate(copy.deepcopy(document))
    except Exception:
        return False
    return True


def test_fast_check_never_accepts_what_jsonschema_refuses() -> None:
    reference = Draft202012Validator(schema.project_schema())
    compared = accepted = refused_more = 0
    for base in BASES:
        for mutant in _mutants(base):
            fast = _fast_accepts(mutant)
            slow = reference.is_valid(mutant)
            compared += 1
            accepted += fast
            assert not (fast and not slow), f"fast check accepted an invalid file: {mutant!r}"
            refused_more += slow and not fast
    # Not degenerate: both verdicts occur many times, and the two agree on nearly all.
    assert compared > 700
    assert accepted > 150
    assert compared - accepted > 400
    assert refused_more < compared / 50


def test_generated_module_matches_the_project_schema() -> None:
    assert schema.project_schema_digest() == project_schema_check.SCHEMA_SHA256, (
        "the project schema changed: run python tools/gen_schema_check.py"
    )
    assert schema._project_fast_check() is project_schema_check.validate


def test_a_stale_generated_module_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project_schema_check, "SCHEMA_SHA256", "0" * 64)
    schema._project_fast_check.cache_clear()
    try:
        assert schema._project_fast_check() is None
        bad = parse_document(b"specsync: 1\nignore: [ok, '']\n", "specsync.yaml")
        good = parse_document(b"specsync: 1\nignore: [ok]\n", "specsync.yaml")
        assert [p.location.line for p in schema.validate_project_document(bad)] == [2]
        assert schema.validate_project_document(good) == []
    finally:
        monkeypatch.undo()
        schema._project_fast_check.cache_clear()


PROJECT = b"""\
specsync: 1
defaults: {model: M1}
ignore: ["manifests/data/*"]
checks:
  untranslated-locale: {level: error, off-for: [promo]}
"""


def test_a_valid_project_file_is_checked_without_jsonschema_or_fastjsonschema() -> None:
    code = (
        "import sys\n"
        "from specsync.manifests.load import parse_document\n"
        "from specsync.manifests.schema import validate_project_document\n"
        f"doc = parse_document({PROJECT!r}, 'specsync.yaml')\n"
        "assert validate_project_document(doc) == []\n"
        "print(sorted({'jsonschema', 'fastjsonschema', 'decimal'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (b"specsync: 1\nignore: [ok, '']\n", 2),
        (b"specsync: 1\nignore: manifests/data\n", 2),
        (b"specsync: 1\nchecks:\n  untranslated-locale: loud\n", 3),
        (b"specsync: 1\nchecks:\n  untranslated-locale: {level: off, of-for: [x]}\n", 3),
        (b"specsync: 1\nignore: []\nvidoes: {}\n", 3),
    ],
)
def test_a_refused_project_file_still_gets_jsonschemas_located_problem(
    text: bytes, line: int, tmp_path: Path
) -> None:
    problems = schema.validate_project_document(parse_document(text, "specsync.yaml"))
    assert problems and {p.location.line for p in problems} == {line}, problems
