"""Exit codes every command shares (README documents them)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INVALID = 1  # the user's input or setup is wrong, or a submission failed
EXIT_CHANGES = 2  # plan --detailed-exitcode found changes
EXIT_BUG = 3  # a bug in specsync
EXIT_INTERRUPTED = 130
