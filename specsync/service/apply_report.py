"""What an apply did, item by item, and the progress display it reports to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from specsync.item_words import ItemOutcome, PlanAction
from specsync.plan import Plan


@dataclass
class Outcome:
    id: str
    outcome: ItemOutcome
    action: str  # the plan action that caused it (create/update/replace/retry)
    project_id: str | None = None
    task_id: str | None = None
    message: str = ""
    code: str | None = None  # the service's error code of a refusal, when it gave one
    pushed_back: bool = False  # the service answered 429/503 first (it was retried)
    seconds: float | None = None  # how long the request took to be answered (None: not sent)
    # Failed on 429/503 only (the retries ran out): never processed, the service pushes back.
    throttled: bool = False


@dataclass
class ApplyReport:
    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early (auth failure, interrupt)
    interrupted: bool = False  # by SIGINT/SIGTERM: the command exits 130 once all is recorded
    lockfile_written: bool = False
    seconds: float = 0.0
    # Answers that could not be journalled (full disk, EIO): folded from memory, and shown.
    unjournalled: list[dict[str, Any]] = field(default_factory=list)
    emulator: bool = False  # the run talked to an emulator (--emulator, or it said so)
    # What the user must look at although the run went through (the same projectId
    # answered for two items).
    warnings: list[str] = field(default_factory=list)

    def of(self, kind: ItemOutcome) -> list[Outcome]:
        return [o for o in self.outcomes if o.outcome == kind]

    @property
    def uncertain_left(self) -> list[str]:
        """Items uncertain after this run (new ones and those left alone)."""
        ids = {o.id for o in self.of(ItemOutcome.UNCERTAIN)}
        submitted = {
            o.id for o in self.outcomes if o.outcome in (ItemOutcome.SUBMITTED, ItemOutcome.FAILED)
        }
        ids |= {p.id for p in self.plan.by_action(PlanAction.UNCERTAIN) if p.id not in submitted}
        return sorted(ids)

    @property
    def ok(self) -> bool:
        return not self.of(ItemOutcome.FAILED) and not self.uncertain_left and self.stopped is None


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def done(self, outcome: Outcome) -> None: ...
    def note(self, message: str) -> None: ...
    def finish(self) -> None: ...
