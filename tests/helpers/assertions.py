"""Assertions the specification repeats: a refusal is a message, never a crash."""

from __future__ import annotations

import subprocess


def assert_not_a_crash(result: subprocess.CompletedProcess[str] | str) -> None:
    """No traceback and no "internal error" (exit 3's words) in a command's output.

    Bad input, a refused run or a failing service is the user's business: one clear message
    and exit 1, never a Python traceback, never reported as a bug in specsync.
    """
    shown = result if isinstance(result, str) else f"{result.stdout}{result.stderr}"
    assert "Traceback" not in shown, shown
    assert "internal error" not in shown, shown
