"""What the apply tests share: numbered items and a progress that prints nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from specsync.model import Item, Location, build_request
from specsync.service.apply import Outcome
from specsync.service.client import ExportResult


def items(count: int, text: str = "Script {n}.") -> list[Item]:
    """`count` items v00/en, v01/en, …, each with its own script."""
    width = max(2, len(str(count - 1)))
    return [
        Item(
            f"v{n:0{width}d}/en",
            f"v{n:0{width}d}",
            "en",
            build_request("en", text.format(n=n), {"model": "M1"}),
            Location("m.yaml", 3),
        )
        for n in range(count)
    ]


class Quiet:
    def start(self, total: int) -> None: ...
    def done(self, outcome: Outcome) -> None: ...
    def note(self, message: str) -> None: ...
    def finish(self) -> None: ...


class FakeClient:
    """Every member of apply's ExportClient, doing nothing; tests override `export`."""

    def export(self, request: Mapping[str, Any]) -> ExportResult:
        raise NotImplementedError

    def identify_service(self) -> bool | None:
        return False

    def get_json(self, path: str, *, once: bool = False) -> tuple[int, Any]:
        return 404, None

    def stop_retrying(self) -> None: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...
