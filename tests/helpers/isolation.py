"""Isolation from the user's home: the folders every test (and every command it starts)
uses instead of the user's own cache and configuration. tests/conftest.py applies them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# The user's own values, as they were before tests/conftest.py changed them (None: unset);
# conftest imports this module before it changes anything.
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
