"""The text format: plan, apply and status reports for people (on a terminal or a CI log)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from specsync.cli.console import shown, style
from specsync.item_words import ItemOutcome, PlanAction, RenderState
from specsync.model import Item
from specsync.plan import SUBMITTED, Plan, PlannedItem

if TYPE_CHECKING:
    from specsync.service.apply import ApplyReport
    from specsync.service.status import StatusReport

_SYMBOL = {
    PlanAction.CREATE: "+",
    PlanAction.UPDATE: "~",
    PlanAction.REUSE: "<",
    PlanAction.UNCHANGED: "=",
    PlanAction.ORPHANED: "?",
    PlanAction.UNCERTAIN: "!",
}
_COLOUR = {
    PlanAction.CREATE: "green",
    PlanAction.UPDATE: "yellow",
    PlanAction.REUSE: "cyan",
    PlanAction.ORPHANED: "dim",
    PlanAction.UNCERTAIN: "red",
}


def render_text(items: Sequence[Item]) -> str:
    """Each item's request body under a `# id  (source)` line (JSON escapes the C0 controls;
    `shown` the rest a terminal would act on: C1 controls, bidi overrides)."""
    out = []
    for item in items:
        out.append(f"# {item.id}  ({shown(item.source.short)})")
        body = json.dumps(dict(item.request), ensure_ascii=False, indent=2)
        out.append(shown(body, keep_newlines=True))
    return "".join(line + "\n" for line in out)


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def plan_summary(plan: Plan) -> str:
    s = plan.summary
    create, update = s[PlanAction.CREATE], s[PlanAction.UPDATE]
    uncertain, reuse = s[PlanAction.UNCERTAIN], s[PlanAction.REUSE]
    exports = create + update
    line = (
        # Every line stands for an item but the orphaned entries'.
        f"Plan: {_counted(sum(s.values()) - s[PlanAction.ORPHANED], 'item')}: "
        f"{create} to create, {update} to update, {reuse} to reuse, "
        f"{s[PlanAction.UNCHANGED]} unchanged, "
        f"{s[PlanAction.ORPHANED]} orphaned, {uncertain} uncertain. "
    )
    if exports:
        line += f"apply will submit {exports} export{'s' if exports != 1 else ''}"
        line += f" (~{plan.minutes(*SUBMITTED):.1f} min of video, estimated)"
        if uncertain:
            line += f" (+{uncertain} with --retry-uncertain)"
        return line + "."
    if uncertain:
        return line + (
            f"Nothing new to submit; {uncertain} need `specsync adopt` or --retry-uncertain."
        )
    if reuse:
        return line + "Nothing to submit; apply records the reused exports."
    return line + "Nothing to submit."


def _lines(planned: PlannedItem, colour: bool) -> list[str]:
    head = style(
        f"{_SYMBOL[planned.action]} {planned.id}",
        _COLOUR.get(planned.action, ""),
        enabled=colour and planned.action in _COLOUR,
    )
    where = f"  ({shown(planned.item.source.short)})" if planned.item is not None else ""
    out = [f"{head}  {planned.action}{where}"]
    if planned.reason and planned.action != PlanAction.CREATE:
        out.append(f"    {shown(planned.reason)}")
    # A script's own text: an ESC sequence in it (a title, a clipboard write, colours
    # that hide a line) must reach a reviewer's terminal as text, never run there.
    out.extend(f"    {shown(line)}" for line in planned.diff)
    return out


def plan_text(plan: Plan, *, colour: bool = False, show_unchanged: bool = False) -> str:
    lines: list[str] = []
    # Without --all, only the changes: the lines of unchanged items are not even built.
    for planned in plan.items if show_unchanged else plan.all_but_unchanged:
        lines.extend(_lines(planned, colour))
    lines.append(plan_summary(plan))
    return "\n".join(lines) + "\n"


def apply_summary(report: ApplyReport, emulator: bool) -> str:
    submitted, failed, uncertain, skipped, reused = (
        report.of(k)
        for k in (
            ItemOutcome.SUBMITTED,
            ItemOutcome.FAILED,
            ItemOutcome.UNCERTAIN,
            ItemOutcome.SKIPPED,
            ItemOutcome.REUSED,
        )
    )
    lines = [
        f"Apply: {len(submitted)} submitted, {len(failed)} failed, {len(uncertain)} uncertain"
        + (f", {len(skipped)} not sent" if skipped else "")
        + (f", {len(reused)} reused (nothing sent)" if reused else "")
        + f", {report.plan.summary['unchanged']} unchanged in {report.seconds:.1f} s."
    ]
    for outcome in failed:
        lines.append(f"  failed     {outcome.id}: {shown(outcome.message)}")
    for outcome in uncertain:
        lines.append(f"  uncertain  {outcome.id}: {shown(outcome.message)}")
    left = [i for i in report.uncertain_left if i not in {o.id for o in uncertain}]
    if left:
        lines.append(
            f"  {len(left)} item(s) still uncertain from an earlier run: "
            + ", ".join(left[:5])
            + (" ..." if len(left) > 5 else "")
        )
    if report.uncertain_left:
        lines.append(
            "  Uncertain items may or may not have been exported. First run "
            "`specsync reconcile`: it asks the account which of them exist and records the "
            "one match (nothing is exported). Else `specsync adopt ITEM --project-id ID` "
            "records one you find in AI Studios; `specsync apply --retry-uncertain` "
            "resubmits them (may pay twice), `specsync forget` drops them."
        )
    if report.stopped:
        lines.append(f"  stopped early: {shown(report.stopped)}")
    lines.extend(f"  warning: {shown(warning)}" for warning in report.warnings)
    if emulator:
        lines.append("  (emulator run: nothing was really exported)")
    return "\n".join(lines) + "\n"


def status_text(report: StatusReport) -> str:
    """One line per item and a summary, for stderr."""
    # service.status brings the journal and the lockfile reader (~40 ms), which render
    # and plan, printing through this module too, never need.
    from specsync.service.status import show_progress

    lines = []
    width = max((len(item.id) for item in report.items), default=0)
    for item in report.items:
        line = f"{shown(item.id):<{width}}  {item.state:<9} {show_progress(item.progress):>6}"
        if item.service_state:
            # The service's own word, kept as it said it (informational only).
            line += f"  [{shown(item.service_state)}]"
        if item.download_url:
            line += f"  {shown(item.download_url)}"
        if item.message:
            line += f"  ({shown(item.message)})"
        lines.append(line.rstrip())
    counts = ", ".join(
        f"{report.count(state)} {state}"
        for state in (
            RenderState.DONE,
            RenderState.RENDERING,
            RenderState.SUBMITTED,
            RenderState.FAILED,
            RenderState.UNCERTAIN,
            RenderState.PREVIEW,
        )
        if report.count(state)
    )
    unknown = sum(1 for item in report.items if item.unknown)
    if unknown:
        counts += f", {unknown} unknown to the service"
    if not report.items:
        lines.append("nothing to check: no exported items in the lockfile")
    else:
        noun = "item" if len(report.items) == 1 else "items"
        lines.append(f"{len(report.items)} {noun}: {counts}")
    if report.timed_out:
        lines.append("timed out before every render finished")
    return "\n".join(lines) + "\n"
