"""`builder(kind)` builds what `kind(...)` builds, or is `kind` itself where it could not."""

import dataclasses
from typing import Any

import pytest

from specsync.model import Item, ItemSpec, Location
from specsync.render.quick_build import builder

SPEC_FIELDS: dict[str, Any] = {
    "id": "v/en",
    "video": "v",
    "locale": "en",
    "template": "Hi {{ name }}",
    "template_location": Location("m.yaml", 5, 13),
    "variables": {"name": "Ada", "locale": "en", "video": "v"},
    "fields": {"model": "M"},
    "source": Location("m.yaml", 4, 3),
    "template_first_line": 6,
}


def test_an_item_spec_is_the_one_its_constructor_builds() -> None:
    built = builder(ItemSpec)(**SPEC_FIELDS)
    made = ItemSpec(**SPEC_FIELDS)
    assert type(built) is ItemSpec
    assert built == made
    assert vars(built) == vars(made)
    assert list(vars(built)) == list(vars(made))  # the same order: pickles byte for byte
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.id = "w/en"  # type: ignore[misc]
    assert dataclasses.replace(built, id="w/en").id == "w/en"


def test_items_and_places_are_built_quickly_too() -> None:
    # The model's classes the run builds by the thousand must take the quick way.
    assert builder(ItemSpec) is not ItemSpec
    assert builder(Item) is not Item
    request = {"language": "en", "text": "Hi"}
    place = Location("m.yaml", 4, 3)
    assert builder(Item)(id="v/en", video="v", locale="en", request=request, source=place) == (
        Item("v/en", "v", "en", request, place)
    )


def test_a_default_left_out_or_a_misspelt_name_goes_to_the_constructor() -> None:
    build = builder(ItemSpec)
    fields = {k: v for k, v in SPEC_FIELDS.items() if k != "template_first_line"}
    assert build(**fields).template_first_line == 0
    with pytest.raises(TypeError):
        build(**{**fields, "templat_first_line": 1})


@dataclasses.dataclass(frozen=True)
class _Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclasses.dataclass(frozen=True, slots=True)
class _Slotted:
    value: int


@dataclasses.dataclass(frozen=True)
class _Factory:
    values: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _NotInInit:
    value: int
    twice: int = dataclasses.field(init=False, default=0)


@dataclasses.dataclass(frozen=True, init=False)
class _OwnInit:
    value: int

    def __init__(self, value: int) -> None:
        object.__setattr__(self, "value", abs(value))


@pytest.mark.parametrize("kind", [_Checked, _Slotted, _Factory, _NotInInit, _OwnInit])
def test_a_class_whose_constructor_does_more_is_built_by_it(kind: type) -> None:
    assert builder(kind) is kind
