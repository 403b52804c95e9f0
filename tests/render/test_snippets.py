"""Problems inside included files are located there; unused template files are checked."""

from pathlib import Path

from jinja2 import UndefinedError

from specsync.model import ItemSpec, Location
from specsync.render.render import render_items
from specsync.render.snippets import included_location


def spec(item: str, template: str, at: Location) -> ItemSpec:
    video, locale = item.split("/")
    return ItemSpec(
        id=item,
        video=video,
        locale=locale,
        template=template,
        template_location=at,
        variables={"name": "Ada", "locale": locale, "video": video},
        fields={"model": "M"},
        source=at,
    )


def snippet_root(tmp_path: Path) -> Path:
    root = tmp_path / "manifests"
    (root / "snippets").mkdir(parents=True)
    (root / "snippets" / "x.j2").write_text("line one\nhello {{ nmae }}\n", encoding="utf-8")
    return root


def test_a_problem_in_a_snippet_is_located_in_it_then_where_it_was_included(
    tmp_path: Path,
) -> None:
    root = snippet_root(tmp_path)
    include = '{% include "snippets/x.j2" %}'
    specs = [
        spec("a/en", include, Location("manifests/a.yaml", 4, 13)),
        spec("a/ko", include, Location("manifests/a.yaml", 4, 13)),
        spec("b/en", include, Location("manifests/b.yaml", 9, 5)),
    ]
    _, problems = render_items(specs, root, use_cache=False, cwd=tmp_path)
    assert [str(p) for p in problems] == [
        "manifests/snippets/x.j2:2:10: undefined: 'nmae' is undefined (did you mean 'name'?)"
        " [items a/en, a/ko, b/en]\n"
        "included from manifests/a.yaml:4:13, manifests/b.yaml:9:5"
    ]
    assert problems[0].code == "undefined-variable"
    assert problems[0].items == ("a/en", "a/ko", "b/en")


def test_a_snippet_nothing_includes_is_still_syntax_checked(tmp_path: Path) -> None:
    root = snippet_root(tmp_path)
    (root / "snippets" / "unused.j2").write_text("ok\n  {% if %}\n", encoding="utf-8")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "skipped.j2").write_text("{% if %}", encoding="utf-8")
    only = [spec("a/en", "plain", Location("m.yaml", 1, 1))]
    _, problems = render_items(only, root, use_cache=False, cwd=tmp_path)
    assert problems == []  # unless asked: the root may be a fallback (any checkout)
    _, problems = render_items(only, root, use_cache=False, cwd=tmp_path, check_unincluded=True)
    assert [(str(p.location), p.code) for p in problems] == [
        ("manifests/snippets/unused.j2:2:3", "template-syntax")
    ]
    assert "no script includes" in problems[0].message


def test_an_included_snippet_is_not_reported_twice(tmp_path: Path) -> None:
    root = snippet_root(tmp_path)
    (root / "snippets" / "x.j2").write_text("{{ oops( }}", encoding="utf-8")
    at = Location("m.yaml", 1, 1)
    _, problems = render_items(
        [spec("a/en", '{% include "snippets/x.j2" %}', at)], root, use_cache=False, cwd=tmp_path
    )
    assert len(problems) == 1
    assert str(problems[0].location) == "manifests/snippets/x.j2:1:1"


def test_column_falls_back_to_the_first_tag_then_the_first_character(tmp_path: Path) -> None:
    path = tmp_path / "s.j2"
    path.write_text("   plain\n  x {{ y }}\n", encoding="utf-8")
    error = UndefinedError("'zzz' is undefined")
    assert included_location(str(path), 2, error, tmp_path) == Location("s.j2", 2, 5)
    assert included_location(str(path), 1, error, tmp_path) == Location("s.j2", 1, 4)
    assert included_location(str(path), None, error, tmp_path) == Location("s.j2")
