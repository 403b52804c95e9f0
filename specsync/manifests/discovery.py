"""Which files are manifests, and which folder templates include from."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from specsync.manifests.load import MAX_FILE_BYTES, read_problem, wide_encoding
from specsync.manifests.project_root import refuse_nested
from specsync.model import InputError, Location, Problem
from specsync.project_names import LOCKFILE_NAME, PROJECT_FILE_NAME
from specsync.project_names import MANIFESTS_DIR as DEFAULT_DIR
from specsync.regular_files import NotRegular, open_regular

SUFFIXES = (".yaml", ".yml")
# A searched file is a manifest when a line starts with `specsync:` (the key may be quoted).
# Deciding this from the text means other YAML (big data files, CloudFormation with custom
# tags) is never parsed. Such a file under the manifest root is still an error unless the
# project file's `ignore:` names it: a manifest that lost its marker must never be skipped
# in silence (its videos would never be exported).
_MARKER = re.compile(rb"""^["']?specsync["']?[ \t]*:""", re.MULTILINE)
_BOM = b"\xef\xbb\xbf"
_CHUNK = 256 * 1024
# How much of a line's start is kept across a chunk boundary: the marker is shorter.
_LINE_START = 32


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def _has_marker(fd: int) -> bool:
    """Whether the file carries the marker, reading it in chunks and stopping at the first.

    Reads at most the size cap: past it a file can be no manifest (the loader refuses it),
    so a 1 GiB data file next to the manifests costs one cap's worth of reading, not a
    gigabyte of memory. A manifest says `specsync:` near its top and is found in the first
    chunk.
    """
    carried = b""  # the start of the line the previous chunk ended in
    total = 0
    first = True
    while total <= MAX_FILE_BYTES:
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            return False
        total += len(chunk)
        if first and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM) :]
        elif first and (encoding := wide_encoding(chunk)):
            # Saved as UTF-16/32 (Notepad does): a manifest still, which the loader refuses
            # with a hint; skipping it would drop its items from the run.
            head = chunk.decode(encoding, errors="ignore").encode("utf-8")
            return _MARKER.search(head) is not None
        first = False
        text = carried + chunk
        if _MARKER.search(text):
            return True
        newline = text.rfind(b"\n")
        carried = text[newline + 1 :]
        if len(carried) > _LINE_START:
            carried = b"#"  # mid-line: whatever follows cannot start a line
    return False


# Decides whether a searched file that is no manifest was excluded by the project file.
IgnoredFn = Callable[[Path], bool]


def _never_ignored(_path: Path) -> bool:
    return False


def not_a_manifest(display: str, empty: bool) -> Problem:
    """The problem of a searched *.yaml/*.yml file that carries no `specsync:` key."""
    what = "an empty file" if empty else "no `specsync: 1` line"
    return Problem(
        Location(display, 1, 1),
        f"not a manifest ({what}), yet every *.yaml/*.yml in the manifest folder must be "
        f"one: add `specsync: 1` at its top, or delete or move it, or list it under "
        f"`ignore:` in {PROJECT_FILE_NAME}",
        code="not-a-manifest",
    )


def no_manifests(display: str) -> Problem:
    """The problem of a searched folder holding no manifest at all."""
    return Problem(
        Location(display),
        "folder holds no manifest: a manifest is a *.yaml file starting with `specsync: 1` "
        "(`specsync init` writes an example)",
        code="no-manifests",
    )


def _search(
    directory: Path, cwd: Path, problems: list[Problem], ignored: IgnoredFn = _never_ignored
) -> list[Path]:
    found: list[Path] = []

    def unreadable_folder(error: OSError) -> None:
        # os.walk skips a folder it cannot list unless told: a manifest in it would vanish.
        where = _display(Path(error.filename), cwd) if error.filename else str(directory)
        problems.append(Problem(Location(where), f"cannot read folder: {error.strerror}"))

    for folder, subfolders, files in os.walk(directory, onerror=unreadable_folder):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        if PROJECT_FILE_NAME in files or LOCKFILE_NAME in files:
            refuse_nested(Path(folder))  # a project in another's manifests/: never both
        for name in sorted(files):
            if not name.endswith(SUFFIXES) or name == PROJECT_FILE_NAME:
                continue  # the project file carries `specsync:` too, but is no manifest
            if name.startswith("."):
                continue  # hidden, as hidden folders are (`.pre-commit-config.yaml`)
            candidate = Path(folder) / name
            if ignored(candidate):
                continue  # excluded by the project file: never opened, even with a marker
            try:
                fd = open_regular(candidate)
            except (OSError, NotRegular) as error:
                # Skipping it would drop its items from the run: plan would call them orphaned.
                problems.append(read_problem(_display(candidate, cwd), error))
                continue
            try:
                if _has_marker(fd):
                    found.append(candidate)
                else:
                    empty = os.fstat(fd).st_size == 0 or not _has_content(candidate)
                    problems.append(not_a_manifest(_display(candidate, cwd), empty))
            except OSError as error:
                problems.append(read_problem(_display(candidate, cwd), error))
            finally:
                os.close(fd)
    return found


