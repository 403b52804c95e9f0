"""The project endpoints: what the emulator made, as the vendor's project pages lay it out.

`GET /api/odin/v3/editor/project/{id}` answers `{project: {_id, name, scenes, state,
progress, backendTaskId, creditSubstracted, createdAt, updatedAt, download_url, ...}}`
(reference/get-project.md); the scenes hold the script the way the create-project page and
the vendor's sample show it (an `aiModel` clip with `script.org` and `model.ai_name` /
`model.language`, and `scripts[].org` / `modelId`). `GET /api/odin/v3/editor/project`
lists `{id, name, state, download_url}` (reference/get-projects.md; paging undocumented:
`?page=N&limit=M` here, all at once without them). Both answer only projects this emulator
made (kept in a bounded memory, and read back from `--journal` when it already exists), so
a made-up id is 404, as a project of another account would be.
"""

from __future__ import annotations

import datetime
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from specsync.emulator.export_log import EXPORT_EVENT
from specsync.emulator.ids import Project, read_project
from specsync.emulator.rendering import DONE, PROJECT_WORDS, progress_at
from specsync.regular_files import open_regular

PROJECT_LIST_PATH = "/api/odin/v3/editor/project"
PROJECT_PREFIX = PROJECT_LIST_PATH + "/"
MAX_PAGE_SIZE = 1000


class MadeProjects:
    """The exports this emulator accepted, newest last, at most `memory` of them."""

    def __init__(self, journal: str | Path | None, *, memory: int) -> None:
        self._memory = max(1, memory)
        self._made: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        if journal is not None:
            self._read_back(Path(journal))

    def _read_back(self, path: Path) -> None:
        try:
            # Read only when it is a regular file: a FIFO in its place would hold the start
            # forever (and the journal's writer refuses one anyway).
            fd = open_regular(path)
            with os.fdopen(fd, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a line cut by a crash: the others still count
                    if isinstance(record, dict) and record.get("event") == EXPORT_EVENT:
                        self.add(record)
        except OSError:
            return

    def add(self, record: Mapping[str, Any]) -> None:
        project_id = record.get("projectId")
        body = record.get("body")
        if not isinstance(project_id, str) or not isinstance(body, dict):
            return
        # The journal's own record, not a copy: the memory is shared with the journal's.
        self._made[project_id] = record
        self._made.move_to_end(project_id)
        while len(self._made) > self._memory:
            self._made.popitem(last=False)

    def get(self, project_id: str) -> Mapping[str, Any] | None:
        return self._made.get(project_id)

    def ids(self) -> list[str]:
        return list(self._made)


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _scenes(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    text, model, language = body.get("text"), body.get("model"), body.get("language")
    clip = {
        "id": "aiModel-1",
        "type": "aiModel",
        "script": {"org": text, "tts": None},
        "model": {"ai_name": model, "emotion": f"{model}-cloth-1", "language": language},
    }
    script = {"org": text, "isTTS": False, "tts": None, "modelId": model, "clothId": None}
    return [{"sceneIdx": 0, "clips": [clip], "scripts": [script]}]


def project_data(
    project: Project, made: Mapping[str, Any], now: float, link: Callable[[str, float], str]
) -> dict[str, Any]:
    """The `project` object of the single-project answer."""
    state = progress_at(project, now)
    done = state.state == DONE
    updated = project.created + (project.render_seconds if done else 0.0)
    body = made["body"]
    return {
        "_id": project.project_id,
        "name": f"specsync {body.get('model')} {body.get('language')}",
        "orientation": "landscape",
        "scenes": _scenes(body),
        "state": PROJECT_WORDS[state.state],
        "progress": int(state.progress),
        "backendTaskId": made.get("taskId"),
        "exportType": "custom",
        # Credit is deducted at completion (the webhook page): only a finished export.
        "creditSubstracted": done,
        "createdAt": _iso(project.created),
        "updatedAt": _iso(min(now, updated)),
        "download_url": link(project.project_id, now) if done else None,
    }


def project_answer(
    projects: MadeProjects, project_id: str, now: float, link: Callable[[str, float], str]
) -> tuple[int, Any]:
    """(HTTP status, data or error message) for `GET .../editor/project/{id}`."""
    made = projects.get(project_id)
    project = read_project(project_id) if made is not None else None
    if project is None or made is None:
        return 404, f"no such project: {project_id}"
    return 200, {"project": project_data(project, made, now, link)}


def project_list_answer(
    projects: MadeProjects, now: float, link: Callable[[str, float], str], query: str
) -> tuple[int, Any]:
    """(HTTP status, data or error message) for `GET .../editor/project`."""
    listed = []
    for project_id in projects.ids():
        project = read_project(project_id)
        made = projects.get(project_id)
        if project is None or made is None:
            continue
        data = project_data(project, made, now, link)
        listed.append(
            {
                "id": project_id,
                "name": data["name"],
                "state": data["state"],
                "download_url": data["download_url"],
            }
        )
    params = parse_qs(query)
    if "page" not in params and "limit" not in params:
        return 200, listed
    try:
        page = int(params.get("page", ["1"])[0])
        limit = int(params.get("limit", [str(MAX_PAGE_SIZE)])[0])
    except ValueError:
        return 400, "page and limit must be whole numbers"
    if page < 1 or not 1 <= limit <= MAX_PAGE_SIZE:
        return 400, f"page must be at least 1 and limit between 1 and {MAX_PAGE_SIZE}"
    return 200, listed[(page - 1) * limit : page * limit]
