"""adopt: record an export that already exists (the lockfile's `import`)."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from specsync.cli.console import counted, shown
from specsync.cli.endpoint import api_endpoint, emulator_journal, polling_client
from specsync.cli.options import (
    LOCKFILE_OPTION,
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    announce_compile,
    emulator_flag,
    format_option,
    mode_lockfile,
)
from specsync.manifests.pipeline import load_items
from specsync.service import credentials as credentials_mod
from specsync.service.adopt import AdoptRefused, verify_export
from specsync.service.adopt import adopt as run_adopt
from specsync.service.credentials import API_KEY_ENV, USER_KEY_ENV

if TYPE_CHECKING:
    from specsync.service.adopt import Adopted


@click.command()
@click.argument("item_id", metavar="ITEM")
@PATHS_ARGUMENT
@ROOT_OPTION
@NO_CACHE_OPTION
@LOCKFILE_OPTION
@click.option(
    "--project-id", required=True, metavar="ID", help="The export's projectId in AI Studios."
)
@click.option(
    "--task-id",
    default=None,
    metavar="ID",
    help='Its taskId, when known (recorded as "unknown" otherwise).',
)
@click.option(
    "--no-check",
    is_flag=True,
    help="Record the ids without asking the service whether the projectId exists.",
)
@emulator_flag(
    "Rehearse on the built-in emulator and its lockfile (.specsync/emulator.lock), with "
    "ids an `apply --emulator` made."
)
@format_option(
    ("text", "json"),
    "json: {id, projectId, taskId, checked, written, replacedProjectId, recovered, "
    "serviceState, done, creditCharged} on stdout alone.",
)
def adopt(
    item_id: str,
    paths: tuple[str, ...],
    root: str | None,
    no_cache: bool,
    lockfile: str,
    project_id: str,
    task_id: str | None,
    no_check: bool,
    use_emulator: bool,
    output_format: str,
) -> None:
    """Record an export that already exists as ITEM's current one; nothing is exported.

    For an item left `uncertain` whose video you found in AI Studios (`specsync reconcile`
    finds it for you), or a video made before specsync: plan then shows it unchanged and
    apply never pays for it again. ITEM must be in the manifests; its current script is
    what gets recorded. The projectId is checked with the service first unless --no-check:
    the project endpoint (the progress endpoint where that answers 404) must know it and
    not report it failed; whether credit was charged is shown, and a finished render is
    recorded as done. The ids are recorded only against the service (emulator or real, and
    host) the lockfile was made with; an id equal to a credential is refused unshown.
    Whatever the lockfile recorded for ITEM before stays in its history. Exit 0 adopted; 1
    otherwise.

    \b
    Credentials (for the check): AISTUDIOS_API_KEY, or AISTUDIOS_APP_ID and
    AISTUDIOS_USER_KEY; SPECSYNC_API_BASE overrides the address.

    \b
    Examples:
      specsync adopt welcome/ko --project-id 6747a0e1c2b3d4e5f6a7b8c9
      specsync adopt welcome/ko --project-id 6747a0e1c2b3d4e5f6a7b8c9 --task-id t-0001
    """

    items = load_items(paths, root=root, use_cache=not no_cache, on_compile=announce_compile)
    lockfile = mode_lockfile(lockfile, use_emulator, create=True)
    secrets = [os.environ.get(name, "") for name in (API_KEY_ENV, USER_KEY_ENV)]
    with contextlib.ExitStack() as stack:
        base = "" if use_emulator else credentials_mod.api_base_from_env(os.environ)
        check = service_check(stack, use_emulator, lockfile, task_id)
        result = run_adopt(
            items,
            item_id,
            Path(lockfile),
            project_id,
            task_id,
            check=None if no_check else check,
            service_host=urllib.parse.urlsplit(base).netloc,
            emulator=use_emulator,
            secrets=secrets,
        )
    report_adopted(result, lockfile, output_format)


def service_check(
    stack: contextlib.ExitStack[Any], use_emulator: bool, lockfile: str, task_id: str | None
) -> Callable[[str], Any]:
    """The check adopt runs on the projectId: ask the service (emulator or real) about it."""

    def check(project: str) -> Any:
        # Credentials are read only when the check runs (never for --no-check).
        endpoint = api_endpoint(use_emulator, emulator_journal(lockfile) if use_emulator else None)
        url, credentials = stack.enter_context(endpoint)
        client = polling_client(url, credentials, lambda line: click.echo(shown(line), err=True))
        stack.callback(client.close)
        verified = verify_export(client, project)
        if any(client.holds_secret(value) for value in (project, task_id or "") if value):
            raise AdoptRefused(
                "the id given is one of the credentials (a token fetched for this check); "
                "it is not recorded and not shown. Nothing was written."
            )
        return verified

    return check


def report_adopted(result: Adopted, lockfile: str, output_format: str) -> None:
    """Print what adopt recorded: a JSON document, or a few lines of text."""

    if result.recovered:
        click.echo(
            f"recovered {counted(result.recovered, 'journal record')} from an interrupted apply",
            err=True,
        )
    verified = result.verified
    old = result.replaced
    replaced = old.project_id if old is not None and old.project_id else None
    if output_format == "json":
        document = {
            "id": result.id,
            "projectId": result.project_id,
            "taskId": result.task_id,
            "checked": result.checked,
            "written": result.written,
            "replacedProjectId": replaced if replaced != result.project_id else None,
            "recovered": result.recovered,
            "serviceState": verified.service_state if verified else None,
            "done": verified.done if verified else None,
            "creditCharged": verified.credit_charged if verified else None,
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    how = "not checked (--no-check)"
    if verified is not None:
        how = f"checked with the {verified.via} endpoint"
    click.echo(
        f"Adopted {shown(result.id)}: projectId {shown(result.project_id)} "
        f"taskId {shown(result.task_id)} ({how})."
    )
    if verified is not None:
        state = shown(verified.service_state or "no state word")
        done = "done" if verified.done else "not finished yet"
        charged = {True: "yes", False: "no", None: "not said"}[verified.credit_charged]
        click.echo(f"  the service says: {state} ({done}); credit charged: {charged}")
    if replaced and replaced != result.project_id:
        click.echo(f"  the earlier export {shown(replaced)} is kept in its history")
    if not result.written:
        click.echo(f"  {lockfile} already recorded exactly this", err=True)
