"""Saved plans: what `plan --out` showed a reviewer is exactly what `apply --plan` sends.

A saved plan is a JSON file holding every item apply would act on (its action, fingerprint
and whole request body), the digest of the lockfile's content as plan saw it (any journal
an interrupted run left folded in), a digest per rendered item, and the specsync version.
`apply --plan` recomputes all of them under the apply lock, before any request, and refuses
with nothing sent when one differs; then it checks that the plan it computes selects exactly
the saved items. The digests make the refusal cheap and precise; the second check makes
"what was reviewed is what gets billed" hold even if a digest were ever to miss a change.

JSON, not pickle: the file is an artifact a reviewer or a CI step may read, and reading it
must never run code.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specsync import __version__
from specsync.atomic import write_bytes_atomic
from specsync.errors import UserError
from specsync.item_words import PlanAction, RenderState
from specsync.model import Item
from specsync.plan import SUBMITTED, Plan, matches
from specsync.regular_files import NotRegular, open_regular
from specsync.state.lockfile_data import Entry, Lockfile

FORMAT = "specsync-saved-plan"
FORMAT_VERSION = 1
# Far above any real catalogue (100k items with long scripts is ~100 MB): a bigger file is
# not a saved plan, and reading it whole would only exhaust memory.
MAX_BYTES = 512 * 1024 * 1024
# What a saved plan may hold: the actions apply acts on without extra flags.
SAVED_ACTIONS = (*SUBMITTED, PlanAction.REUSE)
_SHORT = 16  # hex digits of the per-item digests kept to name what changed
# Entry fields that say nothing about what apply would do (what `pull` downloaded).
_DOWNLOAD_FIELDS = ("sha256", "size")


class SavedPlanError(UserError):
    """The saved plan cannot be read, or no longer describes what apply would do."""


@dataclass(frozen=True)
class SavedItem:
    """One item of a saved plan: what apply sends for it (or reuses)."""

    id: str
    action: PlanAction
    fingerprint: str
    request: Mapping[str, Any]
    project_id: str | None = None  # for `reuse`: the export made current again
    task_id: str | None = None


@dataclass(frozen=True)
class SavedPlan:
    specsync_version: str
    lockfile_digest: str
    manifests_digest: str
    rendered: Mapping[str, str]  # item id -> short digest of its rendered request
    targets: tuple[str, ...]
    paths: tuple[str, ...]  # the PATHS plan was given, to say so when they differ
    items: tuple[SavedItem, ...]
    created_at: str = ""
    # lock_parts() as plan saw them, to name what changed; {} in files that predate it.
    lockfile_parts: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def of(self, *actions: PlanAction) -> list[SavedItem]:
        return [saved for saved in self.items if saved.action in actions]


def request_digest(request: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a whole request body (webhookUrl included: the
    reviewed request is the one sent, not only its fingerprinted fields)."""
    return _canonical_digest(request)


