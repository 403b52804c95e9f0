import time
from pathlib import Path

import pytest

from specsync.render.render import MAX_SCRIPT_CHARS, normalise, render_items
from tests.helpers.specs import script_spec


def render_one(template: str, root: Path | None = None, **kw: object) -> str:
    first_line = int(kw.pop("first_line", 0))  # type: ignore[call-overload]
    items, problems = render_items([script_spec(template, first_line, **kw)], root or Path("."))
    if problems:
        return "ERROR " + str(problems[0])
    return items[0].request["text"]


def test_renders_with_locale_video_and_vars() -> None:
    assert render_one("{{ video }}/{{ locale }}: hi {{ name }}", name="Ada") == "v/en: hi Ada"


def test_request_body_in_seed_order_with_defaults() -> None:
    items, _ = render_items([script_spec("x")], Path("."))
    assert list(items[0].request) == ["language", "text", "model", "isExport"]
    assert items[0].request["isExport"] is True


def test_normalisation_nfc_crlf_strip() -> None:
    assert normalise("  e\u0301\r\nb\n\n ") == "\u00e9\nb"
    assert render_one("{{ s }}", s=" Cafe\u0301\r\nx  ") == "Caf\u00e9\nx"


def test_jinja_default_newline_handling_is_kept() -> None:
    # trim_blocks/lstrip_blocks off: the newline after a block tag stays.
    assert render_one("{% if true %}\na\n{% endif %}\nb") == "a\n\nb"


def test_empty_and_too_long_results_are_errors() -> None:
    assert render_one("{{ '  ' }}").endswith("script renders to empty text [item v/en]")
    long = render_one("{{ 'a' * n }}", n=MAX_SCRIPT_CHARS + 1)
    assert long.startswith("ERROR m.yaml:5:13: rendered script is 50,001 characters")


def test_undefined_variable_names_it_and_the_known_ones() -> None:
    assert render_one("Hi {{ salutation }}", name="x") == (
        "ERROR m.yaml:5:13: undefined: 'salutation' is undefined (variables: locale, name, "
        "video) [item v/en]"
    )


def test_undefined_variable_close_to_a_known_one_says_did_you_mean() -> None:
    assert render_one("Hi {{ nme }}", name="x") == (
        "ERROR m.yaml:5:13: undefined: 'nme' is undefined (did you mean 'name'?) [item v/en]"
    )


def test_error_in_a_block_script_points_at_its_manifest_line() -> None:
    message = render_one("line one\n{{ nope }}\n", first_line=6)
    assert message.startswith("ERROR m.yaml:7:1: undefined: 'nope' is undefined")
    assert "(script line 2)" in message


def test_syntax_error_gives_the_template_line() -> None:
    message = render_one("a\nb {{ x \n", first_line=6)
    assert message.startswith("ERROR m.yaml:7:1: template syntax error")


def test_include_from_root_and_refusals(tmp_path: Path) -> None:
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "outro.j2").write_text("Bye {{ name }}!\r\n", encoding="utf-8")
    (tmp_path / "outside.j2").write_text("secret", encoding="utf-8")
    root = tmp_path / "manifests"
    root.mkdir()
    (root / "snippets").symlink_to(tmp_path / "snippets")
    (root / "ok.j2").write_text("{{ undefined_here }}", encoding="utf-8")
    (root / "leak.j2").symlink_to(tmp_path / "outside.j2")
    # A symlinked directory leading outside the root is refused like any other escape.
    assert "leads outside the manifest root" in render_one(
        '{% include "snippets/outro.j2" %}', root, name="Ada"
    )
    assert "leads outside" in render_one('{% include "leak.j2" %}', root)
    assert "relative to the manifest root" in render_one('{% include "/etc/passwd" %}', root)
    assert "'..'" in render_one('{% include "../outside.j2" %}', root)
    assert "no such file" in render_one('{% include "missing.j2" %}', root)
    message = render_one('{% include "ok.j2" %}', root)
    # Located in the included file (as an editor opens it), then where it was included.
    assert message.startswith(f"ERROR {root.resolve() / 'ok.j2'}:1:4: undefined:")
    assert message.endswith("\nincluded from m.yaml:5:13")
    (root / "real").mkdir()
    (root / "real" / "outro.j2").write_text("Bye {{ name }}!\r\n", encoding="utf-8")
    assert render_one('Hi.\n{% include "real/outro.j2" %}', root, name="Ada") == "Hi.\nBye Ada!"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{{ cycler.__init__.__globals__ }}", "unsafe"),
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{{ '{0.__class__}'.format(1) }}", "unsafe"),
        ("{{ 'a' * 10**10 }}", "repetition"),
        ("{{ [1] * 10**10 }}", "repetition"),
        ("{{ 9 ** 99999999 }}", "power"),
        ("{{ 'x'.center(10**9) }}", "center"),
        ("{{ 'x'|center(10**9) }}", "center"),
        ("{{ '%999999999d' % 1 }}", "printf"),
        ("{{ '{:>999999999}'.format(1) }}", "format spec"),
        ("{{ '%999999999d'|format(1) }}", "printf"),
        ("{% set s = 'a' * 50000 %}{{ s|replace('a', s) }}", "replace"),
        ("{% set s = 'a' * 50000 %}{{ range(50000)|join(s) }}", "join"),
        ("{{ [1]|batch(10**9, 'x')|list }}", "batch"),
        ("{{ (1).to_bytes(10**9, 'big') }}", "to_bytes"),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(60) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "concatenation",
        ),
        ("{{ lipsum(10**6) }}", "'lipsum' is undefined"),
        ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "2 s"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion"),
        ("{% for i in range(99999) %}xx{% endfor %}", "over 50,000"),
        ("{{ 1/0 }}", "division by zero"),
    ],
)
def test_hostile_templates_are_refused_with_a_location(template: str, fragment: str) -> None:
    message = render_one(template)
    assert message.startswith("ERROR m.yaml:5:13: "), message
    assert fragment in message, message


