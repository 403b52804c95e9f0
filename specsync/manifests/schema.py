"""The manifest JSON Schema, and its errors turned into located, readable problems."""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from specsync.manifests.load import scalar_source
from specsync.model import Document, PathKey, Problem

FORMAT_VERSION = 1

_SHAPES = {
    "videos": "a video id: letters, digits, '_', '.', '-', starting with a letter or digit "
    "(e.g. welcome, pricing-2024)",
    "locales": "a locale code like en, ko, zh-CN or pt-BR",
    "webhookUrl": "an absolute http(s) URL like https://hooks.example.com/aistudios",
}


@cache
def schema_text() -> str:
    # The package's folder as the import system finds it (an editable install maps it to
    # schemas/), read directly: importlib.resources costs ~5 ms of every start.
    found = importlib.util.find_spec("specsync.schemas")
    for folder in (found.submodule_search_locations or []) if found else []:
        path = Path(folder) / "manifest.schema.json"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    from importlib.resources import files  # a zip or other non-folder install

    return files("specsync.schemas").joinpath("manifest.schema.json").read_text(encoding="utf-8")


@cache
def manifest_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


@cache
def _fast_check() -> Callable[[Any], Any] | None:
    """The compiled yes/no check of this very schema (manifests/schema_check.py), else None.

    A fast path only: it decides "valid" in a few milliseconds without importing jsonschema;
    any refusal goes to jsonschema, which alone words the messages (and has the last word).
    The generated module names the schema it was made from; any other schema (an edited
    file, a stale module) skips the fast path rather than trusting it.
    """
    try:
        from specsync.manifests import schema_check
    except ImportError:  # pragma: no cover - a custom install without the generated module
        return None
    digest = hashlib.sha256(schema_text().encode("utf-8")).hexdigest()
    if digest != schema_check.SCHEMA_SHA256:
        return None
    check: Callable[[Any], Any] = schema_check.validate
    return check


def _passes_fast_check(data: Any) -> bool:
    return _accepted_by(_fast_check(), data)


def _accepted_by(check: Callable[[Any], Any] | None, data: Any) -> bool:
    if check is None:
        return False
    try:
        check(data)
    except Exception:  # a refusal, or data the generated code cannot handle: ask jsonschema
        return False
    return True


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(manifest_schema())


MAX_SHOWN = 80  # a value quoted in a message: a 300 KB locale code is not repeated whole


def _quoted(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 2]}…{text[-1]}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the text {_quoted(value)}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _quote_hint(value: Any) -> str:
    if isinstance(value, bool):
        return ' (YAML 1.1 reads yes/no/on/off as booleans: quote it, e.g. "no")'
    if isinstance(value, (int, float)) or value is None:
        return ": quote it"
    return ""


def _not_text(doc: Document, path: PathKey, value: Any) -> str:
    """ "got ...: quote it" for a scalar YAML read as a number, boolean or null, naming what
    was written: `model: 0123` is the octal number 83 to YAML 1.1, which nobody meant."""
    written = scalar_source(doc, path)
    if written is None:
        return f"got {_describe(value)}{_quote_hint(value)}"
    if isinstance(value, bool):
        reading = f"the boolean {str(value).lower()}"
    elif value is None:
        reading = "null"
    else:
        reading = f"the number {value}"
    shown = (
        f"got {reading}"
        if written == str(value)
        else f"got {written}, which YAML 1.1 reads as {reading}"
    )
    return f'{shown}: quote it, e.g. "{written}"'


def _field_name(path: tuple[str | int, ...]) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "value"


def _context(path: tuple[str | int, ...]) -> str:
    if len(path) >= 2 and path[0] == "videos":
        return f" in video {_quoted(path[1])}"
    if path and path[0] == "defaults":
        return " in defaults"
    return ""


def _allowed_keys(schema: dict[str, Any]) -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = manifest_schema()["$defs"][name]
    return sorted(schema.get("properties", {}))


