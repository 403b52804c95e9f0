"""Scripts rendered through a shared shape give exactly what their own template gives.

A seeded generator writes templates from the pieces scripts are made of (text with stray
braces, newlines and accents; expressions, loops, conditions, sets, whitespace control,
quoted strings, includes; and what a shape must refuse: comments, raw, `{%+`, quotes that
could hide a tag's end, carriage returns, errors). For every
one: the raw output through the shape is byte-identical to the template's own, or the
shape is refused, or it fails where the template fails; and what a user sees (text or
problem, with its location) is the same.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from specsync.model import ItemSpec
from specsync.render import skeleton
from specsync.render.render import Renderer
from specsync.render.sandbox import MAX_VALUE
from specsync.render.skeleton import MAX_USES, SLOT_PREFIX, Shape, choose_shapes, shape_of
from tests.helpers.specs import script_spec

TEXT_PIECES = [
    "Hello",
    " ",
    "  ",
    "\n",
    "\n\n",
    "é 한국어 🎬",
    "{ not a tag }",
    "}}",
    "%}",
    "50%",
    "#1",
    "a}b",
    "-",
    "+",
    "\t",
    "'",
    '"',
    "{",
]
EXPRESSIONS = [
    "{{ name }}",
    "{{name}}",
    "{{ lesson + 1 }}",
    "{{ name|upper }}",
    "{{ steps|length }}",
    "{{ steps|join }}",
    "{{ product ~ name }}",
    "{{ missing }}",  # undefined: an error
    "{{ lesson / 0 }}",  # an error
    "{{ name.upper() }}",
    "{{\nname\n}}",
    "{{ lesson }}",  # an int
    "{{ steps }}",  # a list: printed by Jinja, not by the plain join
    "{{ true }}",  # a literal, not a variable
    "{{ range }}",  # a global
]
# Taken since whitespace control and quoted strings are (the runs beside a `-` stripped).
SHAPED = [
    "{{- name }}",
    "{{ name -}}",
    "{{-name-}}",
    "{%- if lesson %}x{% endif %}",
    "{% if lesson -%} \n x {% endif %}",
    "\n{%- for s in steps -%}\n {{ s }} \n{%- endfor %}\n",
    "{{ 'quoted' }}",
    '{{ steps|join(", ") }}',
    "{{ '-' }}",
    "{% include 'snippets/outro.j2' %}",
    '{%- include "snippets/outro.j2" -%}',
    "{% include 'snippets/missing.j2' %}",  # an error
    "{% include 'snippets/slot.j2' %}",  # names a slot: refused by the loader
]
REFUSED = [
    "{%+ if lesson %}x{% endif %}",
    "{# a comment #}",
    "{% raw %}{{ name }}{% endraw %}",
    "{{ '%}' }}",
    "{{ 'a\\'b' }}",
    "\r\n",
    "{% macro m() %}x{% endmacro %}{{ m() }}",
    "{% include name %}",
]


def text(rng: random.Random) -> str:
    return "".join(rng.choice(TEXT_PIECES) for _ in range(rng.randint(1, 4)))


def body(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.random()
        if kind < 0.35:
            parts.append(text(rng))
        elif kind < 0.6:
            parts.append(rng.choice(EXPRESSIONS))
        elif kind < 0.7 and depth < 2:
            inner = body(rng, depth + 1)
            parts.append(f"{{% for step in steps %}}{inner}{{{{ loop.index }}}}{{% endfor %}}")
        elif kind < 0.8 and depth < 2:
            yes, no = body(rng, depth + 1), body(rng, depth + 1)
            parts.append(f"{{% if lesson > 2 %}}{yes}{{% else %}}{no}{{% endif %}}")
        elif kind < 0.85:
            parts.append(f"{{% set twice = lesson * 2 %}}{text(rng)}{{{{ twice }}}}")
        elif kind < 0.88:
            parts.append(f"{{% with n = name %}}{text(rng)}{{{{ n }}}}{{% endwith %}}")
        elif kind < 0.94:
            parts.append(rng.choice(SHAPED))
        else:
            parts.append(rng.choice(REFUSED))
    return "".join(parts)


def template(seed: int) -> str:
    rng = random.Random(seed)
    source = body(rng)
    if rng.random() < 0.2:
        source += rng.choice(["\n", "\n\n", " \n"])
    return source


def spec(source: str) -> ItemSpec:
    return script_spec(
        source, first_line=5, name="Ada", lesson=3, product="Acme", steps=["one", "two"]
    )


SEEDS = range(600)


def test_the_generator_gives_shapes_to_share_and_sources_to_refuse() -> None:
    shapes = [shape_of(template(seed)) for seed in SEEDS]
    shaped = [shape for shape in shapes if shape is not None]
    assert 0.25 * len(SEEDS) < len(shaped) < 0.9 * len(SEEDS)
    # Some only print variables: joined without Jinja (render_plain).
    assert sum(shape.plain is not None for shape in shaped) > 0.05 * len(SEEDS)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Snippets for the generated includes: one with tags and whitespace, one naming a slot."""
    folder = tmp_path_factory.mktemp("root")
    (folder / "snippets").mkdir()
    (folder / "snippets" / "outro.j2").write_text(
        "{%- if lesson > 2 %} Bye {{ name }}.{% endif %}\n", encoding="utf-8"
    )
    (folder / "snippets" / "slot.j2").write_text("{{ " + SLOT_PREFIX + "0__ }}", encoding="utf-8")
    return folder


