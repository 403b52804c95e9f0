import random
import time
from pathlib import Path

import pytest
import yaml

from specsync.manifests import load, yaml_limits
from specsync.manifests.load import load_document, parse_document, scalar_first_line
from specsync.model import InputError
from tests.helpers import EXAMPLES


def refused(text: bytes) -> str:
    with pytest.raises(InputError) as info:
        parse_document(text, "m.yaml")
    return str(info.value)


def test_values_keep_their_locations() -> None:
    doc = parse_document(b"specsync: 1\nvideos:\n  welcome:\n    script: |\n      Hi\n", "m.yaml")
    assert doc.data == {"specsync": 1, "videos": {"welcome": {"script": "Hi\n"}}}
    assert str(doc.locate(("videos", "welcome"), key=True)) == "m.yaml:3:3"
    assert str(doc.locate(("videos", "welcome", "script"))) == "m.yaml:4:13"
    assert scalar_first_line(doc, ("videos", "welcome", "script")) == 5
    # unknown paths fall back to the nearest located ancestor
    assert str(doc.locate(("videos", "welcome", "nope"))) == "m.yaml:4:5"


def test_bom_and_crlf_load() -> None:
    doc = parse_document(b"\xef\xbb\xbfspecsync: 1\r\nvideos: {}\r\n", "m.yaml")
    assert doc.data == {"specsync": 1, "videos": {}}


def test_non_utf8_names_line_and_column() -> None:
    assert refused(b"a: 1\nb: '\xff'\n") == (
        "m.yaml:2:5: not valid UTF-8 (byte 0xff); save the file as UTF-8"
    )


def test_duplicate_keys_name_both_lines_and_the_rest_is_still_read() -> None:
    doc = parse_document(b"a: 1\nb: 2\na: 3\nc: {d: 4, d: 5}\n", "m.yaml")
    assert doc.data == {"a": 1, "b": 2, "c": {"d": 4}}  # the first value of each is kept
    problems = load.recovered_problems(doc)
    assert [str(p) for p in problems] == [
        "m.yaml:3:1: duplicate key 'a' (first at line 1)",
        "m.yaml:4:11: duplicate key 'd' (first at line 4)",
    ]
    assert {p.code for p in problems} == {"duplicate-key"}


def test_yaml_11_boolean_and_number_keys_say_quote_it() -> None:
    assert "key 'no' is read as the boolean false (YAML 1.1): quote it" in refused(b"no: 1\n")
    assert "key '123' is read as a number: quote it" in refused(b"123: x\n")


def test_python_and_custom_tags_are_refused() -> None:
    assert "m.yaml:1:4: the tag '!!python/object/apply:os.system' is not allowed" in refused(
        b"x: !!python/object/apply:os.system [touch x]\n"
    )
    assert "m.yaml:1:4: the tag '!Ref' is not allowed" in refused(b"x: !Ref y\n")


def test_merge_keys_are_refused() -> None:
    assert "merge keys (<<) are not supported" in refused(b"a: &a {x: 1}\nb: {<<: *a}\n")


def test_alias_bomb_fails_fast() -> None:
    lines = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 10)}]")
    started = time.thread_time()
    message = refused(("\n".join(lines) + "\n").encode())
    assert "alias bomb" in message
    # This thread's CPU time (~1.2 s here), not the clock's: in the quick run three workers
    # share each CPU, and this took 6-7.5 s of the clock for 1.3 CPU-s there.
    assert time.thread_time() - started < 3


def test_deep_flow_and_block_nesting_fail_fast_before_parsing() -> None:
    started = time.monotonic()
    assert "m.yaml:1:68: nesting is deeper" in refused(b"x: " + b"[" * 100_000 + b"]" * 100_000)
    assert "nesting is deeper" in refused(b"- " * 100_000 + b"x\n")
    assert time.monotonic() - started < 1


def test_brackets_inside_quoted_text_are_not_nesting() -> None:
    doc = parse_document(b'x: "' + b"[" * 100 + b'"\ny: [a, "{{{{"]\n', "m.yaml")
    assert doc.data["y"] == ["a", "{{{{"]


