"""Where the service commands send requests: the real service named by the environment,
or a built-in emulator started for this run (`--emulator`), and the polling client that
status, pull, adopt and doctor use. One module, so every command sets endpoints up alike."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import click


def polling_client(base: str, credentials: Any, log: Callable[[str], None]) -> Any:
    """A client for the progress, auth and account endpoints (status, pull, adopt, doctor):
    fewer and shorter retries than apply's, since a poll is asked again anyway and a person
    is waiting."""
    from specsync.service import client as client_mod

    return client_mod.Client(base, credentials, max_attempts=3, max_retry_seconds=15.0, log=log)


@contextlib.contextmanager
def api_endpoint(use_emulator: bool) -> Iterator[tuple[str, Any]]:
    """(API base, credentials): the real service from the environment, or an emulator."""
    from specsync.service import credentials as credentials_mod

    if not use_emulator:
        credentials = credentials_mod.credentials_from_env(os.environ)
        yield credentials_mod.api_base_from_env(os.environ), credentials
        return
    from specsync.emulator import EmulatorConfig, running_emulator

    with running_emulator(EmulatorConfig(render_seconds=2.0)) as emu:
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
