"""Untranslated locales: a locale whose rendered text is another language's of its video.

`ja: {}` without a script of its own renders the English text and would be billed as a
Japanese video. Such an item is a warning (`untranslated-locale`), or an error or nothing
where the project file says so (`checks: untranslated-locale`), per video.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from specsync.manifests.project_file import ProjectSettings
from specsync.model import Item, Problem

CODE = "untranslated-locale"


def _language(locale: str) -> str:
    return locale.split("-")[0].lower()


def untranslated_problems(
    items: Sequence[Item], project_of: Callable[[str], ProjectSettings]
) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings): one per item whose text equals an item's of another language
    in the same video. The first item of a text (by id) is taken as the original; each
    later one in another language is named, with the one it copies."""
    by_video: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_video[item.video].append(item)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for video, members in by_video.items():
        if len(members) < 2:
            continue
        first_of_text: dict[str, Item] = {}
        for item in sorted(members, key=lambda member: member.id):
            text = item.request.get("text")
            if not isinstance(text, str):
                continue
            original = first_of_text.setdefault(text, item)
            if original is item or _language(original.locale) == _language(item.locale):
                continue
            project = project_of(item.source.path)
            level = project.untranslated_level_for(video)
            if level == "off":
                continue
            where = project.path or "specsync.yaml"
            problem = Problem(
                item.source,
                f"'{item.id}' renders the same text as '{original.id}', another language: "
                f"give {item.locale} its own script (or vars), or allow it in {where} "
                f"(checks: {{untranslated-locale: {{off-for: [{video}]}}}})",
                code=CODE,
                items=(item.id,),
            )
            (errors if level == "error" else warnings).append(problem)
    return errors, warnings
