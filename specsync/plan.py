"""What apply would do: a pure function of the rendered items and the lockfile.

Actions: `create` (never exported), `update` (exported, but what changes the video changed),
`reuse` (the item's fingerprint is that of an earlier export kept in its history: apply
makes that export current again with no request), `unchanged`, `orphaned` (in the
lockfile, gone from the manifests: reported, kept, never deleted remotely) and `uncertain`
(a request was sent and its outcome is unknown: recorded with `specsync adopt` once found,
or resubmitted only with `apply --retry-uncertain`).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any, NamedTuple

from specsync.errors import UserError
from specsync.item_words import PlanAction, RenderState
from specsync.model import (
    DEFAULT_SERVICE_RESOLUTION,
    FINGERPRINT_FIELDS,
    Item,
    canonical_locale,
    fingerprint,
    legacy_fingerprint,
)
from specsync.state.lockfile_data import Entry, Lockfile, Submission

ACTIONS = tuple(PlanAction)
# What apply submits, per action (`uncertain` only with --retry-uncertain).
SUBMITTED = (PlanAction.CREATE, PlanAction.UPDATE)
MAX_DIFF_LINES = 12
# Spoken characters per minute by language, for cost estimates only: an avatar reads about
# 150 words a minute in English (~900 characters with spaces); syllabic and logographic
# scripts carry more per character. Unknown languages use the default.
CHARS_PER_MINUTE = {"ko": 420, "ja": 480, "zh": 300, "yue": 300, "th": 700, "default": 900}
MAX_SHOWN_CHARS = 160


@dataclass(frozen=True)
class Change:
    """One fingerprinted field that differs from what was exported."""

    field: str
    old: Any  # None when the lockfile does not know the exported value
    new: Any


class PlannedItem(NamedTuple):
    """One line of the plan. A named tuple, not a frozen dataclass: plan makes one per item
    and the dataclass' guarded __init__ took half of make_plan's time on 10,000 items."""

    id: str
    action: PlanAction
    item: Item | None  # None for orphaned entries
    entry: Entry | None  # None for items never exported
    reason: str = ""
    changes: tuple[Change, ...] = ()
    diff: tuple[str, ...] = ()  # a short text diff for updates
    reuse: Submission | None = None  # for `reuse`: the earlier export made current again


@dataclass(frozen=True)
class Plan:
    items: tuple[PlannedItem, ...]  # sorted by id

    @cached_property
    def summary(self) -> dict[str, int]:
        """How many items per action, every action present."""
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        for planned in self.items:
            counts[planned.action] += 1
        return counts

    def minutes(self, *actions: str) -> float:
        """Estimated spoken minutes of the items with these actions."""
        return sum(estimated_minutes(p.item.request) for p in self.by_action(*actions) if p.item)

    def by_action(self, *actions: str) -> list[PlannedItem]:
        return [planned for planned in self.items if planned.action in actions]

    @property
    def has_changes(self) -> bool:
        """True when `--detailed-exitcode` says 2: something to create, update, reuse or
        resolve."""
        return any(
            self.summary.get(a, 0) for a in (*SUBMITTED, PlanAction.REUSE, PlanAction.UNCERTAIN)
        )


def estimated_minutes(request: Mapping[str, Any]) -> float:
    """Rough spoken length of one item's script, in minutes (an estimate, never billing)."""
    language = str(request.get("language", "")).split("-")[0].lower()
    rate = CHARS_PER_MINUTE.get(language, CHARS_PER_MINUTE["default"])
    return len(str(request.get("text", ""))) / rate


def _shorten(text: str) -> str:
    flat = text.replace("\n", "\\n")
    return flat if len(flat) <= MAX_SHOWN_CHARS else flat[: MAX_SHOWN_CHARS - 1] + "…"


# Words, runs of spaces and single other characters: what a reader sees as "a word changed".
_TOKENS = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)
# Characters of unchanged text kept on each side of a change within a long line.
DIFF_CONTEXT = 30


def text_diff(old: str, new: str) -> tuple[str, ...]:
    """A few lines that show a reviewer what changed in a script.

    Line by line; a changed line is paired with its new version and both are cut to the
    changed words with some context around them, wherever in the line they are, so two
    long lines that differ late never show as two identical cut lines.
    """
    old_lines, new_lines = old.split("\n"), new.split("\n")
    shown: list[str] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed, added = old_lines[i1:i2], new_lines[j1:j2]
        paired = min(len(removed), len(added)) if tag == "replace" else 0
        for before, after in zip(removed[:paired], added[:paired], strict=True):
            shown.extend(_changed_line(before, after))
        shown.extend(f"- {_shorten(line)}" for line in removed[paired:])
        shown.extend(f"+ {_shorten(line)}" for line in added[paired:])
    if len(shown) > MAX_DIFF_LINES:
        hidden = len(shown) - MAX_DIFF_LINES
        shown = [*shown[:MAX_DIFF_LINES], f"  … {hidden} more changed lines"]
    return tuple(shown)


