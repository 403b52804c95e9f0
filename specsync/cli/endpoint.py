"""Where the service commands send requests: the real service named by the environment,
or a built-in emulator started for this run (`--emulator`), and the polling client that
status, pull, adopt and doctor use. One module, so every command sets endpoints up alike."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from specsync.errors import UserError
from specsync.service import credentials as credentials_mod
from specsync.state.journal import state_dir


def polling_client(base: str, credentials: Any, log: Callable[[str], None]) -> Any:
    """A client for the progress, auth and account endpoints (status, pull, adopt, doctor):
    fewer and shorter retries than apply's, since a poll is asked again anyway and a person
    is waiting."""
    # Imported here, as the emulator below: requests and the HTTP stack load only for a
    # command that talks to a service, and plan (which imports this module) never does.
    from specsync.service import client as client_mod

    return client_mod.Client(base, credentials, max_attempts=3, max_retry_seconds=15.0, log=log)


def emulator_journal(lockfile: str | Path) -> str:
    """Where the built-in emulator of `--emulator` runs on this lockfile keeps what it made
    (beside the lockfile's journal), so that a later run's project endpoints still know it:
    `reconcile --emulator` after a killed `apply --emulator` finds what was created."""
    path = state_dir(Path(lockfile)) / "emulator-projects.jsonl"
    try:
        kind = path.lstat().st_mode
    except FileNotFoundError:
        return str(path)
    if not stat.S_ISREG(kind):
        raise UserError(
            f"{path} is not a regular file: the built-in emulator keeps what it made there; "
            "move it away"
        )
    return str(path)


@contextlib.contextmanager
def api_endpoint(use_emulator: bool, journal: str | None = None) -> Iterator[tuple[str, Any]]:
    """(API base, credentials): the real service from the environment, or an emulator
    (recording what it makes in `journal`, when given: see `emulator_journal`)."""
    if not use_emulator:
        credentials = credentials_mod.credentials_from_env(os.environ)
        yield credentials_mod.api_base_from_env(os.environ), credentials
        return
    from specsync.emulator import EmulatorConfig, running_emulator  # its HTTP server: see above

    with running_emulator(EmulatorConfig(render_seconds=2.0, journal=journal)) as emu:
        click.echo(
            f"Using the built-in emulator at {emu.url}: nothing is really exported.", err=True
        )
        yield emu.url, credentials_mod.Credentials(api_key="specsync-emulator-throwaway-key")


@contextlib.contextmanager
def lazy_endpoint(use_emulator: bool) -> Iterator[Callable[[], tuple[str, Any]]]:
    """A function giving (API base, credentials) when a URL must be asked for: credentials
    are read, or an emulator started, only then (a pull of files on disk needs neither)."""
    with contextlib.ExitStack() as stack:
        lock = threading.Lock()
        found: list[tuple[str, Any]] = []

        def endpoint() -> tuple[str, Any]:
            with lock:
                if not found:
                    found.append(stack.enter_context(api_endpoint(use_emulator)))
                return found[0]

        yield endpoint
