"""Self-describing, signed project ids and auth tokens (JWTs).

A project id carries its creation time, render length and outcome, signed with a fixed
emulator secret, so that a later emulator process (e.g. behind `specsync status --emulator`,
run after `apply --emulator` ended) can still answer progress for it without shared state.
The secret is public on purpose: the emulator guards nothing real; the signature only
keeps typos and made-up ids from looking valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass

_SECRET = b"specsync-emulator-v1"
_PROJECT_PREFIX = "emu"
_TOKEN_PREFIX = "emutok"
_SIGNATURE_CHARS = 16


def sign(payload: str) -> str:
    """A short signature with the public emulator secret (see the module docstring)."""
    digest = hmac.new(_SECRET, _utf8(payload), hashlib.sha256).hexdigest()
    return digest[:_SIGNATURE_CHARS]


def same_text(given: str, expected: str) -> bool:
    """Constant-time comparison of any two strings.

    Ids, tokens and keys arrive from paths, headers and JSON: they may hold non-ASCII
    characters or lone surrogates, on which hmac.compare_digest(str, str) raises.
    """
    return hmac.compare_digest(_utf8(given), _utf8(expected))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Project:
    """One accepted export: when it started, how long it renders, whether it will fail."""

    project_id: str
    created: float  # seconds since the epoch
    render_seconds: float
    fails: bool
    # `isExport: false`: only shown on the dashboard, never rendered (docs/vendor.md).
    preview: bool = False


def new_project(
    created: float, render_seconds: float, fails: bool, preview: bool = False
) -> Project:
    outcome = "p" if preview else "f" if fails else "d"
    payload = (
        f"{_PROJECT_PREFIX}-{round(created * 1000):x}-{round(render_seconds * 1000):x}"
        f"-{outcome}{secrets.token_hex(4)}"
    )
    project_id = f"{payload}-{sign(payload)}"
    return read_project(project_id) or Project(project_id, created, render_seconds, fails, preview)


def read_project(project_id: str) -> Project | None:
    """The project an id describes, or None when the id was not issued by an emulator."""
    payload, _, signature = project_id.rpartition("-")
    if not payload or not same_text(signature, sign(payload)):
        return None
    parts = payload.split("-")
    if len(parts) != 4 or parts[0] != _PROJECT_PREFIX or parts[3][:1] not in ("d", "f", "p"):
        return None
    try:
        created_ms, render_ms = int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None
    outcome = parts[3][0]
    return Project(project_id, created_ms / 1000, render_ms / 1000, outcome == "f", outcome == "p")


def new_task_id() -> str:
    return uuid.uuid4().hex


def new_token(expires: float) -> str:
    """A JWT (three base64url parts) whose payload's `exp` says when it expires, as the
    vendor's tokens are (docs/vendor.md); signed with the public emulator secret."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")))
    # A NumericDate may carry a fraction (RFC 7519): short test TTLs stay exact.
    claims = {"appId": _TOKEN_PREFIX, "exp": round(expires, 3), "jti": secrets.token_hex(8)}
    payload = _b64(json.dumps(claims, separators=(",", ":")))
    signing_input = f"{header}.{payload}"
    digest = hmac.new(_SECRET, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def token_expiry(value: str) -> float | None:
    """When a token issued by an emulator expires (epoch seconds); None for anything else."""
    parts = value.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    signing_input = f"{parts[0]}.{parts[1]}"
    try:
        digest = hmac.new(_SECRET, signing_input.encode("ascii"), hashlib.sha256).digest()
    except UnicodeEncodeError:
        return None
    if not same_text(parts[2], _b64(digest)):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return float(exp)


def _b64(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