def _changed_line(before: str, after: str) -> tuple[str, str]:
    """("- old", "+ new") cut to the region where the words differ, with context."""
    old_tokens, new_tokens = _TOKENS.findall(before), _TOKENS.findall(after)
    prefix = 0
    while (
        prefix < min(len(old_tokens), len(new_tokens)) and old_tokens[prefix] == new_tokens[prefix]
    ):
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old_tokens), len(new_tokens)) - prefix
        and old_tokens[-1 - suffix] == new_tokens[-1 - suffix]
    ):
        suffix += 1
    head = "".join(old_tokens[:prefix])
    tail = "".join(old_tokens[len(old_tokens) - suffix :]) if suffix else ""
    old_middle = "".join(old_tokens[prefix : len(old_tokens) - suffix])
    new_middle = "".join(new_tokens[prefix : len(new_tokens) - suffix])
    if max(len(old_middle), len(new_middle)) > MAX_SHOWN_CHARS - 2 * DIFF_CONTEXT:
        # One long changed "word" (a URL, text without spaces): narrow it by characters.
        same = _common_prefix_length(old_middle, new_middle)
        head, old_middle, new_middle = (
            head + old_middle[:same],
            old_middle[same:],
            new_middle[same:],
        )
    if old_middle.strip() == new_middle.strip():
        # Only spaces differ: make them visible, or the two lines would read the same.
        old_middle, new_middle = _visible(old_middle), _visible(new_middle)
    return (
        f"- {_around(head, old_middle, tail)}",
        f"+ {_around(head, new_middle, tail)}",
    )


