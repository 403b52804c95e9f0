"""Options and arguments several commands share."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# announce_compile lives with the other printing (validate reaches it without click); kept
# importable from here for the commands that take it from their options.
from specsync.cli.console import COMPILE_NOTICE_THRESHOLD as COMPILE_NOTICE_THRESHOLD
from specsync.cli.console import announce_compile as announce_compile
from specsync.manifests.project_root import (
    default_lockfile,
    default_manifest_paths,
    lockfile_for_mode,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.decorators import FC

ROOT_OPTION = click.option(
    "--root",
    metavar="DIR",
    help="Manifest root that {% include %} resolves against (default: the one directory "
    "named, else manifests/, else the current directory).",
)


def _project_manifests(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    # No PATH: the manifests/ of the project found upwards (like git finds .git).
    return value or default_manifest_paths(Path.cwd())


PATHS_ARGUMENT = click.argument("paths", nargs=-1, metavar="[PATH]...", callback=_project_manifests)
NO_CACHE_OPTION = click.option(
    "--no-cache",
    is_flag=True,
    help="Compile and render every script afresh, bypassing the cache "
    "($SPECSYNC_CACHE_DIR, else ~/.cache/specsync; entries are HMAC-authenticated; "
    "plan also keeps what it learnt of a lockfile and of fingerprints there).",
)


_LOCKFILE_GIVEN = "specsync.lockfile_given"


def _project_lockfile(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    # Kept for `mode_lockfile`: an `--emulator` run uses its own lockfile unless one is given.
    ctx.meta[_LOCKFILE_GIVEN] = value
    return value if value is not None else default_lockfile(Path.cwd())


def mode_lockfile(lockfile: str, use_emulator: bool, *, create: bool = False) -> str:
    """The lockfile of this command in this mode (`lockfile_for_mode` decides)."""
    given = click.get_current_context().meta.get(_LOCKFILE_GIVEN, lockfile)
    return lockfile_for_mode(Path.cwd(), given, emulator=use_emulator, create=create)


LOCKFILE_OPTION = click.option(
    "--lockfile",
    default=None,
    callback=_project_lockfile,
    metavar="FILE",
    help="The lockfile to compare with and record into (default: specsync.lock of the "
    "project: the nearest folder, from here upwards, holding specsync.lock or "
    "specsync.yaml; else here). With --emulator: the project's .specsync/emulator.lock.",
)


class FiniteFloat(click.FloatRange):
    """A float within bounds that is never NaN or infinite.

    click's FloatRange lets NaN through (every comparison with NaN is false), and an
    infinite --rate or --timeout silently switches a limit off: both are usage errors.
    """

    name = "finite float"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        number: float = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        result: float = super().convert(number, param, ctx)
        return result


# Options several commands declare with their own help: bounds and defaults live here once.


def format_option(choices: tuple[str, ...], help: str) -> Callable[[FC], FC]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=help,
    )


def target_option(
    help: str = "Only items whose id (VIDEO/LOCALE) matches GLOB; repeatable.",
) -> Callable[[FC], FC]:
    return click.option("--target", "targets", multiple=True, metavar="GLOB", help=help)


def concurrency_option(
    help: str, *, default: int | None = 4, maximum: int = 64
) -> Callable[[FC], FC]:
    # Conservative default for polling: a handful of requests at a time. apply passes
    # default=None: its --rate paces it, and --concurrency is only a bound the user may set.
    return click.option(
        "--concurrency",
        type=click.IntRange(1, maximum),
        default=default,
        show_default=default is not None,
        metavar="N",
        help=help,
    )


def emulator_flag(help: str) -> Callable[[FC], FC]:
    return click.option("--emulator", "use_emulator", is_flag=True, help=help)
