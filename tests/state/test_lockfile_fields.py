"""The field tables are the one description of the format: the docs list what they list."""

from __future__ import annotations

import re
from pathlib import Path

from specsync.state.lockfile_fields import ENTRY_FIELDS, ENTRY_KEYS, HISTORY_FIELDS, HISTORY_KEYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "lockfile.md"


def table_keys(text: str, heading_line: str) -> list[str]:
    """The keys named in the first column of the markdown table after `heading_line`."""
    rows = text.split(heading_line, 1)[1].lstrip("\n").split("\n\n", 1)[0].splitlines()
    keys: list[str] = []
    for row in rows[2:]:  # past the header and the |---| line
        keys += re.findall(r"`([A-Za-z0-9]+)`", row.split("|")[1])
    return keys


def test_the_doc_lists_every_field_of_an_entry_and_of_a_history_record() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert sorted(table_keys(text, 'Per item (`[items."onboarding/en"]`):')) == sorted(ENTRY_KEYS)
    assert sorted(table_keys(text, "A record of `history`:")) == sorted(HISTORY_KEYS)


def test_the_doc_gives_the_order_the_writer_writes_keys_in() -> None:
    text = DOC.read_text(encoding="utf-8")
    order = text.split("Keys within a block always come in the same order:", 1)[1]
    block, record = order.split("Keys without a value", 1)[0].split("within a history record")
    assert re.findall(r"`([A-Za-z0-9]+)`", block) == list(ENTRY_KEYS)
    assert re.findall(r"`([A-Za-z0-9]+)`", record) == list(HISTORY_KEYS)


def test_the_tables_name_each_key_once_and_an_entry_has_one_required_field() -> None:
    for fields in (ENTRY_FIELDS, HISTORY_FIELDS):
        assert len({f.key for f in fields}) == len({f.attr for f in fields}) == len(fields)
    assert [f.key for f in ENTRY_FIELDS if f.required] == ["fingerprint"]
