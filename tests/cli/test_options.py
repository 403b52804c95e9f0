"""specsync.cli.options: the shared option types."""

from __future__ import annotations

import click
import pytest

from specsync.cli.options import FiniteFloat


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
def test_finite_float_refuses_nan_and_infinities(value: str) -> None:
    with pytest.raises(click.BadParameter, match="not a finite number"):
        FiniteFloat(min=0).convert(value, None, None)


def test_finite_float_keeps_its_bounds_and_converts_finite_values() -> None:
    assert FiniteFloat(min=0.01).convert("2.5", None, None) == 2.5
    with pytest.raises(click.BadParameter):
        FiniteFloat(min=0.01).convert("0", None, None)
