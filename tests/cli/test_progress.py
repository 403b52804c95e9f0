"""specsync.cli.progress: server-chosen text never reaches the log or terminal raw."""

from __future__ import annotations

import io

import pytest

from specsync.cli.progress import BarProgress, LogProgress
from specsync.item_words import ItemOutcome
from specsync.service.apply import Outcome

EVIL = "p-1\n::error::forged\x1b]0;title\x07\x1b[2J"


@pytest.mark.parametrize("kind", [LogProgress, BarProgress])
def test_progress_lines_escape_ids_and_messages_from_the_server(kind: type[LogProgress]) -> None:
    stream = io.StringIO()
    progress = kind(stream)
    progress.start(2)
    progress.done(Outcome("a/en", ItemOutcome.SUBMITTED, "create", project_id=EVIL, task_id="t"))
    progress.done(Outcome("b/en", ItemOutcome.UNCERTAIN, "create", message=EVIL))
    progress.note(EVIL)
    progress.finish()
    text = stream.getvalue()
    # The bar's own redraw codes are the only escapes left.
    assert "\x07" not in text and "\x1b]" not in text and "\x1b[2J" not in text
    assert not any(line.startswith("::") for line in text.replace("\r", "\n").splitlines())
    assert "p-1\\n::error::forged\\x1b]0;title\\x07" in text
