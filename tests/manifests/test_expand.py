from specsync.manifests.expand import expand_documents
from specsync.manifests.load import parse_document
from specsync.model import ItemSpec


def expand(*texts: str) -> tuple[dict[str, ItemSpec], list[str]]:
    docs = [parse_document(t.encode(), f"m{i}.yaml") for i, t in enumerate(texts)]
    specs, problems = expand_documents(docs)
    return {s.id: s for s in specs}, [str(p) for p in problems]


FULL = """\
specsync: 1
defaults:
  model: M-file
  locales: [en, ko]
  isExport: false
  webhookUrl: https://hooks.example.com/file
vars: {product: Acme, who: file}
videos:
  plain:
    script: "{{ who }}"
  welcome:
    script: "{{ who }} {{ product }}"
    vars: {who: video}
    model: M-video
    locales:
      en: {}
      ko:
        script: "ko {{ who }}"
        vars: {who: locale}
        model: M-locale
        resolution: 1080
"""


def test_precedence_file_video_locale() -> None:
    specs, problems = expand(FULL)
    assert problems == []
    assert sorted(specs) == ["plain/en", "plain/ko", "welcome/en", "welcome/ko"]
    plain = specs["plain/ko"]
    assert plain.fields == {
        "model": "M-file",
        "isExport": False,
        "webhookUrl": "https://hooks.example.com/file",
    }
    assert plain.variables == {"product": "Acme", "who": "file", "locale": "ko", "video": "plain"}
    en, ko = specs["welcome/en"], specs["welcome/ko"]
    assert en.template == "{{ who }} {{ product }}" and en.fields["model"] == "M-video"
    assert en.variables["who"] == "video"
    assert ko.template == "ko {{ who }}"
    assert ko.fields["model"] == "M-locale" and ko.fields["resolution"] == "1080"
    assert ko.variables == {"product": "Acme", "who": "locale", "locale": "ko", "video": "welcome"}


def test_vars_merge_shallowly() -> None:
    text = (
        "specsync: 1\ndefaults: {model: M, locales: [en]}\nvars: {a: {x: 1, y: 2}, b: 1}\n"
        "videos:\n  v:\n    script: s\n    vars: {a: {x: 9}}\n"
    )
    specs, _ = expand(text)
    assert specs["v/en"].variables["a"] == {"x": 9}
    assert specs["v/en"].variables["b"] == 1


def test_video_locales_replace_defaults() -> None:
    text = (
        "specsync: 1\ndefaults: {model: M, locales: [en, ko]}\n"
        "videos:\n  v: {script: s, locales: [ja]}\n"
    )
    specs, _ = expand(text)
    assert sorted(specs) == ["v/ja"]


def test_sources_and_template_locations() -> None:
    specs, _ = expand(FULL)
    assert str(specs["plain/en"].source) == "m0.yaml:9:3"  # defaults' locales: the video line
    assert str(specs["welcome/ko"].source) == "m0.yaml:17:7"  # the locale key
    assert str(specs["welcome/ko"].template_location) == "m0.yaml:18:17"


def test_missing_model_script_locales_are_errors_at_the_video() -> None:
    _, problems = expand(
        "specsync: 1\nvideos:\n  a: {script: x, locales: [en]}\n  b: {model: M, locales: [en]}\n"
        "  c: {script: x, model: M}\n"
    )
    assert problems == [
        "m0.yaml:3:3: item 'a/en' has no model: set `model` on the video, the locale or in"
        " `defaults`",
        "m0.yaml:4:3: item 'b/en' has no script: set `script` on the video or on the locale",
        "m0.yaml:5:3: video 'c' has no locales: set `locales` on the video or `defaults.locales`"
        " in the file",
    ]


def test_id_clash_across_files_names_both_places() -> None:
    one = "specsync: 1\ndefaults: {model: M, locales: [en]}\nvideos:\n  a: {script: x}\n"
    two = (
        "specsync: 1\nvideos:\n  b: {script: y, model: M, locales: [en]}\n"
        "  a: {script: y, model: M, locales: [ko, en]}\n"
    )
    specs, problems = expand(one, two)
    assert "a/en" not in specs and "a/ko" in specs
    assert problems == [
        "m0.yaml:4:3: item 'a/en' is defined twice: also at m1.yaml:4:42",
        "m1.yaml:4:42: item 'a/en' is defined twice: also at m0.yaml:4:3",
    ]


