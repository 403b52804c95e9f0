"""Settings of one emulator run: every `specsync emulator` flag, as plain data."""

from __future__ import annotations

import math
from dataclasses import dataclass

# One day, as the real service documents for its auth tokens.
DEFAULT_TOKEN_TTL = 24 * 60 * 60
# The vendor does not say how long its download URLs live; one hour is a common signed-URL
# lifetime and long enough for any test or demo.
DEFAULT_URL_TTL = 60 * 60
# Bodies above this are refused with 413 before they are read (the service's own limit is
# unknown; real scripts are far smaller: specsync caps a rendered script at 50,000 chars).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Finite but absurd values still break handlers (time.sleep(1e300) overflows; a rate of
# 1e-320 makes an infinite Retry-After): durations stop at a year, rates start at 0.001/s.
MAX_SECONDS = 365 * 24 * 60 * 60
MIN_RATE_LIMIT = 0.001
# Journal records kept in memory (for `records()`/tests); older ones live only in the
# journal file. Counts stay exact whatever the cap. This bounds memory on long runs.
DEFAULT_JOURNAL_MEMORY = 10_000
# What the model and workspace lists answer unless told otherwise (made-up ids, in the
# shapes specsync's manifests use; docs/vendor.md, row 39).
DEFAULT_WORKSPACES = ("emulator-workspace",)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes an emulator's behaviour; rates are shares in [0, 1]."""

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = None
    app_id: str | None = None
    user_key: str | None = None
    token_ttl: float = DEFAULT_TOKEN_TTL
    url_ttl: float = DEFAULT_URL_TTL
    latency: float = 0.0
    render_seconds: float = 3.0
    render_fail_rate: float = 0.0
    throttle_rate: float = 0.0
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit: float | None = None
    retry_after: float = 1.0
    seed: int | None = None
    journal: str | None = None
    journal_memory: int = DEFAULT_JOURNAL_MEMORY
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    refuse_models: tuple[str, ...] = ()
    # What the model lists name (every model is accepted either way). None: the vendor's
    # stock sample model only. `unlisted_models`: only that one whatever `models` says, so
    # the manifests' models are missing from the lists (apply then warns, never refuses).
    models: tuple[str, ...] | None = None
    unlisted_models: bool = False
    workspaces: tuple[str, ...] = DEFAULT_WORKSPACES
    verbose: bool = False

    def problems(self) -> list[str]:
        """What is wrong with these settings, as messages naming the flag."""
        rates = {
            "--throttle-rate": self.throttle_rate,
            "--fail-rate": self.fail_rate,
            "--drop-rate": self.drop_rate,
            "--render-fail-rate": self.render_fail_rate,
        }
        durations = {
            "--latency": self.latency,
            "--render-seconds": self.render_seconds,
            "--retry-after": self.retry_after,
        }
        ttls = {"--token-ttl": self.token_ttl, "--url-ttl": self.url_ttl}
        positives = dict(ttls)
        if self.rate_limit is not None:
            positives["--rate-limit"] = self.rate_limit
        # NaN slips through every comparison below and infinity overflows sleeps and
        # Retry-After headers: refuse both first, by name, and check the rest as numbers.
        found = [
            f"{flag} must be a finite number, got {value}"
            for flag, value in {**rates, **durations, **positives}.items()
            if not math.isfinite(value)
        ]
        found += [
            f"{flag} must be between 0 and 1, got {rate}"
            for flag, rate in rates.items()
            if math.isfinite(rate) and not 0.0 <= rate <= 1.0
        ]
        request_rates = (self.throttle_rate, self.fail_rate, self.drop_rate)
        if all(map(math.isfinite, request_rates)) and sum(request_rates) > 1.0:
            found.append("--throttle-rate, --fail-rate and --drop-rate add up to more than 1")
        found += [
            f"{flag} must not be negative, got {seconds}"
            for flag, seconds in durations.items()
            if math.isfinite(seconds) and seconds < 0
        ]
        found += [
            f"{flag} must be positive, got {value}"
            for flag, value in positives.items()
            if math.isfinite(value) and value <= 0
        ]
        found += [
            f"{flag} must be at most {MAX_SECONDS} (a year), got {value}"
            for flag, value in {**durations, **ttls}.items()
            if math.isfinite(value) and value > MAX_SECONDS
        ]
        rate_limit = self.rate_limit
        if rate_limit is not None and math.isfinite(rate_limit) and 0 < rate_limit < MIN_RATE_LIMIT:
            found.append(f"--rate-limit must be at least {MIN_RATE_LIMIT}, got {self.rate_limit}")
        if not 0 <= self.port <= 65535:
            found.append(f"--port must be between 0 and 65535, got {self.port}")
        if self.journal_memory < 0:
            found.append(f"journal_memory must not be negative, got {self.journal_memory}")
        return found
