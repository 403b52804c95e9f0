"""Printing for people: problems, warnings and colour, on stderr.

Colour only when the stream is a terminal and NO_COLOR is unset (https://no-color.org).
When GITHUB_ACTIONS is set, each problem is also printed as a workflow annotation so it
shows up on the pull request's diff.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import TextIO

from specsync.model import Problem

_STYLES = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36", "dim": "2"}


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(text: object, *, keep_newlines: bool = False) -> str:
    """Server-chosen text (ids, URLs, messages) safe for a terminal or CI log: control and
    other non-printable characters escaped, so no ESC sequence or `::error` line gets out.
    `keep_newlines`: a message's own line breaks stay (the caller indents what follows)."""
    return "".join(
        char
        if char.isprintable() or (keep_newlines and char == "\n")
        else _ESCAPES.get(char) or _escaped(char)
        for char in str(text)
    )


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def use_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if "NO_COLOR" in env and env["NO_COLOR"] != "":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def style(text: str, *names: str, enabled: bool) -> str:
    if not enabled or not names:
        return text
    codes = ";".join(_STYLES[name] for name in names)
    return f"\x1b[{codes}m{text}\x1b[0m"


def _annotation_escape(value: str, *, property_value: bool = False) -> str:
    # GitHub's workflow-command escaping: %, CR and LF always; ':' and ',' in properties.
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github_annotation(problem: Problem) -> str:
    loc = problem.location
    props = [f"file={_annotation_escape(shown(loc.path), property_value=True)}"]
    if loc.line > 0:
        props.append(f"line={loc.line}")
        props.append(f"col={loc.column or 1}")
    message = shown(problem.message, keep_newlines=True)
    return f"::error {','.join(props)}::{_annotation_escape(message)}"


def print_problems(
    problems: Iterable[Problem],
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Print every problem as `path:line:col: message`, sorted; return how many."""
    out = sys.stderr if stream is None else stream
    env = os.environ if environ is None else environ
    colour = use_colour(out, env)
    annotate = env.get("GITHUB_ACTIONS") == "true"
    ordered = sorted(set(problems))
    for problem in ordered:
        # A file name or a quoted value may hold control characters: escaped, so that no
        # ESC reaches a terminal and no line of ours can pass for a CI log command.
        where = style(shown(problem.location), "bold", enabled=colour)
        message = shown(problem.message, keep_newlines=True).replace("\n", "\n  ")
        print(f"{where}: {message}", file=out)
        if annotate:
            print(github_annotation(problem), file=out)
    if ordered:
        files = {p.location.path for p in ordered}
        noun = "problem" if len(ordered) == 1 else "problems"
        where = "file" if len(files) == 1 else "files"
        summary = f"{len(ordered)} {noun} in {len(files)} {where}"
        print(style(summary, "red", enabled=colour), file=out)
    return len(ordered)


def warn(message: str, stream: TextIO | None = None) -> None:
    out = sys.stderr if stream is None else stream
    print(style("warning:", "yellow", enabled=use_colour(out)) + f" {message}", file=out)


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 video`, `2 videos`, `1 entry`, `3 entries`: a count with its noun agreeing."""
    if number == 1:
        return f"{number:,} {noun}"
    if plural is None:
        plural = (
            noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
        )
    return f"{number:,} {plural}"


def print_warnings(warnings: Iterable[Problem], stream: TextIO | None = None) -> int:
    """Print each warning as `path:line:col: warning: message (code)`; return how many."""
    out = sys.stderr if stream is None else stream
    colour = use_colour(out)
    ordered = sorted(set(warnings))
    for problem in ordered:
        where = style(shown(problem.location), "bold", enabled=colour)
        label = style("warning:", "yellow", enabled=colour)
        message = shown(problem.message, keep_newlines=True).replace("\n", "\n  ")
        print(f"{where}: {label} {message} [{problem.code}]", file=out)
    return len(ordered)


# Below this many scripts to compile a run takes well under a second: nothing to say.
COMPILE_NOTICE_THRESHOLD = 500


def announce_compile(count: int, stream: TextIO | None = None) -> None:
    """Say why a first run (or one after many edits) takes a while, before it does."""
    if count >= COMPILE_NOTICE_THRESHOLD:
        out = sys.stderr if stream is None else stream
        print(
            f"compiling {count:,} scripts the template cache does not hold yet "
            "(later runs reuse them)...",
            file=out,
            flush=True,
        )
