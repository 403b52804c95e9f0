"""The sandbox answers `loop.index` and `item.name` (a dict's item) without its attribute
checks: each answer must be the one the checks give, and refusals must stay refusals."""

from pathlib import Path
from typing import Any

import pytest
from jinja2 import Undefined
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from specsync.render import render as render_module
from specsync.render.render import render_items
from specsync.render.sandbox import ScriptEnvironment
from tests.helpers.specs import script_spec


def _checked_answer(environment: ScriptEnvironment, obj: Any, attribute: str) -> Any:
    """What the sandbox's checks answer (the path taken before the quick answers)."""
    return environment._guard(
        obj, attribute, ImmutableSandboxedEnvironment.getattr(environment, obj, attribute)
    )


def _comparable(value: Any, owner: Any) -> Any:
    if isinstance(value, Undefined):
        # Which undefined, and of what: its message when printed says it.
        named = value._undefined_name, value._undefined_hint
        return (type(value), *named, value._undefined_obj is owner)
    if callable(value):
        bound_to = getattr(value, "__self__", None)
        return ("callable", getattr(value, "__name__", None), type(bound_to))
    return value


def _loops() -> list[LoopContext]:
    environment = ScriptEnvironment(Path("."))
    loops = []
    for length in (1, 3):
        for position in range(length):
            loop = LoopContext(iter(["a", "b", "c"][:length]), environment.undefined)
            steps = iter(loop)
            for _ in range(position + 1):
                next(steps)
            loops.append(loop)
    return loops


DICT = {
    "name": "Ada",
    "items": "an item named like a method",
    "update": "another",
    "_private": "underscore key",
    "index": 3,
    "": "empty key",
}
DICT_ATTRIBUTES = [
    *DICT,
    "missing",
    "keys",
    "values",
    "get",
    "pop",
    "popitem",
    "clear",
    "setdefault",
    "copy",
    "fromkeys",
    "__class__",
    "__dict__",
    "__init__",
    "mro",
]
LOOP_ATTRIBUTES = [
    "index",
    "index0",
    "revindex",
    "revindex0",
    "first",
    "last",
    "length",
    "depth",
    "depth0",
    "previtem",
    "nextitem",
    "cycle",
    "changed",
    "_iterator",
    "__class__",
    "missing",
]


@pytest.mark.parametrize("attribute", DICT_ATTRIBUTES)
def test_a_dict_attribute_is_answered_as_the_checks_answer_it(attribute: str) -> None:
    environment = ScriptEnvironment(Path("."))
    assert _comparable(environment.getattr(DICT, attribute), DICT) == _comparable(
        _checked_answer(environment, DICT, attribute), DICT
    )


@pytest.mark.parametrize("attribute", LOOP_ATTRIBUTES)
def test_a_loop_attribute_is_answered_as_the_checks_answer_it(attribute: str) -> None:
    environment = ScriptEnvironment(Path("."))
    for loop, twin in zip(_loops(), _loops(), strict=True):
        # Twins: `length` may consume what is left of a loop's iterator.
        assert _comparable(environment.getattr(loop, attribute), loop) == _comparable(
            _checked_answer(environment, twin, attribute), twin
        )


class _CheckedEverywhere(ScriptEnvironment):
    """The sandbox as it was: every attribute through its checks."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        return _checked_answer(self, obj, attribute)


TEMPLATES = [
    "{% for s in steps %}{{ loop.index }}/{{ loop.length }} {{ s.name }}"
    "{% if loop.first %}!{% endif %}{% if not loop.last %}, {% endif %}{% endfor %}",
    "{% for s in steps %}{{ loop.previtem.name if loop.previtem else '-' }}{% endfor %}",
    "{% for s in steps %}{{ loop.cycle('a', 'b') }}{% endfor %}",
    "{{ d.name }} {{ d.index }} {{ d['items'] }}",
    "{{ d.items }}",  # a method: refused as a text that differs every run
    "{{ d.update }}",  # a mutating method: refused by the immutable sandbox
    "{{ d.pop('name') }}",
    "{{ d.missing }}",  # undefined, located
    "{{ d.missing.deeper }}",
    "{{ d._private }}",
    "{{ d.__class__ }}",
    "{{ steps[0].nope }}",
    "{% for s in steps %}{{ loop.nope }}{% endfor %}",
    "{% for s in steps %}{{ loop._iterator }}{% endfor %}",
    "{{ d.get('name') }} {{ d.keys() | list | length }}",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_scripts_render_as_with_every_attribute_checked(
    template: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = {"steps": [{"name": "one"}, {"name": "two"}, {"name": "three"}], "d": dict(DICT)}
    quick = render_items([script_spec(template, **variables)], Path("."), use_cache=False)
    monkeypatch.setattr(render_module, "ScriptEnvironment", _CheckedEverywhere)
    checked = render_items([script_spec(template, **variables)], Path("."), use_cache=False)
    assert quick == checked


def test_loop_and_dict_attributes_skip_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    walks = []
    slow = ImmutableSandboxedEnvironment.getattr

    def counted(self: Any, obj: Any, attribute: str) -> Any:
        walks.append(attribute)
        return slow(self, obj, attribute)

    monkeypatch.setattr(ImmutableSandboxedEnvironment, "getattr", counted)
    template = "{% for s in steps %}{{ loop.index }}. {{ s.name }}{% endfor %}"
    items, problems = render_items(
        [script_spec(template, steps=[{"name": "a"}, {"name": "b"}])], Path("."), use_cache=False
    )
    assert not problems
    assert items[0].request["text"] == "1. a2. b"
    assert walks == []
    # Anything else still takes the checks.
    render_items([script_spec("{{ 'x'.upper() }}")], Path("."), use_cache=False)
    assert "upper" in walks


@pytest.mark.parametrize(
    ("value", "printed"),
    [(0, "0"), (-5, "-5"), (2**64, str(2**64)), (True, "True"), (1.5, "1.5")],
)
def test_numbers_print_as_they_did(value: object, printed: str) -> None:
    items, problems = render_items([script_spec("n={{ n }}", n=value)], Path("."), use_cache=False)
    assert not problems
    assert items[0].request["text"] == f"n={printed}"


def test_a_number_too_long_to_print_is_still_refused() -> None:
    # 400,000 bits: about 120,000 digits, over the sandbox's print limit.
    _, problems = render_items([script_spec("{{ n }}", n=1 << 400_000)], Path("."), use_cache=False)
    assert len(problems) == 1
    assert "cannot be printed" in problems[0].message
    assert str(problems[0].location) == "m.yaml:5:13"


def test_an_included_file_reads_globals_from_a_plain_dict(tmp_path: Path) -> None:
    # Each include makes a context that walks the template's globals: a plain dict, as
    # scripts have (Jinja's ChainMap is walked whole each time).
    (tmp_path / "snippet.j2").write_text(
        "{% for i in range(2) %}{{ i }}{% endfor %}{% set ns = namespace(n=7) %}{{ ns.n }}",
        encoding="utf-8",
    )
    renderer = render_module.Renderer(tmp_path)
    assert renderer.render(script_spec("[{% include 'snippet.j2' %}]")) == "[017]"
    loaded = renderer.environment.get_template("snippet.j2")
    assert type(loaded.globals) is dict
    assert loaded.globals == dict(renderer.environment.globals)
