"""The `pip install` line that reproduces the running specsync, for the CI workflow.

pip records where a distribution came from in `direct_url.json` (PEP 610): absent for an
install from the package index, `vcs_info` for one from git, `dir_info`/`archive_info` for
a local folder or file. A workflow must install what runs here, and can only install what
a fresh runner can reach: the index pin, or the git URL at the exact commit.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import specsync

DISTRIBUTION = "specsync-videos"


@dataclass(frozen=True)
class InstallLine:
    command: str  # the workflow's `run:` command
    note: str = ""  # a comment to put above it ("" for none)
    source: str = "index"  # "index", "git" or "local": how the running specsync came


def _direct_url() -> dict[str, object] | None:
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _without_userinfo(url: str) -> str:
    """The URL without a user name or token: a workflow is committed and shared."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def _from_a_checkout() -> bool:
    """Whether this specsync runs from a source folder (an old-style editable install
    leaves no direct_url.json): its package sits beside a pyproject.toml."""

    return (Path(specsync.__file__).resolve().parent.parent / "pyproject.toml").is_file()


def install_line(version: str, direct_url: dict[str, object] | None = None) -> InstallLine:
    """How a workflow installs the specsync running now (`direct_url` for tests)."""
    info = _direct_url() if direct_url is None else direct_url
    pinned = f'pip install "{DISTRIBUTION}=={version}"'
    vcs = info.get("vcs_info") if info else None
    url = info.get("url") if info else None
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and isinstance(url, str):
        commit = vcs.get("commit_id")
        if isinstance(commit, str) and commit:
            source = _without_userinfo(url)
            return InstallLine(f'pip install "{DISTRIBUTION} @ git+{source}@{commit}"', "", "git")
    if info is None and (direct_url is not None or not _from_a_checkout()):
        return InstallLine(pinned)
    note = (
        f"specsync {version} runs here from a local checkout, not from the package index: "
        f"until {DISTRIBUTION}=={version} is published, install it from your git remote at "
        f'an exact commit: pip install "{DISTRIBUTION} @ git+https://<host>/<org>/specsync@<sha>"'
    )
    return InstallLine(pinned, note, "local")
