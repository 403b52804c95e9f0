"""Reading the account's model and workspace lists, whose shapes are not documented."""

from __future__ import annotations

from typing import Any

import pytest

from specsync.service.account import MODEL_KEYS, ids_from_answer


@pytest.mark.parametrize(
    ("answer", "ids"),
    [
        ({"success": True, "data": [{"modelId": "M1"}, {"modelId": "M2"}]}, {"M1", "M2"}),
        ({"success": True, "data": [{"id": "M1"}, {"key": 7}]}, {"M1", "7"}),
        ({"success": True, "data": ["M1", "M2"]}, {"M1", "M2"}),
        ({"success": True, "data": {"list": [{"model": "M3"}]}}, {"M3"}),
        ({"success": True, "data": {"whatever": [{"modelId": "M4"}], "total": 1}}, {"M4"}),
        ([{"modelId": "bare"}], {"bare"}),
    ],
)
def test_recognisable_lists_give_their_ids(answer: Any, ids: set[str]) -> None:
    assert ids_from_answer(answer, MODEL_KEYS) == ids


@pytest.mark.parametrize(
    "answer",
    [
        None,
        {"success": True, "data": []},  # empty would refuse everything: unavailable instead
        {"success": True, "data": {"count": 3}},
        {"success": True, "data": [{"name": "no id here"}], "x": 1},
        {"success": True, "data": {"a": [], "b": []}},
        {"success": False, "error": {"code": "E", "msg": "no"}},
        {"success": True, "data": [True, 3.5, None, {"modelId": True}]},
        "text",
    ],
)
def test_anything_unrecognisable_is_unavailable_never_empty(answer: Any) -> None:
    assert ids_from_answer(answer, MODEL_KEYS) is None