def word_changes(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """The whole of `old` → `new` as ("equal"|"delete"|"insert", text) parts, by the words
    plan's diff compares (`_TOKENS`): the review page highlights them in the script."""
    old_tokens, new_tokens = _TOKENS.findall(old), _TOKENS.findall(new)
    parts: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(("equal", "".join(old_tokens[i1:i2])))
            continue
        if i2 > i1:
            parts.append(("delete", "".join(old_tokens[i1:i2])))
        if j2 > j1:
            parts.append(("insert", "".join(new_tokens[j1:j2])))
    return tuple(parts)


def _common_prefix_length(a: str, b: str) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def _visible(text: str) -> str:
    return text.replace(" ", "·").replace("\t", "→") or "∅"


def _around(head: str, middle: str, tail: str) -> str:
    """`middle` with up to DIFF_CONTEXT characters of `head` before and `tail` after."""
    before, after = head, tail
    if len(head) > DIFF_CONTEXT:
        kept = head[-DIFF_CONTEXT:]
        space = kept.find(" ")  # start at a word when there is one
        before = "…" + (kept[space + 1 :] if 0 <= space < len(kept) - 1 else kept)
    if len(tail) > DIFF_CONTEXT:
        kept = tail[:DIFF_CONTEXT]
        space = kept.rfind(" ")
        after = (kept[:space] if space > 0 else kept) + "…"
    room = MAX_SHOWN_CHARS - len(before) - len(after)
    if len(middle) > room:
        middle = middle[: max(room - 1, 1)] + "…"
    return (before + middle + after).replace("\n", "\\n")


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


def make_plan(items: Sequence[Item], lock: Lockfile) -> Plan:
    """Plan every item against the lockfile.

    Requests an interrupted apply sent without a recorded answer reach the plan as entries
    marked `uncertain`: fold that run's journal into `lock` first (journal.fold).
    """
    entries = lock.entries
    legacy: dict[str, str] | None = None  # built for the first item without its entry
    claimed: set[str] = set()  # legacy entry ids matched to an item: not orphaned
    planned: list[PlannedItem] = []
    # The usual line of a plan (an unchanged item) is built the quick way: make_plan runs
    # per item, and an enum member looked up on its class costs more than a local.
    add, get_entry = planned.append, entries.get
    unchanged, uncertain, make_line = PlanAction.UNCHANGED, RenderState.UNCERTAIN, tuple.__new__
    for item in items:
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
            add(make_line(PlannedItem, (item_id, unchanged, item, entry, "", (), (), None)))
        elif same and entry.state == RenderState.UNCERTAIN:
            planned.append(
                PlannedItem(
                    item.id,
                    PlanAction.UNCERTAIN,
                    item,
                    entry,
                    "a request was sent and its outcome is unknown; `specsync reconcile` "
                    "asks the account whether it exists and records it (or `specsync "
                    "adopt`); else resubmit with `apply --retry-uncertain`",
                )
            )
        elif (record := reusable(item, entry)) is not None:
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
            planned.append(
                PlannedItem(item.id, PlanAction.REUSE, item, entry, reason, reuse=record)
            )
        elif (record := earlier_request(item, entry)) is not None and not record.has_ids:
            planned.append(
                PlannedItem(
                    item.id,
                    PlanAction.UNCERTAIN,
                    item,
                    entry,
                    "an earlier request of this very script (sent "
                    f"{record.attempted_at or 'at a time unknown'}) has an unknown outcome; "
                    "if the export exists in AI Studios record it with `specsync adopt`, "
                    "else resubmit with `apply --retry-uncertain`",
                )
            )
        elif entry.project_id is None and entry.state != RenderState.UNCERTAIN:
            planned.append(PlannedItem(item.id, PlanAction.CREATE, item, entry, "never exported"))
        else:
            changes, diff, reason = _changes(item, entry)
            if entry.state == RenderState.UNCERTAIN:
                reason += " (the last attempt's outcome is unknown)"
            planned.append(
                PlannedItem(item.id, PlanAction.UPDATE, item, entry, reason, changes, diff)
            )
    for item_id in entries.keys() - {item.id for item in items} - claimed:
        planned.append(
            PlannedItem(
                item_id,
                PlanAction.ORPHANED,
                None,
                entries[item_id],
                "no longer in the manifests; kept (`specsync forget` drops it from the lockfile)",
            )
        )
    planned.sort(key=attrgetter("id"))
    return Plan(tuple(planned))


def matches(item_id: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(item_id, pattern) for pattern in patterns)


def unmatched_patterns(patterns: Sequence[str], ids: Iterable[str]) -> list[str]:
    """The globs that match none of `ids`: a typo there must not pass as "nothing to do"."""
    ids = list(ids)
    return [p for p in patterns if not any(fnmatch.fnmatchcase(i, p) for i in ids)]


def require_matches(option: str, patterns: Sequence[str], ids: Iterable[str]) -> None:
    """Refuse (nothing sent, nothing written) when a glob given with `option` matches no id."""
    ids = sorted(ids)
    missing = unmatched_patterns(patterns, ids)
    if not missing:
        return
    lines = []
    # The first few, each cut short, and a count: 20,000 globs from a script must not
    # print one line of hundreds of kilobytes.
    for pattern in missing[:UNMATCHED_SHOWN]:
        guess = _close_pattern(pattern[:PATTERN_SHOWN], ids)
        hint = f" (did you mean {guess!r}?)" if guess else ""
        lines.append(f"{option} {_shortened(pattern)!r} matches no item{hint}")
    if len(missing) > UNMATCHED_SHOWN:
        lines.append(f"and {len(missing) - UNMATCHED_SHOWN:,} more {option} globs match none")
    example = f"; ids look like {ids[0]!r}" if ids else "; there are no items"
    raise UserError("; ".join(lines) + example + ". Nothing was done.")


UNMATCHED_SHOWN = 5
PATTERN_SHOWN = 100


def _shortened(pattern: str) -> str:
    return pattern if len(pattern) <= PATTERN_SHOWN else pattern[:PATTERN_SHOWN] + "..."


_WILDCARDS = frozenset("*?[")


def _close_pattern(pattern: str, ids: Sequence[str]) -> str | None:
    """What a --target that matches nothing probably meant, in the same form: a glob for a
    glob (`welcom/*` -> `welcome/*`), an id for an id. The part without wildcards (the video
    or the locale) is corrected against the ids' parts; the guess must match something."""
    video, slash, locale = pattern.partition("/")
    videos = sorted({item.partition("/")[0] for item in ids})
    if not _WILDCARDS.intersection(pattern):
        if not slash:  # a video's name alone: its items are `NAME/*`
            guess = difflib.get_close_matches(pattern, videos, n=1)
            if guess:
                return f"{guess[0]}/*"
        guess = difflib.get_close_matches(pattern, ids, n=1)
        return guess[0] if guess else None
    locales = sorted({item.partition("/")[2] for item in ids})
    options: list[list[str]] = []
    for part, known in ((video, videos), (locale, locales)):
        if not part or _WILDCARDS.intersection(part) or part in known:
            options.append([part])
        else:
            # Locale codes are short: one wrong letter of two is still a likely typo.
            options.append(difflib.get_close_matches(part, known, n=3, cutoff=0.5) or [part])
    for new_video in options[0]:
        for new_locale in options[1] if slash else [""]:
            candidate = f"{new_video}{slash}{new_locale}"
            if candidate != pattern and any(fnmatch.fnmatchcase(i, candidate) for i in ids):
                return candidate
    return None


def restricted(plan: Plan, targets: Sequence[str]) -> Plan:
    """The plan of the items matching any glob (the whole plan when none is given)."""
    if not targets:
        return plan
    return Plan(tuple(p for p in plan.items if matches(p.id, targets)))


def pending_outside(plan: Plan, targets: Sequence[str]) -> int:
    """Items apply would submit or reuse were it not for --target."""
    if not targets:
        return 0
    pending = plan.by_action(*SUBMITTED, PlanAction.REUSE)
    return sum(1 for p in pending if not matches(p.id, targets))