@pytest.mark.parametrize("chunk", range(6))
def test_a_shape_renders_byte_for_byte_what_its_source_renders(chunk: int, root: Path) -> None:
    renderer = Renderer(root)
    with renderer.alarm.installed():
        for seed in SEEDS[chunk::6]:
            source = template(seed)
            item = spec(source)
            try:
                own: str | None = "".join(
                    renderer._pieces(renderer.compile(source), item.variables)
                )
            except Exception:
                own = None
            shape = shape_of(source)
            if shape is None:
                continue
            shared = renderer._render_shape(item, shape)
            # The same bytes, or the shape fails too (and the source then reports it).
            assert shared == own, (seed, source, shape)


@pytest.mark.parametrize("chunk", range(3))
def test_what_the_user_sees_is_the_same_either_way(chunk: int, root: Path) -> None:
    renderer = Renderer(root)
    sources = [template(seed) for seed in SEEDS[chunk::3]]
    # Every source that has a shape renders through it (precompile shares only shapes
    # that several scripts have).
    renderer._shapes = {s: shape for s in sources if (shape := shape_of(s)) is not None}
    with renderer.alarm.installed():
        for source in sources:
            item = spec(source)
            assert renderer.render(item) == renderer._render_source(item, source), source


def test_scripts_of_one_shape_share_one_compiled_template(tmp_path: Path) -> None:
    loop = "{% for s in steps %} {{ s }}{% endfor %}"
    sources = [f"[{n}] {{{{ name }}}}, lesson {n}:{loop} words {n}." for n in range(50)]
    shapes = {shape_of(source).skeleton for source in sources}  # type: ignore[union-attr]
    assert len(shapes) == 1
    renderer = Renderer(tmp_path)
    renderer.precompile([spec(source) for source in sources])
    with renderer.alarm.installed():
        texts = [renderer.render(spec(source)) for source in sources]
    assert texts == [f"[{n}] Ada, lesson {n}: one two words {n}." for n in range(50)]
    assert len(renderer._compiled) == 1


def test_scripts_that_only_print_variables_need_no_template(tmp_path: Path) -> None:
    sources = [f"[{n}] {{{{ name }}}}, lesson {{{{ lesson }}}}." for n in range(3)]
    renderer = Renderer(tmp_path)
    renderer.precompile([spec(source) for source in sources])
    with renderer.alarm.installed():
        texts = [renderer.render(spec(source)) for source in sources]
    assert texts == [f"[{n}] Ada, lesson 3." for n in range(3)]
    assert renderer._compiled == {}


def test_an_error_in_a_shared_shape_is_worded_from_the_script_itself() -> None:
    source = "line one\nline two {{ missing }}"
    renderer = Renderer(Path("."))
    renderer.precompile([spec(source), spec("other\ntext {{ missing }}")])
    assert source in renderer._shapes
    message = str(renderer.render(spec(source)))
    assert message == (
        "m.yaml:6:1: undefined: 'missing' is undefined "
        "(variables: lesson, locale, name, product, steps, video) (script line 2)"
    )


