"""Real git repositories for the tests that merge lockfiles: one `git()` and one way to
start a repository, optionally with specsync's lockfile merge driver configured."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import SPECSYNC, run


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git in `repo`, away from any system or user configuration; with `check`, a
    non-zero exit fails the test with git's output."""
    env = dict(os.environ)
    env.update(GIT_CONFIG_NOSYSTEM="1", HOME=str(repo.parent), GIT_TERMINAL_PROMPT="0")
    result = run(["git", *args], repo, env, timeout=30)
    if check:
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


def new_repo(path: Path, *, merge_driver: bool = True) -> Path:
    """An empty repository at `path` on branch main, with an identity and no signing; with
    `merge_driver`, specsync.lock merges through `specsync merge-driver`."""
    path.mkdir()
    git(path, "init", "-q")
    git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "config", "commit.gpgsign", "false")
    if merge_driver:
        git(path, "config", "merge.specsync.driver", f"{SPECSYNC} merge-driver %O %A %B")
        (path / ".gitattributes").write_text("specsync.lock merge=specsync\n", "utf-8")
    return path
