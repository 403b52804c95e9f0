"""Command-line layer: parse arguments, call the core, print. No logic lives here.

Exit codes: 0 success, 1 the user's input or a submission failed, 2 `plan
--detailed-exitcode` found changes, 3 a bug in specsync, 130 interrupted.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from specsync import __version__
from specsync.cli.console import print_problems, shown
from specsync.cli.exit_codes import (
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
)
from specsync.errors import UserError
from specsync.model import InputError

# Every command, by name: the module that defines it and the function's name there. A
# command's module (and what it imports: Jinja, requests, the emulator) is imported only
# when that command runs, or when --help lists them all: `specsync validate` never pays
# for `apply`. tests/cli/test_lazy_commands.py checks this table against the modules.
COMMANDS: dict[str, tuple[str, str]] = {
    "adopt": ("specsync.cli.adopt_command", "adopt"),
    "apply": ("specsync.cli.service_commands", "apply"),
    "doctor": ("specsync.cli.doctor_command", "doctor"),
    "emulator": ("specsync.cli.emulator_command", "emulator"),
    "forget": ("specsync.cli.lockfile_commands", "forget"),
    "init": ("specsync.cli.init_command", "init"),
    "merge-driver": ("specsync.cli.lockfile_commands", "merge_driver"),
    "plan": ("specsync.cli.plan_command", "plan"),
    "pull": ("specsync.cli.pull_command", "pull"),
    "reconcile": ("specsync.cli.reconcile_command", "reconcile"),
    "render": ("specsync.cli.render_command", "render"),
    "review": ("specsync.cli.review_command", "review"),
    "schema": ("specsync.cli.schema_command", "schema"),
    "status": ("specsync.cli.status_command", "status"),
    "strings": ("specsync.cli.strings_command", "strings"),
    "validate": ("specsync.cli.validate_command", "validate"),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module when the command is asked for."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self.lazy[cmd_name]
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        return command


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="specsync")
@click.option("--debug", is_flag=True, help="Show full tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Avatar videos as code: validate YAML manifests, plan and apply AI Studios exports.

    \b
    specsync validate            check manifests/ (no network)
    specsync plan                what apply would submit, against specsync.lock
    specsync apply --emulator    try the whole job on the built-in emulator
    """
    ctx.obj = {"debug": debug}


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
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    # One run builds a few hundred thousand small objects that live until it ends; the
    # cyclic collector's default (a pass every 700 allocations) walks them over and over,
    # about a tenth of a large validate. Cycles are still collected, just less often.
    gc.set_threshold(10_000, 10, 10)
    try:
        code = cli.main(args=argv, prog_name="specsync", standalone_mode=False)
    except InputError as error:
        print_problems(error.problems)
        code = EXIT_INVALID
    except UserError as error:
        # Messages may quote server-chosen ids (a full disk lists the answers it kept).
        click.echo(f"Error: {shown(str(error), keep_newlines=True)}", err=True)
        code = EXIT_INVALID
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except click.ClickException as error:
        # Usage errors are the user's input too: exit 1, never 2, which means "changes"
        # under plan --detailed-exitcode.
        error.show()
        code = EXIT_INVALID
    except BrokenPipeError:
        # Output piped into `head` and friends: not an error of ours.
        sys.stderr.close()
        code = EXIT_OK
    except Exception as error:
        if debug:
            import traceback

            traceback.print_exc()
        log = _crash_log(error)
        click.echo(
            f"specsync: internal error (a bug in specsync, not in your input): "
            f"{type(error).__name__}. Details: {log}",
            err=True,
        )
        code = EXIT_BUG
    sys.exit(code if isinstance(code, int) else EXIT_OK)