@pytest.mark.parametrize(
    "source",
    [
        f"{{{{ {SLOT_PREFIX}0__ }}}} text",  # the slots' own names
        "text {{ name }}\r\n",
        "{{+ name }} text",
        "text {% raw %}x{% endraw %}",
        "text {{ '}}' }}",
        "{{ name }}",  # nothing to share
    ],
)
def test_sources_a_shape_could_change_are_compiled_as_themselves(source: str) -> None:
    assert shape_of(source) is None


def test_which_scripts_take_a_shape() -> None:
    one = "[en] {{ name }}: one."
    two = "[ko] {{ name }}: two."
    alone = "{% if lesson %}alone{% endif %}"
    reused = "[ja] {{ name }}: reused."
    looped_one = "[en] {% for s in steps %}{{ s }}{% endfor %}: one."
    looped_two = "[ko] {% for s in steps %}{{ s }}{% endfor %}: two."
    looped_alone = "{% if lesson %}alone{% endif %}"
    looped_reused = "[ja] {% for s in steps %}{{ s }}{% endfor %}: reused."
    uses = {looped_one: 1, looped_two: 3, looped_alone: 1, looped_reused: MAX_USES + 1}
    chosen = choose_shapes(uses)
    assert sorted(chosen) == sorted([looped_one, looped_two])
    # Printing variables only, they need no template: taken however many use them.
    plain = choose_shapes({one: 1, two: 3, alone: 1, reused: MAX_USES + 1})
    assert sorted(plain) == sorted([one, two, reused])


# The first shape_of, one piece at a time: the quicker one must give exactly its shapes.
def reference_shape_of(source: str) -> Shape | None:
    if "\r" in source or SLOT_PREFIX in source or "#}" in source:
        return None
    if source.endswith("\n"):
        source = source[:-1]
    pieces = skeleton._SPLIT.split(source)
    for index in range(0, len(pieces), 2):
        piece = pieces[index]
        if "{" in piece and (skeleton.TAG_START.search(piece) or piece.endswith("{")):
            return None
    for index in range(1, len(pieces), 2):  # whitespace control, one run at a time
        if pieces[index].startswith(("{{-", "{%-")):
            pieces[index - 1] = pieces[index - 1].rstrip()
        if pieces[index].endswith(("-}}", "-%}")):
            following = pieces[index + 1]
            while following and following[0].isspace():
                following = following[1:]
            pieces[index + 1] = following
    parts: list[str] = []
    slots: dict[str, str] = {}
    plain: list[str] | None = []
    for index, piece in enumerate(pieces):
        if index % 2:
            if not piece.startswith("{{"):
                statement = skeleton._STATEMENT.match(piece)
                plain_statement = (
                    statement is not None and statement.group(1) in skeleton._PLAIN_STATEMENTS
                )
                if not plain_statement and not skeleton._INCLUDE.match(piece):
                    return None
            parts.append(piece)
            if plain is not None:
                printed = skeleton._PRINT_NAME.match(piece)
                if printed is None or printed.group(1) in skeleton._LITERAL_NAMES:
                    plain = None
                else:
                    plain.append(printed.group(1))
        else:
            if plain is not None:
                plain.append(piece)  # a text run, empty or not
            if not piece:
                continue
            if len(piece) > MAX_VALUE:
                return None
            name = f"{SLOT_PREFIX}{len(slots)}__"
            slots[name] = piece
            parts.append("{{ " + name + " }}")
    if not slots:
        return None
    return Shape("".join(parts), slots, None if plain is None else tuple(plain))


def test_shape_of_gives_what_the_piece_by_piece_reading_gives() -> None:
    rng = random.Random(18)
    sources = [template(seed) for seed in SEEDS]
    # Many runs (more slots than the prepared names), long runs, a trailing newline.
    sources += [" ".join(f"w{n} {{{{ name }}}}" for n in range(70)), "x" * (MAX_VALUE + 1)]
    sources += ["a {{ name }}\n", "{{ name }}{{ lesson }}", "a{{ name }}b{% if x %}c{% endif %}"]
    sources += [
        "".join(
            rng.choice(TEXT_PIECES + EXPRESSIONS + SHAPED + REFUSED)
            for _ in range(rng.randint(1, 9))
        )
        for _ in range(2000)
    ]
    for source in sources:
        assert shape_of(source) == reference_shape_of(source), source
