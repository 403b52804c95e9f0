"""Checks on an export request body, as the real service makes them (docs/vendor.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

REQUIRED_TEXT_FIELDS = ("language", "text", "model")
RESOLUTIONS = ("4k", "1080", "720", "480")


def export_problems(body: Any) -> list[str]:
    """Every problem with an export body; empty when it is acceptable.

    Unknown fields are accepted and ignored, as the real service most likely does: it
    documents optional fields beyond the required ones, so it does not reject extras.
    """
    if not isinstance(body, dict):
        return ["the request body must be a JSON object"]
    problems: list[str] = []
    for name in REQUIRED_TEXT_FIELDS:
        if name not in body or body[name] is None:
            problems.append(f"'{name}' is required")
        elif not isinstance(body[name], str):
            problems.append(f"'{name}' must be a string")
        elif not body[name].strip():
            problems.append(f"'{name}' must not be empty")
    if "isExport" in body and not isinstance(body["isExport"], bool):
        problems.append("'isExport' must be a boolean")
    if "webhookUrl" in body and not _is_http_url(body["webhookUrl"]):
        problems.append("'webhookUrl' must be an absolute http(s) URL")
    if "resolution" in body and str(body["resolution"]) not in RESOLUTIONS:
        problems.append(f"'resolution' must be one of {', '.join(RESOLUTIONS)}")
    if "workspaceId" in body and not isinstance(body["workspaceId"], str):
        problems.append("'workspaceId' must be a string")
    return problems


def token_request_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the request body must be a JSON object"]
    return [
        f"'{name}' is required (a non-empty string)"
        for name in ("appId", "userKey")
        if not isinstance(body.get(name), str) or not body[name].strip()
    ]


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