@cache
def _locale_mapping_validator() -> Any:
    from jsonschema import Draft202012Validator

    defs = manifest_schema()["$defs"]
    return Draft202012Validator({"$defs": defs, "$ref": "#/$defs/locales/oneOf/1"})


@cache
def _locale_code_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(manifest_schema()["$defs"]["locales"]["oneOf"][0]["items"])


def _locale_problems(doc: Document, path: tuple[str | int, ...], value: Any) -> list[Problem]:
    """`locales` is a list or a mapping: report the errors of the branch the user meant."""
    problems: list[Problem] = []
    if isinstance(value, list):
        if not value:
            return [Problem(doc.locate(path), "locales must list at least one locale")]
        for index, entry in enumerate(value):
            if not isinstance(entry, str):
                problems.append(
                    Problem(
                        doc.locate((*path, index)),
                        f"locale must be text, {_not_text(doc, (*path, index), entry)}",
                    )
                )
            elif not _locale_code_validator().is_valid(entry):
                problems.append(
                    Problem(
                        doc.locate((*path, index)),
                        f"{_quoted(entry)} is not {_SHAPES['locales']}{_locale_hint(entry)}",
                    )
                )
    elif isinstance(value, dict):
        if not value:
            return [Problem(doc.locate(path), "locales must name at least one locale")]
        for suberror in _locale_mapping_validator().iter_errors(value):
            suberror.path.extendleft(reversed(path))
            problems.extend(_problem_for(doc, suberror))
    if problems:
        return problems
    return [
        Problem(
            doc.locate(path),
            "locales must be a list of locale codes or a mapping of code to overrides, "
            f"got {_describe(value)}",
        )
    ]


def _locale_hint(code: Any) -> str:
    """ " (did you mean 'zh-CN'?)" for a locale code written almost right, else ""."""
    if not isinstance(code, str) or len(code) > MAX_SHOWN:
        return ""
    from specsync.manifests.languages import suggestion

    guess = suggestion(code)
    return f" (did you mean {guess!r}?)" if guess else ""


def _unknown_key_problems(doc: Document, error: Any, path: PathKey) -> list[Problem]:
    allowed = _allowed_keys(error.schema)
    extras = [k for k in error.instance if k not in error.schema.get("properties", {})]
    problems = []
    for key in extras:
        guess = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else f" (allowed: {', '.join(allowed)})"
        message = f"unknown key {_quoted(key)}{_context(path)}{hint}"
        problems.append(Problem(doc.locate((*path, key), key=True), message))
    return problems


def _bad_name_problems(doc: Document, error: Any, path: PathKey) -> list[Problem]:
    from jsonschema import Draft202012Validator

    field = _field_name(path)
    shape = _SHAPES.get(field, "a valid name")
    check = Draft202012Validator(error.schema["propertyNames"])
    return [
        Problem(
            doc.locate((*path, name), key=True),
            f"{_quoted(name)} is not {shape}" + (_locale_hint(name) if field == "locales" else ""),
        )
        for name in error.instance
        if isinstance(name, str) and not check.is_valid(name)
    ]


def _wrong_type_problem(doc: Document, error: Any, path: PathKey) -> Problem:
    expected = error.validator_value
    names = {"string": "text", "object": "a mapping", "array": "a list", "integer": "a number"}
    if isinstance(expected, list):
        types: list[str] = expected
        wanted = " or ".join(names.get(t, t) for t in types if t != "null")
    else:
        wanted = names.get(expected, expected)
    value = error.instance
    return Problem(
        doc.locate(path),
        f"{_field_name(path)} must be {wanted}, "
        + (_not_text(doc, path, value) if wanted == "text" else f"got {_describe(value)}"),
    )


