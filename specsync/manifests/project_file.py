"""The optional project file, `specsync.yaml` at the project root: settings for every manifest.

It holds `specsync: 1`, then `defaults` and `vars` shaped exactly as a manifest's; they sit
below each manifest's own (precedence project -> file -> video -> locale). Each manifest
takes the project file of its own project (the nearest folder upwards holding specsync.lock
or specsync.yaml, see project_root), so `specsync validate manifests/a.yaml` from anywhere
sees the same vars as a run over the whole set. Each project file is read once per run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specsync.manifests.project_root import PROJECT_FILE_NAME, find_project_root, foreign_owner
from specsync.model import Document, InputError, Location, PathKey, Problem

# Names every template gets from specsync; a var of the same name would be shadowed silently.
RESERVED_VARS = ("locale", "video")


@dataclass(frozen=True)
class ProjectSettings:
    """What a project file gives every manifest of its project (nothing when absent)."""

    defaults: Mapping[str, Any] = field(default_factory=dict)
    vars: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""  # as messages show it; "" when there is no project file


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
        return ProjectSettings(
            defaults=data.get("defaults") or {}, vars=data.get("vars") or {}, path=display
        )


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
