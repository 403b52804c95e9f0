"""specsync benchmarks, side by side with check-jsonschema, printed as one table.

    python bench/run.py                 # everything (several minutes)
    python bench/run.py --runs 3 --only validate,one-file
    python bench/run.py --json > bench.json
    python bench/run.py --quick         # tiny sizes, one run: checks the harness itself

The machine is shared and noisy: every figure is the median of several runs, and the
contenders of one row run interleaved (A, B, A, B, ...) so that a slow spell hits both.
Each run is a fresh process wrapped by bench/measure.py, which reports its peak memory.
A command specsync does not implement yet shows as "n/a (not implemented)".
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import gen_manifests  # noqa: E402 - a sibling script, not a package

SCHEMA = REPO / "schemas" / "manifest.schema.json"
BENCHMARKS = ("validate", "one-file", "plan", "apply", "scaling")
APPLY_RATE_LIMIT = 20
# Issue 28's goals: ratios to check-jsonschema (None: shown, not judged) and plan to validate.
VALIDATE_TARGETS: dict[str, dict[str, float | None]] = {
    "shared": {"cold": 0.5, "warm": 0.5},
    "distinct": {"cold": 0.5, "warm": 0.4},
    "distinct-for": {"cold": None, "warm": 0.5},
}
ONE_FILE_TARGET = 0.3
PLAN_TARGET = 1.15
SLOW_APPLY_RATE_LIMIT = 50  # the slow-API row: a service taking 2 s per answer, 50/s allowed
NOT_IMPLEMENTED = "n/a (not implemented)"


@dataclass
class Outcome:
    """What N runs of one command gave: wall times, the largest peak memory, a status."""

    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)  # user + system seconds
    peak_mib: float = 0.0
    status: str = "ok"  # "ok", NOT_IMPLEMENTED, or "failed: ..."
    stdout_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.walls)

    @property
    def median(self) -> float | None:
        return statistics.median(self.walls) if self.ok else None

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpus) if self.ok and self.cpus else None


@dataclass
class Contender:
    """One command in a comparison; `env_for_run(i)` may give each run its own environment."""

    argv: list[str]
    env_for_run: Callable[[int], Mapping[str, str]] | None = None
    outcome: Outcome = field(default_factory=Outcome)
    cwd: Path | None = None  # where it runs; else where `measure` is told


@dataclass
class Row:
    benchmark: str
    specsync: str
    baseline: str = ""
    ratio: float | None = None
    cpu_ratio: float | None = None  # the same ratio of CPU seconds: steadier when loaded
    target: str = ""
    peak_mib: float | None = None
    verdict: str = ""  # "ok", "MISSED" or "" (no target or nothing measured)
    data: dict[str, Any] = field(default_factory=dict)


class Bench:
    def __init__(
        self,
        workdir: Path,
        runs: int,
        big_runs: int,
        anchor: list[str] | None = None,
        specsync: list[str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.runs = runs
        self.big_runs = big_runs
        self.specsync = (
            specsync or _console_script("specsync") or [sys.executable, "-m", "specsync"]
        )
        self.check_jsonschema = anchor or _console_script("check-jsonschema")
        self.base_env = _clean_env(workdir)
        self.warm_cache = workdir / "cache-warm"
        self._fresh = 0
        self._sets: dict[tuple[str, int], list[Path]] = {}

    # -- inputs -------------------------------------------------------------------------

    def manifest_set(self, shape: str, items: int) -> list[Path]:
        """Generate (once) a set of `items` items in its own directory; return its files."""
        key = (shape, items)
        if key not in self._sets:
            directory = self.workdir / f"{shape}-{items}"
            self._sets[key] = gen_manifests.generate(directory, items=items, shape=shape)
        return self._sets[key]

    def fresh_cache_env(self, _run: int) -> dict[str, str]:
        """An empty cache directory for a cold run."""
        self._fresh += 1
        return {"SPECSYNC_CACHE_DIR": str(self.workdir / f"cache-cold-{self._fresh}")}

    # -- running ------------------------------------------------------------------------

    def measure(
        self, contenders: Sequence[Contender], runs: int, *, cwd: Path | None = None
    ) -> None:
        """Run every contender `runs` times, interleaved; stop one at its first failure."""
        for run in range(runs):
            for contender in contenders:
                outcome = contender.outcome
                if outcome.status != "ok":
                    continue
                extra = contender.env_for_run(run) if contender.env_for_run else {}
                result = self.run_once(contender.argv, extra, cwd=contender.cwd or cwd, stdout=None)
                if result["rc"] != 0:
                    outcome.status = _failure_status(result)
                    continue
                outcome.walls.append(result["wall"])
                outcome.cpus.append(result.get("cpu", 0.0))
                outcome.peak_mib = max(outcome.peak_mib, result["peak_mib"])

    def run_once(
        self,
        argv: Sequence[str],
        extra_env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        stdout: Path | None = None,
    ) -> dict[str, Any]:
        wrapper = [sys.executable, str(BENCH_DIR / "measure.py")]
        if stdout is not None:
            wrapper += ["--stdout", str(stdout)]
        completed = subprocess.run(
            [*wrapper, "--", *argv],
            env={**self.base_env, **(extra_env or {})},
            cwd=cwd or self.workdir,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(completed.stdout)

    def prime_warm_cache(self, argv: Sequence[str], cwd: Path | None = None) -> None:
        """Run the command once, filling the warm cache (its outcome is not counted)."""
        self.run_once(argv, cwd=cwd)

    def prime_plan(self, argv: Sequence[str], lockfile: Path) -> None:
        """Run plan twice: from its second run of a lockfile on, it keeps memos of it and
        of its items' fingerprints, and the runs measured are the warm ones."""
        for _ in range(2):
            self.prime_warm_cache(argv, cwd=lockfile.parent)

    def command(self, name: str, shape: str, items: int, files: Sequence[str]) -> list[str]:
        """`specsync NAME --root SET FILES`: the set's folder holds the snippet its
        scripts include."""
        root = self.workdir / f"{shape}-{items}"
        return [*self.specsync, name, "--root", str(root), *files]

    # -- benchmarks ---------------------------------------------------------------------

    def validate_rows(self, items: int) -> list[Row]:
        rows = []
        for shape in ("shared", "distinct", "distinct-for"):
            files = [str(p) for p in self.manifest_set(shape, items)]
            validate = self.command("validate", shape, items, files)
            cold = Contender(validate, self.fresh_cache_env)
            warm = Contender(validate)
            baseline = self._check_jsonschema(files)
            self.prime_warm_cache(validate)
            self.measure([cold, warm, baseline], self._runs_for(items))
            label = f"validate {_size(items)} {shape}"
            # Issue 28's goals against the fastest check-jsonschema (None: a figure only).
            targets = VALIDATE_TARGETS[shape]
            for name, contender in (("cold", cold), ("warm", warm)):
                row = _versus(f"{label}, {name}", contender.outcome, baseline.outcome)
                limit = targets[name]
                if limit is not None:
                    _judge(row, limit, "x check-jsonschema")
                if shape == "shared" and row.peak_mib is not None and row.peak_mib >= 100:
                    row.verdict = "MISSED"
                    row.target += ", < 100 MB"
                elif shape == "shared":
                    row.target += ", < 100 MB"
                rows.append(row)
        return rows

    def one_file_rows(self, items: int) -> list[Row]:
        one = self.manifest_set("shared", items)[0]
        validate = Contender(self.command("validate", "shared", items, [str(one)]))
        baseline = self._check_jsonschema([str(one)])
        self.prime_warm_cache(validate.argv)
        self.measure([validate, baseline], self.runs)
        row = _versus("validate one file (pre-commit)", validate.outcome, baseline.outcome)
        rows = [_judge(row, ONE_FILE_TARGET, "x check-jsonschema")]
        # The same file where a real hook meets it: in a project whose specsync.yaml has
        # `ignore:` and `checks:` (as examples/ has), run from the project's root.
        project = self.one_file_project(one)
        relative = ["manifests/" + one.name]
        validate = Contender([*self.specsync, "validate", *relative], cwd=project)
        baseline = self._check_jsonschema(relative)
        baseline.cwd = project
        self.prime_warm_cache(validate.argv, cwd=project)
        self.measure([validate, baseline], self.runs, cwd=project)
        label = "validate one file in a project (specsync.yaml with ignore:, checks:)"
        rows.append(
            _judge(
                _versus(label, validate.outcome, baseline.outcome),
                ONE_FILE_TARGET,
                "x check-jsonschema",
            )
        )
        return rows

    def one_file_project(self, manifest: Path) -> Path:
        """A project folder holding `manifest` and the snippet it includes, with a project
        file that lists what to ignore and sets a check."""
        project = self.workdir / "one-file-project"
        (project / "manifests" / "snippets").mkdir(parents=True, exist_ok=True)
        shutil.copy(manifest, project / "manifests" / manifest.name)
        for snippet in (manifest.parent / "snippets").glob("*"):
            shutil.copy(snippet, project / "manifests" / "snippets" / snippet.name)
        (project / "specsync.yaml").write_text(
            "specsync: 1\n"
            "defaults:\n  isExport: true\n"
            "ignore:\n  - manifests/data/*.yaml\n"
            "checks:\n  untranslated-locale: {level: warning, off-for: [promo-*]}\n",
            encoding="utf-8",
        )
        return project

    def plan_rows(self, items: int) -> list[Row]:
        """plan vs validate as they run, and both pinned to one CPU (`taskset -c 0`), as a
        one-core CI runner runs them: without the second process a large run is split to."""
        files = [str(p) for p in self.manifest_set("shared", items)]
        label = f"plan {_size(items)} vs {_size(items)}-entry lockfile written by apply"
        lockfile = self.workdir / f"plan-{items}" / "specsync.lock"
        made = self.make_lockfile(self.command("apply", "shared", items, files), lockfile)
        if made != "ok":
            return [Row(label, made)]
        self.prime_warm_cache(self.command("validate", "shared", items, files))
        plan_argv = self.command("plan", "shared", items, files)
        self.prime_plan([*plan_argv[:2], "--lockfile", str(lockfile), *plan_argv[2:]], lockfile)
        rows = []
        pinnings: list[tuple[str, list[str]]] = [("", [])]
        taskset = shutil.which("taskset")
        if taskset:
            pinnings.append((", one CPU", [taskset, "-c", "0"]))
        else:
            rows.append(Row(f"{label}, one CPU", "n/a (no taskset here)"))
        for suffix, pin in pinnings:
            plan_argv = self.command("plan", "shared", items, files)
            plan = Contender([*pin, *plan_argv[:2], "--lockfile", str(lockfile), *plan_argv[2:]])
            validate = Contender([*pin, *self.command("validate", "shared", items, files)])
            self.measure([plan, validate], self._runs_for(items), cwd=lockfile.parent)
            row = _versus(label + suffix, plan.outcome, validate.outcome, baseline_name="validate")
            rows.append(_judge(row, PLAN_TARGET, "x validate"))
        return rows

    def make_lockfile(self, apply_argv: Sequence[str], lockfile: Path) -> str:
        """A lockfile holding every item, written by apply itself (the real writer) at full
        speed against `specsync emulator` named by SPECSYNC_API_BASE, as against the real
        service: the lockfile is the one `--lockfile` names, wherever `apply --emulator`
        keeps its own."""
        lockfile.parent.mkdir(parents=True, exist_ok=True)
        if lockfile.exists():
            return "ok"
        journal = lockfile.parent / "emulator-journal.jsonl"
        with self.emulator(journal, lockfile.parent / "emulator.log", 0, 0.0) as url:
            if url is None:
                return "lockfile: the emulator did not start"
            argv = [*apply_argv[:2], "--lockfile", str(lockfile), *apply_argv[2:]]
            argv[2:2] = ["--rate", "100000", "--concurrency", "16"]
            env = {"SPECSYNC_API_BASE": url, "AISTUDIOS_API_KEY": "bench-key"}
            result = self.run_once(argv, env, cwd=lockfile.parent)
        if result["rc"] != 0 or not lockfile.exists():
            status = _failure_status(result)
            return status if status == NOT_IMPLEMENTED else f"lockfile: {status}"
        return "ok"

    def apply_rows(self, items: int, slow_items: int, slow_latency: float) -> list[Row]:
        """The usual row (a given --concurrency) and the slow-API one (only --rate given)."""
        usual = self.apply_row(
            items, APPLY_RATE_LIMIT, 0.2, ["--concurrency", "8"], target_share=0.95
        )
        slow = self.apply_row(slow_items, SLOW_APPLY_RATE_LIMIT, slow_latency, [], target_share=0.9)
        return [usual, slow]

    def apply_row(
        self,
        items: int,
        limit: int,
        latency: float,
        extra: Sequence[str],
        *,
        target_share: float,
    ) -> Row:
        """`apply --rate LIMIT` against an emulator with that limit and latency.

        The share of the limit reached is judged on the sustained rate (exports the
        emulator processed over the span of their times) once one latency has passed,
        i.e. once apply has seen answers and knows how many requests the service needs in
        flight; the share from the first request and of the wall time (start-up, the
        first round trip and one latency at the end) are shown beside it.
        """
        files = [str(p) for p in self.manifest_set("distinct", items)]
        given = " ".join(extra) if extra else "only --rate"
        label = f"apply {items} items, --rate-limit {limit}, latency {latency:g} s, {given}"
        target = f">= {target_share:.0%} of limit, 0 failed, 0 dup, 0 429"
        directory = self.workdir / f"apply-{items}-{limit}-{latency:g}"
        # A fresh one every time: with --keep, an earlier run's lockfile would leave apply
        # nothing to submit and its journal would be counted again.
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        journal = directory / "emulator-journal.jsonl"
        requests_log = directory / "emulator-requests.log"
        with self.emulator(journal, requests_log, limit, latency) as url:
            if url is None:
                return Row(label, NOT_IMPLEMENTED, target=target)
            argv = self.command("apply", "distinct", items, [])
            argv += ["--lockfile", str(directory / "specsync.lock")]
            argv += ["--rate", str(limit), *extra, "--format", "json"]
            env = {"SPECSYNC_API_BASE": url, "AISTUDIOS_API_KEY": "bench-key"}
            report = directory / "apply.json"
            result = self.run_once([*argv, *files], env, cwd=directory, stdout=report)
        status = "ok" if result["rc"] == 0 else _failure_status(result)
        if status == NOT_IMPLEMENTED:
            return Row(label, status, target=target)
        counts = journal_counts(journal)
        throttled = count_429s(requests_log)
        failed = _failed_count(report)
        # Judged once the first answers are back: until then apply cannot know the
        # service's latency and keeps only a few requests in flight (a service that never
        # answers must not collect rate x deadline unanswered, maybe billed, requests).
        sustained = sustained_rate(journal, skip_seconds=latency)
        share = sustained / limit
        whole_share = sustained_rate(journal) / limit
        wall_share = counts["exports"] / result["wall"] / limit
        text = (
            f"{share:.1%} of limit ({whole_share:.0%} from the first request, "
            f"{wall_share:.0%} of wall {result['wall']:.1f} s)"
        )
        notes = (
            f"429s {throttled}, dup {counts['duplicates']}, "
            f"failed {failed if failed is not None else 'n/a'}"
        )
        if status != "ok":
            notes += f", {status}"
        good = share >= target_share and counts["duplicates"] == 0 and failed == 0
        good = good and throttled == 0 and status == "ok"
        good = good and counts["exports"] - counts["duplicates"] == items
        data = {
            "share": share,
            "wall_share": wall_share,
            "sustained_per_s": sustained,
            "share_from_first": whole_share,
            "wall": result["wall"],
            "throttled": throttled,
            **counts,
        }
        return Row(
            label,
            text,
            baseline=notes,
            target=target,
            peak_mib=result["peak_mib"],
            verdict="ok" if good else "MISSED",
            data={**data, "failed": failed},
        )

    @contextmanager
    def emulator(
        self, journal: Path, requests_log: Path, limit: int, latency: float
    ) -> Iterator[str | None]:
        """`specsync emulator` on a free loopback port; yields its URL (None: not there).

        `--verbose` makes it log every request with its status to stderr, kept in
        requests_log: refused requests (429) are not in the journal, which holds exports.
        """
        argv = [*self.specsync, "emulator", "--port", "0", "--latency", str(latency)]
        argv += ["--journal", str(journal)]
        if limit:  # 0: no limit and no request log (making a lockfile at full speed)
            argv += ["--rate-limit", str(limit), "--verbose"]
        with open(requests_log, "wb") as log:
            process = subprocess.Popen(
                argv,
                env=self.base_env,
                cwd=journal.parent,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            try:
                yield _first_url(process, timeout=15)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                assert process.stdout is not None
                process.stdout.close()

    def scaling_rows(self, sizes: Sequence[int]) -> list[Row]:
        # Every size runs in every round, interleaved: measured one size after another, a
        # slow spell of this shared machine would read as (super)linear growth.
        measured: list[tuple[str, int, Contender]] = []
        for items in sizes:
            files = [str(p) for p in self.manifest_set("shared", items)]
            lockfile = self.workdir / f"plan-{items}" / "specsync.lock"
            made = self.make_lockfile(self.command("apply", "shared", items, files), lockfile)
            validate = Contender(self.command("validate", "shared", items, files))
            plan_argv = self.command("plan", "shared", items, files)
            plan = Contender([*plan_argv[:2], "--lockfile", str(lockfile), *plan_argv[2:]])
            validate.cwd = plan.cwd = lockfile.parent
            if made != "ok":
                plan.outcome.status = made
            self.prime_warm_cache(validate.argv)
            self.prime_plan(plan.argv, lockfile)
            measured += [("validate", items, validate), ("plan", items, plan)]
        self.measure([contender for _, _, contender in measured], self.scaling_rounds(sizes))
        rows = []
        medians: dict[str, dict[int, float]] = {"validate": {}, "plan": {}}
        peaks: dict[str, dict[int, float]] = {"validate": {}, "plan": {}}
        for name, items, contender in sorted(measured, key=lambda m: (m[1], m[0] != "validate")):
            outcome = contender.outcome
            label = f"scaling: {name} {_size(items)} (warm)"
            if not outcome.ok:
                rows.append(Row(label, outcome.status))
                continue
            median = outcome.median or 0.0
            medians[name][items] = median
            peaks[name][items] = outcome.peak_mib
            row = Row(label, f"{median:.2f} s", baseline=f"{median / items * 1e6:.0f} us/item")
            row.peak_mib = outcome.peak_mib
            row.data = {"median": median, "runs": outcome.walls}
            rows.append(row)
        # Linear means each added item costs the same: compare the marginal cost per item of
        # the first step (e.g. 1k -> 10k) with the last (10k -> 50k). Per-item averages
        # would fall anyway as the start-up is spread thinner, hiding any quadratic term.
        for name, by_size in medians.items():
            growth_of = _first_and_last_step(by_size)
            if growth_of is None:
                continue
            first, first_cost, last, last_cost, growth, steps = growth_of
            rows.append(
                Row(
                    f"scaling: {name} marginal time per item, {first} vs {last}",
                    f"{first_cost * 1e6:.0f} -> {last_cost * 1e6:.0f} us",
                    baseline=f"x{growth:.2f}",
                    target="linear (<= x1.5)",
                    # One step compares with itself: a figure, not a verdict.
                    verdict="" if steps < 2 else "ok" if 0 < growth <= 1.5 else "MISSED",
                    data={"per_item": {n: median / n for n, median in by_size.items()}},
                )
            )
        rows += _memory_rows(peaks)
        return rows

    # -- helpers ------------------------------------------------------------------------

    def _check_jsonschema(self, files: Sequence[str]) -> Contender:
        if self.check_jsonschema is None:
            contender = Contender([])
            contender.outcome.status = "n/a (check-jsonschema not installed)"
            return contender
        return Contender([*self.check_jsonschema, "--schemafile", str(SCHEMA), *files])

    def scaling_rounds(self, sizes: Sequence[int]) -> int:
        return max(3, self._runs_for(max(sizes)))

    def _runs_for(self, items: int) -> int:
        return self.big_runs if items > 10_000 else self.runs


def _first_and_last_step(
    by_size: Mapping[int, float],
) -> tuple[str, float, str, float, float, int] | None:
    """The marginal cost per added item of the first and the last step between sizes, their
    ratio (the growth) and the number of steps; None with fewer than two sizes."""
    steps = [_marginal(by_size, step) for step in itertools.pairwise(sorted(by_size))]
    if not steps:
        return None
    (first, first_cost), (last, last_cost) = steps[0], steps[-1]
    growth = last_cost / first_cost if first_cost > 0 else 0.0
    return first, first_cost, last, last_cost, growth, len(steps)


def _memory_rows(peaks: Mapping[str, Mapping[int, float]]) -> list[Row]:
    """Peak memory each added item costs, first step against last: a per-item cost that
    grows with the set (something kept per pair of items) shows as a ratio above 1.5."""
    rows = []
    for name, by_size in peaks.items():
        growth_of = _first_and_last_step(by_size)
        if growth_of is None:
            continue
        first, first_cost, last, last_cost, growth, steps = growth_of
        rows.append(
            Row(
                f"scaling: {name} peak memory per added item, {first} vs {last}",
                f"{first_cost * 1024:.2f} -> {last_cost * 1024:.2f} KiB",
                baseline=f"x{growth:.2f}",
                target="not growing (<= x1.5)",
                verdict="" if steps < 2 else "ok" if growth <= 1.5 else "MISSED",
                data={"peak_mib": dict(by_size)},
            )
        )
    return rows


def _marginal(medians: Mapping[int, float], step: tuple[int, int]) -> tuple[str, float]:
    """("1k->10k", seconds each added item cost between the two sizes)."""
    small, large = step
    cost = (medians[large] - medians[small]) / (large - small)
    return f"{_size(small)}->{_size(large)}", cost


def journal_counts(journal: Path) -> dict[str, int]:
    """Exports the emulator processed, and duplicates among them (same language and text)."""
    exports: Counter[tuple[str, str]] = Counter()
    if journal.exists():
        for line in journal.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("event") == "export":
                body = record.get("body") or {}
                exports[(str(body.get("language")), str(body.get("text")))] += 1
    duplicates = sum(count - 1 for count in exports.values())
    return {"exports": sum(exports.values()), "duplicates": duplicates}


def sustained_rate(journal: Path, skip_seconds: float = 0.0) -> float:
    """Exports per second the emulator processed, from the first to the last one's time;
    with `skip_seconds`, only those processed that long after the first (see apply_row)."""
    times = []
    if journal.exists():
        for line in journal.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("event") == "export" and record.get("time"):
                times.append(datetime.datetime.fromisoformat(record["time"]).timestamp())
    if times and skip_seconds:
        times = [t for t in times if t >= min(times) + skip_seconds]
    if len(times) < 2 or max(times) <= min(times):
        return 0.0
    return (len(times) - 1) / (max(times) - min(times))


def count_429s(requests_log: Path) -> int:
    """Requests answered 429, from the emulator's `--verbose` request log."""
    if not requests_log.exists():
        return 0
    text = requests_log.read_text(encoding="utf-8", errors="replace")
    return len(re.findall(r'" 429 ', text))


def _failed_count(report: Path) -> int | None:
    """Failed plus uncertain items from `apply --format json`, when it says."""
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    total = 0
    found = False
    summary = data.get("summary") if isinstance(data.get("summary"), dict) else {}
    for key in ("failed", "uncertain"):
        value = summary.get(key, data.get(key))
        if isinstance(value, int):
            total, found = total + value, True
        elif isinstance(value, list):
            total, found = total + len(value), True
    return total if found else None


def _first_url(process: subprocess.Popen[str], timeout: float) -> str | None:
    """The URL the emulator prints on its first line (None when it exits or says nothing)."""
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"https?://\S+", line)
        if match:
            found.append(match.group(0).rstrip("/"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0] if found else None


def _versus(
    label: str, ours: Outcome, theirs: Outcome, *, baseline_name: str = "check-jsonschema"
) -> Row:
    row = Row(label, _show(ours), baseline=_show(theirs))
    if ours.ok:
        row.peak_mib = ours.peak_mib
    if ours.median is not None and theirs.median:
        row.ratio = ours.median / theirs.median
    if ours.cpu_median is not None and theirs.cpu_median:
        row.cpu_ratio = ours.cpu_median / theirs.cpu_median
    row.data = {
        "specsync_runs": ours.walls,
        "baseline": baseline_name,
        "baseline_runs": theirs.walls,
        "specsync_cpu": ours.cpus,
        "baseline_cpu": theirs.cpus,
        "baseline_peak_mib": theirs.peak_mib if theirs.ok else None,
    }
    return row


def _judge(row: Row, limit: float, unit: str) -> Row:
    row.target = f"<= {limit:g} {unit}"
    if row.ratio is not None:
        row.verdict = "ok" if row.ratio <= limit else "MISSED"
    return row


def _show(outcome: Outcome) -> str:
    if not outcome.ok:
        return outcome.status
    return f"{outcome.median:.3f} s"


# What a command that is not (fully) there yet says: a stub, an option it does not have
# yet, or a module of the pipeline that has not landed (an ImportError reported as a bug).
NOT_THERE_YET = re.compile(
    r"not implemented|No such (command|option)|internal error.*\b(ImportError|ModuleNotFoundError)"
)


def _failure_status(result: Mapping[str, Any]) -> str:
    stderr = str(result.get("stderr", ""))
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1][:60] if lines else "no message"
    if NOT_THERE_YET.search(stderr):
        return NOT_IMPLEMENTED
    return f"failed (exit {result['rc']}): {last}"