def _single_problem(doc: Document, error: Any, path: PathKey) -> Problem:
    """The message for a validator that concerns exactly the node at `path`."""
    validator, value, field = error.validator, error.instance, _field_name(path)
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return Problem(doc.locate(path), f"missing required key {missing!r}")
    if validator == "type":
        return _wrong_type_problem(doc, error, path)
    if validator == "pattern":
        shape = _SHAPES.get(field, f"of the form {error.validator_value}")
        if field == "locales" or (len(path) >= 2 and path[-2] == "locales"):
            shape = _SHAPES["locales"] + _locale_hint(value)
        return Problem(doc.locate(path), f"{_quoted(value)} is not {shape}")
    if validator == "enum":
        choices = ", ".join(str(c) for c in dict.fromkeys(str(c) for c in error.validator_value))
        return Problem(doc.locate(path), f"{field} must be one of {choices}, got {_quoted(value)}")
    if validator == "maxLength":
        return Problem(
            doc.locate(path),
            f"{field}: {_quoted(value)} is too long (at most {error.validator_value} characters)",
        )
    if validator in ("minLength", "minItems", "minProperties"):
        return Problem(doc.locate(path), f"{field} must not be empty")
    return Problem(doc.locate(path), f"{field}: {error.message}")


def _problem_for(doc: Document, error: Any) -> list[Problem]:
    path = tuple(error.absolute_path)
    validator = error.validator
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        return _unknown_key_problems(doc, error, path)
    if validator == "propertyNames":
        return _bad_name_problems(doc, error, path)
    if validator in ("oneOf", "anyOf") and _field_name(path) == "locales":
        return _locale_problems(doc, path, error.instance)
    return [_single_problem(doc, error, path)]


@dataclass(frozen=True)
class SchemaCheck:
    """The schema problems of one document, and how much of it is still usable.

    `bad_videos` names the videos a problem lies in; `whole_file` says a problem lies
    outside any one video (the format version, `defaults`, the shape of `videos`), so no
    part of the file can be trusted. The other videos of a file go on to expansion and
    rendering, so that one typo does not hide the template errors of the rest.
    """

    problems: list[Problem]
    bad_videos: frozenset[str] = frozenset()
    whole_file: bool = False


def _version_problem(doc: Document, what: str) -> Problem | None:
    data = doc.data
    if not isinstance(data, dict) or "specsync" not in data:
        return Problem(
            doc.locate(()),
            f"not a specsync {what}: a {what} is a mapping with a `specsync: 1` key",
            code="not-a-manifest" if what == "manifest" else "not-a-project-file",
        )
    version = data["specsync"]
    if isinstance(version, bool) or not isinstance(version, int):
        return Problem(
            doc.locate(("specsync",)),
            f"specsync: must be the format version number 1, got {_describe(version)}",
            code="format-version",
        )
    if version > FORMAT_VERSION:
        return Problem(
            doc.locate(("specsync",)),
            f"{what} format {version} is newer than this specsync reads "
            f"({FORMAT_VERSION}): upgrade specsync",
            code="format-version",
        )
    if version < FORMAT_VERSION:
        return Problem(
            doc.locate(("specsync",)), f"unknown {what} format {version}", code="format-version"
        )
    return None


_CODES = {
    "additionalProperties": "unknown-key",
    "required": "missing-key",
    "type": "wrong-type",
}


def _video_scope(error: Any) -> set[str] | None:
    """The videos a schema error lies in; None when it lies outside every video."""
    path = tuple(error.absolute_path)
    if len(path) >= 2 and path[0] == "videos" and isinstance(path[1], str):
        return {path[1]}
    if path == ("videos",) and error.validator == "propertyNames":
        return {name for name in error.instance if isinstance(name, str)}
    if path == ("videos",) and error.validator == "pattern" and isinstance(error.instance, str):
        return {error.instance}  # a bad video id (reported through propertyNames' pattern)
    return None


