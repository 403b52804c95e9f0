"""`specsync validate` read without click, for the plain arguments a hook or CI passes.

Importing click and building the command group is about a sixth of a one-file validate,
the pre-commit case (issue 28). The few shapes below are read by hand here: a parser
library would cost the import this module exists to avoid, and click stays the one parser
of everything else. Anything unusual (`--help`, `--debug`, an option it does not know, a
value that starts with `-`, `--` itself, an empty argument, shell completion) returns None
and click reads it as before, so usage errors and help keep click's own words.
tests/cli/test_fast_path.py runs every shape both ways and compares output and exit code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

FORMATS = ("text", "json")
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
    paths: list[str] = []
    values: dict[str, str] = {}
    no_cache = False
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--no-cache":
            no_cache = True
        elif arg in ("--root", "--format"):
            value = next(rest, "")
            if not _plain_value(value):
                return None
            values[arg] = value  # given twice: the last one, as click takes it
        elif arg.startswith(("--root=", "--format=")):
            name, value = arg.split("=", 1)
            if not _plain_value(value):
                return None
            values[name] = value
        elif not _plain_value(arg):
            return None
        else:
            paths.append(arg)
    output_format = values.get("--format", FORMATS[0])
    if output_format not in FORMATS:
        return None
    return PlainValidate(tuple(paths), values.get("--root"), no_cache, output_format)


def _plain_value(value: str) -> bool:
    # Not empty and no option look-alike: click words those cases (or reads `--root -x`
    # its own way), so they go to it.
    return bool(value) and not value.startswith("-")
