"""emulator: run the built-in AI Studios emulator in the foreground."""

from __future__ import annotations

import click

from specsync.emulator import EmulatorConfig
from specsync.emulator.cli_run import serve_until_stopped


def _comma_list(
    context: click.Context, parameter: click.Parameter, value: str | None
) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = tuple(part.strip() for part in value.split(",") if part.strip())
    if not items:
        raise click.BadParameter("give at least one id", context, parameter)
    return items


@click.command()
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
    help="Lifetime of issued tokens (JWTs whose `exp` says so), seconds.",
)
@click.option(
    "--url-ttl",
    type=float,
    default=3600.0,
    show_default=True,
    metavar="S",
    help="Lifetime of download URLs, seconds; afterwards they answer 410.",
)
@click.option(
    "--refuse-model",
    "refuse_models",
    multiple=True,
    metavar="GLOB",
    help="Refuse exports of matching models (HTTP 200, success: false). Repeatable.",
)
@click.option(
    "--models",
    callback=_comma_list,
    metavar="A,B",
    help="Model ids the model lists (GET /api/odin/v3/model, /api/odin/v3/dropdown/models) "
    "name; default: the vendor's stock sample model M000045058. Any model is accepted.",
)
@click.option(
    "--unlisted-models",
    is_flag=True,
    default=None,
    help="The model lists name only the stock sample model, whatever --models says: the "
    "manifests' models are missing, as custom avatars may be on the real service.",
)
@click.option(
    "--workspaces",
    callback=_comma_list,
    metavar="A,B",
    help="Workspace ids GET /api/odin/v3/dropdown/workspaces lists.",
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

    Speaks the export API (POST /api/odin/v3/simple/custom, and the vendor sample's
    /api/odin/v3/simple/video), the progress, auth, model, workspace and project endpoints
    in the shapes the vendor documents (docs/vendor.md), serves a small MP4 per finished
    project, simulates rendering and webhooks, and injects faults on request. The project
    endpoints answer only what this emulator made (and what --journal recorded before).
    Every answer carries an X-Specsync-Emulator header.
    The bound URL is printed on the first line of stdout. Stop with Ctrl-C or SIGTERM.

    \b
    Examples:
      specsync emulator --port 8765
      specsync emulator --port 0 --drop-rate 0.05 --seed 7 --journal emulator.jsonl
      specsync emulator --unlisted-models --refuse-model 'M0000*' --url-ttl 60
    """

    # Unset flags (None) leave the config's own defaults, e.g. the model list.
    given = {name: value for name, value in options.items() if value is not None}
    config = EmulatorConfig(**given)  # type: ignore[arg-type]
    problems = config.problems()
    if problems:
        raise click.UsageError("; ".join(problems))
    serve_until_stopped(config, lambda url: click.echo(url))