def _loops(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as error:
        return error.errno == errno.ELOOP
    return False


def _has_content(path: Path) -> bool:
    """Whether a small file holds anything but blanks and comments (an "empty" YAML file)."""
    try:
        fd = open_regular(path)
    except (OSError, NotRegular):
        return True
    try:
        head = os.read(fd, 64 * 1024)
    finally:
        os.close(fd)
    return any(line.strip() and not line.lstrip().startswith(b"#") for line in head.splitlines())


def _search_folder(
    folder: Path, cwd: Path, problems: list[Problem], ignored: IgnoredFn
) -> list[Path]:
    before = len(problems)
    found = _search(folder, cwd, problems, ignored)
    if not found and len(problems) == before:
        problems.append(no_manifests(_display(folder, cwd).rstrip("/") or "."))
    return found


def search_manifests(
    paths: Sequence[str], cwd: Path, ignored: IgnoredFn = _never_ignored
) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """Manifest files as (path, display path), in the order given, each once, and the
    problems found on the way. The files found beside a problem are still returned, so
    that one run reports theirs too (a FIFO among the manifests hides no bad file).

    A file named explicitly must be a manifest (the loader checks its content); a
    directory is searched recursively for *.yaml/*.yml files, each of which must carry
    `specsync:` unless `ignored` (the project file's `ignore:` globs) excludes it, and a
    folder with no manifest is an error. A file that cannot be read, or is no regular file
    (a FIFO, a device, a broken symlink), is a problem wherever it is found, never skipped.
    """
    problems: list[Problem] = []
    chosen: list[Path] = []
    if not paths:
        default = cwd / DEFAULT_DIR
        if not default.is_dir():
            raise InputError(
                Problem(
                    Location(DEFAULT_DIR),
                    f"no {DEFAULT_DIR}/ folder in {cwd}: pass manifest files or folders",
                )
            )
        chosen = _search_folder(default, cwd, problems, ignored)
    for given in paths:
        path = Path(given) if Path(given).is_absolute() else cwd / given
        if path.is_dir():
            chosen.extend(_search_folder(path, cwd, problems, ignored))
        elif path.is_file() and path.name == PROJECT_FILE_NAME:
            # Named by mistake (`specsync validate *.yaml` at the root): it is read for every
            # run of its project anyway, never as a manifest.
            problems.append(
                Problem(
                    Location(given),
                    f"{PROJECT_FILE_NAME} is the project file, not a manifest: it is read "
                    "for every run of its project; name manifests or folders instead "
                    "(e.g. manifests/)",
                    code="project-file-named",
                )
            )
        elif path.is_file():
            chosen.append(path)
        elif path.exists():
            # Before the symlink test: /dev/stdin is a link to a pipe, not a broken link.
            problems.append(Problem(Location(given), NotRegular.describe(path)))
        elif path.is_symlink():
            what = "a symbolic link loop" if _loops(path) else "broken symbolic link"
            problems.append(Problem(Location(given), f"{what} (to {os.readlink(path)})"))
        else:
            problems.append(Problem(Location(given), "no such file or folder"))
    seen: set[Path] = set()
    result: list[tuple[Path, str]] = []
    for path in chosen:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            result.append((path, _display(path, cwd)))
    return result, problems


def manifest_root(paths: Sequence[str], root: str | None, cwd: Path) -> tuple[Path, bool]:
    """(the manifest root, whether it was chosen): --root; else the one directory named;
    else manifests/ when present; else the current folder, taken as a last resort (not
    chosen: it may be any checkout, with others' templates in it)."""
    if root:
        folder = (cwd / root).resolve()
        if not folder.is_dir():
            what = "not a folder" if folder.exists() else "no such folder"
            raise InputError(Problem(Location(root), f"--root: {what}", code="file"))
        return folder, True
    directories = [p for p in paths if (cwd / p).is_dir()]
    if len(directories) == 1:
        return (cwd / directories[0]).resolve(), True
    default = cwd / DEFAULT_DIR
    if default.is_dir():
        return default.resolve(), True
    return cwd.resolve(), False
