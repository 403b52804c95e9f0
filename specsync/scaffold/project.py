"""Write a starter project: manifests, schema, git and CI set-up. Never overwrite a file,
never add a billable item to an existing project, never write through a symbolic link to
a place outside the project."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import textwrap
from dataclasses import dataclass
from enum import Enum
from importlib.resources import files
from pathlib import Path

from specsync import __version__
from specsync.errors import UserError
from specsync.manifests.schema import schema_text
from specsync.regular_files import NotRegular
from specsync.scaffold.install_line import InstallLine, install_line

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
    SKIPPED = "not written"
    FAILED = "failed"


@dataclass(frozen=True)
class Step:
    action: Action
    what: str  # a path relative to the project, or a command


# The example video: billable, so written only into a project that has no manifest yet.
EXAMPLE_FILES = ("manifests/welcome.yaml", "manifests/snippets/outro.j2")


def workflow_text(line: InstallLine | None = None) -> str:
    """The CI workflow, installing the running specsync (see install_line)."""
    chosen = install_line(__version__) if line is None else line
    text = (TEMPLATES / "workflow.yml").read_text(encoding="utf-8")
    text = text.replace('pip install "specsync-videos=={version}"', chosen.command)
    if chosen.note:
        step = "      - name: Install specsync\n"
        comment = "".join(f"      # {line}\n" for line in textwrap.wrap(chosen.note, 84))
        text = text.replace(step, comment + step)
    return text


def starter_files() -> dict[str, str]:
    """Relative path -> content of every file `init` writes whole."""

    return {
        "specsync.yaml": (TEMPLATES / "specsync.yaml").read_text("utf-8"),
        "manifests/welcome.yaml": (TEMPLATES / "manifests" / "welcome.yaml").read_text("utf-8"),
        "manifests/snippets/outro.j2": (
            TEMPLATES / "manifests" / "snippets" / "outro.j2"
        ).read_text("utf-8"),
        # A committed path (not .specsync/, which git ignores), where the manifests'
        # `yaml-language-server` line points editors.
        "schemas/manifest.schema.json": schema_text(),
        ".pre-commit-config.yaml": (TEMPLATES / "pre-commit-config.yaml").read_text("utf-8"),
        ".github/workflows/specsync.yml": workflow_text(),
    }


def _is_existing_project(root: Path) -> bool:
    """A lockfile, or any YAML under manifests/: a project whose plan must not grow."""
    if os.path.lexists(root / "specsync.lock"):
        return True
    manifests = root / "manifests"
    if not manifests.is_dir():
        return False
    return any(
        name.endswith((".yaml", ".yml"))
        for _folder, _subfolders, names in os.walk(manifests)
        for name in names
    )


def _outside(root: Path, relative: str) -> str | None:
    """The first component of `relative` (below `root`) that is a symbolic link leading
    out of the project, as "NAME -> TARGET"; None when writing there stays inside."""
    inside = root.resolve()
    here = root
    for part in Path(relative).parts:
        here = here / part
        if here.is_symlink():
            target = here.resolve()
            if target != inside and inside not in target.parents:
                return f"{here.relative_to(root).as_posix()} -> {os.readlink(here)}"
    return None


def merge_driver_command(python: str) -> str:
    """The driver line: the interpreter's absolute path, so that a git client whose PATH
    lacks this environment (an IDE, a GUI) still runs this specsync."""
    return f"{shlex.quote(python)} -m specsync merge-driver %O %A %B"


def scaffold_project(root: Path, python: str) -> list[Step]:
    """Create what is missing under `root`; what exists is kept as it is."""
    if root.exists() and not root.is_dir():
        raise UserError(f"{root} exists and is not a folder")
    if root.is_symlink() and not root.exists():
        raise UserError(f"{root} is a broken symbolic link (to {os.readlink(root)})")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {root}: {error.strerror or error}") from None
    existing = _is_existing_project(root)
    steps = []
    for relative, text in starter_files().items():
        if existing and relative in EXAMPLE_FILES and not os.path.lexists(root / relative):
            # The next plan would show the example as a new export: never billed unasked.
            steps.append(Step(Action.SKIPPED, f"{relative} (the project has manifests)"))
            continue
        steps.append(_write_new(root, relative, text))
    steps.append(_ensure_lines(root / ".gitattributes", (MERGE_ATTRIBUTE,), root))
    steps.append(_ensure_lines(root / ".gitignore", IGNORED, root))
    steps.append(_configure_merge_driver(root, merge_driver_command(python)))
    return steps


def _write_new(root: Path, relative: str, text: str) -> Step:
    path = root / relative
    escape = _outside(root, relative)
    if escape is not None:
        return Step(Action.SKIPPED, f"{relative} (a symbolic link leads outside: {escape})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never replace a file, nor follow a symlink, even one made meanwhile.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return _existing(path, relative)
    except OSError as error:
        raise UserError(f"cannot create {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as error:
        path.unlink(missing_ok=True)  # no half-written starter file left behind
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None
    return Step(Action.WROTE, relative)


def _existing(path: Path, relative: str) -> Step:
    """A starter file found in place: kept when it is a file (or a link to one); else the
    user is told, as every command would refuse a FIFO or a folder there later."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return Step(Action.TO_DO, f"replace {relative} (a broken symbolic link) with a file")
    if stat.S_ISREG(mode):
        return Step(Action.KEPT, relative)
    what = NotRegular.describe(path, mode).removeprefix("not a regular file ")
    return Step(Action.TO_DO, f"replace {relative} {what} with a file")


def _ensure_lines(path: Path, lines: tuple[str, ...], root: Path) -> Step:
    """`path` holding each of `lines`: one step for the file, whatever was added."""
    relative = path.relative_to(root).as_posix()
    quoted = [f"`{line}`" for line in lines]
    wanted = quoted[-1] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return Step(Action.TO_DO, f"add {wanted} to {relative} (not a regular file)")
    if not path.exists():
        return _write_new(root, relative, "".join(line + "\n" for line in lines))
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        present = {existing.strip() for existing in text.splitlines()}
        missing = [line for line in lines if line not in present]
        if not missing:
            return Step(Action.KEPT, relative)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        with os.fdopen(fd, "a", encoding="utf-8", newline="\n") as handle:
            lead = "" if text.endswith("\n") or not text else "\n"
            handle.write(lead + "".join(line + "\n" for line in missing))
    except OSError as error:
        raise UserError(f"cannot update {path}: {error.strerror or error}") from None
    return Step(Action.EXTENDED, f"{relative} ({', '.join(missing)})")


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
    for key, value in (
        ("merge.specsync.driver", command),
        ("merge.specsync.name", "specsync lockfile merge"),
    ):
        done = subprocess.run(
            [git, "config", "--local", key, value],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            # A stale .git/config.lock (a git that crashed) is the usual cause.
            said = done.stderr.strip().splitlines()[0] if done.stderr.strip() else ""
            hint = (
                "; if no git command is running, remove the stale .git/config.lock"
                if "config.lock" in done.stderr or "lock" in said
                else ""
            )
            return Step(
                Action.FAILED,
                f"git config {key} (git said: {said or f'exit {done.returncode}'}){hint}; "
                f"then run: {manual}",
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
