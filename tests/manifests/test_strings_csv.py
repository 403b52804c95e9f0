"""The formula guard of the translators' CSV round-trips every text."""

import pytest

from specsync.manifests.strings_csv import guard, unguard


@pytest.mark.parametrize(
    "text",
    ["=SUM(A1)", "+1", "-x", "@me", "\tx", "'=x", "''+y", "'Tis", "plain", "", "'", "a=b"],
)
def test_guard_round_trips(text: str) -> None:
    assert unguard(guard(text)) == text


def test_formula_cells_get_an_apostrophe_and_plain_ones_do_not() -> None:
    assert guard("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert guard("'=x") == "''=x"
    assert guard("'Tis the season") == "'Tis the season"
    assert guard("Hello") == "Hello"


def test_unguard_turns_windows_line_ends_into_lf() -> None:
    assert unguard("a\r\nb") == "a\nb"