def _size(items: int) -> str:
    return f"{items // 1000}k" if items >= 1000 and items % 1000 == 0 else str(items)


def _regular_install(workdir: Path) -> tuple[list[str] | None, str]:
    """specsync installed as users get it, in a scratch venv: its console script and a line
    saying how; (None, why) when that could not be made.

    README installs with `pip install .` and pre-commit builds its hook environment the
    same way: a regular install, bytecode compiled by pip, no editable finder (the import
    hook an editable install adds costs every run milliseconds that users never pay). So
    a wheel is built from a clean copy of this tree (a stale build/ would leak into it)
    and pip installs it into a new venv in the work folder. Its dependencies are this
    environment's own regular installs, reached by a path file, so nothing is downloaded
    and both sides run the very same library versions.
    """
    scratch = workdir / "specsync-install"
    shutil.rmtree(scratch, ignore_errors=True)
    source, wheels, venv = scratch / "source", scratch / "wheel", scratch / "venv"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", ".ci-venv", "build", "*.egg-info", "__pycache__", ".*cache"
        ),
    )
    python = venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source), "-w", str(wheels)],
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
    ]
    for step in steps:
        failed = _failed_step(step)
        if failed:
            return None, failed
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    here = sysconfig.get_paths()
    dependencies = dict.fromkeys([here["purelib"], here["platlib"]])
    Path(site_packages, "specsync-bench-dependencies.pth").write_text(
        "".join(f"{path}\n" for path in dependencies), encoding="utf-8"
    )
    [wheel] = wheels.glob("*.whl")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    failed = _failed_step([*install, "--no-deps", str(wheel)])
    if failed:
        return None, failed
    tool = venv / "bin" / "specsync"
    # Its dependencies must import from there (a user-site install here would not).
    failed = _failed_step([str(tool), "validate", "--help"])
    if failed:
        return None, failed
    return [str(tool)], (
        f"specsync: a regular install ({wheel.name} installed by pip into the scratch venv "
        f"{venv}, bytecode compiled; its dependencies this environment's)"
    )