def test_syntax_error_is_located() -> None:
    # An unclosed bracket is reported where it was opened, not at the end of the file.
    message = refused(b"a: {b: 1\n")
    assert message.startswith("m.yaml:1:4: YAML syntax error"), message
    assert "opened at line 1, column 4" in message
    assert refused(b"a: 1\n  b: 2\n").startswith("m.yaml:2:4: YAML syntax error")


def test_too_large_file_is_refused_without_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(11 * 1024 * 1024)
    with pytest.raises(InputError) as info:
        load_document(big, "big.yaml")
    assert "big.yaml: file is too large (11.0 MiB; the limit is 10 MiB)" in str(info.value)


# node-heavy documents: bounded before libyaml composes them ------------------------------

TRICKY = [
    "a: b\n",
    "- - - - x\n",
    "- a: b\n  c: [d, {e: f}]\n",
    "[a: 1, b: 2, {c, d}]\n",
    "? complex\n: value\n",
    "x: &a [1, 2]\ny: *a\nz: [*a, *a]\n",
    "--- a\n--- b\n",
    "x:\ny:\n- \n-\n",
    "k: |\n  text\n  more\nj: >\n  folded\n",
    "{a: [b, [c, [d]]], e: {f: {g: h}}}\n",
]


def test_node_estimate_is_an_upper_bound() -> None:
    texts = [*TRICKY, *(p.read_text(encoding="utf-8") for p in EXAMPLES.rglob("*.yaml"))]
    for text in texts:
        nodes = sum(
            isinstance(e, yaml_limits.NODE_EVENTS)
            for e in yaml.parse(text, Loader=yaml_limits.YamlLoader)
        )
        assert yaml_limits.node_estimate(text) >= nodes, text


