"""The suite writes nothing to the user's own specsync cache or config (tests/conftest.py),
not even through a specsync started with SPECSYNC_* (or XDG_* too) scrubbed from its
environment, as several tests start it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from specsync.render.cache import default_cache_dir
from specsync.render.cache_key import default_key_file
from tests.helpers import SPECSYNC, USER_ENV, USER_HOME, run


def manifest() -> str:
    """A script no cache holds yet, so specsync must write a new cache entry (a filter: a
    script that only prints variables needs no template, so no entry)."""
    script = f"Hi {{{{ video|upper }}}}, {uuid.uuid4().hex}"
    header = "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n"
    return f"{header}  a: {{script: '{script}'}}\n"


def user_specsync_folders() -> list[Path]:
    """Where specsync run by the user keeps its cache and key when SPECSYNC_* are unset."""
    cache_home = Path(USER_ENV["XDG_CACHE_HOME"] or USER_HOME / ".cache")
    config_home = Path(USER_ENV["XDG_CONFIG_HOME"] or USER_HOME / ".config")
    return sorted(
        {
            cache_home / "specsync",
            config_home / "specsync",
            USER_HOME / ".cache" / "specsync",
            USER_HOME / ".config" / "specsync",
        }
    )


def snapshot(folders: list[Path]) -> dict[str, tuple[int, int] | None]:
    """Every path under `folders` with its size and modification time (None: no folder)."""
    state: dict[str, tuple[int, int] | None] = {}
    for folder in folders:
        if not folder.exists():
            state[str(folder)] = None
            continue
        for path in [folder, *folder.rglob("*")]:
            try:
                info = path.lstat()
            except FileNotFoundError:  # removed meanwhile (a temporary file, say)
                continue
            state[str(path)] = (info.st_size, info.st_mtime_ns)
    return state


@pytest.mark.parametrize("scrubbed", [("SPECSYNC_",), ("SPECSYNC_", "XDG_")])
def test_a_scrubbed_specsync_writes_nothing_under_the_users_home(
    tmp_path: Path, isolated_home: Path, scrubbed: tuple[str, ...]
) -> None:
    (tmp_path / "m.yaml").write_text(manifest(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(scrubbed)}
    folders = user_specsync_folders()
    before = snapshot(folders)

    result = run([SPECSYNC, "validate", "m.yaml"], tmp_path, env)

    assert result.returncode == 0, result.stderr
    assert snapshot(folders) == before
    # It did keep a key and a cache entry: in this test's own folders.
    assert len(list(isolated_home.rglob("specsync/cache.key"))) == 1
    assert list(isolated_home.rglob("specsync/templates-*/*"))


def test_this_process_defaults_to_the_tests_own_folders(isolated_home: Path) -> None:
    for environ in (os.environ, {}):  # {}: no variable at all, so from Path.home()
        assert isolated_home in default_cache_dir(environ).parents
        assert isolated_home in default_key_file(environ).parents
