"""Write a starter project: manifests, schema, git and CI set-up. Never overwrite a file."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from enum import Enum
from importlib.resources import files
from pathlib import Path

from specsync import __version__
from specsync.errors import UserError

TEMPLATES = files("specsync.scaffold") / "templates"
MERGE_ATTRIBUTE = "specsync.lock merge=specsync"
# specsync's own state, and the videos `specsync pull` downloads (kept as CI artifacts or
# elsewhere, not in git: the lockfile records their hashes), and the page `specsync review`
# builds from them.
IGNORED = (".specsync/", "videos/", "review/")


class Action(Enum):
    WROTE = "wrote"
    KEPT = "kept (already there)"
    EXTENDED = "added a line to"
    CONFIGURED = "configured"
    TO_DO = "run yourself"


@dataclass(frozen=True)
class Step:
    action: Action
    what: str  # a path relative to the project, or a command


def starter_files() -> dict[str, str]:
    """Relative path -> content of every file `init` writes whole."""
    from specsync.manifests.schema import schema_text

    workflow = (TEMPLATES / "workflow.yml").read_text(encoding="utf-8")
    return {
        "manifests/welcome.yaml": (TEMPLATES / "manifests" / "welcome.yaml").read_text("utf-8"),
        "manifests/snippets/outro.j2": (
            TEMPLATES / "manifests" / "snippets" / "outro.j2"
        ).read_text("utf-8"),
        # A committed path (not .specsync/, which git ignores), where the manifests'
        # `yaml-language-server` line points editors.
        "schemas/manifest.schema.json": schema_text(),
        ".pre-commit-config.yaml": (TEMPLATES / "pre-commit-config.yaml").read_text("utf-8"),
        ".github/workflows/specsync.yml": workflow.replace("{version}", __version__),
    }


def merge_driver_command(python: str) -> str:
    """The driver line: the interpreter's absolute path, so that a git client whose PATH
    lacks this environment (an IDE, a GUI) still runs this specsync."""
    return f"{shlex.quote(python)} -m specsync merge-driver %O %A %B"


def scaffold_project(root: Path, python: str) -> list[Step]:
    """Create what is missing under `root`; what exists is kept as it is."""
    if root.exists() and not root.is_dir():
        raise UserError(f"{root} exists and is not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {root}: {error.strerror or error}") from None
    steps = [_write_new(root, relative, text) for relative, text in starter_files().items()]
    steps.append(_ensure_line(root / ".gitattributes", MERGE_ATTRIBUTE, root))
    steps.extend(_ensure_line(root / ".gitignore", line, root) for line in IGNORED)
    steps.append(_configure_merge_driver(root, merge_driver_command(python)))
    return steps


def _write_new(root: Path, relative: str, text: str) -> Step:
    path = root / relative
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never replace a file, nor follow a symlink, even one made meanwhile.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return Step(Action.KEPT, relative)
    except OSError as error:
        raise UserError(f"cannot create {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as error:
        path.unlink(missing_ok=True)  # no half-written starter file left behind
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None
    return Step(Action.WROTE, relative)


def _ensure_line(path: Path, line: str, root: Path) -> Step:
    relative = path.relative_to(root).as_posix()
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return Step(Action.TO_DO, f"add `{line}` to {relative} (not a regular file)")
    if not path.exists():
        return _write_new(root, relative, line + "\n")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        if line in (existing.strip() for existing in text.splitlines()):
            return Step(Action.KEPT, relative)
        with path.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(("" if text.endswith("\n") or not text else "\n") + line + "\n")
    except OSError as error:
        raise UserError(f"cannot update {path}: {error.strerror or error}") from None
    return Step(Action.EXTENDED, relative)


def _configure_merge_driver(root: Path, command: str) -> Step:
    """Set the driver in the repository's own config when `root` is in a git work tree."""
    manual = f'git config merge.specsync.driver "{command}"'
    git = shutil.which("git")
    if git is None or not _in_work_tree(git, root):
        return Step(Action.TO_DO, manual + "   (in the git repository, once per clone)")
    current = subprocess.run(
        [git, "config", "--local", "--get", "merge.specsync.driver"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if current.returncode == 0 and current.stdout.strip():
        return Step(Action.KEPT, "git config merge.specsync.driver")
    subprocess.run(
        [git, "config", "--local", "merge.specsync.driver", command],
        cwd=root,
        capture_output=True,
        check=True,
    )
    subprocess.run(
        [git, "config", "--local", "merge.specsync.name", "specsync lockfile merge"],
        cwd=root,
        capture_output=True,
        check=True,
    )
    return Step(Action.CONFIGURED, f"git config merge.specsync.driver ({command})")


def _in_work_tree(git: str, root: Path) -> bool:
    done = subprocess.run(
        [git, "rev-parse", "--is-inside-work-tree"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0 and done.stdout.strip() == "true"