def check_document(doc: Document) -> SchemaCheck:
    """Every schema problem of one manifest, located at the node it concerns."""
    refusal = _version_problem(doc, "manifest")
    if refusal is not None:
        return SchemaCheck([refusal], whole_file=True)
    data = doc.data
    if _passes_fast_check(data):
        return SchemaCheck([])
    problems: set[Problem] = set()
    bad_videos: set[str] = set()
    whole_file = False
    for error in _validator().iter_errors(data):
        problems.update(_coded_problems(doc, error))
        scope = _video_scope(error)
        if scope is None:
            whole_file = True
        else:
            bad_videos |= scope
    return SchemaCheck(sorted(problems), frozenset(bad_videos), whole_file)


def validate_document(doc: Document) -> list[Problem]:
    """Every schema problem of one manifest (see check_document)."""
    return check_document(doc).problems


@cache
def project_schema() -> dict[str, Any]:
    """The project file's schema: `specsync`, and `defaults` and `vars` exactly as a
    manifest has them (built from the manifest schema, so the two never drift apart), plus
    the project's own `ignore` and `checks`."""
    manifest = manifest_schema()
    properties = manifest["properties"]
    return {
        "$schema": manifest["$schema"],
        "title": "specsync project file (specsync.yaml)",
        "type": "object",
        "required": ["specsync"],
        "additionalProperties": False,
        "properties": {
            "specsync": properties["specsync"],
            "defaults": properties["defaults"],
            "vars": properties["vars"],
            "ignore": {
                "description": "Globs of *.yaml/*.yml files under the manifest folder that "
                "are not manifests (data, other tools' configs), relative to this file's "
                "folder; `*` also matches `/`, and a glob without `/` matches the file name "
                "in any folder. Any other such file without `specsync: 1` is an error.",
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 1024},
            },
            "checks": {
                "description": "How strict the optional checks are.",
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "untranslated-locale": {
                        "description": "A locale whose rendered text equals another "
                        "language's of the same video: `warning` (default), `error` or "
                        "`off`; `off-for` lists the videos (globs) where it is allowed.",
                        "oneOf": [
                            {"enum": ["warning", "error", "off"]},
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "level": {"enum": ["warning", "error", "off"]},
                                    "off-for": {
                                        "type": "array",
                                        "items": {"type": "string", "minLength": 1},
                                    },
                                },
                            },
                        ],
                    }
                },
            },
        },
        "$defs": manifest["$defs"],
    }


def project_schema_digest() -> str:
    """The SHA-256 naming project_schema(), as manifests/project_schema_check.py records it."""
    text = json.dumps(project_schema(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@cache
def _project_fast_check() -> Callable[[Any], Any] | None:
    """The compiled yes/no check of the project schema, else None (as _fast_check)."""
    from specsync.manifests import project_schema_check

    if project_schema_digest() != project_schema_check.SCHEMA_SHA256:
        return None
    check: Callable[[Any], Any] = project_schema_check.validate
    return check


@cache
def _project_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(project_schema())


def validate_project_document(doc: Document) -> list[Problem]:
    """Every schema problem of a project file (specsync.yaml)."""
    refusal = _version_problem(doc, "project file")
    if refusal is not None:
        return [refusal]
    data = doc.data
    if set(data) <= {"specsync", "defaults", "vars"} and _passes_fast_check({**data, "videos": {}}):
        return []  # the manifest check decides defaults and vars alike, without jsonschema
    if _accepted_by(_project_fast_check(), data):
        return []  # `ignore:` and `checks:` too: jsonschema only words what is refused
    problems: set[Problem] = set()
    for error in _project_validator().iter_errors(data):
        problems.update(_coded_problems(doc, error))
    return sorted(problems)


def _coded_problems(doc: Document, error: Any) -> list[Problem]:
    """The problems one schema error makes, each with the stable code of its kind."""
    code = _CODES.get(error.validator, "invalid-value")
    return [p.with_code(code) for p in _problem_for(doc, error)]
