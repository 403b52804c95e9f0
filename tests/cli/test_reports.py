"""Plan reports show a script's text as text: in a terminal no ESC sequence of a script
runs, and in a pull-request comment no markdown or HTML of a script or a message renders."""

from __future__ import annotations

import re

from specsync.cli.report_markdown import plan_markdown
from specsync.cli.report_text import plan_text, render_text
from specsync.item_words import PlanAction
from specsync.model import Item, Location
from specsync.plan import Plan, PlannedItem
from specsync.plan.text_diff import text_diff

HOSTILE = (
    "Hi \x1b]0;pwned\x07 \x1b]52;c;cm0gLXJmIH4=\x07 \x1b[8mhidden\x1b[0m \x9b2J "
    "\u202eevil\u202c `code` | cell <img src=x onerror=alert(1)> [link](https://x.example) "
    "**bold** ![i](https://x.example/p.png)"
)


def hostile_plan() -> Plan:
    request = {"language": "en", "text": HOSTILE, "model": "M", "isExport": True}
    item = Item("a/en", "a", "en", request, Location("manifests/\x1b[31ma.yaml", 4, 3))
    planned = PlannedItem(
        "a/en",
        PlanAction.UPDATE,
        item,
        None,
        reason="text changed \x1b[2K",
        diff=text_diff("Hi there", HOSTILE),
    )
    return Plan((planned,))


def test_the_text_report_prints_no_control_character_of_a_script() -> None:
    text = plan_text(hostile_plan())
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    assert "\\x1b]0;pwned\\x07" in text  # shown, escaped, where it stands
    assert "\\u202eevil" in text


def test_the_markdown_report_renders_nothing_of_a_script_or_a_message() -> None:
    markdown = plan_markdown(hostile_plan())
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", markdown)
    assert "<img" not in markdown and "&lt;img src=x" in markdown
    assert "](https://" not in markdown.replace("\\](https://", "")
    row = next(line for line in markdown.splitlines() if line.startswith("| `a/en`"))
    # The table row keeps its three cells: no pipe of the script ends one.
    assert len(re.findall(r"(?<!\\)\|", row)) == 4
    assert "<code>" in row and "`code`" not in row.split("<code>", 1)[1]


def test_render_text_shows_no_control_character_a_terminal_acts_on() -> None:
    item = hostile_plan().items[0].item
    assert item is not None
    text = render_text([item])
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    assert "\\u001b]0;pwned" in text  # JSON's own escape
    assert "\\x9b2J" in text and "\\u202eevil" in text
