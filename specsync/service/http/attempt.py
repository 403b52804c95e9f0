"""One HTTP attempt's outcome, and the attempts that make one logical request."""

from __future__ import annotations

from dataclasses import dataclass, field

from specsync.service.http.reply import Reply

# Statuses that say the server did not process the request and asks us to come back.
RETRYABLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt: a reply, or why there was none and whether it was sent."""

    reply: Reply | None = None
    error: str = ""
    sent: bool = True  # False: the request certainly never reached the server
    retryable: bool = False

    def describe(self) -> str:
        if self.reply is None:
            return self.error
        return f"HTTP {self.reply.status}"


@dataclass
class RequestRun:
    """The attempts of one logical request (several HTTP attempts with retries)."""

    attempts: int = 0
    retries: list[str] = field(default_factory=list)
    gave_up: bool = False  # retrying stopped while the last attempt was still retryable
    gave_up_note: str = ""  # why, when it was not the number of attempts

    def gave_up_text(self, what: str) -> str:
        """`what` went wrong; prefixed with how many attempts it took when they ran out."""
        if not self.gave_up:
            return what
        return f"gave up after {self.attempts} attempts{self.gave_up_note}: {what}"