def test_a_video_defined_twice_is_one_problem_at_each_place_naming_its_items() -> None:
    """Not one line per locale: a manifest read twice (a copy, a hard link) would bury the
    run's other problems under videos x locales x 2 lines."""
    video = "  a: {script: x, model: M, locales: [en, ko, ja, de, fr]}\n"
    one = f"specsync: 1\nvideos:\n{video}  b: {{script: y, model: M, locales: [en, ko]}}\n"
    two = f"specsync: 1\nvideos:\n{video}  b: {{script: y, model: M, locales: [ko, en]}}\n"
    specs, problems = expand(one, two)
    assert not specs
    assert problems == [
        # Each at the video's first clashing locale (b's are written in another order).
        "m0.yaml:3:38: items 'a/de', 'a/en', 'a/fr' and 2 more are defined twice: also at "
        "m1.yaml:3:38",
        "m0.yaml:4:38: items 'b/en' and 'b/ko' are defined twice: also at m1.yaml:4:38",
        "m1.yaml:3:38: items 'a/de', 'a/en', 'a/fr' and 2 more are defined twice: also at "
        "m0.yaml:3:38",
        "m1.yaml:4:38: items 'b/en' and 'b/ko' are defined twice: also at m0.yaml:4:38",
    ]


def test_reserved_variable_names_are_refused() -> None:
    _, problems = expand(
        "specsync: 1\ndefaults: {model: M, locales: [en]}\nvars: {locale: x}\n"
        "videos: {a: {script: s}}\n"
    )
    assert problems == [
        "m0.yaml:3:8: 'locale' is set by specsync for every script; rename this variable"
    ]


def test_locales_ignore_case_and_items_take_the_canonical_code() -> None:
    specs, problems = expand(
        "specsync: 1\ndefaults: {model: M}\nvideos:\n  v:\n    script: x\n"
        "    locales: [en, PT-br, zh-hant-tw, En]\n"
    )
    assert sorted(specs) == ["v/en", "v/pt-BR", "v/zh-Hant-TW"]
    assert specs["v/pt-BR"].locale == "pt-BR"
    assert specs["v/pt-BR"].variables["locale"] == "PT-br"  # templates see it as written
    assert problems == [
        "m0.yaml:6:38: locale 'En' is listed twice for video 'v' (as 'en'): also at line 6 "
        "(locale codes ignore case)"
    ]


def test_merged_vars_and_fields_keep_their_order_and_are_each_items_own() -> None:
    # expand merges the file's and the video's vars once per video and copies the video's
    # settings for a locale that sets none: what each item gets must not change by it.
    specs, problems = expand(FULL)
    assert problems == []
    assert list(specs["welcome/ko"].variables.items()) == [
        ("product", "Acme"),
        ("who", "locale"),
        ("locale", "ko"),
        ("video", "welcome"),
    ]
    assert list(specs["welcome/en"].fields) == ["model", "isExport", "webhookUrl"]
    assert list(specs["welcome/ko"].fields) == ["model", "isExport", "webhookUrl", "resolution"]
    en, ko = specs["plain/en"], specs["plain/ko"]
    assert en.fields == ko.fields and en.fields is not ko.fields
    assert en.variables is not ko.variables


def test_a_locale_listed_twice_as_keys_is_located_at_both_keys() -> None:
    specs, problems = expand(
        "specsync: 1\ndefaults: {model: M}\nvideos:\n  v:\n    script: x\n"
        "    locales:\n      en: {}\n      EN: {}\n"
    )
    assert sorted(specs) == ["v/en"]
    assert problems == [
        "m0.yaml:8:7: locale 'EN' is listed twice for video 'v' (as 'en'): also at line 7 "
        "(locale codes ignore case)"
    ]
