"""A plain `specsync plan` (CI's run) skips click (cli/fast_path.py, cli/plan_run.py).

Each case runs twice in this process, once as it comes and once with the fast path turned
off (every argument then goes through click), and the two must give the same stdout,
stderr and exit code, byte for byte. Real processes check what only a process shows: the
modules a plain plan loads, a closed pipe, and streams that are not UTF-8.
"""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specsync.cli import fast_path
from specsync.cli.fast_path import PlainPlan, plain_plan
from specsync.cli.plan_run import plain_echo
from tests.helpers import SPECSYNC, specsync
from tests.helpers.commands import (
    assert_same_run,
    fast_and_click_runs,
    modules_after_main,
    run_into_closed_pipe,
)

# Two videos in two locales; `tour` says "red" between ANSI colour codes (a double-quoted
# YAML `\e` is a real ESC), which plan shows as text.
MANIFEST = """\
specsync: 1
defaults: {model: M000045058, locales: [en, ko]}
videos:
  welcome:
    script: |
      Hello {{ locale }},
      and welcome.
  tour:
    script: "Tour for {{ locale }}: \\e[31mred\\e[0m"
"""
INVALID = """\
specsync: 1
defaults: {model: M000045058, locales: [en]}
videos:
  a: {scirpt: hi}
"""
REHEARSAL = ".specsync/emulator.lock"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose four items `apply --emulator` recorded (in its rehearsal lockfile,
    copied to specsync.lock too), then changed: `tour` has a new ending, and a new video
    `extra` (Korean) came."""
    project = tmp_path_factory.mktemp("plan-fast") / "project"
    (project / "manifests").mkdir(parents=True)
    (project / "specsync.yaml").write_text("specsync: 1\n", encoding="utf-8")
    manifest = project / "manifests" / "a.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    done = specsync(["apply", "--emulator"], project)
    assert done.returncode == 0, done.stderr
    (project / "specsync.lock").write_bytes((project / REHEARSAL).read_bytes())
    manifest.write_text(
        MANIFEST.replace("[0m", "[0m!") + "  extra:\n    script: 안녕하세요 {{ locale }}\n",
        encoding="utf-8",
    )
    (project / "invalid.yaml").write_text(INVALID, encoding="utf-8")
    return project


# One run as it comes, one through click (the fast path's reader declining).
_both_ways = functools.partial(fast_and_click_runs, reader="plain_plan")


CASES = {
    "no argument: the project's manifests/ and specsync.lock": (["plan"], 0, "2 to update"),
    "a file, the rehearsal lockfile": (
        ["plan", "manifests/a.yaml", "--lockfile", REHEARSAL],
        0,
        "was written by `apply --emulator` runs",
    ),
    "--detailed-exitcode": (["plan", "--detailed-exitcode"], 2, "~ tour/en  update"),
    "--all lists the unchanged": (["plan", "--all"], 0, "= welcome/ko"),
    "json": (["plan", "--format", "json"], 0, '"action": "update"'),
    "markdown": (["plan", "--format=markdown", "--no-cache"], 0, "| update |"),
    "options after paths, given twice": (
        ["plan", "manifests", "--root", "nowhere", "--root=manifests", "--lockfile=x.lock"],
        0,
        "no lockfile yet (x.lock)",
    ),
    "no lockfile yet": (["plan", "--lockfile", "missing.lock"], 0, "all 6 items are new"),
    "manifest problems": (["plan", "invalid.yaml"], 1, "invalid.yaml:4:7: unknown key"),
    "a missing manifest": (["plan", "nowhere.yaml"], 1, "nowhere.yaml"),
    "a damaged lockfile, located": (["plan", "--lockfile", "damaged.lock"], 1, "damaged.lock:"),
    # Not plain: click reads these on both runs, and they must not change either.
    "--emulator": (["plan", "--emulator"], 0, "was written by `apply --emulator` runs"),
    "--target": (["plan", "--target", "tour/*"], 0, "tour/en"),
    "--help": (["plan", "--help"], 0, "Show what apply would do"),
    "a format click refuses": (["plan", "--format", "xml"], 1, "'xml' is not one of"),
    "--lockfile without its value": (["plan", "--lockfile"], 1, "requires an argument"),
    "an unknown option": (["plan", "--strict"], 1, "No such option"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_path_answers_as_click_does(
    case: str, recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, code, shown = CASES[case]
    damaged = (
        (recorded / "specsync.lock").read_text("utf-8").replace('taskId = "', 'taskId = "\\q', 1)
    )
    (recorded / "damaged.lock").write_text(damaged, encoding="utf-8")
    fast, slow = _both_ways(args, recorded, monkeypatch)
    assert_same_run(fast, slow)
    assert fast.returncode == code, fast.stderr
    assert shown in fast.stdout + fast.stderr
    if case == "json":
        assert {item["id"] for item in json.loads(fast.stdout)["items"]} >= {"extra/ko"}


def test_ansi_sequences_in_a_script_are_shown_as_text_either_way(
    recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = _both_ways(["plan"], recorded, monkeypatch)
    assert_same_run(fast, slow)
    # As text, on a pipe or a terminal: the reviewer sees what will be sent, and nothing
    # of it runs in their terminal (tests/cli/test_reports.py).
    assert "+ Tour for en: \\x1b[31mred\\x1b[0m!" in fast.stdout and "\x1b" not in fast.stdout


def test_ctrl_c_prints_what_click_prints(recorded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("specsync.manifests.pipeline.load_items", interrupted)
    fast, slow = _both_ways(["plan"], recorded, monkeypatch)
    assert_same_run(fast, slow)
    assert (fast.returncode, fast.stderr) == (130, "\ninterrupted\n")


# What the parser takes and what it leaves to click ------------------------------------------


def _utf8() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8")


def _fields(plain: PlainPlan | None) -> tuple[object, ...] | None:
    if plain is None:
        return None
    return (
        plain.paths,
        plain.root,
        plain.lockfile,
        plain.no_cache,
        plain.output_format,
        plain.detailed_exitcode,
        plain.show_all,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["plan"], ((), None, None, False, "text", False, False)),
        (["plan", "a.yaml", "b/"], (("a.yaml", "b/"), None, None, False, "text", False, False)),
        (
            ["plan", "--no-cache", "--all", "--detailed-exitcode", "--format", "markdown"],
            ((), None, None, True, "markdown", True, True),
        ),
        (
            ["plan", "--lockfile=a.lock", "--lockfile", "b.lock", "--root=r", "--format=json"],
            ((), "r", "b.lock", False, "json", False, False),
        ),
        (["plan", "./-odd.yaml"], (("./-odd.yaml",), None, None, False, "text", False, False)),
        # everything below goes to click
        (["validate"], None),
        (["--debug", "plan"], None),
        (["plan", "--help"], None),
        (["plan", "-h"], None),
        (["plan", "--emulator"], None),
        (["plan", "--target", "x"], None),
        (["plan", "--out", "p.plan"], None),
        (["plan", "-"], None),
        (["plan", ""], None),
        (["plan", "--"], None),
        (["plan", "--lockfile"], None),
        (["plan", "--lockfile", "--all"], None),
        (["plan", "--lockfile="], None),
        (["plan", "--format", "Text"], None),
        (["plan", "--all=yes"], None),
        (["plan", "--detailed"], None),
        (["Plan"], None),
    ],
)
def test_plain_arguments_are_read_and_the_rest_left_to_click(
    args: list[str], expected: tuple[object, ...] | None
) -> None:
    assert _fields(plain_plan(args, {}, (_utf8(), _utf8()))) == expected


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp1252"])
def test_streams_click_would_wrap_are_left_to_click(encoding: str) -> None:
    # click.echo writes UTF-8 with replacement to an ASCII stream: only click does that.
    other = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    assert plain_plan(["plan"], {}, (other, _utf8())) is None
    assert plain_plan(["plan"], {}, (_utf8(), other)) is None
    assert plain_plan(["plan"], {}, (None, _utf8())) is None
    assert plain_plan(["plan"], {}, (_utf8(), _utf8())) is not None


def test_shell_completion_is_left_to_click() -> None:
    environ = {fast_path.COMPLETION_VARIABLE: "bash_complete"}
    assert plain_plan(["plan"], environ, (_utf8(), _utf8())) is None


def test_plain_echo_writes_what_click_echo_writes() -> None:
    import click

    for message, nl in (
        ("a\x1b[31mb\x1b[0m c\x1b[2K", True),
        ("", True),
        ("", False),
        ("x", False),
    ):
        ours, theirs = io.StringIO(), io.StringIO()
        for stream, echo in ((ours, plain_echo), (theirs, click.echo)):
            saved = sys.stdout
            sys.stdout = stream
            try:
                echo(message, nl=nl)
            finally:
                sys.stdout = saved
        assert ours.getvalue() == theirs.getvalue()


# Real processes ---------------------------------------------------------------------------


def test_a_plain_plan_loads_neither_click_nor_inspect(recorded: Path) -> None:
    code, kinds = modules_after_main(["plan"], recorded)
    assert code == 0
    assert not {"click", "requests"} & set(kinds)
    assert kinds["inspect"] == "DeferredModule"
    assert "ast" not in kinds


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_a_plan_under_any_locale_answers_as_click_does(recorded: Path, encoding: str) -> None:
    # An ASCII or Latin-1 stdout: the fast path leaves such streams to click, so a plain
    # run answers as one click reads.
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    answers = []
    for prefix in ([], ["--debug"]):  # --debug: click reads the arguments
        done = subprocess.run(
            [SPECSYNC, *prefix, "plan", "--all"],
            cwd=recorded,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        answers.append((done.returncode, done.stdout, done.stderr))
    assert answers[0] == answers[1]
    assert answers[0][0] == 0, answers[0][2]


def test_a_reader_that_went_away_gets_what_click_gives_it(recorded: Path) -> None:
    answers = [
        run_into_closed_pipe([SPECSYNC, *prefix, "plan", "--format", "json"], recorded)
        for prefix in ([], ["--debug"])
    ]
    assert answers == [(1, ""), (1, "")]
