"""What the apply tests share: numbered items and a progress that prints nothing."""

from __future__ import annotations

from specsync.model import Item, Location, build_request
from specsync.service.apply import Outcome


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
