"""The click command group: every command by name, each command's module loaded when it runs.

`specsync.cli.main` imports this only when click has to read the arguments: a plain
`specsync validate` (the pre-commit hook's run) is read without click (cli/fast_path.py).
"""

from __future__ import annotations

import importlib

import click

from specsync import __version__

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
