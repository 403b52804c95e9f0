"""The markdown format: the plan for a pull-request comment or the GitHub job summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from specsync.cli.report_text import plan_summary
from specsync.item_words import ItemOutcome, PlanAction
from specsync.plan import Plan

if TYPE_CHECKING:
    from specsync.service.apply import ApplyReport


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def plan_markdown(plan: Plan) -> str:
    """For a pull-request comment or the GitHub job summary."""
    out = ["### specsync plan", "", plan_summary(plan), ""]
    changed = [p for p in plan.items if p.action != PlanAction.UNCHANGED]
    if changed:
        out += ["| item | action | why |", "|---|---|---|"]
        for planned in changed:
            why = planned.reason
            if planned.diff:
                why += "<br>" + "<br>".join(f"`{_md_cell(d)}`" for d in planned.diff)
            out.append(f"| `{planned.id}` | {planned.action} | {_md_cell(why)} |")
        out.append("")
    return "\n".join(out) + "\n"


def apply_markdown(report: ApplyReport) -> str:
    """What apply did, for the GitHub job summary: failures with the service's own words."""
    counts = {kind: len(report.of(kind)) for kind in ItemOutcome}
    out = [
        "### specsync apply",
        "",
        f"{counts[ItemOutcome.SUBMITTED]} submitted, {counts[ItemOutcome.FAILED]} failed, "
        f"{counts[ItemOutcome.UNCERTAIN]} uncertain"
        + (f", {counts[ItemOutcome.REUSED]} reused." if counts[ItemOutcome.REUSED] else "."),
        "",
    ]
    shown = [
        o for o in sorted(report.outcomes, key=lambda o: o.id) if o.outcome != ItemOutcome.SKIPPED
    ]
    if shown:
        out += ["| item | outcome | projectId | code | message |", "|---|---|---|---|---|"]
        for o in shown:
            out.append(
                f"| `{o.id}` | {o.outcome} | {_md_cell(o.project_id or '')} | "
                f"{_md_cell(o.code or '')} | {_md_cell(o.message)} |"
            )
        out.append("")
    if report.stopped:
        out += [f"Stopped early: {_md_cell(report.stopped)}", ""]
    return "\n".join(out) + "\n"