def test_each_distinct_script_compiles_once(tmp_path: Path) -> None:
    from specsync.render.render import Renderer

    renderer = Renderer(tmp_path)
    for name in ("Ada", "Bo", "Cy"):
        assert renderer.render(script_spec("{{ name }}", name=name)) == name
    assert len(renderer._compiled) == 1


def test_scripts_come_from_the_template_cache_on_the_second_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from specsync.render.render import Renderer

    monkeypatch.setenv("SPECSYNC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SPECSYNC_CACHE_KEY_FILE", str(tmp_path / "key" / "cache.key"))
    # Three shapes (scripts of one shape share their code, and those that only print
    # variables need none: test_skeleton.py).
    specs = [
        script_spec("{{ name|upper }} one"),
        script_spec("two {{ name|upper }}"),
        script_spec("line\n{{ nope|upper }}", 6),
    ]
    first = Renderer(tmp_path, use_cache=True)
    first.precompile(specs)
    assert first.cache.stats.stored == 3 and first.cache.stats.hits == 0
    second = Renderer(tmp_path, use_cache=True)
    second.precompile(specs)
    assert second.cache.stats.hits == 3 and second.cache.stats.stored == 0
    # Errors from cached code still point at the manifest line of the script.
    message = str(second.render(specs[2]))
    assert message.startswith("m.yaml:7:1: undefined: 'nope' is undefined"), message
    assert "(script line 2)" in message


def test_no_cache_writes_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECSYNC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SPECSYNC_CACHE_KEY_FILE", str(tmp_path / "key" / "cache.key"))
    items, problems = render_items([script_spec("{{ locale }}")], tmp_path, use_cache=False)
    assert problems == [] and items[0].request["text"] == "en"
    assert not (tmp_path / "cache").exists() and not (tmp_path / "key").exists()


def test_each_render_gets_its_whole_time_limit_though_the_timer_runs_on() -> None:
    # The timer is not stopped between renders: one started 0.2 s before this render
    # must not stop it early, and it must still stop it once its own limit has passed.
    from specsync.render.render import RenderTimeout, _Alarm

    alarm = _Alarm()
    with alarm.installed():
        alarm.arm(0.3)
        time.sleep(0.2)
        alarm.disarm()
        started = time.monotonic()
        alarm.arm(0.3)
        with pytest.raises(RenderTimeout):
            while time.monotonic() - started < 5:
                pass
        stopped_after = time.monotonic() - started
        alarm.disarm()
    assert 0.29 <= stopped_after < 1.5


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{{ c.items }}", "x['items'] instead of x.items"),
        ("{{ [c.keys] }}", "a method"),
        ("{{ c.items|string }}", "a method"),
        ("{{ [c.values]|join(',') }}", "a method"),
        ("{{ 'a' ~ c.get }}", "a method"),
        ("{{ b|reverse }}", "an iterator (list_reverseiterator)"),
        ("{{ b|map('string') }}", "add |list"),
        ("{% for x in b %}{{ loop }}{% endfor %}", "an iterator (LoopContext)"),
        ("{{ cycler(1, 2) }}", "an object (Cycler)"),
        ("{{ b|random }}", "the random filter picks anew on every run"),
    ],
)
def test_a_value_whose_text_differs_every_run_is_refused(template: str, fragment: str) -> None:
    # Its text holds a memory address: the script, and so the fingerprint, would change on
    # every run and apply would export the video again each time.
    message = render_one(template, c={"k": "v", "items": "x"}, b=[1, 2])
    assert message.startswith("ERROR m.yaml:5:13: "), message
    assert "every run" in message and fragment in message, message


def test_values_with_a_stable_text_still_print() -> None:
    import datetime

    text = render_one(
        "{{ c['items'] }} {{ b|reverse|list }} {{ b }} {{ c }} {{ d }} {{ range(2) }} "
        "{{ n }} {{ 1.5 }} {{ b|string }} {{ b|join('-') }} {{ [b, c] }}",
        c={"k": "v", "items": "x"},
        b=[1, 2],
        d=datetime.date(2026, 1, 1),
        n=None,
    )
    assert text == (
        "x [2, 1] [1, 2] {'k': 'v', 'items': 'x'} 2026-01-01 range(0, 2) None 1.5 [1, 2] 1-2 "
        "[[1, 2], {'k': 'v', 'items': 'x'}]"
    )


@pytest.mark.parametrize(
    "template",
    [
        "{{ c.items|upper }}",
        "{{ c.keys|title }}",
        "{{ c.items|trim }}",
        "{{ '%s' % c.values }}",
        "{{ '{}'.format(c.get) }}",
        "{{ c.items|replace('k', 'y') }}",
        "{{ b.count|lower }}",
    ],
)
def test_a_memory_address_turned_into_text_by_a_filter_is_refused(template: str) -> None:
    # A method reaches the script through a filter or an operator before it is printed:
    # its address would change the script, and re-export the video, on every run.
    message = render_one(template, c={"k": "v"}, b=[1, 2])
    assert message.startswith("ERROR m.yaml:5:13: refused by the template sandbox: "), message
    assert "memory address" in message and "every run" in message, message


def test_an_address_the_manifest_writes_itself_is_kept() -> None:
    written = "Python prints <function f at 0x7f3a2c1d0e50> for a function"
    assert render_one("{{ s }}", s=written) == written
    assert render_one(written) == written
    assert render_one("{{ c.d|upper }}", c={"d": "<A AT 0XABCD>"}) == "<A AT 0XABCD>"
