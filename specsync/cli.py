"""Command-line layer: parse arguments, call the core, print. No logic lives here.

Exit codes: 0 success, 1 the user's input or a submission failed, 2 `plan
--detailed-exitcode` found changes, 3 a bug in specsync, 130 interrupted.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from specsync import __version__
from specsync.console import print_problems
from specsync.model import InputError

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_CHANGES = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def not_implemented(command: str) -> None:
    click.echo(f"specsync {command}: not implemented yet", err=True)
    sys.exit(EXIT_INVALID)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


ROOT_OPTION = click.option(
    "--root",
    metavar="DIR",
    help="Manifest root that {% include %} resolves against (default: the one directory "
    "named, else manifests/, else the current directory).",
)
PATHS_ARGUMENT = click.argument("paths", nargs=-1, metavar="[PATH]...")


@cli.command()
@PATHS_ARGUMENT
@ROOT_OPTION
def validate(paths: tuple[str, ...], root: str | None) -> None:
    """Check manifests: YAML, schema, ids, templates. No network.

    PATH is a manifest file or a directory searched recursively for *.yaml/*.yml files
    that carry a `specsync:` key (default: manifests/). Every problem is printed as
    path:line:col: message, all at once. Exit 0 when valid, 1 when not.

    \b
    Examples:
      specsync validate
      specsync validate manifests/onboarding.yaml manifests/promo/
    """
    from specsync.pipeline import load_items

    items = load_items(paths, root=root)
    videos = {item.video for item in items}
    click.echo(f"valid: {len(items)} items from {len(videos)} videos", err=True)


@cli.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="GLOB",
    help="Only items whose id (VIDEO/LOCALE) matches GLOB; repeatable.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one array sorted by item id, on stdout alone.",
)
def render(
    paths: tuple[str, ...], root: str | None, targets: tuple[str, ...], output_format: str
) -> None:
    """Print each item's exact request body, as apply would send it.

    \b
    Examples:
      specsync render --target 'welcome/*'
      specsync render --format json | jq '.[0].request.text'
    """
    from specsync.pipeline import load_items, select_items

    items = select_items(load_items(paths, root=root), targets)
    if output_format == "json":
        records = [
            {"id": item.id, "request": dict(item.request), "source": item.source.short}
            for item in items
        ]
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    for item in items:
        click.echo(f"# {item.id}  ({item.source.short})")
        click.echo(json.dumps(dict(item.request), ensure_ascii=False, indent=2))
    click.echo(f"{len(items)} items", err=True)


@cli.command()
def schema() -> None:
    """Print the manifest JSON Schema (draft 2020-12).

    Point editors at it for completion and hover docs, with this first line in a manifest:
    # yaml-language-server: $schema=schemas/manifest.schema.json

    \b
    Examples:
      specsync schema > manifest.schema.json
    """
    from specsync.schema import schema_text

    click.echo(schema_text(), nl=False)


@cli.command()
def plan() -> None:
    """Show what apply would do. No network."""
    not_implemented("plan")


@cli.command()
def apply() -> None:
    """Submit new and changed items and record their ids in the lockfile."""
    not_implemented("apply")


@cli.command()
def status() -> None:
    """Bring render progress and results into the lockfile."""
    not_implemented("status")


@cli.command()
def forget() -> None:
    """Drop lockfile entries matching a glob (their ids stay in history)."""
    not_implemented("forget")


@cli.command("merge-driver")
def merge_driver() -> None:
    """Git merge driver for specsync.lock."""
    not_implemented("merge-driver")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--api-key",
    envvar="SPECSYNC_EMULATOR_API_KEY",
    metavar="KEY",
    help="Accept only this key (or tokens from the auth endpoint); default: any non-empty.",
)
@click.option("--app-id", metavar="ID", help="appId the auth endpoint accepts (default: any).")
@click.option("--user-key", metavar="KEY", help="userKey the auth endpoint accepts (default: any).")
@click.option(
    "--token-ttl",
    type=float,
    default=86400.0,
    show_default=True,
    metavar="S",
    help="Lifetime of issued tokens, seconds.",
)
@click.option("--latency", type=float, default=0.0, metavar="S", help="Delay before answering.")
@click.option(
    "--render-seconds",
    type=float,
    default=3.0,
    show_default=True,
    metavar="S",
    help="How long a simulated render takes.",
)
@click.option(
    "--render-fail-rate",
    type=float,
    default=0.0,
    metavar="P",
    help="Share of renders that end 'failed'.",
)
@click.option(
    "--throttle-rate",
    type=float,
    default=0.0,
    metavar="P",
    help="Share of exports answered 429 + Retry-After (not processed).",
)
@click.option(
    "--fail-rate",
    type=float,
    default=0.0,
    metavar="P",
    help="Share of exports answered 503 (not processed).",
)
@click.option(
    "--drop-rate",
    type=float,
    default=0.0,
    metavar="P",
    help="Share of exports processed, then closed without an answer.",
)
@click.option(
    "--rate-limit",
    type=float,
    default=None,
    metavar="N",
    help="API requests per second (burst N); beyond it 429 + Retry-After.",
)
@click.option(
    "--retry-after",
    type=float,
    default=1.0,
    show_default=True,
    metavar="S",
    help="Retry-After of injected 429/503 answers.",
)
@click.option("--seed", type=int, default=None, help="Seed for reproducible faults.")
@click.option(
    "--journal", metavar="FILE", help="Append one JSON line per processed export (and webhook)."
)
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
def emulator(**options: object) -> None:
    """Run the built-in AI Studios emulator on loopback.

    Speaks the export API of the seed (POST /api/odin/v3/simple/custom), the progress and
    auth-token endpoints, simulates rendering and webhooks, and injects faults on request.
    The bound URL is printed on the first line of stdout. Stop with Ctrl-C or SIGTERM.

    \b
    Examples:
      specsync emulator --port 8765
      specsync emulator --port 0 --drop-rate 0.05 --seed 7 --journal emulator.jsonl
    """
    from specsync.emulator import EmulatorConfig
    from specsync.emulator.cli_run import serve_until_stopped

    config = EmulatorConfig(**options)  # type: ignore[arg-type]
    problems = config.problems()
    if problems:
        raise click.UsageError("; ".join(problems))
    serve_until_stopped(config, lambda url: click.echo(url))


def _crash_log(error: BaseException) -> Path:
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
    try:
        code = cli.main(args=argv, prog_name="specsync", standalone_mode=False)
    except InputError as error:
        print_problems(error.problems)
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
            traceback.print_exc()
        log = _crash_log(error)
        click.echo(
            f"specsync: internal error (a bug in specsync, not in your input): "
            f"{type(error).__name__}. Details: {log}",
            err=True,
        )
        code = EXIT_BUG
    sys.exit(code if isinstance(code, int) else EXIT_OK)
