"""Which files are manifests, and which folder templates include from."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from specsync.model import InputError, Location, Problem

DEFAULT_DIR = "manifests"
SUFFIXES = (".yaml", ".yml")
# A searched file is a manifest when a line starts with `specsync:`. Deciding this from the
# text means unrelated YAML (CI workflows, CloudFormation with custom tags, big data files)
# is never parsed, so it can never fail a run.
_MARKER = re.compile(rb"^specsync[ \t]*:", re.MULTILINE)


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def _has_marker(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return _MARKER.search(handle.read()) is not None
    except OSError:
        return False


def _search(directory: Path) -> list[Path]:
    found: list[Path] = []
    for folder, subfolders, files in os.walk(directory):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(SUFFIXES):
                candidate = Path(folder) / name
                if candidate.is_file() and _has_marker(candidate):
                    found.append(candidate)
    return found


def find_manifests(paths: Sequence[str], cwd: Path) -> list[tuple[Path, str]]:
    """Manifest files as (path, display path), in the order given, each once.

    A file named explicitly must be a manifest (the loader checks its content); a
    directory is searched recursively for *.yaml/*.yml files carrying `specsync:`.
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
        chosen = _search(default)
    for given in paths:
        path = Path(given) if Path(given).is_absolute() else cwd / given
        if path.is_dir():
            chosen.extend(_search(path))
        elif path.is_file():
            chosen.append(path)
        else:
            problems.append(Problem(Location(given), "no such file or folder"))
    if problems:
        raise InputError(problems)
    seen: set[Path] = set()
    result: list[tuple[Path, str]] = []
    for path in chosen:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            result.append((path, _display(path, cwd)))
    return result


def manifest_root(paths: Sequence[str], root: str | None, cwd: Path) -> Path:
    """--root; else the one directory named; else manifests/ when present; else cwd."""
    if root:
        return (cwd / root).resolve()
    directories = [p for p in paths if (cwd / p).is_dir()]
    if len(directories) == 1:
        return (cwd / directories[0]).resolve()
    default = cwd / DEFAULT_DIR
    return default.resolve() if default.is_dir() else cwd.resolve()