def test_too_many_nodes_are_refused_before_composing(monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.thread_time()  # CPU time, as in test_alias_bomb_fails_fast (~0.6 s here)
    flow = b"x: [" + b",".join([b"1"] * (yaml_limits.MAX_NODES + 10)) + b"]\n"
    assert refused(flow).startswith("m.yaml:1:999999: too many YAML values (over 500,000)")
    block = b"x:\n" + b"  - 1\n" * (yaml_limits.MAX_NODES + 10)
    assert refused(block).startswith("m.yaml:499999:5: too many YAML values")
    assert time.thread_time() - started < 3
    # Under the limit, the same shapes load (the estimate alone may exceed it).
    monkeypatch.setattr(yaml_limits, "MAX_NODES", 20)
    assert parse_document(b"x: [1,2,3]\ny: 'a,b,c,d,e,f,g,h,i,j,k'\n", "m.yaml").data["x"] == [
        1,
        2,
        3,
    ]


def test_forbidden_characters_and_wide_encodings_are_located() -> None:
    assert refused("a: 1\nb: 'é\x00'\n".encode()) == (
        "m.yaml:2:6: character U+0000 is not allowed in YAML (control characters are not allowed)"
    )
    assert refused("a: 1\n".encode("utf-16")) == (
        "m.yaml:1:1: saved as UTF-16; save the file as UTF-8"
    )


def reference_nesting(text: str, max_depth: int) -> tuple[int, int] | None:
    """The flow-nesting check one character at a time, as it was first written: the oracle
    for the fast one, which jumps between the characters that matter."""
    depth = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if depth == 0 and "[" not in line and "{" not in line:
            continue
        quote = ""
        previous = " "
        for column, char in enumerate(line, start=1):
            if quote:
                if char == quote:
                    quote = ""
                    previous = char
                continue
            if char in "'\"" and previous in "[{,: ":
                quote = char
            elif char in "[{":
                depth += 1
                if depth > max_depth:
                    return (number, column)
            elif char in "]}" and depth > 0:
                depth -= 1
            elif char == "#" and previous in " \t":
                break
            if char not in " \t":
                previous = char
            elif previous not in "[{,:":
                previous = " "
    return None


def test_flow_nesting_check_agrees_with_the_character_by_character_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chooser = random.Random(5)
    for _ in range(20_000):
        limit = chooser.choice([1, 2, 3])
        monkeypatch.setattr(yaml_limits, "MAX_FLOW_DEPTH", limit)
        text = "".join(chooser.choice("[]{}'\" #\t,:-ab\n") for _ in range(chooser.randint(0, 40)))
        expected = reference_nesting(text, limit)
        try:
            yaml_limits.check_nesting(text, "m.yaml")
            got = None
        except InputError as error:
            got = (error.problems[0].location.line, error.problems[0].location.column)
        assert got == expected, repr(text)


def test_flow_nesting_check_is_linear_on_hostile_lines() -> None:
    started = time.monotonic()
    yaml_limits.check_nesting("x: [" + "a" * 9_000_000 + "]", "m.yaml")
    assert time.monotonic() - started < 0.5  # a Python step per character took 1.8 s
    # Each "#" looks back over its own run of blanks only: not quadratic (1M of them, 0.4 s
    # here; looking back over the whole line took 15 s for 300k, ~170 s for 1M).
    started = time.monotonic()
    yaml_limits.check_nesting("x: [" + " #," * 1_000_000 + "]", "m.yaml")
    assert time.monotonic() - started < 10


def test_a_tab_in_the_indentation_says_tab_and_a_bad_dedent_says_check_above() -> None:
    import pytest

    from specsync.manifests.load import parse_document
    from specsync.model import InputError

    for text in (
        b"specsync: 1\nvideos:\n\twelcome: {script: Hi}\n",
        b"specsync: 1\nvideos:\n  welcome:\n    script: Hi\n  \tlocales: [en]\n",
    ):
        with pytest.raises(InputError) as info:
            parse_document(text, "m.yaml")
        message = info.value.problems[0].message
        assert "a tab in the indentation: YAML indents with spaces only" in message, message
    with pytest.raises(InputError) as info:
        parse_document(b"specsync: 1\nvideos:\n  welcome:\n    script: Hi\n   locales: [en]\n", "m")
    [problem] = info.value.problems
    assert (problem.location.line, problem.location.column) == (5, 4)
    assert "check the indentation above" in problem.message


def test_block_scalar_lines_are_not_flow_nesting_and_what_follows_them_is() -> None:
    script = "    {%- for step in steps %}{{ [[[[ step ]]]] }}\n" * 50
    assert parse_document(f"a:\n  script: |\n{script}b: 1\n".encode(), "m.yaml").data["b"] == 1
    # Deep nesting right after the block scalar (back at the key's indentation) is refused.
    deep = "[" * 100 + "]" * 100
    for after in (f"  other: {deep}\n", f"b: {deep}\n"):
        text = f"a:\n  script: |-\n    {{{{ x }}}}\n\n{after}"
        assert "nesting is deeper" in refused(text.encode()), after
    # A line that looks like `key: |` but is not one (quoted, commented, in brackets).
    for opener in ("a: '|'", "a: x # |", "a: [b, |"):
        assert "nesting is deeper" in refused(f"{opener}\n  {deep}\n".encode()), opener


def _blanked_block_scalars(text: str) -> str | None:
    """The text with the content lines of its literal and folded scalars blanked, as
    libyaml reads it (None: libyaml does not read it)."""
    lines = text.split("\n")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.ScalarEvent) and event.style in ("|", ">"):
                for number in range(event.start_mark.line + 1, event.end_mark.line):
                    lines[number] = ""
    except yaml.YAMLError:
        return None
    return "\n".join(lines)


def test_block_scalar_skipping_agrees_with_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_limits, "MAX_FLOW_DEPTH", 2)
    chooser = random.Random(11)
    pieces = ["k: |", "k: >-", "- |", "- k: |+", "k: [[[a]]]", "{{ x }}", "[[[", "]]]", "k: v", ""]
    checked = 0
    for _ in range(3_000):
        lines = [
            " " * chooser.choice([0, 1, 2, 4, 6]) + chooser.choice(pieces)
            for _ in range(chooser.randint(1, 8))
        ]
        text = "\n".join(lines) + "\n"
        blanked = _blanked_block_scalars(text)
        if blanked is None:
            continue
        checked += 1
        expected = reference_nesting(blanked, 2)
        try:
            yaml_limits.check_nesting(text, "m.yaml")
            got = None
        except InputError as error:
            got = (error.problems[0].location.line, error.problems[0].location.column)
        assert got == expected, text
    assert checked > 300
