"""What the account knows: its models and workspaces, and the manifests' ids checked
against them (for `doctor`, and once by `apply` before anything is sent: a warning only).

The list endpoints are documented (`GET /api/odin/v3/model` answers `{models: [{id, label,
clothes}]}`, `GET /api/odin/v3/dropdown/workspaces` `workspaceId`/`workspaceName`;
docs/vendor.md) but the envelope around them is not, so reading them is lenient: the
envelope's `data` may be a list or an object holding one; its elements strings, or objects
with an id-like key. When nothing recognisable comes back the list is *unavailable* (None), never
empty: an empty list would refuse every model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from specsync.model import Item
from specsync.service.errors import ClientError
from specsync.service.http.reply import is_refusal

MODEL_PATH = "/api/odin/v3/model"
DROPDOWN_MODEL_PATH = "/api/odin/v3/dropdown/models"
WORKSPACE_PATH = "/api/odin/v3/dropdown/workspaces"
MODEL_KEYS = ("modelId", "id", "model", "key")
WORKSPACE_KEYS = ("workspaceId", "id", "key", "value")
# Where an object `data` may hold its list (otherwise: its only list value).
_LIST_KEYS = ("list", "items", "models", "workspaces", "data", "result")


@dataclass(frozen=True)
class AccountList:
    """The ids an endpoint listed, or why there are none to check against."""

    ids: frozenset[str] | None
    note: str = ""  # why the list is unavailable

    @property
    def available(self) -> bool:
        return self.ids is not None


def ids_from_answer(parsed: Any, keys: Sequence[str]) -> frozenset[str] | None:
    """The ids in an answer of a list endpoint; None when nothing recognisable is there."""
    data = parsed.get("data") if isinstance(parsed, dict) and "data" in parsed else parsed
    if is_refusal(parsed):
        return None
    if isinstance(data, dict):
        lists = [data[key] for key in _LIST_KEYS if isinstance(data.get(key), list)]
        if not lists:
            lists = [value for value in data.values() if isinstance(value, list)]
        data = lists[0] if len(lists) == 1 else None
    if not isinstance(data, list):
        return None
    ids: set[str] = set()
    for element in data:
        if isinstance(element, str) and element.strip():
            ids.add(element.strip())
        elif isinstance(element, dict):
            value = next((element[k] for k in keys if _is_id(element.get(k))), None)
            if value is not None:
                ids.add(str(value).strip())
    return frozenset(ids) if ids else None


def _is_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, str) and bool(value.strip())) or isinstance(value, int)


def fetch_list(client: Any, path: str, keys: Sequence[str], *, once: bool = False) -> AccountList:
    """One list endpoint, read leniently. AuthError propagates (it stops the run).

    `once`: one attempt only (apply's check must not hold the run up on a 429).
    """
    try:
        status, parsed = client.get_json(path, once=once)
    except ClientError as error:
        return AccountList(None, f"GET {path} did not answer ({error})")
    if status != 200:
        return AccountList(None, f"GET {path} answered HTTP {status}")
    ids = ids_from_answer(parsed, keys)
    if ids is None:
        return AccountList(None, f"GET {path} answered nothing recognisable as a list of ids")
    return AccountList(ids)


def unknown_uses(items: Iterable[Item], field: str, known: frozenset[str]) -> dict[str, list[Item]]:
    """Items by each value of request `field` the account does not list."""
    unknown: dict[str, list[Item]] = {}
    for item in items:
        value = item.request.get(field)
        if value is not None and str(value) not in known:
            unknown.setdefault(str(value), []).append(item)
    return unknown


def account_models(client: Any, *, once: bool = False) -> AccountList:
    """The models the account lists: `GET /api/odin/v3/model` (stock models with clothes),
    joined with `GET /api/odin/v3/dropdown/models` when that answers (it names an
    `avatarType`; docs/vendor.md). Unavailable only when neither gives a list."""
    stock = fetch_list(client, MODEL_PATH, MODEL_KEYS, once=once)
    dropdown = fetch_list(client, DROPDOWN_MODEL_PATH, MODEL_KEYS, once=once)
    if stock.ids is None and dropdown.ids is None:
        return stock
    return AccountList((stock.ids or frozenset()) | (dropdown.ids or frozenset()))


# No page says custom avatars appear in the model lists (docs/vendor.md): a model missing
# from them is a warning, never a refusal; the export's own answer is the judge.
CUSTOM_AVATAR_NOTE = (
    "custom avatars may be missing from that list; the export itself will say if the "
    "service does not know the model"
)


def unlisted_model_warning(model: str, users: Sequence[Item], listed: int) -> str:
    """The one wording apply and doctor use for a model the account lists do not name."""
    places = ", ".join(f"{item.source.short} ({item.id})" for item in users[:5])
    more = f" and {len(users) - 5} more" if len(users) > 5 else ""
    return (
        f"model {model!r} is not among the {listed} models the account lists "
        f"(GET {MODEL_PATH}, {DROPDOWN_MODEL_PATH}); used at {places}{more}; " + CUSTOM_AVATAR_NOTE
    )


def check_models_before_apply(
    client: Any, items: Sequence[Item], note: Callable[[str], None]
) -> None:
    """Warn about items whose model the account does not list; never refuse (see above).

    An unavailable list is a warning too: the export's own answer will say.
    """
    if not items:
        return
    models = account_models(client, once=True)
    if models.ids is None:
        note(f"warning: could not check the model ids: {models.note}; going on")
        return
    for model, users in sorted(unknown_uses(items, "model", models.ids).items()):
        note("warning: " + unlisted_model_warning(model, users, len(models.ids)))
