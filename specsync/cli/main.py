"""Command-line layer: parse arguments, call the core, print. No logic lives here.

Exit codes: 0 success, 1 the user's input or a submission failed, 2 `plan
--detailed-exitcode` found changes, 3 a bug in specsync, 130 interrupted.

This module is the console script's entry and imports no click: a plain `specsync
validate` (the pre-commit hook's run) goes straight to its work (cli/fast_path.py), and
everything else through the click group (cli/group.py), imported only then. It imports
the model only inside main(), after deferring what start-up need not load (cli/deferred.py).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from specsync import __version__
from specsync.cli.deferred import defer_unused_modules
from specsync.cli.exit_codes import (
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
)
from specsync.cli.fast_path import PlainPlan, PlainValidate, plain_plan, plain_validate


def __getattr__(name: str) -> Any:
    # `main.cli` (the click group) and `main.COMMANDS`, where callers and tests have always
    # found them; loaded on first use so that the fast path never imports click.
    if name in ("cli", "COMMANDS", "LazyGroup"):
        from specsync.cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _crash_log(error: BaseException) -> Path:
    import datetime
    import tempfile
    import traceback

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.gettempdir()) / f"specsync-crash-{stamp}-{os.getpid()}.log"
    path.write_text(
        f"specsync {__version__}\n{sys.argv!r}\n\n"
        + "".join(traceback.format_exception(type(error), error, error.__traceback__)),
        encoding="utf-8",
    )
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: map outcomes to exit codes (1 input, 3 bug, 130 interrupted)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    # Before anything imports dataclasses (model does): it imports inspect, seldom used.
    # Only for validate, the pre-commit hook's command, and a plain plan (CI's, read
    # without click), where its ~8 ms count; every other command keeps the real module
    # from the start.
    plain = _plain_command(args)
    if args[:1] == ["validate"] or plain is not None:
        defer_unused_modules()
    from specsync.cli.console import print_problems, shown
    from specsync.errors import UserError
    from specsync.model import InputError

    # One run builds a few hundred thousand small objects that live until it ends; the
    # cyclic collector's default (a pass every 700 allocations) walks them over and over,
    # about a tenth of a large validate. Cycles are still collected, just less often.
    gc.set_threshold(10_000, 10, 10)
    try:
        code = _run(args, plain)
    except InputError as error:
        print_problems(error.problems)
        code = EXIT_INVALID
    except UserError as error:
        # Messages may quote server-chosen ids (a full disk lists the answers it kept).
        _say(f"Error: {shown(str(error), keep_newlines=True)}")
        code = EXIT_INVALID
    except KeyboardInterrupt:
        _say("interrupted")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more is said, exit 1, as click answers
        # it for the commands it runs; what is still buffered goes nowhere, so Python's own
        # flush at exit fails no more (the recipe in the docs of Python's signal module).
        _discard_output()
        code = EXIT_INVALID
    except Exception as error:
        code = _click_outcome(error)
        if code is None:
            if debug:
                import traceback

                traceback.print_exc()
            log = _crash_log(error)
            _say(
                f"specsync: internal error (a bug in specsync, not in your input): "
                f"{type(error).__name__}. Details: {log}"
            )
            code = EXIT_BUG
    if argv is None:
        # The console script's call: the process ends here, and what is left is freed by
        # the exit. Frozen, it is skipped by the interpreter's last collections, which
        # otherwise walk every object still alive (~9 ms of a 70 ms one-file validate).
        # Python never promised __del__ for objects alive at exit; atexit still runs.
        gc.freeze()
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _plain_command(args: list[str]) -> PlainValidate | PlainPlan | None:
    """`validate` or `plan` with plain arguments, read without click (cli/fast_path.py);
    else None."""
    found = plain_validate(args, os.environ)
    if found is not None:
        return found
    return plain_plan(args, os.environ, (sys.stdout, sys.stderr))


def _run(args: list[str], plain: PlainValidate | PlainPlan | None) -> Any:
    """Run the command `args` name (`plain`: read without click); its exit code (None or a
    non-int: 0)."""
    if plain is None:
        from specsync.cli.group import cli

        return cli.main(args=args, prog_name="specsync", standalone_mode=False)
    try:
        if isinstance(plain, PlainPlan):
            return _run_plain_plan(plain)
        return _run_plain_validate(plain)
    except KeyboardInterrupt:
        print(file=sys.stderr)  # the blank line click prints after ^C, so both runs look alike
        raise


def _run_plain_validate(plain: PlainValidate) -> int:
    """A plain `validate`: what the click command does with the same arguments."""
    from specsync.cli.validate_run import run_validate
    from specsync.manifests.project_root import default_manifest_paths

    # No PATH: the manifests/ of the project found upwards, as the click argument does.
    paths = plain.paths or default_manifest_paths(Path.cwd())
    return run_validate(paths, plain.root, plain.no_cache, plain.output_format)


def _run_plain_plan(plain: PlainPlan) -> int:
    """A plain `plan`: what the click command does with the same arguments."""
    from specsync.cli.plan_run import run_plan
    from specsync.manifests.project_root import default_lockfile, default_manifest_paths

    # The defaults of the click options: the project's manifests/ and specsync.lock.
    paths = plain.paths or default_manifest_paths(Path.cwd())
    lockfile = plain.lockfile if plain.lockfile is not None else default_lockfile(Path.cwd())
    return run_plan(
        paths,
        plain.root,
        plain.no_cache,
        lockfile,
        plain.output_format,
        plain.detailed_exitcode,
        plain.show_all,
    )


def _click_outcome(error: Exception) -> int | None:
    """The exit code for an error click raised (after saying what it is); None for others."""
    click = sys.modules.get("click")
    if click is None:
        return None
    if isinstance(error, click.exceptions.Abort):  # Ctrl-C or end of input at a prompt
        _say("interrupted")
        return EXIT_INTERRUPTED
    if isinstance(error, click.ClickException):
        # Usage errors are the user's input too: exit 1, never 2, which means "changes"
        # under plan --detailed-exitcode.
        error.show()
        return EXIT_INVALID
    return None


def _discard_output() -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        # A stream without a descriptor (a test's buffer) keeps what it holds.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            os.dup2(null, stream.fileno())
    os.close(null)


def _say(message: str) -> None:
    """One line on stderr, flushed, as click.echo(err=True) writes it (nothing when there is
    no stderr at all)."""
    if sys.stderr is not None:
        print(message, file=sys.stderr, flush=True)