def _failed_step(argv: Sequence[str]) -> str:
    """ "" when the command succeeds, else a line saying what failed."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode == 0:
        return ""
    last = (done.stderr.strip().splitlines() or ["no message"])[-1][:200]
    return f"could not make a regular install ({' '.join(argv[:4])} ...: {last})"


def _compile_specsync_bytecode() -> str:
    """Give this environment's specsync (`--editable`) the bytecode an installed package has
    before anything is timed.

    pip compiles a regular install (check-jsonschema and every library here has its
    bytecode). An editable install, as README's test setup makes, is compiled only when
    Python may write bytecode: under PYTHONDONTWRITEBYTECODE=1 (set on this project's
    machines) every run would compile specsync's modules from source again, a cost no
    installed copy pays.
    """
    try:
        import specsync
    except ImportError:
        return "specsync is not importable by this Python: its bytecode was not compiled"
    package = Path(specsync.__file__).parent
    completed = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(package)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        return f"could not compile {package} ({completed.stderr.strip()[:200]})"
    return f"specsync: this environment's ({package}), bytecode compiled before timing"


# The fastest check-jsonschema measured (bench/README.md says why it is the anchor).
ANCHOR_VERSION = "0.29.4"


def _anchor(version: str) -> tuple[list[str] | None, str]:
    """check-jsonschema==version in a venv of its own (made once, kept in the user's cache),
    else the one installed here; with a line saying which was used."""
    if version == "installed":
        return _console_script("check-jsonschema"), "check-jsonschema: the one installed here"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "specsync-bench" / f"check-jsonschema-{version}"
    tool = venv / "bin" / "check-jsonschema"
    if not tool.exists():
        _progress(f"bench: installing check-jsonschema=={version} into {venv} (once) ...")
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True
        )
        installed = (
            made.returncode == 0
            and subprocess.run(
                [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    f"check-jsonschema=={version}",
                ],
                capture_output=True,
                text=True,
            ).returncode
            == 0
        )
        if not installed or not tool.exists():
            fallback = _console_script("check-jsonschema")
            return fallback, f"check-jsonschema {version} could not be installed: the one here"
    return [str(tool)], f"check-jsonschema {version} (its own venv: {venv})"


def _named_anchor(path: str) -> str:
    """Which check-jsonschema the named executable is (its --version)."""
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, check=False, timeout=60
        ).stdout.strip()
    except OSError as error:
        return f"{path} (cannot run: {error})"
    return f"{version or 'check-jsonschema'} ({path})"


def _console_script(name: str) -> list[str] | None:
    """The tool installed next to this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    return [found] if found else None


def _clean_env(workdir: Path) -> dict[str, str]:
    """This environment without credentials or CI switches; caches and keys in workdir."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AISTUDIOS_", "SPECSYNC_", "GITHUB_"))
    }
    env.update(
        NO_COLOR="1",
        SPECSYNC_CACHE_DIR=str(workdir / "cache-warm"),
        SPECSYNC_CACHE_KEY_FILE=str(workdir / "config" / "cache.key"),
        XDG_CACHE_HOME=str(workdir / "xdg-cache"),
        XDG_CONFIG_HOME=str(workdir / "config"),
    )
    return env


def format_table(rows: Sequence[Row]) -> str:
    headers = ("benchmark", "specsync", "baseline", "ratio", "cpu ratio", "target", "peak MiB", "")
    cells = [
        (
            row.benchmark,
            row.specsync,
            row.baseline,
            f"{row.ratio:.2f}" if row.ratio is not None else "",
            f"{row.cpu_ratio:.2f}" if row.cpu_ratio is not None else "",
            row.target,
            f"{row.peak_mib:.0f}" if row.peak_mib is not None else "",
            row.verdict,
        )
        for row in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--big-runs", type=int, default=2, help="runs above 10,000 items")
    parser.add_argument("--items", type=int, default=10_000, help="main set size")
    parser.add_argument("--apply-items", type=int, default=400)
    parser.add_argument("--slow-apply-items", type=int, default=600, help="slow-API apply row")
    parser.add_argument("--slow-latency", type=float, default=2.0, help="its latency, seconds")
    parser.add_argument("--sizes", default="1000,10000,100000", help="scaling sizes")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run")
    parser.add_argument(
        "--editable",
        action="store_true",
        help="time the specsync of this environment as it is (README's test setup installs "
        "it editable) instead of a regular install made in a scratch venv",
    )
    parser.add_argument(
        "--check-jsonschema",
        default=ANCHOR_VERSION,
        metavar="VERSION",
        help=f"the check-jsonschema version to compare with (default {ANCHOR_VERSION}, the "
        "fastest found; installed once into its own venv), or 'installed'",
    )
    parser.add_argument(
        "--check-jsonschema-bin",
        default=os.environ.get("SPECSYNC_BENCH_CHECK_JSONSCHEMA"),
        metavar="PATH",
        help="a check-jsonschema executable to compare with (e.g. one pip installed into its "
        "own venv), instead of installing one; env SPECSYNC_BENCH_CHECK_JSONSCHEMA",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.big_runs, args.items, args.apply_items = 1, 1, 200, 20
        args.slow_apply_items, args.slow_latency = 20, 0.2
        args.sizes = "100,200"
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {BENCHMARKS}")
    sizes = [int(size) for size in args.sizes.split(",")]

    if args.check_jsonschema_bin:
        anchor, anchor_note = [args.check_jsonschema_bin], _named_anchor(args.check_jsonschema_bin)
    else:
        anchor, anchor_note = _anchor("installed" if args.quick else args.check_jsonschema)
    _progress(f"bench: comparing with {anchor_note}")
    with _workdir(args.keep) as workdir:
        specsync: list[str] | None = None
        if not args.editable:
            _progress("bench: installing specsync into a scratch venv, as pip install . does ...")
            specsync, installed = _regular_install(workdir)
        if specsync is None:
            installed = (installed + "; " if not args.editable else "") + (
                _compile_specsync_bytecode()
            )
        _progress(f"bench: {installed}")
        bench = Bench(workdir, args.runs, args.big_runs, anchor, specsync)
        started = time.perf_counter()
        rows: list[Row] = []
        for name in chosen:
            _progress(f"bench: {name} ...")
            if name == "validate":
                rows += bench.validate_rows(args.items)
            elif name == "one-file":
                rows += bench.one_file_rows(args.items)
            elif name == "plan":
                rows += bench.plan_rows(args.items)
            elif name == "apply":
                rows += bench.apply_rows(args.apply_items, args.slow_apply_items, args.slow_latency)
            elif name == "scaling":
                rows += bench.scaling_rows(sizes)
        elapsed = time.perf_counter() - started

    if args.json:
        meta = {
            "specsync": installed,
            "baseline": anchor_note,
            "runs": args.runs,
            "big_runs": args.big_runs,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "elapsed_s": elapsed,
        }
        print(json.dumps({"meta": meta, "rows": [row.__dict__ for row in rows]}, indent=2))
    else:
        print(format_table(rows))
        print(
            f"\nmedians of {args.runs} runs ({args.big_runs} above 10k items; scaling: "
            f"{bench.scaling_rounds(sizes)} rounds of every size); ratio = "
            f"specsync / baseline (wall time; cpu ratio: user + system seconds, steadier on "
            "a loaded machine; the verdict reads the wall ratio); "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs; "
            f"{elapsed:.0f} s in all\n{installed}\nbaseline: {anchor_note}"
        )
    return 0


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="specsync-bench-") as name:
        yield Path(name)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
