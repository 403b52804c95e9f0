"""adopt: record an export that already exists (the lockfile's `import`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from specsync.cli.options import (
    LOCKFILE_OPTION,
    NO_CACHE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    announce_compile,
    format_option,
)


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
@format_option(
    ("text", "json"),
    "json: {id, projectId, taskId, checked, written, replacedProjectId, recovered} on stdout "
    "alone.",
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
    output_format: str,
) -> None:
    """Record an export that already exists as ITEM's current one; nothing is exported.

    For an item left `uncertain` whose video you found in AI Studios, or a video made before
    specsync: plan then shows it unchanged and apply never pays for it again. ITEM must be
    in the manifests; its current script is what gets recorded. The projectId is checked
    with the service first (an unknown one is refused) unless --no-check. Whatever the
    lockfile recorded for ITEM before stays in its history. Adopting into a lockfile
    written by `apply --emulator` is refused. Exit 0 adopted; 1 otherwise.

    \b
    Credentials (for the check): AISTUDIOS_API_KEY, or AISTUDIOS_APP_ID and
    AISTUDIOS_USER_KEY; SPECSYNC_API_BASE overrides the address.

    \b
    Examples:
      specsync adopt welcome/ko --project-id 6747a0e1c2b3d4e5f6a7b8c9
      specsync adopt welcome/ko --project-id 6747a0e1c2b3d4e5f6a7b8c9 --task-id t-0001
    """
    import urllib.parse

    from specsync.cli.console import shown
    from specsync.cli.endpoint import polling_client
    from specsync.manifests.pipeline import load_items
    from specsync.service import credentials as credentials_mod
    from specsync.service.adopt import adopt as run_adopt

    items = load_items(paths, root=root, use_cache=not no_cache, on_compile=announce_compile)
    base = credentials_mod.api_base_from_env(os.environ)
    clients: list[Any] = []

    def check(project: str) -> Any:
        # Credentials are read only when the check runs (never for --no-check).
        credentials = credentials_mod.credentials_from_env(os.environ)
        client = polling_client(base, credentials, lambda line: click.echo(shown(line), err=True))
        clients.append(client)
        return client.progress(project)

    try:
        result = run_adopt(
            items,
            item_id,
            Path(lockfile),
            project_id,
            task_id,
            check=None if no_check else check,
            service_host=urllib.parse.urlsplit(base).netloc,
        )
    finally:
        for client in clients:
            client.close()
    from specsync.cli.console import counted

    if result.recovered:
        click.echo(
            f"recovered {counted(result.recovered, 'journal record')} from an interrupted apply",
            err=True,
        )
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
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    how = "checked with the service" if result.checked else "not checked (--no-check)"
    click.echo(
        f"Adopted {shown(result.id)}: projectId {shown(result.project_id)} "
        f"taskId {shown(result.task_id)} ({how})."
    )
    if replaced and replaced != result.project_id:
        click.echo(f"  the earlier export {shown(replaced)} is kept in its history")
    if not result.written:
        click.echo(f"  {lockfile} already recorded exactly this", err=True)
