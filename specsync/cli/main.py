"""Command-line layer: parse arguments, call the core, print. No logic lives here.

Exit codes: 0 success, 1 the user's input or a submission failed, 2 `plan
--detailed-exitcode` found changes, 3 a bug in specsync, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from specsync import __version__
from specsync.cli.console import print_problems
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
NO_CACHE_OPTION = click.option(
    "--no-cache",
    is_flag=True,
    help="Compile every script afresh, bypassing the compiled-template cache "
    "($SPECSYNC_CACHE_DIR, else ~/.cache/specsync; entries are HMAC-authenticated).",
)


# Below this many scripts to compile a run takes well under a second: nothing to say.
COMPILE_NOTICE_THRESHOLD = 500


def _compiling(count: int) -> None:
    """Say why a first run (or one after many edits) takes a while, before it does."""
    if count >= COMPILE_NOTICE_THRESHOLD:
        click.echo(
            f"compiling {count:,} scripts the template cache does not hold yet "
            "(later runs reuse them)...",
            err=True,
        )


@cli.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
def validate(paths: tuple[str, ...], root: str | None, no_cache: bool) -> None:
    """Check manifests: YAML, schema, ids, templates. No network.

    PATH is a manifest file or a directory searched recursively for *.yaml/*.yml files
    that carry a `specsync:` key (default: manifests/). Every problem is printed as
    path:line:col: message, all at once. Exit 0 when valid, 1 when not.

    \b
    Examples:
      specsync validate
      specsync validate manifests/onboarding.yaml manifests/promo/
    """
    from specsync.manifests.pipeline import load_items

    items = load_items(paths, root=root, use_cache=not no_cache, on_compile=_compiling)
    videos = {item.video for item in items}
    click.echo(f"valid: {len(items)} items from {len(videos)} videos", err=True)


@cli.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
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
    paths: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    targets: tuple[str, ...],
    output_format: str,
) -> None:
    """Print each item's exact request body, as apply would send it.

    \b
    Examples:
      specsync render --target 'welcome/*'
      specsync render --format json | jq '.[0].request.text'
    """
    from specsync.manifests.pipeline import load_items, select_items

    items = select_items(
        load_items(paths, root=root, use_cache=not no_cache, on_compile=_compiling), targets
    )
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
    from specsync.manifests.schema import schema_text

    click.echo(schema_text(), nl=False)


LOCKFILE_OPTION = click.option(
    "--lockfile",
    default="specsync.lock",
    show_default=True,
    metavar="FILE",
    help="The lockfile to compare with and record into.",
)


@cli.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
@LOCKFILE_OPTION
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="json: the documented document on stdout alone; markdown: for a PR comment or "
    "$GITHUB_STEP_SUMMARY.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when anything would be created, updated or is uncertain (0: nothing to do).",
)
@click.option("--all", "show_all", is_flag=True, help="Also list unchanged items (text format).")
def plan(
    paths: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    lockfile: str,
    output_format: str,
    detailed_exitcode: bool,
    show_all: bool,
) -> None:
    """Show what apply would do, and why. No network; nothing is written.

    Compares every rendered item with the lockfile: create (new), update (what changes the
    video changed: the text diff, model or isExport; a new webhookUrl never counts),
    unchanged, orphaned (in the lockfile, gone from the manifests: kept) and uncertain (sent,
    outcome unknown: resubmitted only with `apply --retry-uncertain`).

    \b
    Examples:
      specsync plan
      specsync plan --detailed-exitcode || echo "exports pending"
      specsync plan --format markdown >> "$GITHUB_STEP_SUMMARY"
      specsync plan --format json | jq '.items[] | select(.action == "update")'
    """
    from specsync.cli.console import use_colour
    from specsync.cli.report import plan_markdown, plan_text
    from specsync.manifests.pipeline import load_items
    from specsync.plan import make_plan, plan_to_json
    from specsync.state.background import Background

    # The lockfile is read in a second process while this one renders the manifests.
    reading = Background(_read_lock_view, Path(lockfile))
    try:
        items = load_items(paths, root=root, use_cache=not no_cache, on_compile=_compiling)
    except BaseException as error:
        if isinstance(error, InputError):
            reading.result()  # a broken lockfile is reported first, as it always was
        reading.cancel()
        raise
    # The items live to the end: keep the collector from walking them while the lockfile
    # is unpickled and compared (allocation-heavy, and plan's only cost beyond validate).
    gc.freeze()
    lock = reading.result()
    result = make_plan(items, lock)
    if output_format == "json":
        click.echo(json.dumps(plan_to_json(result), ensure_ascii=False, indent=2))
    elif output_format == "markdown":
        click.echo(plan_markdown(result), nl=False)
    else:
        text = plan_text(result, colour=use_colour(sys.stderr), show_unchanged=show_all)
        click.echo(text, nl=False, err=True)
    if lock.emulator:
        click.echo(f"note: {lockfile} was written by `apply --emulator` runs", err=True)
    if detailed_exitcode and result.has_changes:
        sys.exit(EXIT_CHANGES)


def _read_lock_view(path: Path) -> Any:
    # Imported where it runs, in plan's reading process: the main one then loads only the
    # lockfile's data classes (specsync.state.lockdata), to unpickle what it is sent.
    from specsync.state.journal import read_lock_view

    return read_lock_view(path)


@cli.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
@LOCKFILE_OPTION
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="GLOB",
    help="Only items whose id matches GLOB; repeatable.",
)
@click.option(
    "--replace",
    "replace",
    multiple=True,
    metavar="GLOB",
    help="Also re-export matching items although unchanged (a bad render); repeatable.",
)
@click.option(
    "--retry-uncertain",
    is_flag=True,
    help="Resubmit items whose earlier request has an unknown outcome (may duplicate them).",
)
# Conservative defaults: a handful of requests at a time, well under any sane rate limit.
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    metavar="N",
    help="Requests in flight at once.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.01),
    default=5.0,
    show_default=True,
    metavar="R",
    help="Requests per second at most.",
)
@click.option(
    "--emulator",
    "use_emulator",
    is_flag=True,
    help="Run against the built-in emulator on a free loopback port (no account, no key; "
    "nothing is really exported).",
)
@click.option(
    "--max-items",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Refuse to start when more than N exports would be submitted.",
)
@click.option(
    "--max-minutes",
    type=click.FloatRange(min=0),
    default=None,
    metavar="M",
    help="Refuse to start when the exports add up to more than about M minutes of video "
    "(estimated from text length and language, as plan shows).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: what was submitted, failed and left uncertain, on stdout alone.",
)
def apply(
    paths: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    lockfile: str,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    retry_uncertain: bool,
    concurrency: int,
    rate: float,
    use_emulator: bool,
    max_items: int | None,
    max_minutes: float | None,
    output_format: str,
) -> None:
    """Submit new and changed items, record every projectId/taskId in the lockfile.

    Each request is journalled in .specsync/ before it is sent and its answer the moment it
    arrives, so a crash or a killed job loses nothing; a request whose answer never came is
    `uncertain` and is resubmitted only with --retry-uncertain. One apply at a time per
    lockfile. Never prompts. Exit 0 when everything is exported; 1 when anything failed or
    is uncertain (what succeeded is recorded either way).

    \b
    Credentials (environment only): AISTUDIOS_API_KEY, or AISTUDIOS_APP_ID and
    AISTUDIOS_USER_KEY; SPECSYNC_API_BASE overrides the address.

    \b
    Examples:
      specsync apply --emulator
      specsync apply --target 'welcome/*' --rate 2
      specsync apply --replace 'welcome/ko'
      specsync apply --format json > apply-report.json
      specsync apply --max-items 50 --max-minutes 30
    """
    from specsync.cli.progress import BarProgress, LogProgress
    from specsync.cli.report import apply_summary
    from specsync.manifests.pipeline import load_items
    from specsync.service import client as client_mod
    from specsync.service.apply import ApplyOptions, OverBudget, report_to_json, run_apply
    from specsync.state.journal import LockBusy

    options = ApplyOptions(
        targets=targets,
        replace=replace,
        retry_uncertain=retry_uncertain,
        concurrency=concurrency,
        rate=rate,
        emulator=use_emulator,
        max_items=max_items,
        max_minutes=max_minutes,
    )
    progress = BarProgress() if sys.stderr.isatty() else LogProgress()
    try:
        # Manifests first: their problems need no network, no credentials and no emulator,
        # and are what the user must see, whatever else is missing.
        items = load_items(paths, root=root, use_cache=not no_cache, on_compile=_compiling)
        with _api_endpoint(use_emulator) as (base, credentials):

            def make_client() -> Any:
                return client_mod.Client(base, credentials, log=progress.note)

            report = run_apply(
                items,
                Path(lockfile),
                make_client,
                options,
                progress,
                auth_error=client_mod.AuthError,
            )
    except (LockBusy, OverBudget) as error:
        raise click.ClickException(str(error)) from None
    except client_mod.ConfigError as error:
        raise click.ClickException(str(error)) from None
    if output_format == "json":
        click.echo(json.dumps(report_to_json(report), ensure_ascii=False, indent=2))
    click.echo(apply_summary(report, use_emulator), nl=False, err=True)
    if not report.ok:
        sys.exit(EXIT_INVALID)


@contextlib.contextmanager
def _api_endpoint(use_emulator: bool) -> Iterator[tuple[str, Any]]:
    """(API base, credentials): the real service from the environment, or an emulator."""
    from specsync.service import client as client_mod

    if not use_emulator:
        credentials = client_mod.credentials_from_env(os.environ)
        yield client_mod.api_base_from_env(os.environ), credentials
        return
    from specsync.emulator import EmulatorConfig, running_emulator

    with running_emulator(EmulatorConfig(render_seconds=2.0)) as emu:
        click.echo(
            f"Using the built-in emulator at {emu.url}: nothing is really exported.", err=True
        )
        yield emu.url, client_mod.Credentials(api_key="specsync-emulator-throwaway-key")


@cli.command()
@LOCKFILE_OPTION
@click.option("--wait", is_flag=True, help="Poll until every render is done or failed.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    metavar="S",
    help="With --wait: give up after S seconds (exit 1).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: {items: [{id, projectId, state, progress, downloadUrl}]} on stdout alone.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    metavar="N",
    help="Progress requests in flight at once.",
)
@click.option(
    "--emulator",
    "use_emulator",
    is_flag=True,
    help="Ask a built-in emulator (for lockfiles written by `apply --emulator`).",
)
def status(
    lockfile: str,
    wait: bool,
    timeout: float,
    output_format: str,
    concurrency: int,
    use_emulator: bool,
) -> None:
    """Bring render results into the lockfile: progress, done/failed, download URLs.

    Polls the progress of every exported item whose render is not finished. "done" and
    "failed" are recorded in the lockfile (under the apply lock; fingerprints untouched);
    progress and download URLs (short-lived) are kept in .specsync/status.json only. A
    projectId the service does not know (HTTP 404) is reported, not polled again. Exit 0
    when everything is done or still rendering; 1 when anything failed, is unknown, could
    not be read, or --wait timed out.

    \b
    Credentials (environment only): AISTUDIOS_API_KEY, or AISTUDIOS_APP_ID and
    AISTUDIOS_USER_KEY; SPECSYNC_API_BASE overrides the address.

    \b
    Examples:
      specsync status
      specsync status --wait --timeout 900
      specsync status --emulator --wait
      specsync status --format json | jq -r '.items[] | select(.state == "done") | .downloadUrl'
    """
    from specsync.service import client as client_mod
    from specsync.service.status import (
        ServiceMismatch,
        StatusOptions,
        check_service,
        run_status,
        text_report,
    )
    from specsync.state.journal import LockBusy, read_lock_view

    path = Path(lockfile)
    # With the journal of an interrupted apply folded in: exports it recorded before it
    # died are polled too, before the next apply writes them into the lockfile.
    lock = read_lock_view(path)
    try:
        api_base = None if use_emulator else client_mod.api_base_from_env(os.environ)
        check_service(lock, lockfile, api_base)
        with _api_endpoint(use_emulator) as (base, credentials):

            def log(line: str) -> None:
                click.echo(line, err=True)

            def make_client() -> Any:
                return client_mod.Client(
                    base, credentials, max_attempts=3, max_retry_seconds=15.0, log=log
                )

            options = StatusOptions(wait=wait, timeout=timeout, concurrency=concurrency)
            report = run_status(
                path, make_client, options, log, not_found=client_mod.ClientError, lock=lock
            )
    except LockBusy as error:
        raise click.ClickException(
            f"{error} (status records results under the same lock; try again when it ends)"
        ) from None
    except (ServiceMismatch, client_mod.ConfigError, client_mod.AuthError) as error:
        raise click.ClickException(str(error)) from None
    if output_format == "json":
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    click.echo(text_report(report), nl=False, err=True)
    if not report.ok:
        sys.exit(EXIT_INVALID)


@cli.command()
@click.argument("patterns", nargs=-1, required=True, metavar="GLOB...")
@LOCKFILE_OPTION
def forget(patterns: tuple[str, ...], lockfile: str) -> None:
    """Drop lockfile entries whose item id matches GLOB (orphans, mistakes).

    Nothing is deleted remotely. The dropped entries' ids move to the lockfile's
    `forgotten` section, so no id is ever lost; a forgotten item still in the manifests is
    planned as `create` again. Takes the apply lock. Exit 1 when nothing matches.

    \b
    Examples:
      specsync forget 'old-promo/*'
      specsync forget welcome/ko
    """
    from specsync.service.apply import forget_matching
    from specsync.state.journal import LockBusy

    try:
        dropped = forget_matching(Path(lockfile), patterns)
    except LockBusy as error:
        raise click.ClickException(str(error)) from None
    if not dropped:
        raise click.ClickException(f"no entry in {lockfile} matches {' '.join(patterns)}")
    for item_id in dropped:
        click.echo(f"forgot {item_id}", err=True)
    click.echo(
        f"{len(dropped)} entries dropped from {lockfile} (ids kept under [forgotten])", err=True
    )


@cli.command("merge-driver")
@click.argument("base", metavar="%O")
@click.argument("ours", metavar="%A")
@click.argument("theirs", metavar="%B")
def merge_driver(base: str, ours: str, theirs: str) -> None:
    """Git merge driver for specsync.lock: merges entry by entry into %A.

    Two branches that exported different items merge cleanly. The same item exported on
    both sides with different projectIds is a conflict: both ids stay in the file (marked
    with a `# CONFLICT:` comment) and the exit code is 1.

    \b
    Example (set up once per repository):
      echo 'specsync.lock merge=specsync' >> .gitattributes
      git config merge.specsync.driver "specsync merge-driver %O %A %B"
    """
    from specsync.state.lockfile_merge import merge_text_files

    conflicts = merge_text_files(Path(base), Path(ours), Path(theirs))
    for message in conflicts:
        click.echo(f"specsync.lock: {message}", err=True)
    if conflicts:
        sys.exit(EXIT_INVALID)


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
    import tempfile

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
