"""Filters the sandbox replaces give Jinja's own result on ordinary input.

The sandbox wraps some of Jinja's filters to bound what they build; a wrapper that calls
Jinja's filter the wrong way (Jinja's async-capable filters take an extra first argument)
would break the filter for every manifest, not only hostile ones.
"""

from pathlib import Path

import jinja2
import pytest

from specsync.render.render import render_items
from specsync.render.sandbox import ScriptEnvironment
from tests.helpers.specs import script_spec

# One ordinary use of each replaced filter (`random` and `string` refuse by design and
# are tested with the values whose text differs every run).
ORDINARY_USES = {
    "center": "[{{ 'ab'|center(6) }}]",
    "indent": "{{ 'a\nb'|indent(2, first=True) }}",
    "format": "{{ '%s-%03d'|format('a', 7) }}",
    "batch": "{{ [1, 2, 3]|batch(2, 0)|list }}",
    "slice": "{{ [1, 2, 3, 4, 5]|slice(2)|list }} {{ [1, 2, 3]|slice(2, 0)|list }}",
    "wordwrap": "{{ 'aaa bbb ccc'|wordwrap(4) }}|{{ 'aaa bbb'|wordwrap(4, wrapstring='/') }}",
    "tojson": "{{ {'a': [1, 'x']}|tojson }} {{ [1]|tojson(indent=2) }}",
    "replace": "{{ 'a-b-c'|replace('-', '+') }} {{ 'a-b-c'|replace('-', '+', 1) }}",
    "join": "{{ [1, 2]|join(', ') }} {{ [{'n': 'x'}, {'n': 'y'}]|join('/', attribute='n') }}",
}
REFUSING_BY_DESIGN = {"random", "string"}


def render(template: str) -> str:
    items, problems = render_items([script_spec(template, 0)], Path("."))
    assert not problems, problems
    return str(items[0].request["text"])


def test_every_replaced_filter_has_an_ordinary_use_here() -> None:
    replaced = {
        name
        for name, function in ScriptEnvironment(Path(".")).filters.items()
        if jinja2.Environment().filters.get(name) is not function
    }
    assert replaced == set(ORDINARY_USES) | REFUSING_BY_DESIGN


@pytest.mark.parametrize("name", sorted(ORDINARY_USES))
def test_a_replaced_filter_renders_as_jinja_does(name: str) -> None:
    template = ORDINARY_USES[name]
    expected = jinja2.Environment().from_string(template).render().strip()
    assert render(template) == expected
