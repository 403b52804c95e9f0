"""plan's work and its report, without click.

The `plan` command and main's fast path (cli/fast_path.py) both end here, so the two print
the same bytes and exit alike; each passes the writer it prints with (`click.echo`, or
`plain_echo` where click would write to the stream as it is).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from specsync.cli.exit_codes import EXIT_CHANGES, EXIT_OK
from specsync.model import InputError

if TYPE_CHECKING:
    from specsync.model import Item
    from specsync.plan import Plan
    from specsync.render.cache import TemplateCache
    from specsync.state.lockfile_data import Lockfile

# click.echo's signature, as far as plan uses it; what saves the plan (`plan --out`).
Echo = Callable[..., object]
Save = Callable[["Plan", "list[Item]", "Lockfile"], None]

# The cache folders of what plan remembers between runs (`plan_store`).
SKIMS, FINGERPRINTS = "lockfile-skims", "plan-fingerprints"

# click's own expression for an ANSI escape sequence (click/_compat.py, `_ansi_re`).
_ANSI = r"\033\[[0-?]*[ -/]*[@-~]"


def plain_echo(message: str, *, err: bool = False, nl: bool = True) -> None:
    """What click.echo does with text on a stream it writes as it is (UTF-8): the text and
    a line break, ANSI sequences taken out unless the stream is a terminal, flushed."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:  # no stream attached (pythonw): click writes nothing either
        return
    out = message + "\n" if nl else message
    if "\x1b" in out and not stream.isatty():
        out = re.sub(_ANSI, "", out)
    if out:
        stream.write(out)
    stream.flush()


def run_plan(
    paths: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    lockfile: str,
    output_format: str,
    detailed_exitcode: bool,
    show_all: bool,
    targets: tuple[str, ...] = (),
    echo: Echo = plain_echo,
    save: Save | None = None,
) -> int:
    """Plan the manifests at `paths` against `lockfile`, print it (and `save` it, when
    given) and the notes; the exit code."""
    # JSON names every item's export and a saved plan digests every entry: for them the
    # entries are made as read; text and Markdown never look at an unchanged item's entry.
    on_demand = output_format != "json" and save is None
    items, known, lock = load_plan_inputs(paths, root, no_cache, Path(lockfile), on_demand)
    from specsync.plan import make_plan, pending_outside, require_matches, restricted

    require_matches("--target", targets, known)
    full = make_plan(items, lock, known)
    result = restricted(full, targets)
    outside = pending_outside(full, targets)
    print_plan(result, output_format, show_all, echo)
    if save is not None:
        save(full, items, lock)
    print_plan_notes(lockfile, len(items), outside, lock.emulator, echo)
    return EXIT_CHANGES if detailed_exitcode and result.has_changes else EXIT_OK


def load_plan_inputs(
    paths: tuple[str, ...], root: str | None, no_cache: bool, lockfile: Path, on_demand: bool
) -> tuple[list[Item], dict[str, str], Lockfile]:
    """The manifests' items, their fingerprints by id and the lockfile read knowing them
    (the entries of unchanged exports made only when asked for, if `on_demand`)."""
    # The manifests first: the lockfile is then read knowing every item's fingerprint, so
    # only the entries of items that differ are read whole, and those of unchanged exports
    # are only checked (one CPU is enough: no second process, no pickling of 10,000
    # entries). A broken lockfile is still reported when the manifests have problems too,
    # first, as it always was.
    from specsync.cli.console import announce_compile, print_warnings
    from specsync.manifests.pipeline import load_items
    from specsync.model import Problem

    warnings: list[Problem] = []
    try:
        items = load_items(
            paths,
            root=root,
            use_cache=not no_cache,
            on_compile=announce_compile,
            warnings=warnings,
            # Imported while a split run's second process pickles its half (measured:
            # 0.294 against 0.302 s on the bench's 10k plan), else after the manifests.
            while_waiting=import_plan_modules,
        )
    except InputError:
        from specsync.state.journal import read_lock_view

        read_lock_view(lockfile)
        raise
    print_warnings(warnings)
    from specsync.state.journal import read_lock_view
    from specsync.state.lockfile_skim_memo import SkimMemo

    # What plan remembers, by the lockfile's path, of its last items' fingerprints and,
    # by the lockfile's bytes, of where their exports stand in it: from the second plan of
    # a lockfile on (planned_before), and neither with --no-cache.
    place = os.path.abspath(lockfile)  # a key only: no symlink is followed
    remember, known = items_fingerprints(items, place, enabled=not no_cache)
    with plan_store(SKIMS, enabled=remember) as skims:
        memo = SkimMemo(skims, place) if remember else None
        return items, known, read_lock_view(lockfile, known, on_demand=on_demand, memo=memo)


def import_plan_modules() -> None:
    """Import what plan runs once the manifests are read (its wing, the lockfile's reader,
    its memos and its text report)."""
    import specsync.cli.report_text
    import specsync.plan
    import specsync.plan.fingerprint_memo
    import specsync.state.journal  # noqa: F401


def items_fingerprints(
    items: list[Item], place: str, *, enabled: bool
) -> tuple[bool, dict[str, str]]:
    """(whether plan keeps memos of the lockfile at `place`, the items' fingerprints), the
    memo of fingerprints read, written and let go here: not held while the lockfile is."""
    from specsync.plan.fingerprint_memo import planned_before, remembered_fingerprints

    with plan_store(FINGERPRINTS, enabled=enabled) as kept:
        remember = enabled and planned_before(kept, place)
        return remember, remembered_fingerprints(items, kept if remember else None, place)


def plan_store(kind: str, *, enabled: bool) -> TemplateCache:
    """Where plan remembers what it learnt of a lockfile (`SKIMS`: state/lockfile_skim_memo)
    or of its items' fingerprints (`FINGERPRINTS`: plan/fingerprint_memo): in the cache
    folder, authenticated as compiled templates are; none with `--no-cache`."""
    from specsync.render.cache import TemplateCache

    if kind == SKIMS:
        from specsync.state.lockfile_skim import MEMO_VERSION as version
    else:
        from specsync.plan.fingerprint_memo import STORE_VERSION as version
    return TemplateCache(version, enabled=enabled, folder=kind)


def print_plan(result: Plan, output_format: str, show_all: bool, echo: Echo) -> None:
    """The plan on stdout, as JSON, Markdown or text."""
    if output_format == "json":
        from specsync.cli.report_json import plan_document

        echo(json.dumps(plan_document(result), ensure_ascii=False, indent=2))
    elif output_format == "markdown":
        from specsync.cli.report_markdown import plan_markdown

        echo(plan_markdown(result), nl=False)
    else:
        from specsync.cli.console import use_colour
        from specsync.cli.report_text import plan_text

        text = plan_text(result, colour=use_colour(sys.stdout), show_unchanged=show_all)
        echo(text, nl=False)


def print_plan_notes(
    lockfile: str, item_count: int, outside: int, emulator: bool, echo: Echo = plain_echo
) -> None:
    """The notes on stderr: no lockfile yet, pending items outside --target, a rehearsal."""
    from specsync.cli.console import counted

    if not Path(lockfile).exists():
        new = "the 1 item is new" if item_count == 1 else f"all {item_count} items are new"
        echo(f"note: no lockfile yet ({lockfile}): {new}", err=True)
    if outside:
        lie = "lies" if outside == 1 else "lie"
        echo(f"note: {counted(outside, 'more pending item')} {lie} outside --target", err=True)
    if emulator:
        echo(f"note: {lockfile} was written by `apply --emulator` runs", err=True)
