"""The translatable strings of a manifest set: per item, the script source it uses.

What a translator edits is the template *source* (the Jinja text, `{{ product }}` and all),
never the rendered text: the current text of an item is its locale's own `script` override
when it has one, else its video's `script`. The source text shown beside it is, by default,
the video's `script` (what the writer wrote); with a source locale, that locale's script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specsync.manifests.project_file import ProjectSettings
from specsync.model import InputError, canonical_locale


@dataclass(frozen=True)
class StringEntry:
    """One item's script, and where it lives."""

    id: str  # VIDEO/LOCALE, locale in canonical case
    video: str
    locale: str
    current: str  # the template source the item uses now
    own_script: bool  # the locale has its own `script` override
    video_script: str | None  # the video's `script`, if any
    manifest: Path  # the file to write into
    display: str  # the file as messages name it
    line: int  # where the item is defined
    codes: tuple[str, ...]  # the video's locale codes as written, in order
    code: str  # this item's locale code as written


def _effective_locales(
    data: Mapping[str, Any], video: Mapping[str, Any], project: ProjectSettings
) -> Any:
    if video.get("locales") is not None:
        return video["locales"]
    defaults = data.get("defaults") or {}
    if defaults.get("locales") is not None:
        return defaults["locales"]
    return project.defaults.get("locales")


def locale_overrides(
    data: Mapping[str, Any], video: Mapping[str, Any], project: ProjectSettings
) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """canonical locale -> (the code as written, its override mapping, empty when none)."""
    locales = _effective_locales(data, video, project)
    if isinstance(locales, Mapping):
        return {canonical_locale(k): (k, v or {}) for k, v in locales.items()}
    return {canonical_locale(code): (code, {}) for code in locales or []}


def read_catalogue(paths: Sequence[str], cwd: Path) -> list[StringEntry]:
    """Every item's script source, sorted by id. The manifests must load and expand cleanly
    (templates are not rendered: a translator may be fixing one)."""
    from specsync.manifests.pipeline import read_specs

    read = read_specs(paths, cwd)
    if read.problems:
        raise InputError(read.problems)
    entries = []
    # Per video, not per item: a video's overrides serve each of its locales.
    overrides_of: dict[tuple[str, str], dict[str, tuple[str, Mapping[str, Any]]]] = {}
    for spec in read.specs:
        manifest, document, project = read.documents[spec.source.path]
        data = document.data
        video = data["videos"][spec.video]
        key = (spec.source.path, spec.video)
        overrides = overrides_of.get(key)
        if overrides is None:
            overrides = overrides_of[key] = locale_overrides(data, video, project)
        code, override = overrides[spec.locale]
        entries.append(
            StringEntry(
                id=spec.id,
                video=spec.video,
                locale=spec.locale,
                current=str(spec.template),
                own_script="script" in override,
                video_script=video.get("script"),
                manifest=manifest,
                display=document.path,
                line=spec.source.line,
                codes=tuple(written for written, _ in overrides.values()),
                code=code,
            )
        )
    return sorted(entries, key=lambda entry: entry.id)
