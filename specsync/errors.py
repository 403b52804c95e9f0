"""The one base class for "the user's input or setup is wrong".

Every such error is reported once, by the CLI's entry point, as a clean message with exit
1; anything else that escapes is a bug in specsync (exit 3, traceback to a log file).
Modules raise a subclass that names what is wrong; they never turn it into output.
"""

from __future__ import annotations


class UserError(Exception):
    """The user's input or setup is wrong: a clean message, exit 1, never a traceback."""
