"""What an answer of the AI Studios API means: an export's result, the service's error text.

Text that came from the server is redacted (it may echo a secret), made printable and cut
short before anyone sees it; ids that repeat a secret are never recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from specsync.item_words import Answer
from specsync.service.errors import SERVER_TEXT_LIMIT, printable, status_text
from specsync.service.http.attempt import RETRYABLE_STATUSES, Attempt, RequestRun
from specsync.service.http.reply import Reply, id_text, is_refusal, unwrap

# Every answer of specsync's emulator carries this header (README "The emulator").
EMULATOR_HEADER = "X-Specsync-Emulator"
# Secrets shorter than this are not redacted inside longer text (test keys would mangle
# every message); real keys are long. Equal values are always caught.
MIN_REDACTED_LENGTH = 6


@dataclass(frozen=True)
class ExportResult:
    """What became of one export request."""

    outcome: Answer
    project_id: str | None = None
    task_id: str | None = None
    code: str | None = None  # the service's error code, when it gave one
    message: str = ""
    attempts: int = 1  # HTTP attempts made for the export itself
    retries: list[str] = field(default_factory=list)  # one short line per retry
    # FAILED and certainly never processed because the run was stopped (a signal, or apply
    # giving up on pushback) while waiting to retry: apply reports it as "not sent".
    not_sent: bool = False
    # The answer carried X-Specsync-Emulator: its ids are an emulator's, not real exports.
    emulator: bool = False
    # FAILED because the service still said 429/503 when the retries ran out: never
    # processed, and a sign that the service is pushing back.
    throttled: bool = False


def from_emulator(headers: Any) -> bool:
    """Does an answer carry the emulator's mark? (Header names are case-insensitive.)"""
    name = EMULATOR_HEADER.lower()
    return any(str(key).lower() == name and str(value).strip() for key, value in headers.items())


class Redactor:
    """Keeps the client's secrets (read when needed: a token changes) out of text and ids."""

    def __init__(self, secrets: Callable[[], list[str]]) -> None:
        self._secrets = secrets

    def redact(self, text: str) -> str:
        for secret in self._secrets():
            if len(secret) >= MIN_REDACTED_LENGTH:
                text = text.replace(secret, "***")
        return text

    def holds_secret(self, text: str) -> bool:
        # Equal at any length; contained only when long enough not to match by chance.
        return any(
            text == secret or (len(secret) >= MIN_REDACTED_LENGTH and secret in text)
            for secret in self._secrets()
        )

    def service_error(self, reply: Reply) -> tuple[str | None, str]:
        """The service's error code and message, from its envelope or whatever it sent."""
        parsed = reply.parsed
        code: Any = None
        message: Any = None
        if isinstance(parsed, dict):
            error = parsed.get("error")
            if isinstance(error, dict):
                code = error.get("code")
                message = error.get("msg") or error.get("message")
            elif isinstance(error, str):
                message = error
            code = code if code is not None else parsed.get("code")
            message = message or parsed.get("msg") or parsed.get("message")
        if message is None and parsed is None:
            message = reply.body.decode("utf-8", errors="replace").strip()
        text = printable(self.redact(str(message or "")))[:SERVER_TEXT_LIMIT]
        code_text = printable(self.redact(str(code)))[:50] if code is not None else None
        return code_text or None, text or "no error message"


def export_result(attempt: Attempt, run: RequestRun, redactor: Redactor) -> ExportResult:
    """The export's result from its last attempt (see the client's module doc)."""

    def result(outcome: Answer, message: str, **more: Any) -> ExportResult:
        return ExportResult(
            outcome, message=message, attempts=run.attempts, retries=run.retries, **more
        )

    reply = attempt.reply
    if reply is None:
        if attempt.sent:
            return result(Answer.UNCERTAIN, attempt.error)
        return result(Answer.FAILED, run.gave_up_text(attempt.describe()))
    status = reply.status
    if 200 <= status < 300 and is_refusal(reply.parsed):
        # The vendor's own code treats `success: false` as a failed request, whatever the
        # HTTP status: a definite answer, so the item failed (never uncertain).
        code, text = redactor.service_error(reply)
        refused = f"refused by the service: {text}" + (f" (code {code})" if code else "")
        return result(Answer.FAILED, refused, code=code)
    if 200 <= status < 300:
        return _accepted(reply, run, redactor)
    code, text = redactor.service_error(reply)
    detail = status_text(status, text, code)
    if status in RETRYABLE_STATUSES:
        return result(Answer.FAILED, run.gave_up_text(detail), code=code, throttled=True)
    if status >= 500:
        return result(Answer.UNCERTAIN, f"{detail}; the export may have been processed")
    if 300 <= status < 400:
        where = redactor.redact(reply.headers.get("Location", "") or "")[:SERVER_TEXT_LIMIT]
        return result(Answer.FAILED, f"HTTP {status}: unexpected redirect to {where or '?'}")
    return result(Answer.FAILED, detail, code=code)


def _accepted(reply: Reply, run: RequestRun, redactor: Redactor) -> ExportResult:
    """A 2xx: the ids, whatever else the answer holds; or uncertain."""
    data = unwrap(reply.parsed)
    project_id = id_text(data.get("projectId")) if data else None
    # A missing or odd taskId never costs the projectId: "" stands for "none given".
    task_id = (id_text(data.get("taskId")) if data else None) or ""
    emulator = from_emulator(reply.headers)
    message = ""
    if project_id is None:
        message = (
            f"HTTP {reply.status} without a projectId in the answer: the export may have "
            "been accepted"
        )
    elif redactor.holds_secret(project_id) or redactor.holds_secret(task_id):
        # Storing it would put the key into the lockfile, and printing it into CI logs.
        message = (
            f"HTTP {reply.status}: the answer's ids repeat the API credentials, so they "
            "were not recorded; the export may have been accepted"
        )
    if message:
        return ExportResult(
            Answer.UNCERTAIN,
            message=message,
            attempts=run.attempts,
            retries=run.retries,
            emulator=emulator,
        )
    return ExportResult(
        Answer.ACCEPTED,
        project_id=project_id,
        task_id=task_id,
        attempts=run.attempts,
        retries=run.retries,
        emulator=emulator,
    )
