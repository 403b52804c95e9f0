"""The built-in AI Studios emulator: the export API over real HTTP, with injected faults.

It imports only `model`, `regular_files` (opening a path without blocking on a FIFO) and its
own modules, so it never shares a bug with the client.
Every answer carries `X-Specsync-Emulator: 1` and `X-Specsync-Emulator-Version`, so a
client reaching it through an ordinary API base can tell its ids are not real exports.

with running_emulator(EmulatorConfig(render_seconds=1)) as emulator:
    ...  # talk to emulator.url; count emulator.journal_records()
"""

from specsync.emulator.config import EmulatorConfig
from specsync.emulator.server import RunningEmulator, running_emulator

__all__ = ["EmulatorConfig", "RunningEmulator", "running_emulator"]
