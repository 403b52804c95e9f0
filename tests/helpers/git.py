"""Real git repositories: one `git()` and one way to start a repository, optionally with
specsync's lockfile merge driver configured."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.helpers.commands import SPECSYNC, run


def git(
    repo: Path, *args: str, check: bool = True, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git in `repo` (with `env`, else this process's environment), away from any
    system or user configuration; with `check`, a non-zero exit fails the test with git's
    output."""
    environment = dict(os.environ if env is None else env)
    environment.update(GIT_CONFIG_NOSYSTEM="1", HOME=str(repo.parent), GIT_TERMINAL_PROMPT="0")
    result = run(["git", *args], repo, environment, timeout=30)
    if check:
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


def new_repo(path: Path, *, merge_driver: bool = False) -> Path:
    """An empty repository at `path` (made if missing) on branch main, with an identity and
    no signing; with `merge_driver`, specsync.lock merges through `specsync merge-driver`."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    git(path, "config", "user.name", "specsync tests")
    git(path, "config", "user.email", "tests@specsync.invalid")
    git(path, "config", "commit.gpgsign", "false")
    if merge_driver:
        git(path, "config", "merge.specsync.driver", f"{SPECSYNC} merge-driver %O %A %B")
        (path / ".gitattributes").write_text("specsync.lock merge=specsync\n", "utf-8")
    return path
