"""Each item's action: the plan of the rendered items against the lockfile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from itertools import compress, repeat
from operator import attrgetter, eq, not_
from typing import Any, NamedTuple

from specsync.item_words import PlanAction, RenderState
from specsync.model import (
    DEFAULT_SERVICE_RESOLUTION,
    FINGERPRINT_FIELDS,
    Item,
    canonical_locale,
    fingerprint,
    legacy_fingerprint,
)
from specsync.plan.text_diff import text_diff
from specsync.state.lockfile_data import EntriesOnDemand, Entry, Lockfile, Submission

ACTIONS = tuple(PlanAction)
_ID, _FINGERPRINT = attrgetter("id"), attrgetter("fingerprint")
# What apply submits, per action (`uncertain` only with --retry-uncertain).
SUBMITTED = (PlanAction.CREATE, PlanAction.UPDATE)
# Spoken characters per minute by language, for cost estimates only: an avatar reads about
# 150 words a minute in English (~900 characters with spaces); syllabic and logographic
# scripts carry more per character. Unknown languages use the default.
CHARS_PER_MINUTE = {"ko": 420, "ja": 480, "zh": 300, "yue": 300, "th": 700, "default": 900}


class Change(NamedTuple):
    """One fingerprinted field that differs from what was exported. (A named tuple: made
    at import more cheaply than a frozen dataclass, on plan's path.)"""

    field: str
    old: Any  # None when the lockfile does not know the exported value
    new: Any


class PlannedItem(NamedTuple):
    """One line of the plan. A named tuple, not a frozen dataclass: plan makes one per item
    and the dataclass' guarded __init__ took half of make_plan's time on 10,000 items."""

    id: str
    action: PlanAction
    item: Item | None  # None for orphaned entries
    # The entry (None for items never exported; read it as `entry`). For an unchanged
    # item whose entry the lockfile makes only when asked for, those entries.
    recorded: Entry | EntriesOnDemand | None
    reason: str = ""
    changes: tuple[Change, ...] = ()
    diff: tuple[str, ...] = ()  # a short text diff for updates
    reuse: Submission | None = None  # for `reuse`: the earlier export made current again

    @property
    def entry(self) -> Entry | None:
        """The item's lockfile entry; None for items never exported."""
        recorded = self.recorded
        if isinstance(recorded, EntriesOnDemand):
            return recorded[self.id]
        return recorded


# A line from a tuple of all its fields, in C (the named tuple's own __new__ is Python).
_LINE = partial(tuple.__new__, PlannedItem)


class Plan:
    """Every item's line of the plan, and what they add up to.

    `items` holds every line, sorted by id. A plan made against entries the lockfile makes
    only when asked for (`EntriesOnDemand`) keeps its unchanged items as they came
    (`unchanged`: their ids, items and those entries) and builds their lines only when
    `items` or `by_action(UNCHANGED)` is first read: plan's text and Markdown show only
    the other lines (`all_but_unchanged`) and the counts, so a plan of 10,000 unchanged
    items builds none of those lines.
    """

    __slots__ = ("_items", "_lines", "_unchanged", "summary")

    def __init__(
        self,
        items: Sequence[PlannedItem] = (),
        unchanged: tuple[Sequence[str], Sequence[Item], EntriesOnDemand] | None = None,
    ) -> None:
        lines = tuple(items)
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        for planned in lines:
            counts[planned.action] += 1
        if unchanged is None:
            self._items: tuple[PlannedItem, ...] | None = lines
            self._unchanged: tuple[Sequence[str], Sequence[Item], EntriesOnDemand] | None = None
        else:
            counts[PlanAction.UNCHANGED] += len(unchanged[0])
            self._items = None  # built when first read
            self._unchanged = unchanged
            lines = tuple(sorted(lines, key=_ID))
        self._lines = lines  # all but the unchanged kept as they came, sorted
        # How many items per action, every action present.
        self.summary: dict[str, int] = counts

    @property
    def items(self) -> tuple[PlannedItem, ...]:
        """Every line, sorted by id."""
        if self._items is None:
            assert self._unchanged is not None
            ids, items, entries = self._unchanged
            # Plan's usual line, built in C (map, zip): one per unchanged item.
            unchanged = zip(
                ids,
                repeat(PlanAction.UNCHANGED),
                items,
                repeat(entries),
                repeat(""),
                repeat(()),
                repeat(()),
                repeat(None),
            )
            self._items = tuple(sorted([*map(_LINE, unchanged), *self._lines], key=_ID))
            self._unchanged = None
        return self._items

    @property
    def all_but_unchanged(self) -> list[PlannedItem]:
        """The lines of the items whose action is not `unchanged`, sorted by id."""
        lines = self._lines if self._items is None else self._items
        return [planned for planned in lines if planned.action != PlanAction.UNCHANGED]

    def minutes(self, *actions: str) -> float:
        """Estimated spoken minutes of the items with these actions."""
        return sum(estimated_minutes(p.item.request) for p in self.by_action(*actions) if p.item)

    def by_action(self, *actions: str) -> list[PlannedItem]:
        """The lines of the items with these actions, sorted by id."""
        if self._items is None and PlanAction.UNCHANGED not in actions:
            lines = self._lines  # no unchanged line to build
        else:
            lines = self.items
        return [planned for planned in lines if planned.action in actions]

    @property
    def has_changes(self) -> bool:
        """True when `--detailed-exitcode` says 2: something to create, update, reuse or
        resolve."""
        return any(
            self.summary.get(a, 0) for a in (*SUBMITTED, PlanAction.REUSE, PlanAction.UNCERTAIN)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plan):
            return NotImplemented
        return self.items == other.items

    def __hash__(self) -> int:
        return hash(self.items)

    def __repr__(self) -> str:
        return f"Plan(items={self.items!r})"


def estimated_minutes(request: Mapping[str, Any]) -> float:
    """Rough spoken length of one item's script, in minutes (an estimate, never billing)."""
    language = str(request.get("language", "")).split("-")[0].lower()
    rate = CHARS_PER_MINUTE.get(language, CHARS_PER_MINUTE["default"])
    return len(str(request.get("text", ""))) / rate


def _same_locale(old: Any, new: Any) -> bool:
    # A locale recorded in another case (before canonicalisation) is no change to show.
    return isinstance(old, str) and isinstance(new, str) and old.casefold() == new.casefold()


def _changes(item: Item, entry: Entry) -> tuple[tuple[Change, ...], tuple[str, ...], str]:
    exported: Mapping[str, Any] | None = entry.exported
    if not exported:
        return (), (), "the script or settings changed since the last export"
    changes = tuple(
        Change(name, exported.get(name), item.request.get(name))
        for name in FINGERPRINT_FIELDS
        # An entry that does not know its resolution was made at the current one.
        if name in exported or name != "resolution"
        if _shown(exported.get(name)) != _shown(item.request.get(name))
        and not (name == "language" and _same_locale(exported.get(name), item.request.get(name)))
    )
    diff: tuple[str, ...] = ()
    parts = []
    for change in changes:
        if change.field == "text" and isinstance(change.old, str):
            diff = text_diff(change.old, str(change.new))
            parts.append("text changed")
        else:
            parts.append(f"{change.field} {change.old!r} → {change.new!r}")
    return changes, diff, ", ".join(parts) or "fingerprint changed"


def _shown(value: Any) -> Any:
    # A resolution written 720 in YAML is recorded as "720": the same setting.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def same_export(item: Item, entry: Entry) -> bool:
    """Does the entry's fingerprint stand for what the item would send now?

    Two kinds of entries written by earlier versions still match: one whose locale was
    recorded in another case (its id and `language` as written then), and one written
    before `resolution` counted (it records none: taken as made at the current one).
    """
    if entry.fingerprint == item.fingerprint:
        return True
    request = dict(item.request)
    if entry.id != item.id:
        request["language"] = entry.id.partition("/")[2]
        if fingerprint(request) == entry.fingerprint:
            return True
    # With no resolution set, the legacy fingerprint is the current one, compared above.
    if (
        entry.resolution is None
        and request.get("resolution") is not None
        and entry.fingerprint == legacy_fingerprint(request)
    ):
        return True
    # The service's default resolution, written out or left out, is the same video.
    other = default_resolution_twin(request)
    return other is not None and fingerprint(other) == entry.fingerprint


def default_resolution_twin(request: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request with the documented default resolution (1080, docs/vendor.md) spelled
    the other way: left out when given, given when left out. None for any other value."""
    resolution = request.get("resolution")
    if resolution is None:
        return {**request, "resolution": DEFAULT_SERVICE_RESOLUTION}
    if str(resolution) == DEFAULT_SERVICE_RESOLUTION:
        return {key: value for key, value in request.items() if key != "resolution"}
    return None


def earlier_request(item: Item, entry: Entry) -> Submission | None:
    """The newest record in the entry's history of the very request the item sends now.

    History keeps each request's last known state, and the newest one decides: an export
    known good (accepted, not known to have failed) is reused; a request of unknown outcome
    is shown as uncertain (never sent again on its own); a failed one is never reused.
    """
    for record in reversed(entry.history):
        if record.fingerprint == item.fingerprint:
            return record
    return None


def reusable(item: Item, entry: Entry) -> Submission | None:
    """The earlier export of this item made from the very request it sends now, when it
    may be reused: known good, and not the entry's current export known to have failed
    (a failed export is never reused; docs/lockfile.md)."""
    record = earlier_request(item, entry)
    if record is None or not record.known_good:
        return None
    if entry.state == RenderState.FAILED and record.key() == (entry.project_id, entry.task_id):
        return None
    return record


def _legacy_entries(entries: Mapping[str, Entry]) -> dict[str, str]:
    """Canonical item id -> id of an entry written with the locale in another case.

    Before locale codes were canonicalised, an item's id and its `language` were the code
    as written (`welcome/pt-br`). Such an entry still belongs to the item now named
    `welcome/pt-BR`; without this it would plan as a create (a second, billed export).
    """
    legacy: dict[str, str] = {}
    for entry_id in entries:
        video, slash, locale = entry_id.partition("/")
        if not slash:
            continue
        written = canonical_locale(locale)  # memoised: a handful of locales
        if written != locale:
            legacy.setdefault(f"{video}/{written}", entry_id)
    return legacy


def make_plan(
    items: Sequence[Item], lock: Lockfile, fingerprints: Mapping[str, str] | None = None
) -> Plan:
    """Plan every item against the lockfile (the items' ids are unique, as `load_items`
    makes sure). `fingerprints`: `model.fingerprints(items)`, when the caller has it (the
    items' ids and fingerprints read from one dict, not from 10,000 objects).

    Requests an interrupted apply sent without a recorded answer reach the plan as entries
    marked `uncertain`: fold that run's journal into `lock` first (journal.fold).
    """
    entries = lock.entries
    ids = list(map(_ID, items) if fingerprints is None else fingerprints)
    planned: list[PlannedItem] = []
    rest: Sequence[Item] = items
    unchanged: tuple[list[str], list[Item], EntriesOnDemand] | None = None
    orphan_ids: Iterable[str] = entries
    if isinstance(entries, EntriesOnDemand):
        # An entry the lockfile has not made yet is a current export (ids, not uncertain):
        # at the item's fingerprint, the item is unchanged, and its entry stays unmade.
        # Plan's usual case, so decided in C (map, compress); its line is built only if
        # asked for (`Plan.items`).
        unmade = entries.unmade_fingerprints()
        if fingerprints is not None and len(unmade) == len(ids) and unmade == fingerprints:
            # Every item at its unmade entry (a plan of nothing changed): one comparison.
            unchanged, rest = (ids, list(items), entries), []
        else:
            kept = map(_FINGERPRINT, items) if fingerprints is None else fingerprints.values()
            at_export = list(map(eq, map(unmade.get, ids), kept))
            unchanged = (list(compress(ids, at_export)), list(compress(items, at_export)), entries)
            rest = list(compress(items, map(not_, at_export)))
        if len(unchanged[0]) == len(unmade):
            # Every unmade entry is an item's (item ids are unique): only entries made
            # may be orphaned.
            orphan_ids = entries.made_ids()
    legacy: dict[str, str] | None = None  # built for the first item without its entry
    claimed: set[str] = set()  # legacy entry ids matched to an item: not orphaned
    add, get_entry, uncertain = planned.append, entries.get, RenderState.UNCERTAIN
    for item in rest:
        item_id = item.id
        entry = get_entry(item_id)
        if entry is None:
            if legacy is None:
                legacy = _legacy_entries(entries)
            if item_id in legacy:
                entry = entries[legacy[item_id]]
                claimed.add(entry.id)
        if entry is None:
            add(PlannedItem(item_id, PlanAction.CREATE, item, None, "new item"))
            continue
        same = entry.fingerprint == item.fingerprint or same_export(item, entry)
        if same and entry.state != uncertain and entry.project_id is not None:
            add(_LINE((item_id, PlanAction.UNCHANGED, item, entry, "", (), (), None)))
        else:
            add(_planned_change(item, entry, same))
    planned.extend(_orphaned(entries, orphan_ids, ids, claimed))
    if unchanged is not None:
        return Plan(planned, unchanged)
    planned.sort(key=_ID)
    return Plan(planned)


def _planned_change(item: Item, entry: Entry, same: bool) -> PlannedItem:
    """The line of an item that is not simply unchanged: uncertain, reuse, create or update."""
    if same and entry.state == RenderState.UNCERTAIN:
        return PlannedItem(
            item.id,
            PlanAction.UNCERTAIN,
            item,
            entry,
            "a request was sent and its outcome is unknown; `specsync reconcile` "
            "asks the account whether it exists and records it (or `specsync "
            "adopt`); else resubmit with `apply --retry-uncertain`",
        )
    if (record := reusable(item, entry)) is not None:
        reason = (
            f"the same as the earlier export {record.project_id} "
            f"({record.submitted_at or 'time unknown'}); apply makes it current "
            "again, nothing is sent"
        )
        if entry.state == RenderState.UNCERTAIN:
            reason += (
                " (the last request, for another script, has an unknown outcome: it "
                "stays recorded, and shows as uncertain if that script comes back)"
            )
        return PlannedItem(item.id, PlanAction.REUSE, item, entry, reason, reuse=record)
    if (record := earlier_request(item, entry)) is not None and not record.has_ids:
        return PlannedItem(
            item.id,
            PlanAction.UNCERTAIN,
            item,
            entry,
            "an earlier request of this very script (sent "
            f"{record.attempted_at or 'at a time unknown'}) has an unknown outcome; "
            "if the export exists in AI Studios record it with `specsync adopt`, "
            "else resubmit with `apply --retry-uncertain`",
        )
    if entry.project_id is None and entry.state != RenderState.UNCERTAIN:
        return PlannedItem(item.id, PlanAction.CREATE, item, entry, "never exported")
    changes, diff, reason = _changes(item, entry)
    if entry.state == RenderState.UNCERTAIN:
        reason += " (the last attempt's outcome is unknown)"
    return PlannedItem(item.id, PlanAction.UPDATE, item, entry, reason, changes, diff)


def _orphaned(
    entries: Mapping[str, Entry],
    entry_ids: Iterable[str],
    item_ids: Sequence[str],
    claimed: set[str],
) -> list[PlannedItem]:
    """The entries no item stands for any more (among `entry_ids`): reported, kept."""
    return [
        PlannedItem(
            item_id,
            PlanAction.ORPHANED,
            None,
            entries[item_id],
            "no longer in the manifests; kept (`specsync forget` drops it from the lockfile)",
        )
        # Sets made in C: the entries' ids (a dict's, or EntriesOnDemand's list) and the items'.
        for item_id in set(entry_ids).difference(item_ids, claimed)
    ]
