"""The JSON format: the documented `--format json` documents of render, plan, apply, status,
pull, doctor and validate.

Each function returns plain data; the command prints it with json.dumps on stdout alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from specsync.item_words import ItemOutcome, PlanAction
from specsync.model import Item, Problem
from specsync.plan import SUBMITTED, Plan, estimated_minutes

if TYPE_CHECKING:
    from specsync.service.apply import ApplyReport
    from specsync.service.doctor import DoctorReport
    from specsync.service.pull import PullReport
    from specsync.service.status import StatusReport


def render_document(items: Sequence[Item]) -> list[dict[str, Any]]:
    """The documented `render --format json` document: one element per item."""
    return [
        {"id": item.id, "request": dict(item.request), "source": item.source.short}
        for item in items
    ]


def problem_element(problem: Problem) -> dict[str, Any]:
    """One problem as `validate --format json` gives it (codes: docs/problems.md)."""
    where = problem.location
    return {
        "file": where.path,
        "line": where.line or None,  # null: the problem concerns the whole file
        "column": (where.column or 1) if where.line else None,
        "code": problem.code or "invalid",
        "message": problem.message,
        "item": problem.items[0] if problem.items else None,
        "items": list(problem.items),
    }


def validate_document(
    problems: Sequence[Problem], items: Sequence[Item], warnings: Sequence[Problem] = ()
) -> dict[str, Any]:
    """The documented `validate --format json` document: every problem, sorted by place,
    and the warnings (which do not make it invalid)."""
    ordered = sorted(set(problems))
    warned = sorted(set(warnings))
    return {
        "valid": not ordered,
        "summary": {
            "problems": len(ordered),
            "warnings": len(warned),
            "files": len({p.location.path for p in ordered}),
            "items": len(items),
            "videos": len({item.video for item in items}),
        },
        "problems": [problem_element(p) for p in ordered],
        "warnings": [problem_element(p) for p in warned],
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    """The documented `plan --format json` document."""
    items = []
    for planned in plan.items:
        element: dict[str, Any] = {"id": planned.id, "action": planned.action}
        if planned.item is not None:
            element["fingerprint"] = planned.item.fingerprint
            element["minutes"] = round(estimated_minutes(planned.item.request), 2)
            element["source"] = planned.item.source.short
        if planned.reuse is not None:
            element["projectId"] = planned.reuse.project_id  # the export made current again
        elif planned.entry is not None and planned.entry.project_id:
            element["projectId"] = planned.entry.project_id
        if planned.reason:
            element["reason"] = planned.reason
        if planned.changes:
            element["changes"] = [
                {"field": c.field, "old": c.old, "new": c.new} for c in planned.changes
            ]
        if planned.diff:
            element["diff"] = list(planned.diff)
        items.append(element)
    return {
        "summary": dict(plan.summary),
        "estimate": {
            "exports": plan.summary[PlanAction.CREATE] + plan.summary[PlanAction.UPDATE],
            "minutes": round(plan.minutes(*SUBMITTED), 2),
            "note": "spoken length estimated from text and language; not a bill",
        },
        "items": items,
    }


def apply_document(report: ApplyReport) -> dict[str, Any]:
    """The documented `apply --format json` document."""

    def rows(kind: ItemOutcome) -> list[dict[str, Any]]:
        out = []
        for o in sorted(report.of(kind), key=lambda o: o.id):
            row: dict[str, Any] = {"id": o.id, "action": o.action}
            if o.project_id:
                row["projectId"] = o.project_id
                row["taskId"] = o.task_id
            if o.message:
                row["message"] = o.message
            if o.code:
                row["code"] = o.code
            out.append(row)
        return out

    return {
        "submitted": rows(ItemOutcome.SUBMITTED),
        "failed": rows(ItemOutcome.FAILED),
        "uncertain": rows(ItemOutcome.UNCERTAIN),
        # Earlier exports made current again (the script matched one in history): not sent.
        "reused": rows(ItemOutcome.REUSED),
        # Items the run chose but never sent (stopped early): nothing was billed for them.
        "notSent": rows(ItemOutcome.SKIPPED),
        "uncertainLeft": report.uncertain_left,
        "summary": dict(report.plan.summary),
        "stopped": report.stopped,
        "warnings": report.warnings,
    }


def status_document(report: StatusReport) -> dict[str, Any]:
    """The documented `status --format json` document."""
    return {
        "items": [
            {
                "id": item.id,
                "projectId": item.project_id,
                "state": item.state,
                "progress": item.progress,
                "downloadUrl": item.download_url,
                "serviceState": item.service_state,
            }
            for item in sorted(report.items, key=lambda i: i.id)
        ]
    }


def pull_document(report: PullReport) -> dict[str, Any]:
    """The documented `pull --format json` document."""
    return {
        "items": [
            {
                "id": item.id,
                "path": item.path,
                "bytes": item.size,
                "sha256": item.sha256,
                "outcome": item.outcome,
                "message": item.message or None,
            }
            for item in report.items
        ],
        "ok": report.ok,
    }


def doctor_document(report: DoctorReport) -> dict[str, Any]:
    """The documented `doctor --format json` document."""
    return {
        "apiBase": report.api_base,
        "credentialMode": report.credential_mode,
        "ok": report.ok,
        "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in report.checks],
    }


def review_document(review: Any, page: str) -> dict[str, Any]:
    """`review --format json`: where the page is, and what each tile says."""
    items = []
    for tile in review.tiles:
        file = tile.file
        items.append(
            {
                "id": tile.id,
                "state": tile.state,
                "flags": list(tile.flags),
                "source": tile.source or None,
                "projectId": tile.project_id,
                "file": None
                if file is None
                else {
                    "path": str(file.path),
                    "present": file.present,
                    "bytes": file.size,
                    "duration": file.duration,
                    "verified": file.present and not file.problem,
                    "problem": file.problem or None,
                },
                "next": tile.next_step or None,
            }
        )
    return {"page": page, "items": items}
