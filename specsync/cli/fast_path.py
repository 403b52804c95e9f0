"""`specsync validate` and `specsync plan` read without click, for the plain arguments a
hook or CI passes.

Importing click and building the command group is about a sixth of a one-file validate,
the pre-commit case, and ~15 ms of every plan (issue 28). The few shapes below are read by
hand here: a parser library would cost the import this module exists to avoid, and click
stays the one parser of everything else. Anything unusual (`--help`, `--debug`, an option
it does not know, a value that starts with `-`, `--` itself, an empty argument, shell
completion) returns None and click reads it as before, so usage errors and help keep
click's own words.
tests/cli/test_fast_path.py and tests/cli/test_plan_fast_path.py run every shape both ways
and compare output and exit code.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from typing import TextIO

FORMATS = ("text", "json")
PLAN_FORMATS = ("text", "json", "markdown")
# click's shell completion runs when this is set (click names it after the program).
COMPLETION_VARIABLE = "_SPECSYNC_COMPLETE"


class PlainValidate:
    """What `specsync validate [PATH]... [--root DIR] [--no-cache] [--format F]` asked for."""

    __slots__ = ("no_cache", "output_format", "paths", "root")

    def __init__(
        self, paths: tuple[str, ...], root: str | None, no_cache: bool, output_format: str
    ) -> None:
        self.paths = paths
        self.root = root
        self.no_cache = no_cache
        self.output_format = output_format


def plain_validate(args: Sequence[str], environ: Mapping[str, str]) -> PlainValidate | None:
    """The validate run `args` asks for when they are plain; else None (click reads them)."""
    if not args or args[0] != "validate" or COMPLETION_VARIABLE in environ:
        return None
    read = _read_plain(args[1:], flags=("--no-cache",), valued=("--root", "--format"))
    if read is None:
        return None
    paths, values, flags = read
    output_format = values.get("--format", FORMATS[0])
    if output_format not in FORMATS:
        return None
    return PlainValidate(tuple(paths), values.get("--root"), "--no-cache" in flags, output_format)


def _read_plain(
    args: Sequence[str], *, flags: Sequence[str], valued: Sequence[str]
) -> tuple[list[str], dict[str, str], set[str]] | None:
    """(paths, option values, flags given) when every argument is plain; else None.

    `flags` take no value; `valued` options take one, as `--name VALUE` or `--name=VALUE`
    (given twice: the last one, as click takes it)."""
    paths: list[str] = []
    values: dict[str, str] = {}
    given: set[str] = set()
    with_value = tuple(f"{name}=" for name in valued)
    rest = iter(args)
    for arg in rest:
        if arg in flags:
            given.add(arg)
        elif arg in valued:
            value = next(rest, "")
            if not _plain_value(value):
                return None
            values[arg] = value
        elif arg.startswith(with_value):
            name, value = arg.split("=", 1)
            if not _plain_value(value):
                return None
            values[name] = value
        elif not _plain_value(arg):
            return None
        else:
            paths.append(arg)
    return paths, values, given


def _plain_value(value: str) -> bool:
    # Not empty and no option look-alike: click words those cases (or reads `--root -x`
    # its own way), so they go to it.
    return bool(value) and not value.startswith("-")


class PlainPlan:
    """What `specsync plan [PATH]... [--root DIR] [--lockfile FILE] [--no-cache]
    [--format F] [--detailed-exitcode] [--all]` asked for."""

    __slots__ = (
        "detailed_exitcode",
        "lockfile",
        "no_cache",
        "output_format",
        "paths",
        "root",
        "show_all",
    )

    def __init__(
        self,
        paths: tuple[str, ...],
        values: Mapping[str, str],
        flags: set[str],
    ) -> None:
        self.paths = paths
        self.root = values.get("--root")
        self.lockfile = values.get("--lockfile")
        self.output_format = values.get("--format", PLAN_FORMATS[0])
        self.no_cache = "--no-cache" in flags
        self.detailed_exitcode = "--detailed-exitcode" in flags
        self.show_all = "--all" in flags


_PLAN_FLAGS = ("--no-cache", "--detailed-exitcode", "--all")
_PLAN_VALUES = ("--root", "--lockfile", "--format")


def plain_plan(
    args: Sequence[str], environ: Mapping[str, str], streams: Sequence[TextIO | None]
) -> PlainPlan | None:
    """The plan run `args` asks for when they are plain and `streams` (stdout, stderr) are
    written as they are; else None (click reads them). `--target`, `--out` and
    `--emulator` are click's."""
    if not args or args[0] != "plan" or COMPLETION_VARIABLE in environ:
        return None
    if not all(_written_as_it_is(stream) for stream in streams):
        return None
    read = _read_plain(args[1:], flags=_PLAN_FLAGS, valued=_PLAN_VALUES)
    if read is None:
        return None
    paths, values, flags = read
    if values.get("--format", PLAN_FORMATS[0]) not in PLAN_FORMATS:
        return None
    return PlainPlan(tuple(paths), values, flags)


def _written_as_it_is(stream: TextIO | None) -> bool:
    # click.echo writes to a UTF-8 text stream as it is (`plan_run.plain_echo` does the
    # same); another encoding it may wrap (ASCII: UTF-8 with replacement), so those runs
    # go to click.
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return False
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False
