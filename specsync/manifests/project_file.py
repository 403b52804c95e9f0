"""The optional project file, `specsync.yaml` at the project root: settings for every manifest.

It holds `specsync: 1`, then `defaults` and `vars` shaped exactly as a manifest's; they sit
below each manifest's own (precedence project -> file -> video -> locale). Each manifest
takes the project file of its own project (the nearest folder upwards holding specsync.lock
or specsync.yaml, see project_root), so `specsync validate manifests/a.yaml` from anywhere
sees the same vars as a run over the whole set. Each project file is read once per run.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specsync.manifests.project_root import find_project_root, foreign_owner
from specsync.model import Document, InputError, Location, PathKey, Problem
from specsync.project_names import PROJECT_FILE_NAME

# Names every template gets from specsync; a var of the same name would be shadowed silently.
RESERVED_VARS = ("locale", "video")


@dataclass(frozen=True)
class ProjectSettings:
    """What a project file gives every manifest of its project (nothing when absent)."""

    defaults: Mapping[str, Any] = field(default_factory=dict)
    vars: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""  # as messages show it; "" when there is no project file
    folder: Path | None = None  # where the project file lies (its globs are relative to it)
    ignore: Sequence[str] = ()  # globs of YAML files that are no manifests
    untranslated_level: str = "warning"  # "warning", "error" or "off"
    untranslated_off_for: Sequence[str] = ()  # video id globs where the check is off

    def ignores(self, path: Path) -> bool:
        """Whether `path` (a YAML file under the manifest folder) is excluded by `ignore:`."""
        if not self.ignore or self.folder is None:
            return False
        try:
            relative = Path(os.path.abspath(path)).relative_to(self.folder).as_posix()
        except ValueError:
            return False
        return any(
            fnmatch.fnmatchcase(relative, glob)
            or ("/" not in glob and fnmatch.fnmatchcase(path.name, glob))
            for glob in self.ignore
        )

    def untranslated_level_for(self, video: str) -> str:
        """How the untranslated-locale check treats `video`: "warning", "error" or "off"."""
        if any(fnmatch.fnmatchcase(video, glob) for glob in self.untranslated_off_for):
            return "off"
        return self.untranslated_level


NO_PROJECT = ProjectSettings()


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return os.path.relpath(path, cwd) if path.is_absolute() else path.as_posix()


class ProjectFiles:
    """Finds and loads the project file of each manifest, each file once per run.

    A broken project file yields None (its problems are in `problems`): the manifests of
    that project are not expanded, since their settings are unknown.
    """

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.problems: list[Problem] = []
        self._file_of_folder: dict[Path, Path | None] = {}
        self._settings: dict[Path, ProjectSettings | None] = {}

    def for_manifest(self, manifest: Path) -> ProjectSettings | None:
        folder = (manifest if manifest.is_absolute() else self.cwd / manifest).parent
        if folder not in self._file_of_folder:
            root = find_project_root(folder)
            candidate = None if root is None else root / PROJECT_FILE_NAME
            self._file_of_folder[folder] = (
                candidate if candidate is not None and os.path.lexists(candidate) else None
            )
        project_file = self._file_of_folder[folder]
        if project_file is None:
            return NO_PROJECT
        if project_file not in self._settings:
            self._settings[project_file] = self._load(project_file)
        return self._settings[project_file]

    def _load(self, path: Path) -> ProjectSettings | None:
        from specsync.manifests import load, schema

        display = _display(path, self.cwd)
        owner = foreign_owner(path)
        if owner is not None:
            # Its vars reach every script and its webhookUrl every run: one planted in a
            # shared folder (/tmp) must not steer this user's exports.
            self.problems.append(
                Problem(
                    Location(display),
                    f"owned by another user (uid {owner}), not you (uid {os.getuid()}): "
                    "refused, as git refuses a repository someone else owns "
                    "(safe.directory). If it is yours to use, copy it or chown it",
                    code="project-file",
                )
            )
            return None
        try:
            document = load.load_document(path, display)
        except InputError as error:
            self.problems.extend(p.with_code(p.code or "project-file") for p in error.problems)
            return None
        problems = load.recovered_problems(document) + schema.validate_project_document(document)
        problems += reserved_var_problems(document, document.data.get("vars") or {}, ("vars",))
        if problems:
            self.problems.extend(problems)
            return None
        data = document.data
        untranslated = (data.get("checks") or {}).get("untranslated-locale") or "warning"
        if isinstance(untranslated, str):
            untranslated = {"level": untranslated}
        return ProjectSettings(
            defaults=data.get("defaults") or {},
            vars=data.get("vars") or {},
            path=display,
            folder=Path(os.path.abspath(path.parent)),
            ignore=tuple(data.get("ignore") or ()),
            untranslated_level=untranslated.get("level", "warning"),
            untranslated_off_for=tuple(untranslated.get("off-for") or ()),
        )

    def ignores(self, path: Path) -> bool:
        """Whether the project file of `path`'s project excludes it from the manifests.

        While that project file is broken every file counts as excluded: its problem is
        reported, and a guess at its globs would only add noise.
        """
        settings = self.for_manifest(path)
        return True if settings is None else settings.ignores(path)


def reserved_var_problems(
    document: Document, variables: Mapping[str, Any], path: PathKey
) -> list[Problem]:
    """A problem for each name specsync sets itself among `variables` (at `path`)."""
    return [
        Problem(
            document.locate((*path, name), key=True),
            f"'{name}' is set by specsync for every script; rename this variable",
            code="reserved-var",
        )
        for name in RESERVED_VARS
        if name in variables
    ]
