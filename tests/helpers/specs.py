"""Item specs for render tests: one script of item v/en at m.yaml, as expand makes them."""

from __future__ import annotations

from specsync.model import ItemSpec, Location


def script_spec(template: str, first_line: int = 0, **variables: object) -> ItemSpec:
    """Item v/en rendering `template` (its script at m.yaml:5:13, starting on `first_line`)
    with `variables`, `locale` and `video`."""
    return ItemSpec(
        id="v/en",
        video="v",
        locale="en",
        template=template,
        template_location=Location("m.yaml", 5, 13),
        variables={**variables, "locale": "en", "video": "v"},
        fields={"model": "M"},
        source=Location("m.yaml", 4, 3),
        template_first_line=first_line,
    )
