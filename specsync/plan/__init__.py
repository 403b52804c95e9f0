"""What apply would do: a pure function of the rendered items and the lockfile.

Actions: `create` (never exported), `update` (exported, but what changes the video changed),
`reuse` (the item's fingerprint is that of an earlier export kept in its history: apply
makes that export current again with no request), `unchanged`, `orphaned` (in the
lockfile, gone from the manifests: reported, kept, never deleted remotely) and `uncertain`
(a request was sent and its outcome is unknown: recorded with `specsync adopt` once found,
or resubmitted only with `apply --retry-uncertain`).

Modules: `making` (each item's action, `make_plan`), `text_diff` (what changed in a script,
for a reviewer), `targets` (--target globs). The plan wing imports only `state` and the
shared top-level modules (model, errors, item_words); never click, manifests or render.
"""

from specsync.plan.making import (
    ACTIONS,
    SUBMITTED,
    Change,
    Plan,
    PlannedItem,
    default_resolution_twin,
    earlier_request,
    estimated_minutes,
    make_plan,
    reusable,
    same_export,
)
from specsync.plan.targets import (
    matches,
    pending_outside,
    require_matches,
    restricted,
    unmatched_patterns,
)
from specsync.plan.text_diff import text_diff, word_changes

__all__ = [
    "ACTIONS",
    "SUBMITTED",
    "Change",
    "Plan",
    "PlannedItem",
    "default_resolution_twin",
    "earlier_request",
    "estimated_minutes",
    "make_plan",
    "matches",
    "pending_outside",
    "require_matches",
    "restricted",
    "reusable",
    "same_export",
    "text_diff",
    "unmatched_patterns",
    "word_changes",
]
