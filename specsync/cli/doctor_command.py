"""`specsync doctor`: print what specsync.service.doctor found."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from specsync.cli.exit_codes import EXIT_INVALID
from specsync.cli.options import (
    LOCKFILE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    emulator_flag,
    format_option,
    mode_lockfile,
)

_MARK = {"ok": "ok  ", "fail": "FAIL", "warn": "warn"}


@click.command()
@PATHS_ARGUMENT
@ROOT_OPTION
@LOCKFILE_OPTION
@emulator_flag("Check against the built-in emulator and its lockfile (.specsync/emulator.lock).")
@format_option(
    ("text", "json"),
    "json: {apiBase, credentialMode, ok, checks: [{name, status, detail}]} on stdout.",
)
def doctor(
    paths: tuple[str, ...],
    root: str | None,
    lockfile: str,
    use_emulator: bool,
    output_format: str,
) -> None:
    """Check the setup before an apply: API base, credentials, lockfile, model ids.

    Prints the API base and the credential mode (never a secret), asks the service whether
    it accepts the credentials, says whether the lockfile is emulator-made, and checks every
    model and workspace id the manifests use against the account's lists. Exit 0 when all
    is well (warnings allowed), 1 otherwise.
    """
    from specsync.cli.service_commands import _api_endpoint, polling_client
    from specsync.manifests.pipeline import load_items
    from specsync.service.doctor import run_doctor

    items = load_items(paths, root=root)
    lockfile = mode_lockfile(lockfile, use_emulator)
    with _api_endpoint(use_emulator) as (base, credentials):

        def log(line: str) -> None:
            click.echo(line, err=True)

        with polling_client(base, credentials, log) as client:
            report = run_doctor(
                base, credentials, client, Path(lockfile), items, emulator=use_emulator
            )
    if output_format == "json":
        from specsync.cli.report_json import doctor_document

        click.echo(json.dumps(doctor_document(report), ensure_ascii=False, indent=2))
    else:
        lines = [f"API base:    {report.api_base}", f"Credentials: {report.credential_mode}"]
        lines += [f"{_MARK[c.status]}  {c.name}: {c.detail}" for c in report.checks]
        lines.append("All is well." if report.ok else "Problems found (see FAIL above).")
        click.echo("\n".join(lines))
    if not report.ok:
        sys.exit(EXIT_INVALID)
