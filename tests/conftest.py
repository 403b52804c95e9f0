"""Shared helpers and fixtures. Keep additions small and each under its own heading comment.

Test modules import the helpers below with `from conftest import ...`. That works because
pytest's default import mode ("prepend") puts tests/ on sys.path to load this file, as the
module `conftest`; it stops working under `--import-mode=importlib`, or if a subfolder gets
a conftest.py of its own (that one would be imported as `conftest` too). Shared helpers
belong here.
"""

from __future__ import annotations

import atexit
import os
import shutil
import site
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

__all__ = [
    "EXAMPLES",
    "ROOT",
    "SPECSYNC",
    "SPECSYNC_MODULE",
    "USER_ENV",
    "USER_HOME",
    "run",
    "tomllib",
    "with_user_home",
]

# the checkout and the commands under test ---------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# The installed console script, as users run it (the acceptance tests' way in).
SPECSYNC = shutil.which("specsync") or str(Path(sys.executable).parent / "specsync")
# `python -m specsync` with the interpreter running the tests.
SPECSYNC_MODULE = [sys.executable, "-m", "specsync"]


def api_env(base_url: str) -> dict[str, str]:
    """This environment pointed at `base_url` with a test key (no appId/userKey)."""
    env = dict(os.environ)
    env.pop("AISTUDIOS_APP_ID", None)
    env.pop("AISTUDIOS_USER_KEY", None)
    env["SPECSYNC_API_BASE"] = base_url
    env["AISTUDIOS_API_KEY"] = "test-key"
    return env


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


# isolation from the user's home -------------------------------------------------------
# No test, and no command a test starts, writes to the user's own cache or config. specsync
# keeps its compiled-template cache in $SPECSYNC_CACHE_DIR, else $XDG_CACHE_HOME/specsync,
# else ~/.cache/specsync, and its cache key in $SPECSYNC_CACHE_KEY_FILE, else
# $XDG_CONFIG_HOME/specsync/cache.key, else ~/.config/specsync/cache.key. Several tests start
# specsync with SPECSYNC_* (or more) scrubbed from its environment, so all five variables
# point into temporary folders: set here at import, for the whole session (collection and
# session fixtures included), and again for each test, in folders of its own, by the
# autouse fixture below. Git then reads no ~/.gitconfig either: git-using tests set the
# identity they need in their repository.

# The user's own values, as they were before this file changed them (None: unset).
USER_HOME = Path.home()
USER_ENV: dict[str, str | None] = {
    name: os.environ.get(name) for name in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")
}


def isolated_environment(base: Path) -> dict[str, str]:
    """HOME, XDG_CACHE_HOME, XDG_CONFIG_HOME and specsync's cache and key under `base`."""
    home = {
        "HOME": base / "home",
        "XDG_CACHE_HOME": base / "xdg-cache",
        "XDG_CONFIG_HOME": base / "xdg-config",
    }
    for folder in home.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {
        **{name: str(folder) for name, folder in home.items()},
        "SPECSYNC_CACHE_DIR": str(base / "specsync-cache"),
        "SPECSYNC_CACHE_KEY_FILE": str(base / "specsync-config" / "cache.key"),
    }


def with_user_home(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the user's own HOME and XDG_CONFIG_HOME back, for a tool that needs the
    user's configuration (pip reads its package index settings from ~/.config/pip).

    specsync's cache and key stay in this test's folders (set here if `env` lacks them), so
    a specsync that tool starts still writes nothing under the user's home.
    """
    result = dict(env)
    for name in ("HOME", "XDG_CONFIG_HOME"):
        value = USER_ENV[name]
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    for name in ("SPECSYNC_CACHE_DIR", "SPECSYNC_CACHE_KEY_FILE"):
        result.setdefault(name, os.environ[name])
    return result


# Pythons started without a virtual environment find packages installed with
# `pip install --user` through HOME: keep pointing them at the user's.
os.environ.setdefault("PYTHONUSERBASE", site.getuserbase())
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="specsync-tests-"))
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)
os.environ.update(isolated_environment(_SESSION_HOME))
os.environ.pop("GIT_CONFIG_GLOBAL", None)  # a ~/.gitconfig by another name


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own HOME, XDG cache and config folders, and specsync cache and key
    (outside tmp_path, which some tests expect to hold only what they put there)."""
    base = tmp_path_factory.mktemp("home")
    for name, value in isolated_environment(base).items():
        monkeypatch.setenv(name, value)
    return base


# emulator ------------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """A running built-in emulator (1 s renders, no faults), stopped after the test.

    For other settings: `with running_emulator(EmulatorConfig(...)) as emu:` in the test.
    """
    with running_emulator(EmulatorConfig(render_seconds=1.0)) as running:
        yield running
