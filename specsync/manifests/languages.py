"""Locale codes checked against the IANA language subtag registry, with did-you-mean.

The registry comes from `langcodes`, which ships it as package data (no network): a code
whose language, script or region subtag the registry lacks would be sent as a `language`
AI Studios does not speak (`jp` is Japan, not Japanese), and billed.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
from pathlib import Path

from specsync.model import canonical_locale
from specsync.render.cache import TemplateCache

# Registry codes that name no language an avatar can speak.
_NOT_SPOKEN = {"und": "undetermined", "mul": "multiple languages", "zxx": "no linguistic content"}


@functools.cache
def _known_valid() -> TemplateCache:
    """The codes found valid by earlier runs, in the authenticated cache packs (by the
    registry's version): importing langcodes' registry costs ~25 ms, a fifth of a
    pre-commit run, to learn that `en` is English again. Only "valid" is remembered: a
    refusal is worked out, and worded, afresh."""
    verdicts = TemplateCache(f"language-codes|{_registry_version()}", folder="languages")
    atexit.register(verdicts.flush)
    return verdicts


def _registry_version() -> str:
    """The installed registry's file, size and time (importlib.metadata costs ~10 ms): any
    upgrade or reinstall of langcodes starts new verdicts."""
    found = importlib.util.find_spec("langcodes")
    if found is None or not found.origin:  # pragma: no cover - langcodes is a dependency
        return "?"
    data = Path(found.origin).parent / "data_dicts.py"
    try:
        status = data.stat()
    except OSError:  # pragma: no cover - another layout: verdicts for this run only
        return f"{found.origin}:unknown"
    return f"{data}:{status.st_size}:{status.st_mtime_ns}"


@functools.lru_cache(maxsize=1024)  # a project has a handful of locales, 10,000 items
def language_problem(code: str) -> str | None:
    """Why `code` is not a language tag of the registry (with a suggestion), else None."""
    verdicts = _known_valid()
    if verdicts.get(code, "languages") == b"valid":
        return None
    problem = _language_problem(code)
    if problem is None:
        verdicts.put(code, b"valid", "languages")
    return problem


def _language_problem(code: str) -> str | None:
    import langcodes

    # langcodes also reads POSIX's `zh_CN`; a request's `language` must be the tag itself.
    valid = "_" not in code and langcodes.tag_is_valid(code)
    primary = code.split("-")[0].lower()
    if valid and primary not in _NOT_SPOKEN:
        return None
    if primary in _NOT_SPOKEN:
        return f"{code!r} means {_NOT_SPOKEN[primary]}, not a language a video can be in"
    guess = suggestion(code)
    hint = f" (did you mean {guess!r}?)" if guess else ""
    return f"{code!r} is not a language code of the IANA registry{hint}"


@functools.lru_cache(maxsize=1024)
def suggestion(code: str) -> str | None:
    """A registry tag the user probably meant by `code`, or None.

    `zh_CN` -> `zh-CN` (an underscore, as POSIX locales write it), `EN_us` -> `en-US`,
    `jp` -> `ja` (a region code written as a language: the language most spoken there,
    from CLDR's likely subtags as langcodes ships them).
    """
    import langcodes

    written = code.strip().replace("_", "-")
    if not written or not all(part.isalnum() for part in written.split("-")):
        return None
    candidate = canonical_locale(written)
    if candidate != code and _is_spoken(candidate):
        return candidate
    subtags = candidate.split("-")
    region = subtags[0].upper()
    if len(region) == 2 and region.isalpha() and not _private_region(region):
        try:
            likely = langcodes.Language.get(f"und-{region}").maximize()
        except (ValueError, LookupError):  # pragma: no cover - a bad region is caught above
            likely = None
        if likely is not None and likely.territory == region and likely.language:
            likely_language = likely.language
            guessed = canonical_locale("-".join([likely_language, *subtags[1:]]))
            if _is_spoken(guessed):
                return guessed
    return None


def _private_region(region: str) -> bool:
    """A private-use region (AA, QM-QZ, XA-XZ, ZZ): likely subtags say nothing of it."""
    return region in ("AA", "ZZ") or region[0] == "X" or (region[0] == "Q" and region[1] >= "M")


def _is_spoken(code: str) -> bool:
    import langcodes

    return (
        "_" not in code
        and langcodes.tag_is_valid(code)
        and code.split("-")[0].lower() not in _NOT_SPOKEN
    )
