"""`specsync apply --rate R` against a slow service: the rate is kept (no fixed handful of
requests in flight), never exceeded (no 429), and --concurrency still bounds it."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from specsync.emulator import EmulatorConfig, running_emulator
from tests.helpers import SPECSYNC, assert_not_a_crash, env_for, run, specsync


def write_manifest(project: Path, videos: int) -> None:
    lines = ["specsync: 1", "defaults:", "  model: M1", "  locales: [en]", "videos:"]
    lines += [f"  v{n:03d}:\n    script: 'Paced video {n}.'" for n in range(videos)]
    (project / "manifests").mkdir()
    (project / "manifests" / "videos.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


# Rate timing: seconds of requests at a set rate, measured against the clock.
@pytest.mark.slow
def test_apply_keeps_the_rate_at_a_slow_service_without_a_429(tmp_path: Path) -> None:
    rate, latency, count = 30, 0.5, 45
    write_manifest(tmp_path, count)
    config = EmulatorConfig(latency=latency, rate_limit=rate, render_seconds=0.5)
    with running_emulator(config) as emu:
        # A real process: in this one, specsync and the emulator would share one GIL and
        # the pacing measured would be theirs together.
        result = run([SPECSYNC, "apply", "--rate", str(rate)], tmp_path, env_for(emu.url))
        exports = emu.records("export")
    assert result.returncode == 0, result.stderr
    # A 429 as a word: the emulator's random ids may hold the digits "429".
    assert re.search(r"\b429\b", result.stderr) is None, result.stderr
    texts = [r["body"]["text"] for r in exports]
    assert len(texts) == len(set(texts)) == count
    times = sorted(datetime.datetime.fromisoformat(r["time"]).timestamp() for r in exports)
    # Four in flight (the old fixed default) would reach 8/s here.
    assert (count - 1) / (times[-1] - times[0]) >= 0.8 * rate


def test_concurrency_above_512_is_a_usage_error(tmp_path: Path) -> None:
    write_manifest(tmp_path, 1)
    result = specsync(["apply", "--emulator", "--concurrency", "513"], tmp_path)
    assert result.returncode == 1  # a usage error, as every bad option value
    assert "513 is not in the range 1<=x<=512" in result.stderr
    assert_not_a_crash(result)
