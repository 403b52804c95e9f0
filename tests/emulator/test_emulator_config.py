"""Emulator settings: every numeric flag refuses NaN and infinities, as a library and a CLI."""

from __future__ import annotations

import dataclasses
import math
import subprocess

import pytest
from conftest import SPECSYNC

from specsync.emulator import EmulatorConfig, running_emulator

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
def test_cli_refuses_nan_and_infinities_with_a_usage_message(flag: str, value: str) -> None:
    result = subprocess.run(
        [SPECSYNC, "emulator", flag, value], capture_output=True, text=True, timeout=20
    )

    assert result.returncode == 1
    assert f"{flag} must be a finite number, got {float(value)}" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_defaults_have_no_problems() -> None:
    assert EmulatorConfig().problems() == []
