"""Shared helpers and fixtures. Keep additions small and each under its own heading comment.

Test modules import the helpers below with `from conftest import ...`. That works because
pytest's default import mode ("prepend") puts tests/ on sys.path to load this file, as the
module `conftest`; it stops working under `--import-mode=importlib`, or if a subfolder gets
a conftest.py of its own (that one would be imported as `conftest` too). Shared helpers
belong here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

from specsync.emulator import EmulatorConfig, RunningEmulator, running_emulator

__all__ = ["EXAMPLES", "ROOT", "SPECSYNC", "SPECSYNC_MODULE", "run", "tomllib"]

# the checkout and the commands under test ---------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# The installed console script, as users run it (the acceptance tests' way in).
SPECSYNC = shutil.which("specsync") or str(Path(sys.executable).parent / "specsync")
# `python -m specsync` with the interpreter running the tests.
SPECSYNC_MODULE = [sys.executable, "-m", "specsync"]


def run(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run a command in `cwd` (always given: specsync finds manifests from there), text output
    captured, never raising on a non-zero exit. `env` None inherits this process's environment.
    """
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# compiled-template cache ---------------------------------------------------------------
# Tests (and the specsync commands they start, which inherit the environment) never touch
# the user's own cache or cache key.
_CACHE_HOME = tempfile.mkdtemp(prefix="specsync-test-cache-")
os.environ["SPECSYNC_CACHE_DIR"] = os.path.join(_CACHE_HOME, "cache")
os.environ["SPECSYNC_CACHE_KEY_FILE"] = os.path.join(_CACHE_HOME, "config", "cache.key")

# emulator ------------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """A running built-in emulator (1 s renders, no faults), stopped after the test.

    For other settings: `with running_emulator(EmulatorConfig(...)) as emu:` in the test.
    """
    with running_emulator(EmulatorConfig(render_seconds=1.0)) as running:
        yield running
