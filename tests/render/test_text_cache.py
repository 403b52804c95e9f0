"""The rendered-text cache: a warm run gives exactly what Jinja gives, without Jinja, and
never a text whose inputs (variables, included files, the sandbox) changed since."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from specsync.model import Item, ItemSpec, Location, Problem
from specsync.render import items as front
from specsync.render import render as jinja_render
from specsync.render import text_cache
from specsync.render.cache import default_cache_dir

TEMPLATES = [
    "Hi {{ name }}.\n{%- for step in steps %}\nStep {{ loop.index }}: {{ step }}.\n{%- endfor %}",
    "{% if n > 3 %}long{% else %}short{% endif %} tour of {{ name | upper }}",
    "Hello {{ name }}.\n{% include 'snippets/outro.j2' %}\n",
    "{{ steps | join(', ') }} {# a comment #} {{ n * 2 }} {{ ratio }} {{ flag }} {{ none }}",
    "Plain text only",
    "{{ name }} and {{ n }}",
    "{% set x = name ~ '!' %}{{ x }} {{ nested.a[1] }}",
]
VARIABLES: dict[str, object] = {
    "name": "Ada",
    "n": 4,
    "ratio": 0.5,
    "flag": True,
    "none": None,
    "steps": ["Open", "Click"],
    "nested": {"a": [1, 2]},
}


def spec(template: str, index: int = 0, **variables: object) -> ItemSpec:
    values = {**VARIABLES, **variables}
    return ItemSpec(
        id=f"v{index}/en",
        video=f"v{index}",
        locale="en",
        template=template,
        template_location=Location("m.yaml", 5 + index, 13),
        variables={**values, "locale": "en", "video": f"v{index}"},
        fields={"model": "M"},
        source=Location("m.yaml", 4 + index, 3),
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "outro.j2").write_text(
        "{% if locale == 'en' %}Questions? {{ name }}{% include 'snippets/sign.j2' %}{% endif %}",
        encoding="utf-8",
    )
    (tmp_path / "snippets" / "sign.j2").write_text(" -- the team", encoding="utf-8")
    return tmp_path


def texts(result: tuple[list[Item], list[Problem]]) -> tuple[list[str], list[str]]:
    items, problems = result
    return [item.request["text"] for item in items], [str(p) for p in problems]


def stored_texts() -> int:
    folders = list(default_cache_dir().glob("texts-*"))
    return sum(p.stat().st_size for folder in folders for p in folder.glob("*.pack"))


def test_cold_and_warm_runs_give_what_jinja_gives(root: Path) -> None:
    specs = [spec(t, i) for i, t in enumerate(TEMPLATES)]
    expected = texts(jinja_render.render_items(specs, root, use_cache=False))
    assert expected[1] == []
    cold = texts(front.render_items(specs, root))
    assert stored_texts() > 0
    warm = texts(front.render_items(specs, root))
    assert cold == warm == expected


def test_a_warm_run_hits_for_every_templated_script(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = [spec(t, i) for i, t in enumerate(TEMPLATES)]
    front.render_items(specs, root, check_unincluded=True)

    def no_jinja(*args: object, **kwargs: object) -> object:
        raise AssertionError("a warm run of unchanged scripts rendered through Jinja")

    monkeypatch.setattr(jinja_render, "render_items", no_jinja)
    assert len(front.render_items(specs, root, check_unincluded=True)[0]) == len(TEMPLATES)


def test_a_changed_included_file_is_rendered_again(root: Path) -> None:
    specs = [spec(TEMPLATES[2])]
    assert texts(front.render_items(specs, root))[0] == ["Hello Ada.\nQuestions? Ada -- the team"]
    # The file included by the included file: the key covers every file, transitively.
    (root / "snippets" / "sign.j2").write_text(" -- Acme", encoding="utf-8")
    assert texts(front.render_items(specs, root))[0] == ["Hello Ada.\nQuestions? Ada -- Acme"]


@pytest.mark.parametrize(
    "changed", [{"name": "Bo"}, {"n": 4.0}, {"flag": 1}, {"nested": {"a": [1, "2"]}}]
)
def test_a_changed_variable_is_rendered_again(root: Path, changed: dict[str, object]) -> None:
    template = "{{ name }} {{ n }} {{ flag }} {{ nested.a[1] }}{% if true %}.{% endif %}"
    front.render_items([spec(template)], root)
    expected = texts(jinja_render.render_items([spec(template, **changed)], root))
    assert texts(front.render_items([spec(template, **changed)], root)) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{% include name_of_file %}",
        "{% include ['snippets/outro.j2'] %}",
        "{% import 'snippets/outro.j2' as o %}x",
        "{% from 'snippets/outro.j2' import x %}x",
        "{%- include 'snippets/missing.j2' ignore missing %}x",
        "{% include '../outside.j2' %}",
    ],
)
def test_what_cannot_be_named_before_rendering_is_never_cached(root: Path, template: str) -> None:
    specs = [spec(template, name_of_file="snippets/outro.j2")]
    texts_cache = text_cache.RenderedTexts(root)
    assert texts_cache.material(specs[0]) is None
    assert texts(front.render_items(specs, root)) == texts(jinja_render.render_items(specs, root))


def test_failures_are_never_cached_and_keep_jinjas_message(root: Path) -> None:
    specs = [spec("{% if true %}Hi {{ missing }}{% endif %}")]
    first = texts(front.render_items(specs, root))
    second = texts(front.render_items(specs, root))
    assert first == second == texts(jinja_render.render_items(specs, root))
    assert "undefined" in first[1][0]


def test_a_tampered_entry_is_not_trusted(root: Path) -> None:
    specs = [spec("{% if true %}genuine{% endif %}")]
    front.render_items(specs, root)
    packs = [p for p in default_cache_dir().glob("texts-*/*.pack") if p.stat().st_size]
    assert len(packs) == 1
    packs[0].write_bytes(packs[0].read_bytes().replace(b"genuine", b"forged!"))
    assert texts(front.render_items(specs, root))[0] == ["genuine"]


def test_no_cache_stores_no_text(root: Path) -> None:
    specs = [spec(TEMPLATES[0])]
    front.render_items(specs, root, use_cache=False)
    assert stored_texts() == 0


def test_an_unincluded_broken_snippet_is_reported_on_a_warm_run(root: Path) -> None:
    specs = [spec(TEMPLATES[2])]
    front.render_items(specs, root, check_unincluded=True)
    (root / "snippets" / "broken.j2").write_text("{% if %}", encoding="utf-8")
    for _ in range(2):  # still reported once the scripts' texts come from the cache
        problems = front.render_items(specs, root, check_unincluded=True, cwd=root)[1]
        assert [p.location.path for p in problems] == ["snippets/broken.j2"]


def test_items_keep_the_specs_order(root: Path) -> None:
    specs = [spec(t, i) for i, t in enumerate(TEMPLATES)]
    front.render_items(specs[::2], root)  # some cached, some not
    items, _ = front.render_items(specs, root)
    assert [item.id for item in items] == [s.id for s in specs]


def test_a_warm_validate_imports_no_jinja(tmp_path: Path) -> None:
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "outro.j2").write_text("Bye {{ name }}.", encoding="utf-8")
    (tmp_path / "a.yaml").write_text(
        "specsync: 1\n"
        "defaults: {model: M000045058, locales: [en, ko]}\n"
        "videos:\n"
        "  welcome:\n"
        "    vars: {name: Ada, steps: [a, b]}\n"
        "    script: |\n"
        "      Hi {{ name }}.\n"
        "      {%- for step in steps %}\n"
        "      Step {{ loop.index }}: {{ step }}.\n"
        "      {%- endfor %}\n"
        "      {% include 'snippets/outro.j2' %}\n",
        encoding="utf-8",
    )
    code = (
        "import json, sys\n"
        "from specsync.cli.main import main\n"
        "try:\n"
        "    main(['render', '--root', '.', '--format', 'json', 'a.yaml'])\n"
        "except SystemExit as exit:\n"
        "    print(json.dumps([exit.code, 'jinja2' in sys.modules]), file=sys.stderr)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
        )
        for _ in range(2)
    ]
    outcomes = [json.loads(run.stderr.strip().splitlines()[-1]) for run in runs]
    assert outcomes == [[0, True], [0, False]]
    assert runs[0].stdout == runs[1].stdout
    assert "Step 2: b.\\nBye Ada." in runs[1].stdout


def test_one_manifests_texts_share_one_pack(root: Path) -> None:
    # The pre-commit run of one file then reads one pack, whatever else the cache holds.
    template = "{% if true %}Hi {{ name }}{% endif %}"
    specs = [spec(template, i, name=f"n{i}") for i in range(front.MAX_CACHED_USES)]
    front.render_items(specs, root)
    packs = [p for p in default_cache_dir().glob("texts-*/*.pack") if p.stat().st_size]
    assert len(packs) == 1


def test_a_script_many_items_share_is_left_to_jinja(root: Path) -> None:
    # Compiled once and rendered per item: a text per item would only add a store and a
    # lookup per item.
    template = "{% if true %}Hi {{ name }}{% endif %}"
    many = [spec(template, i, name=f"n{i}") for i in range(front.MAX_CACHED_USES + 1)]
    assert texts(front.render_items(many, root))[0] == [f"Hi n{i}" for i in range(len(many))]
    assert stored_texts() == 0
    few = many[: front.MAX_CACHED_USES]
    front.render_items(few, root)
    assert stored_texts() > 0


def test_an_included_fifo_is_never_opened_for_a_digest(root: Path) -> None:
    import os

    os.mkfifo(root / "snippets" / "pipe.j2")
    specs = [spec("Hi {% include 'snippets/pipe.j2' %}")]
    # A FIFO would block a plain open: the key is not computed, Jinja reports the include.
    assert text_cache.RenderedTexts(root).material(specs[0]) is None
    assert "not a regular file" in texts(front.render_items(specs, root))[1][0]
