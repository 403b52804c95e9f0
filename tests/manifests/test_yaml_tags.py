"""The loader remembers each short scalar's tag: every tag must be the safe loader's, however
the scalar is written and however often it was seen before."""

import yaml

from specsync.manifests import yaml_limits
from specsync.manifests.yaml_limits import YamlLoader

try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on the build of PyYAML
    from yaml import SafeLoader  # type: ignore[assignment]

SPELLINGS = [
    "1", "0123", "0o17", "0x1f", "1_000", "-1", "+1", "1.5", "1e3", ".inf", "-.Inf", ".nan",
    "yes", "no", "on", "off", "true", "True", "TRUE", "y", "n", "~", "null", "Null", "",
    "2020-01-01", "2020-01-01 10:00:00", "12:30", "1:30:00", "a", "en", "zh-CN", "<<", "=",
    "x" * 64, "1" * 64, "1" * 65,
]  # fmt: skip


def _document() -> str:
    lines = []
    for index, text in enumerate(SPELLINGS):
        lines.append(f"p{index}: {text}")
        lines.append(f"q{index}: '{text}'")
        lines.append(f'd{index}: "{text}"')
        lines.append(f"b{index}: |\n  {text}")
        lines.append(f"l{index}: [{text}]" if text not in ("", "<<") else f"l{index}: []")
    return "\n".join(lines) + "\n"


def _tags(node: yaml.Node) -> list[tuple[str, str]]:
    found = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found += _tags(key) + _tags(value)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            found += _tags(child)
    found.append((str(node.value) if isinstance(node, yaml.ScalarNode) else "", node.tag))
    return found


def test_every_scalar_gets_the_safe_loaders_tag_first_and_remembered() -> None:
    text = _document()
    expected = _tags(yaml.compose(text, Loader=SafeLoader))
    yaml_limits._SCALAR_TAGS.clear()
    first = _tags(yaml.compose(text, Loader=YamlLoader))
    remembered = _tags(yaml.compose(text, Loader=YamlLoader))
    assert first == expected
    assert remembered == expected
    # Plain, quoted and block spellings of one text are told apart.
    assert ("1", "tag:yaml.org,2002:int") in expected
    assert ("1", "tag:yaml.org,2002:str") in expected
    assert yaml_limits._SCALAR_TAGS  # it did remember


def test_what_it_remembers_is_bounded() -> None:
    yaml_limits._SCALAR_TAGS.clear()
    many = "\n".join(
        f"k{index}: v{index}" for index in range(yaml_limits._MAX_REMEMBERED_TAGS + 50)
    )
    yaml.compose(many, Loader=YamlLoader)
    assert len(yaml_limits._SCALAR_TAGS) == yaml_limits._MAX_REMEMBERED_TAGS
    long_text = "x" * (yaml_limits._MAX_REMEMBERED_SCALAR + 1)
    yaml_limits._SCALAR_TAGS.clear()
    yaml.compose(f"key: {long_text}", Loader=YamlLoader)
    assert all(
        len(text) <= yaml_limits._MAX_REMEMBERED_SCALAR for text, _ in yaml_limits._SCALAR_TAGS
    )
