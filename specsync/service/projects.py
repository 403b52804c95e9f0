"""What the account holds: one project (`GET /api/odin/v3/editor/project/{id}`) and the
project list (`GET /api/odin/v3/editor/project`), read for adopt and reconcile.

Shapes are the vendor's pages (docs/vendor.md): the single project answers `{project: {_id,
scenes, state, progress, backendTaskId, creditSubstracted, createdAt, download_url}}`
(reference/get-project.md); its script sits in `scenes` as the create-project page and the
vendor's sample lay it out (`scripts[].org` / `modelId`, or an `aiModel` clip's `script.org`
and `model.ai_name` / `model.language`). The list gives `id, name, state, download_url`
(reference/get-projects.md), no paging documented: one answer is read, whatever it holds.
Reading is lenient (the envelope is assumed): a field that is missing or odd is None.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from specsync.service.http.reply import id_text as _id_text
from specsync.service.http.reply import is_refusal as _refusal
from specsync.service.http.reply import unwrap as _unwrap

PROJECT_PATH = "/api/odin/v3/editor/project/{project_id}"
PROJECT_LIST_PATH = "/api/odin/v3/editor/project"
# The list page says a project is ready when its state is "exported"; no page names a
# failure word: these are assumed (docs/vendor.md, "state words").
EXPORTED_WORDS = frozenset({"exported", "finish", "finished", "done", "complete", "completed"})
FAILED_WORDS = frozenset({"failed", "fail", "failure", "error", "errored", "cancelled", "canceled"})


@dataclass(frozen=True)
class ProjectInfo:
    """One project as the account describes it; None where the answer says nothing."""

    project_id: str
    state: str | None = None
    progress: float | None = None
    task_id: str | None = None  # backendTaskId
    credit_charged: bool | None = None  # creditSubstracted
    created_at: datetime.datetime | None = None
    download_url: str | None = None
    text: str | None = None
    model: str | None = None
    language: str | None = None

    @property
    def failed(self) -> bool:
        return (self.state or "").lower() in FAILED_WORDS

    @property
    def exported(self) -> bool:
        return (self.state or "").lower() in EXPORTED_WORDS


class ProjectEndpointMissing(Exception):
    """The project endpoint answered 404 (unknown id, or no such endpoint): ask progress."""


def get_project(client: Any, project_id: str) -> ProjectInfo:
    """The project, or ProjectEndpointMissing on 404; ClientError/AuthError propagate.

    Any other answer without a readable project is a ClientError-like ValueError.
    """
    status, parsed = client.get_json(PROJECT_PATH.format(project_id=quote(project_id, safe="")))
    if status == 404:
        raise ProjectEndpointMissing(project_id)
    data = _unwrap(parsed) if status == 200 and not _refusal(parsed) else None
    project = data.get("project") if data else None
    if not isinstance(project, dict):
        raise ValueError(
            f"GET {PROJECT_LIST_PATH}/{project_id} answered HTTP {status} without a project"
        )
    return project_info(project, project_id)


def list_projects(client: Any) -> list[str]:
    """The projectIds the account lists (one answer; no paging is documented)."""
    status, parsed = client.get_json(PROJECT_LIST_PATH)
    if status != 200 or _refusal(parsed):
        raise ValueError(f"GET {PROJECT_LIST_PATH} answered HTTP {status}")
    data = parsed.get("data") if isinstance(parsed, dict) and "data" in parsed else parsed
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        data = lists[0] if len(lists) == 1 else None
    if not isinstance(data, list):
        raise ValueError(f"GET {PROJECT_LIST_PATH} answered no list of projects")
    ids = []
    for element in data:
        if isinstance(element, dict):
            found = _id_text(element.get("id", element.get("_id")))
            if found:
                ids.append(found)
    return ids


def project_info(project: dict[str, Any], asked: str) -> ProjectInfo:
    text, model, language = _script(project.get("scenes"))
    return ProjectInfo(
        project_id=_id_text(project.get("_id")) or asked,
        state=_text(project.get("state")),
        progress=_number(project.get("progress")),
        task_id=_id_text(project.get("backendTaskId")),
        credit_charged=project.get("creditSubstracted")
        if isinstance(project.get("creditSubstracted"), bool)
        else None,
        created_at=_moment(project.get("createdAt")),
        download_url=_url(project.get("download_url")),
        text=text,
        model=model,
        language=language,
    )


def _script(scenes: Any) -> tuple[str | None, str | None, str | None]:
    """(text, model, language) of a one-scene project; None for what it does not say."""
    if not isinstance(scenes, list) or len(scenes) != 1 or not isinstance(scenes[0], dict):
        return None, None, None
    scene = scenes[0]
    text = model = language = None
    for clip in scene.get("clips") or ():
        if isinstance(clip, dict) and clip.get("type") == "aiModel":
            script: dict[str, Any] = clip["script"] if isinstance(clip.get("script"), dict) else {}
            about: dict[str, Any] = clip["model"] if isinstance(clip.get("model"), dict) else {}
            text = _text(script.get("org"), strip=False)
            model = _text(about.get("ai_name"))
            language = _text(about.get("language"))
            break
    scripts = scene.get("scripts")
    if isinstance(scripts, list) and scripts and isinstance(scripts[0], dict):
        text = text if text is not None else _text(scripts[0].get("org"), strip=False)
        model = model or _text(scripts[0].get("modelId"))
    return text, model, language


def _text(value: Any, *, strip: bool = True) -> str | None:
    if not isinstance(value, str):
        return None
    return (value.strip() if strip else value) or None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _moment(value: Any) -> datetime.datetime | None:
    """An ISO 8601 time (the `Date` of the page), as aware UTC; None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)  # assumed UTC
    return moment.astimezone(datetime.timezone.utc)
