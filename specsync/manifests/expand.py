"""Expand validated documents into item specs: one per (video, locale), settings resolved.

Precedence, lowest to highest: the project file's `defaults`/`vars` (specsync.yaml), the
file's, the video, the locale override.
`vars` merge shallowly (a key at a higher level replaces that key's whole value); a video's
`locales` replaces `defaults.locales`. Everything the schema cannot check is checked here:
each item ends with a script and a model, each video with a locale, and item ids are unique
across every document of the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from specsync.manifests.languages import language_problem
from specsync.manifests.load import scalar_first_line
from specsync.manifests.project_file import NO_PROJECT, ProjectSettings, reserved_var_problems
from specsync.model import Document, ItemSpec, Location, PathKey, Problem, canonical_locale

# Request settings a video or a locale override may set (`defaults` too, besides `locales`).
SETTING_KEYS = ("model", "isExport", "webhookUrl", "resolution", "workspaceId")
_SETTING_KEY_SET = frozenset(SETTING_KEYS)
# Items (videos x locales) in one run. 20 KB of YAML, 990 videos sharing 990 default
# locales, made 980,100 items: 30 s and 1 GB to validate. 100,000 is ten times the largest
# benchmark and is rendered in seconds.
MAX_ITEMS = 100_000


def _setting_value(name: str, value: Any) -> Any:
    # `resolution: 1080` is accepted as a number in YAML; the service takes the string.
    if name == "resolution" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _settings(source: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _setting_value(k, source[k]) for k in SETTING_KEYS if source.get(k) is not None}


def _locale_entries(
    locales: Any, base: PathKey
) -> list[tuple[str, Mapping[str, Any], PathKey, bool]]:
    """(locale, override, path of its entry, entry-is-a-key) for a list or mapping."""
    if isinstance(locales, Mapping):
        return [(code, override or {}, (*base, code), True) for code, override in locales.items()]
    return [(code, {}, (*base, index), False) for index, code in enumerate(locales or [])]


@dataclass
class _VideoContext:
    """What every locale of one video shares while it is expanded."""

    doc: Document
    video_id: str
    video: Mapping[str, Any]
    video_at: Location
    video_vars: Mapping[str, Any]  # the file's vars and the video's, merged once per video
    base_settings: dict[str, Any]
    from_video: bool
    # Where each script starts, found once per video: most locales share the video's.
    script_places: dict[PathKey, tuple[Location, int]] = field(default_factory=dict)

    def script_place(self, script_path: PathKey) -> tuple[Location, int]:
        place = self.script_places.get(script_path)
        if place is None:
            place = (self.doc.locate(script_path), scalar_first_line(self.doc, script_path))
            self.script_places[script_path] = place
        return place


class _Expander:
    def __init__(self) -> None:
        self.specs: list[ItemSpec] = []
        self.problems: list[Problem] = []
        self.first_place: dict[str, Location] = {}
        self.clashing: set[str] = set()
        # Items defined twice, by video and the two files: one problem at each, not one
        # per locale.
        self.clashes: dict[tuple[str, str, str], list[tuple[str, Location, Location]]] = {}
        self.full = False  # MAX_ITEMS reached: reported once, nothing more expanded

    def problem(self, location: Location, message: str, code: str) -> None:
        self.problems.append(Problem(location, message, code=code))

    def reserved_vars(self, doc: Document, values: Mapping[str, Any], path: PathKey) -> None:
        self.problems.extend(reserved_var_problems(doc, values, path))

    def document(self, doc: Document, project: ProjectSettings = NO_PROJECT) -> None:
        data = doc.data
        # The project's defaults and vars sit below the file's, key by key (a file's
        # `locales` replaces the project's, as a video's replaces the file's).
        defaults: Mapping[str, Any] = {**project.defaults, **(data.get("defaults") or {})}
        own_vars: Mapping[str, Any] = data.get("vars") or {}
        self.reserved_vars(doc, own_vars, ("vars",))
        file_vars = {**project.vars, **own_vars} if project.vars else own_vars
        for video_id, video in (data.get("videos") or {}).items():
            if self.full:
                return
            self.video(doc, defaults, file_vars, video_id, video or {})

    def video(
        self,
        doc: Document,
        defaults: Mapping[str, Any],
        file_vars: Mapping[str, Any],
        video_id: str,
        video: Mapping[str, Any],
    ) -> None:
        video_path: PathKey = ("videos", video_id)
        video_at = doc.locate(video_path, key=True)
        self.reserved_vars(doc, video.get("vars") or {}, (*video_path, "vars"))
        if video.get("locales") is not None:
            locales, locales_path = video["locales"], (*video_path, "locales")
        else:
            locales, locales_path = defaults.get("locales"), ("defaults", "locales")
        entries = _locale_entries(locales, locales_path)
        if not entries:
            self.problem(
                video_at,
                f"video '{video_id}' has no locales: set `locales` on the video "
                "or `defaults.locales` in the file",
                "no-locales",
            )
            return
        context = _VideoContext(
            doc=doc,
            video_id=video_id,
            video=video,
            video_at=video_at,
            video_vars={**file_vars, **(video.get("vars") or {})},
            base_settings={**_settings(defaults), **_settings(video)},
            from_video=locales_path[0] == "videos",
        )
        self.locales(context, entries)

    def locales(
        self, context: _VideoContext, entries: list[tuple[str, Mapping[str, Any], PathKey, bool]]
    ) -> None:
        doc = context.doc
        # Locale codes are case-insensitive (BCP 47): `en` and `EN` are one export, billed
        # once. Keyed by the canonical code, with where it was first written.
        # Where it was written is looked up only for a duplicate: locating is a cost per item.
        seen_here: dict[str, tuple[str, PathKey, bool]] = {}
        for locale, override, entry_path, entry_is_key in entries:
            unknown = language_problem(locale)
            if unknown is not None:
                # Sent as written, a code the registry lacks is billed as a video in no
                # language AI Studios speaks (or, worse, in another one).
                self.problem(doc.locate(entry_path, key=entry_is_key), unknown, "unknown-language")
                continue
            canonical = canonical_locale(locale)
            if canonical in seen_here:
                first_written = seen_here[canonical]
                self.duplicate_locale(context, locale, entry_path, entry_is_key, first_written)
                continue
            seen_here[canonical] = (locale, entry_path, entry_is_key)
            self.locale(context, locale, override, entry_path, entry_is_key)
            if self.full:
                return

    def duplicate_locale(
        self,
        context: _VideoContext,
        locale: str,
        entry_path: PathKey,
        entry_is_key: bool,
        first_written: tuple[str, PathKey, bool],
    ) -> None:
        first, first_path, first_is_key = first_written
        at = context.doc.locate(entry_path, key=entry_is_key)
        first_at = context.doc.locate(first_path, key=first_is_key)
        also = f" (as '{first}')" if first != locale else ""
        self.problem(
            at,
            f"locale '{locale}' is listed twice for video '{context.video_id}'{also}: "
            f"also at line {first_at.line} (locale codes ignore case)",
            "duplicate-locale",
        )

    def locale(
        self,
        context: _VideoContext,
        locale: str,
        override: Mapping[str, Any],
        entry_path: PathKey,
        entry_is_key: bool,
    ) -> None:
        doc, video, video_id = context.doc, context.video, context.video_id
        # Sent, and named, in canonical case; templates still see `locale` as written, so
        # that an upgrade changes no rendered text (and re-bills nothing).
        language = canonical_locale(locale)
        item_id = f"{video_id}/{language}"
        if override:
            self.reserved_vars(doc, override.get("vars") or {}, (*entry_path, "vars"))
        # Most locale entries set no request setting (a script, some vars): no merge then.
        if _SETTING_KEY_SET.isdisjoint(override):
            fields = dict(context.base_settings)
        else:
            fields = {**context.base_settings, **_settings(override)}
        if "script" in override:
            script, script_path = override["script"], (*entry_path, "script")
        elif "script" in video:
            script, script_path = video["script"], ("videos", video_id, "script")
        else:
            self.missing(context, item_id, "script", "on the video or on the locale")
            return
        if "model" not in fields:
            self.missing(context, item_id, "model", "on the video, the locale or in `defaults`")
            return
        source = context.video_at
        if context.from_video:
            source = doc.locate(entry_path, key=entry_is_key)
        if len(self.specs) >= MAX_ITEMS:
            self.too_many_items(source)
            return
        if not self.unique(item_id, source):
            return
        template_location, template_first_line = context.script_place(script_path)
        self.specs.append(
            ItemSpec(
                id=item_id,
                video=video_id,
                locale=language,
                template=script,
                template_location=template_location,
                variables={
                    **context.video_vars,
                    **(override.get("vars") or {}),
                    "locale": locale,
                    "video": video_id,
                },
                fields=fields,
                source=source,
                template_first_line=template_first_line,
            )
        )

    def missing(self, context: _VideoContext, item_id: str, what: str, where: str) -> None:
        self.problem(
            context.video_at,
            f"item '{item_id}' has no {what}: set `{what}` {where}",
            f"no-{what}",
        )

    def too_many_items(self, source: Location) -> None:
        self.full = True
        self.problem(
            source,
            f"more than {MAX_ITEMS:,} items (videos x locales) in one run: split the "
            "manifests into projects with lockfiles of their own",
            "too-many-items",
        )

    def unique(self, item_id: str, place: Location) -> bool:
        first = self.first_place.get(item_id)
        if first is None:
            self.first_place[item_id] = place
            return True
        self.clashing.add(item_id)
        video_id = item_id.rpartition("/")[0]
        clash = self.clashes.setdefault((video_id, place.path, first.path), [])
        clash.append((item_id, place, first))
        return False

    def report_clashes(self) -> None:
        """The items of a video two files (or one, twice) define, named at both places:
        the first clashing locale of each."""
        for clash in self.clashes.values():
            named = _named_items(sorted(item_id for item_id, _, _ in clash))
            place = min(place for _, place, _ in clash)
            first = min(first for _, _, first in clash)
            self.problem(place, f"{named} defined twice: also at {first}", "duplicate-item")
            self.problem(first, f"{named} defined twice: also at {place}", "duplicate-item")


def _named_items(item_ids: Sequence[str]) -> str:
    """ "item 'a/en' is", or "items 'a/de', 'a/en', 'a/es' and 7 more are"."""
    if len(item_ids) == 1:
        return f"item '{item_ids[0]}' is"
    quoted = [f"'{item_id}'" for item_id in item_ids]
    if len(quoted) > 3:
        quoted = [*quoted[:3], f"{len(quoted) - 3} more"]
    return f"items {', '.join(quoted[:-1])} and {quoted[-1]} are"


def expand_documents(
    documents: Sequence[Document], projects: Mapping[str, ProjectSettings] | None = None
) -> tuple[list[ItemSpec], list[Problem]]:
    """Item specs of every document (in document order) and every problem found.

    `projects` maps a document's path to its project file's settings (none when absent).
    """
    expander = _Expander()
    for doc in documents:
        expander.document(
            doc, NO_PROJECT if projects is None else projects.get(doc.path, NO_PROJECT)
        )
    expander.report_clashes()
    if expander.full:
        return [], sorted(set(expander.problems))  # the run fails: render nothing
    specs = [spec for spec in expander.specs if spec.id not in expander.clashing]
    return specs, sorted(set(expander.problems))
