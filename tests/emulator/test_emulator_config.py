"""Emulator settings: every numeric flag refuses NaN and infinities, as a library and a CLI."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from tests.helpers import assert_not_a_crash, specsync

FLOAT_FIELDS = {
    "latency": "--latency",
    "render_seconds": "--render-seconds",
    "retry_after": "--retry-after",
    "token_ttl": "--token-ttl",
    "url_ttl": "--url-ttl",
    "rate_limit": "--rate-limit",
    "throttle_rate": "--throttle-rate",
    "fail_rate": "--fail-rate",
    "drop_rate": "--drop-rate",
    "render_fail_rate": "--render-fail-rate",
}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", sorted(FLOAT_FIELDS))
def test_problems_refuse_nan_and_infinities_naming_the_flag(name: str, value: float) -> None:
    config = dataclasses.replace(EmulatorConfig(), **{name: value})

    problems = config.problems()

    assert problems == [f"{FLOAT_FIELDS[name]} must be a finite number, got {value}"]
    with pytest.raises(ValueError, match="must be a finite number"):
        running_emulator(config).__enter__()


def test_every_float_field_of_the_config_is_checked() -> None:
    floats = {f.name for f in dataclasses.fields(EmulatorConfig) if "float" in str(f.type)}
    assert floats == set(FLOAT_FIELDS)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--retry-after", "inf"),
        ("--rate-limit", "nan"),
        ("--latency", "inf"),
        ("--render-seconds", "-inf"),
        ("--throttle-rate", "nan"),
        ("--token-ttl", "inf"),
        ("--url-ttl", "nan"),
    ],
)
def test_cli_refuses_nan_and_infinities_with_a_usage_message(
    flag: str, value: str, tmp_path: Path
) -> None:
    result = specsync(["emulator", flag, value], tmp_path)

    assert result.returncode == 1
    assert f"{flag} must be a finite number, got {float(value)}" in result.stderr
    assert_not_a_crash(result)
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("latency", 1e300, "--latency must be at most 31536000 (a year), got 1e+300"),
        ("retry_after", 1e300, "--retry-after must be at most 31536000 (a year), got 1e+300"),
        (
            "render_seconds",
            4e7,
            "--render-seconds must be at most 31536000 (a year), got 40000000.0",
        ),
        ("token_ttl", 1e300, "--token-ttl must be at most 31536000 (a year), got 1e+300"),
        ("url_ttl", 1e300, "--url-ttl must be at most 31536000 (a year), got 1e+300"),
        ("rate_limit", 1e-320, "--rate-limit must be at least 0.001, got 1e-320"),
    ],
)
def test_absurd_finite_values_are_refused_too(name: str, value: float, message: str) -> None:
    # Before: --latency 1e300 made every request die in time.sleep (OverflowError), and a
    # rate limit of 1e-320 an infinite Retry-After.
    assert dataclasses.replace(EmulatorConfig(), **{name: value}).problems() == [message]


@pytest.mark.parametrize(
    ("name", "value"),
    [("latency", 31536000.0), ("rate_limit", 0.001), ("render_seconds", 600.0)],
)
def test_large_but_sane_values_are_accepted(name: str, value: float) -> None:
    assert dataclasses.replace(EmulatorConfig(), **{name: value}).problems() == []


def test_defaults_have_no_problems() -> None:
    assert EmulatorConfig().problems() == []