def _canonical_digest(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def rendered_digests(items: Iterable[Item]) -> dict[str, str]:
    """{item id: full request digest} of every rendered item."""
    return {item.id: request_digest(item.request) for item in items}


def manifests_digest(rendered: Mapping[str, str]) -> str:
    """One digest of every rendered request, independent of the order items were found."""
    digest = hashlib.sha256()
    for item_id in sorted(rendered):
        digest.update(f"{item_id}\t{rendered[item_id]}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def lock_digest(lock: Lockfile) -> str:
    """SHA-256 of what the lockfile says about exports, as plan saw it (any journal an
    interrupted apply left folded in: `read_lock_view`).

    Of the content, not the bytes: a lockfile rewritten with the same exports (a merge, a
    reformat), given download hashes by `pull`, or told by `status` that a render is done
    still holds; any change to an entry's ids, fingerprint, exported fields or history, a
    render recorded failed or a request left uncertain, to `forgotten`, to the service or
    to the emulator mark makes the plan stale.
    """
    return _canonical_digest(lock_parts(lock))


def lock_parts(lock: Lockfile) -> dict[str, Any]:
    """What the lock digest covers, part by part (a digest per entry), so that a refusal
    can name the part that changed."""
    return {
        "emulator": lock.emulator,
        "scheme": lock.fingerprint_scheme,
        "service": lock.service,
        "forgotten": _canonical_digest(
            [
                [key, [dataclasses.astuple(s) for s in lock.forgotten[key]]]
                for key in sorted(lock.forgotten)
            ]
        )[:_SHORT],
        "entries": {
            key: _canonical_digest(_entry_fields(lock.entries[key]))[:_SHORT]
            for key in sorted(lock.entries)
        },
    }


def _entry_fields(entry: Entry) -> dict[str, Any]:
    fields = entry._asdict()
    for download_field in _DOWNLOAD_FIELDS:
        fields.pop(download_field, None)
    if fields.get("state") == RenderState.DONE:
        # `status` recording a finished render: apply sends the same for an accepted
        # export whether its render is known done or not (check_selection would still
        # catch a plan that turned out different).
        fields["state"] = None
    # The same holds for an earlier export's known `done`: reuse takes it as it takes one
    # not yet known.
    fields["history"] = [
        dataclasses.astuple(
            dataclasses.replace(s, state=None) if s.state == RenderState.DONE else s
        )
        for s in entry.history
    ]
    return fields


def saved_items(plan: Plan, targets: Sequence[str]) -> tuple[SavedItem, ...]:
    """What `apply --target TARGETS` would act on, as saved: creates, updates and reuses."""
    chosen = []
    for planned in plan.items:
        item = planned.item
        if item is None or planned.action not in SAVED_ACTIONS:
            continue
        if targets and not matches(planned.id, targets):
            continue
        reuse = planned.reuse if planned.action == PlanAction.REUSE else None
        chosen.append(
            SavedItem(
                planned.id,
                planned.action,
                item.fingerprint,
                dict(item.request),
                reuse.project_id if reuse else None,
                reuse.task_id if reuse else None,
            )
        )
    return tuple(chosen)


def make_saved_plan(
    plan: Plan,
    items: Sequence[Item],
    lock: Lockfile,
    targets: Sequence[str] = (),
    paths: Sequence[str] = (),
) -> SavedPlan:
    """The saved form of `plan`, made from `items` and `lock` (the lockfile as plan read
    it, journal folded in)."""
    rendered = rendered_digests(items)
    return SavedPlan(
        specsync_version=__version__,
        lockfile_digest=lock_digest(lock),
        lockfile_parts=lock_parts(lock),
        manifests_digest=manifests_digest(rendered),
        rendered={item_id: digest[:_SHORT] for item_id, digest in rendered.items()},
        targets=tuple(targets),
        paths=tuple(paths),
        items=saved_items(plan, targets),
        created_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def to_document(saved: SavedPlan) -> dict[str, Any]:
    items = []
    for entry in saved.items:
        document: dict[str, Any] = {
            "id": entry.id,
            "action": str(entry.action),
            "fingerprint": entry.fingerprint,
            "request": dict(entry.request),
        }
        if entry.project_id is not None:
            document["projectId"] = entry.project_id
            document["taskId"] = entry.task_id
        items.append(document)
    return {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "specsyncVersion": saved.specsync_version,
        "createdAt": saved.created_at,
        "lockfileDigest": saved.lockfile_digest,
        "lockfileParts": dict(saved.lockfile_parts),
        "manifestsDigest": saved.manifests_digest,
        "targets": list(saved.targets),
        "paths": list(saved.paths),
        "items": items,
        "rendered": dict(sorted(saved.rendered.items())),
    }


def write_saved_plan(path: Path, saved: SavedPlan) -> None:
    """Write `saved` to `path` atomically. An existing file is replaced only when it is a
    saved plan: a slip such as `--out specsync.lock` must not destroy the lockfile."""
    if os.path.lexists(path):
        try:
            read_saved_plan(Path(path))
        except SavedPlanError:
            raise SavedPlanError(
                f"refusing to replace {path}: it is not a saved plan (choose another --out)"
            ) from None
    text = json.dumps(to_document(saved), ensure_ascii=False, indent=1) + "\n"
    try:
        write_bytes_atomic(Path(path), text.encode("utf-8", "surrogatepass"))
    except OSError as error:
        raise SavedPlanError(
            f"cannot write the saved plan {path}: {error.strerror or error}"
        ) from None


def read_saved_plan(path: Path) -> SavedPlan:
    """The saved plan at `path`, or SavedPlanError saying what is wrong with the file."""
    data = _read_regular_file(Path(path))
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise SavedPlanError(
            f"{path}: not a saved plan (not UTF-8 at byte {error.start})"
        ) from None
    except json.JSONDecodeError as error:
        raise SavedPlanError(
            f"{path}:{error.lineno}:{error.colno}: not a saved plan ({error.msg}); "
            "make one with `specsync plan --out FILE`"
        ) from None
    except RecursionError:
        raise SavedPlanError(
            f"{path}: not a saved plan (nested too deeply to read); "
            "make one with `specsync plan --out FILE`"
        ) from None
    except ValueError:
        # int() past its digit limit: a number no saved plan holds.
        raise SavedPlanError(
            f"{path}: not a saved plan (it holds a number too long to read); "
            "make one with `specsync plan --out FILE`"
        ) from None
    try:
        return _from_document(document)
    except (KeyError, TypeError, ValueError) as error:
        raise SavedPlanError(
            f"{path}: not a saved plan specsync can read ({error}); "
            "make one with `specsync plan --out FILE`"
        ) from None


def _read_regular_file(path: Path) -> bytes:
    try:
        fd = open_regular(path)  # never waits for a FIFO's writer
    except NotRegular:
        raise SavedPlanError(f"the saved plan {path} is not a regular file") from None
    except OSError as error:
        raise SavedPlanError(
            f"cannot read the saved plan {path}: {error.strerror or error}"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SavedPlanError(f"the saved plan {path} is not a regular file")
        if info.st_size > MAX_BYTES:
            raise SavedPlanError(
                f"the saved plan {path} is {info.st_size} bytes, over the "
                f"{MAX_BYTES // 2**20} MiB a saved plan can be"
            )
        try:
            return handle.read(MAX_BYTES + 1)
        except OSError as error:
            raise SavedPlanError(
                f"cannot read the saved plan {path}: {error.strerror or error}"
            ) from None


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is not text")
    return value


def _texts(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError(f"{what} is not a list")
    return tuple(_text(v, what) for v in value)


def _from_document(document: Any) -> SavedPlan:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f'"format" is not "{FORMAT}"')
    version = document.get("formatVersion")
    if version != FORMAT_VERSION:
        raise ValueError(f"format version {version!r}, this specsync reads {FORMAT_VERSION}")
    items = []
    for raw in document["items"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
            raise TypeError("an item is not an object with a request")
        action = PlanAction(_text(raw["action"], "an action"))
        if action not in SAVED_ACTIONS:
            raise ValueError(f"an item's action is {action!r}")
        project_id = raw.get("projectId")
        task_id = raw.get("taskId")
        items.append(
            SavedItem(
                _text(raw["id"], "an item id"),
                action,
                _text(raw["fingerprint"], "a fingerprint"),
                raw["request"],
                None if project_id is None else _text(project_id, "a projectId"),
                None if task_id is None else _text(task_id, "a taskId"),
            )
        )
    rendered = document["rendered"]
    if not isinstance(rendered, dict):
        raise TypeError("rendered is not an object")
    return SavedPlan(
        specsync_version=_text(document["specsyncVersion"], "specsyncVersion"),
        lockfile_digest=_text(document["lockfileDigest"], "lockfileDigest"),
        manifests_digest=_text(document["manifestsDigest"], "manifestsDigest"),
        rendered={_text(k, "an item id"): _text(v, "a digest") for k, v in rendered.items()},
        targets=_texts(document.get("targets", []), "targets"),
        paths=_texts(document.get("paths", []), "paths"),
        items=tuple(items),
        created_at=str(document.get("createdAt", "")),
        lockfile_parts=_parts(document.get("lockfileParts", {})),
    )


def _parts(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("entries", {}), dict):
        raise TypeError("lockfileParts is not an object")
    return value


def stale_reasons(
    saved: SavedPlan, items: Sequence[Item], lock: Lockfile, lockfile_path: Path
) -> list[str]:
    """Why `saved` no longer describes what apply would do now; empty when it still does.
    `lock` is the lockfile as apply sees it now (`read_lock_view`)."""
    reasons = []
    if saved.specsync_version != __version__:
        reasons.append(f"it was made by specsync {saved.specsync_version}, this is {__version__}")
    if lock_digest(lock) != saved.lockfile_digest:
        reasons.append(
            f"{lockfile_path} (or the journal of an interrupted apply beside it) records "
            f"other exports than when the plan was saved ({_lock_changes(saved, lock)})"
        )
    rendered = rendered_digests(items)
    if manifests_digest(rendered) != saved.manifests_digest:
        reasons.append(_manifest_changes(saved, rendered))
    return reasons


def _lock_changes(saved: SavedPlan, lock: Lockfile) -> str:
    """What changed in the lockfile, by part: the entries by id, the service, forgotten."""
    before = saved.lockfile_parts
    if not before:  # a plan saved by an older specsync: no parts to compare
        return "another apply ran, a merge landed, or this plan was applied already"
    now = lock_parts(lock)
    parts = []
    for name, label in (
        ("service", "the service"),
        ("emulator", "the emulator mark"),
        ("scheme", "the fingerprint scheme"),
        ("forgotten", "the forgotten exports"),
    ):
        if before.get(name) != now[name]:
            parts.append(f"{label} changed")
    old, new = before.get("entries", {}), now["entries"]
    for label, ids in (
        ("entries changed", sorted(k for k in new if k in old and old[k] != new[k])),
        ("new entries", sorted(set(new) - set(old))),
        ("entries gone", sorted(set(old) - set(new))),
    ):
        if ids:
            parts.append(f"{label}: {_some(ids)}")
    return "; ".join(parts) or "its content differs"


def _manifest_changes(saved: SavedPlan, rendered: Mapping[str, str]) -> str:
    changed = sorted(
        item_id
        for item_id, digest in rendered.items()
        if item_id in saved.rendered and digest[:_SHORT] != saved.rendered[item_id]
    )
    added = sorted(set(rendered) - set(saved.rendered))
    removed = sorted(set(saved.rendered) - set(rendered))
    parts = []
    for label, ids in (("changed", changed), ("new", added), ("gone", removed)):
        if ids:
            shown = _some(ids)
            parts.append(f"{label}: {shown}")
    detail = "; ".join(parts) or "the requests differ"
    message = f"the rendered manifests changed since the plan was saved ({detail})"
    if added or removed:
        given = " ".join(saved.paths) if saved.paths else "no PATHS"
        message += f"; the plan was made with {given}: pass the same PATHS to apply"
    return message


def check_fresh(
    saved: SavedPlan, items: Sequence[Item], lock: Lockfile, lockfile_path: Path, name: str
) -> None:
    """Raise SavedPlanError, naming every reason, unless `saved` still holds."""
    reasons = stale_reasons(saved, items, lock, lockfile_path)
    if reasons:
        raise SavedPlanError(
            f"the saved plan {name} is out of date: "
            + "; ".join(reasons)
            + ". Nothing was sent. Make and review a new one with `specsync plan --out "
            + f"{name}`"
        )


def check_selection(saved: SavedPlan, current: Sequence[SavedItem], name: str) -> None:
    """Raise SavedPlanError unless apply is about to act on exactly the saved items."""

    def key(entry: SavedItem) -> tuple[str, str, str, str, str | None, str | None]:
        return (
            entry.id,
            str(entry.action),
            entry.fingerprint,
            request_digest(entry.request),
            entry.project_id,
            entry.task_id,
        )

    expected = {key(entry) for entry in saved.items}
    now = {key(entry) for entry in current}
    if expected == now:
        return
    differing = sorted({k[0] for k in expected ^ now})
    shown = _some(differing)
    raise SavedPlanError(
        f"the saved plan {name} no longer matches what apply would do ({shown}). "
        f"Nothing was sent. Make and review a new one with `specsync plan --out {name}`"
    )


def _some(ids: Sequence[str]) -> str:
    """The first five ids, and how many more."""
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
