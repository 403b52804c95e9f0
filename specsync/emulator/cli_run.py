"""Running the emulator in the foreground for `specsync emulator`, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from specsync.emulator.config import EmulatorConfig
from specsync.emulator.server import RunningEmulator
from specsync.emulator.webhooks import is_loopback_host
from specsync.model import InputError
from specsync.regular_files import NotRegular


def serve_until_stopped(config: EmulatorConfig, announce: Callable[[str], None]) -> None:
    """Serve; `announce` gets the bound URL first. Returns after SIGINT or SIGTERM."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            emulator = RunningEmulator(config)
        except NotRegular as error:
            raise InputError(f"cannot use journal {config.journal}: {error}") from None
        except OSError as error:
            if error.filename is not None:
                raise InputError(
                    f"cannot open journal {error.filename}: {error.strerror or error}"
                ) from None
            raise InputError(
                f"cannot listen on {config.host}:{config.port}: {error.strerror or error}"
            ) from None
        try:
            announce(emulator.url)
            if not is_loopback_host(config.host):
                print(
                    f"warning: listening on {config.host}, reachable from other machines",
                    file=sys.stderr,
                    flush=True,
                )
            # Short waits keep the main thread responsive to signals on every platform.
            while not stop.wait(0.5):
                pass
        finally:
            emulator.close()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
