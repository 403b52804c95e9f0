"""The markdown format: the plan for a pull-request comment or the GitHub job summary."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from specsync.cli.console import shown
from specsync.cli.report_text import plan_summary
from specsync.item_words import ItemOutcome
from specsync.plan import Plan

if TYPE_CHECKING:
    from specsync.service.apply import ApplyReport


# Markdown's inline syntax: escaped, so a script or a service's message cannot make a
# link, an image, emphasis or a code span in a pull-request comment, or end a table cell.
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]|~!#])")


def _md_cell(text: str) -> str:
    """Text shown as itself in a table cell: no control character, HTML or markdown."""
    escaped = html.escape(shown(text, keep_newlines=True), quote=False)
    return _MARKDOWN_SYNTAX.sub(r"\\\1", escaped).replace("\n", "<br>")


def _md_code(text: str) -> str:
    """Text as code in a table cell: a code span cannot hold a backtick, and markdown
    inside an HTML element is still read as markdown, so escaped as any cell."""
    return f"<code>{_md_cell(text)}</code>"


def plan_markdown(plan: Plan) -> str:
    """For a pull-request comment or the GitHub job summary."""
    out = ["### specsync plan", "", plan_summary(plan), ""]
    changed = plan.all_but_unchanged
    if changed:
        out += ["| item | action | why |", "|---|---|---|"]
        for planned in changed:
            why = _md_cell(planned.reason)
            if planned.diff:
                why += "<br>" + "<br>".join(_md_code(line) for line in planned.diff)
            out.append(f"| `{planned.id}` | {planned.action} | {why} |")
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
