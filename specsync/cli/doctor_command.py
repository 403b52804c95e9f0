"""`specsync doctor`: print what specsync.service.doctor found."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from specsync.cli.console import counted
from specsync.cli.endpoint import api_endpoint, polling_client
from specsync.cli.exit_codes import EXIT_INVALID, EXIT_OK
from specsync.cli.options import (
    LOCKFILE_OPTION,
    PATHS_ARGUMENT,
    ROOT_OPTION,
    emulator_flag,
    format_option,
    mode_lockfile,
)
from specsync.cli.report_json import doctor_document
from specsync.errors import UserError
from specsync.manifests.pipeline import load_items
from specsync.model import InputError
from specsync.service import credentials as credentials_mod
from specsync.service.doctor import FAIL, OK, Check, credential_mode, offline_report, run_doctor

if TYPE_CHECKING:
    from specsync.model import Item
    from specsync.service.credentials import Credentials
    from specsync.service.doctor import Check, DoctorReport

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
) -> int:
    """Check the setup before an apply: manifests, API base, credentials, lockfile, models.

    Prints the API base and the credential mode (never a secret), checks the manifests,
    asks the service whether it accepts the credentials, checks the lockfile as apply would
    (the kind of service and the host it was recorded against, an emulator reached through
    SPECSYNC_API_BASE included), and checks every model and workspace id the manifests use
    against the account's lists. Without credentials it still runs every check it can and
    marks the others "not checked". --emulator checks against the built-in emulator with
    its own throwaway key. Exit 0 when all is well (warnings allowed), 1 otherwise.
    """

    # Every check that needs no service runs whatever else is missing: one run shows the
    # whole checklist.
    setup, items = manifest_check(paths, root)
    lockfile = mode_lockfile(lockfile, use_emulator)
    base, credentials = "", None
    if not use_emulator:
        base, credentials = service_settings(os.environ, setup)
    if not use_emulator and (not base or credentials is None):
        mode = "none" if credentials is None else credential_mode(credentials)
        report = offline_report(base or "(not set)", mode, setup, Path(lockfile), False)
    else:
        with api_endpoint(use_emulator) as (base, credentials):

            def log(line: str) -> None:
                click.echo(line, err=True)

            with polling_client(base, credentials, log) as client:
                report = run_doctor(
                    base, credentials, client, Path(lockfile), items, emulator=use_emulator
                )
        report.checks[:0] = setup
    print_doctor(report, output_format)
    return EXIT_OK if report.ok else EXIT_INVALID


def manifest_check(paths: tuple[str, ...], root: str | None) -> tuple[list[Check], list[Item]]:
    """The manifests' check (their items, none when they do not load)."""

    try:
        items = load_items(paths, root=root)
    except InputError as error:
        problems = counted(len(set(error.problems)), "problem")
        return [Check("manifests", FAIL, f"{problems}: `specsync validate` shows them")], []
    videos = len({item.video for item in items})
    summary = f"{counted(len(items), 'item')} from {counted(videos, 'video')}"
    return [Check("manifests", OK, summary)], items


def service_settings(
    environ: Mapping[str, str], setup: list[Check]
) -> tuple[str, Credentials | None]:
    """The API base and credentials from the environment ("" / None, with a failed check
    added to setup, for each that is missing or wrong)."""

    base = ""
    credentials = None
    try:
        base = credentials_mod.api_base_from_env(environ)
    except UserError as error:
        setup.append(Check("API base", FAIL, str(error)))
    try:
        credentials = credentials_mod.credentials_from_env(environ)
    except UserError as error:
        setup.append(Check("credentials", FAIL, str(error)))
    return base, credentials


def print_doctor(report: DoctorReport, output_format: str) -> None:
    """Print the checklist: a JSON document, or one line per check."""
    if output_format == "json":
        click.echo(json.dumps(doctor_document(report), ensure_ascii=False, indent=2))
    else:
        lines = [f"API base:    {report.api_base}", f"Credentials: {report.credential_mode}"]
        lines += [f"{_MARK[c.status]}  {c.name}: {c.detail}" for c in report.checks]
        lines.append("All is well." if report.ok else "Problems found (see FAIL above).")
        click.echo("\n".join(lines))
