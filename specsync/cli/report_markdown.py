"""The markdown format: the plan for a pull-request comment or the GitHub job summary."""

from __future__ import annotations

from specsync.cli.report_text import plan_summary
from specsync.plan import Plan
from specsync.states import PlanAction


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
