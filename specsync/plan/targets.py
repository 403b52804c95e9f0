"""--target globs: which items they match, a clear refusal (with a guess) when one matches
nothing, and the plan restricted to them."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Sequence

from specsync.errors import UserError
from specsync.item_words import PlanAction
from specsync.plan.making import SUBMITTED, Plan


def matches(item_id: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(item_id, pattern) for pattern in patterns)


def unmatched_patterns(patterns: Sequence[str], ids: Iterable[str]) -> list[str]:
    """The globs that match none of `ids`: a typo there must not pass as "nothing to do"."""
    ids = list(ids)
    return [p for p in patterns if not any(fnmatch.fnmatchcase(i, p) for i in ids)]


def require_matches(option: str, patterns: Sequence[str], ids: Iterable[str]) -> None:
    """Refuse (nothing sent, nothing written) when a glob given with `option` matches no id."""
    if not patterns:
        return  # the usual run: no --target, and no need to list 10,000 ids
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
