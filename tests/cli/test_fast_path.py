"""A plain `specsync validate` (the pre-commit hook's run) skips click (cli/fast_path.py).

Each case runs twice in this process, once as it comes and once with the fast path turned
off (every argument then goes through click, as before it existed), and the two must give
the same stdout, stderr and exit code, byte for byte. Real processes check what only a
process shows: which modules a plain run loads, and that the console script's answers
match `python -m specsync`'s.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specsync.cli import fast_path
from specsync.cli import main as cli_main
from specsync.cli.fast_path import PlainValidate, plain_validate
from tests.helpers import SPECSYNC, run, specsync
from tests.helpers.commands import (
    assert_same_run,
    fast_and_click_runs,
    modules_after_main,
    run_into_closed_pipe,
)

VALID = """\
specsync: 1
defaults: {model: M000045058, locales: [en, ko]}
videos:
  welcome:
    script: |
      Hello {{ locale }},
      and welcome.
"""
# An unknown key (a schema problem) and a template that does not parse, in one file.
INVALID = """\
specsync: 1
defaults: {model: M000045058, locales: [en]}
videos:
  a: {scirpt: hi}
  b: {script: "{{ unclosed"}
"""
# A locale whose script is the same as another's: an untranslated-locale warning.
WARNED = """\
specsync: 1
defaults: {model: M000045058}
videos:
  hello:
    script: Hello there.
    locales: [en, ko]
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    manifests = project / "manifests"
    (manifests / "sub").mkdir(parents=True)
    (project / "specsync.yaml").write_text("specsync: 1\n", encoding="utf-8")
    (manifests / "valid.yaml").write_text(VALID, encoding="utf-8")
    (manifests / "sub" / "warned.yaml").write_text(WARNED, encoding="utf-8")
    (project / "invalid.yaml").write_text(INVALID, encoding="utf-8")
    return project


# One run as it comes, one through click (the fast path's reader declining).
_both_ways = functools.partial(fast_and_click_runs, reader="plain_validate")


CASES = {
    "one valid file": (["validate", "manifests/valid.yaml"], 0, "valid: 2 items from 1 video"),
    "no path: the project's manifests/": (["validate"], 0, "valid: 4 items from 2 videos"),
    "a folder": (["validate", "manifests/sub"], 0, "1 warning"),
    "problems": (["validate", "invalid.yaml"], 1, "invalid.yaml:4:7: unknown key 'scirpt'"),
    "problems as json": (["validate", "--format", "json", "invalid.yaml"], 1, ""),
    "valid as json": (["validate", "--format=json", "manifests"], 0, ""),
    "a missing file": (["validate", "nowhere.yaml"], 1, "nowhere.yaml"),
    "options after paths": (
        ["validate", "manifests/valid.yaml", "--no-cache", "--root", "manifests"],
        0,
        "valid: 2 items",
    ),
    "--root given twice, --root=": (
        ["validate", "--root=nowhere", "--root", "manifests", "manifests/valid.yaml"],
        0,
        "valid: 2 items",
    ),
    "two files, one bad": (["validate", "manifests/valid.yaml", "invalid.yaml"], 1, "scirpt"),
    # Not plain: click reads these on both runs, and they must not change either.
    "--help": (["validate", "--help"], 0, ""),
    "-h": (["validate", "-h"], 0, ""),
    "an unknown option": (["validate", "--strict"], 1, "No such option"),
    "a format click refuses": (["validate", "--format", "xml"], 1, "'xml' is not one of"),
    "--root without its value": (["validate", "--root"], 1, "requires an argument"),
    "--debug first": (["--debug", "validate", "manifests/valid.yaml"], 0, "valid: 2 items"),
    "--": (["validate", "--", "manifests/valid.yaml"], 0, "valid: 2 items"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_path_answers_as_click_does(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, code, shown = CASES[case]
    project = _project(tmp_path)
    fast, slow = _both_ways(args, project, monkeypatch)
    assert_same_run(fast, slow)
    assert fast.returncode == code, fast.stderr
    assert shown in fast.stdout + fast.stderr
    if "json" in case:
        assert json.loads(fast.stdout)["valid"] is (code == 0)


def test_from_a_subfolder_the_project_is_found_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    fast, slow = _both_ways(["validate"], project / "manifests" / "sub", monkeypatch)
    assert_same_run(fast, slow)
    assert fast.returncode == 0 and "valid: 4 items from 2 videos" in fast.stderr


def test_no_manifests_folder_is_the_same_error_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = _both_ways(["validate"], tmp_path, monkeypatch)
    assert_same_run(fast, slow)
    assert fast.returncode == 1 and "manifests" in fast.stderr


def test_github_annotations_are_the_same_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    env = {**dict(os.environ), "GITHUB_ACTIONS": "true"}
    fast, slow = _both_ways(["validate", "invalid.yaml"], project, monkeypatch, env)
    assert_same_run(fast, slow)
    assert "::error file=invalid.yaml,line=4," in fast.stderr


def test_ctrl_c_prints_what_click_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # click answers ^C inside a command with a blank line before main's "interrupted".
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("specsync.cli.validate_run.load_items", interrupted)
    fast, slow = _both_ways(["validate", "manifests/valid.yaml"], _project(tmp_path), monkeypatch)
    assert_same_run(fast, slow)
    assert (fast.returncode, fast.stderr) == (130, "\ninterrupted\n")


def test_a_bug_is_exit_3_with_a_log_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("specsync.cli.validate_run.load_items", explode)
    env = {**dict(os.environ), "TMPDIR": str(tmp_path)}
    monkeypatch.setattr("tempfile.tempdir", None)
    fast, slow = _both_ways(
        ["validate", "manifests/valid.yaml"], _project(tmp_path), monkeypatch, env
    )
    for done in (fast, slow):
        assert done.returncode == 3
        assert done.stdout == ""
        assert done.stderr.startswith(
            "specsync: internal error (a bug in specsync, not in your input): "
            "ZeroDivisionError. Details: "
        )
        log = Path(done.stderr.rsplit("Details: ", 1)[1].strip())
        assert log.parent == tmp_path and "ZeroDivisionError: boom" in log.read_text()


# What the parser takes and what it leaves to click ------------------------------------------


def _fields(plain: PlainValidate | None) -> tuple[object, ...] | None:
    if plain is None:
        return None
    return (plain.paths, plain.root, plain.no_cache, plain.output_format)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["validate"], ((), None, False, "text")),
        (["validate", "a.yaml", "b/"], (("a.yaml", "b/"), None, False, "text")),
        (["validate", "--no-cache", "--no-cache"], ((), None, True, "text")),
        (["validate", "--format", "json", "a"], (("a",), None, False, "json")),
        (["validate", "--format=text", "--root=r", "--root", "s"], ((), "s", False, "text")),
        (["validate", "./-odd name.yaml"], (("./-odd name.yaml",), None, False, "text")),
        # everything below goes to click
        ([], None),
        (["plan"], None),
        (["--debug", "validate"], None),
        (["validate", "--help"], None),
        (["validate", "-h"], None),
        (["validate", "--version"], None),
        (["validate", "-"], None),
        (["validate", ""], None),
        (["validate", "--"], None),
        (["validate", "--root"], None),
        (["validate", "--root", "--no-cache"], None),
        (["validate", "--root="], None),
        (["validate", "--format", "JSON"], None),
        (["validate", "--format=yaml"], None),
        (["validate", "--no-cache=yes"], None),
        (["validate", "--no-cach"], None),
        (["validate", "--target", "x"], None),
        (["Validate"], None),
    ],
)
def test_plain_arguments_are_read_and_the_rest_left_to_click(
    args: list[str], expected: tuple[object, ...] | None
) -> None:
    assert _fields(plain_validate(args, {})) == expected


def test_shell_completion_is_left_to_click() -> None:
    assert plain_validate(["validate"], {fast_path.COMPLETION_VARIABLE: "bash_complete"}) is None


# Real processes ---------------------------------------------------------------------------


def test_a_plain_validate_loads_neither_click_nor_inspect(tmp_path: Path) -> None:
    code, kinds = modules_after_main(["validate", "manifests/valid.yaml"], _project(tmp_path))
    assert code == 0
    assert not {"click", "jinja2", "jsonschema", "requests"} & set(kinds)
    # dataclasses imported inspect's stand-in and never needed the real module: every
    # dataclass defined on the way has a docstring (else this fails: give it one).
    assert kinds["inspect"] == "DeferredModule"
    assert "ast" not in kinds


@pytest.mark.parametrize(
    ("args", "deferred"),
    [
        (["validate"], True),
        (["plan", "--no-cache"], True),
        (["plan", "--emulator"], False),
        (["--help"], False),
    ],
)
def test_only_validate_and_a_plain_plan_put_the_stand_in_for_inspect(
    tmp_path: Path, args: list[str], deferred: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in saves ~8 ms where they count (the hook's validate, CI's plan, neither
    # read by click); a command that may hand inspect to libraries (click's help, the HTTP
    # stack) keeps the real module. main() decides from its arguments alone: a run in this
    # process shows it as a new one would (what a new one loads is checked above).
    made: list[int] = []
    monkeypatch.setattr(cli_main, "defer_unused_modules", lambda: made.append(1))
    specsync(args, _project(tmp_path))
    assert bool(made) == deferred


def test_the_console_script_and_python_m_answer_alike(tmp_path: Path) -> None:
    project = _project(tmp_path)
    for args in (["validate", "manifests"], ["validate", "invalid.yaml"], ["validate", "-x"]):
        script = run([SPECSYNC, *args], project)
        module = run([sys.executable, "-m", "specsync", *args], project)
        assert (script.returncode, script.stdout, script.stderr) == (
            module.returncode,
            module.stdout,
            module.stderr,
        )


def test_the_stand_in_hands_on_the_real_module() -> None:
    code = (
        "import sys\n"
        "from specsync.cli.deferred import defer_unused_modules\n"
        "defer_unused_modules()\n"
        "import dataclasses, inspect\n"
        "assert type(inspect).__name__ == 'DeferredModule' and 'ast' not in sys.modules\n"
        "@dataclasses.dataclass\n"
        "class Undocumented:\n"
        "    x: int\n"
        "assert Undocumented.__doc__ == 'Undocumented(x: int)', Undocumented.__doc__\n"
        "assert type(sys.modules['inspect']).__name__ == 'module'\n"
        "assert inspect.signature is sys.modules['inspect'].signature\n"
        "import inspect as again\n"
        "assert again is sys.modules['inspect']\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout == "ok\n", done.stderr


def test_the_console_scripts_exit_still_runs_what_atexit_registered(tmp_path: Path) -> None:
    # main() freezes what is left before the process exits: the language verdicts, written
    # by an atexit hook, must still reach the cache.
    cache = tmp_path / "cache"
    project = _project(tmp_path)
    # A code the registry itself decides (two-letter ones are answered from a list).
    valid = VALID.replace("ko]", "haw]")
    (project / "manifests" / "valid.yaml").write_text(valid, encoding="utf-8")
    done = run(
        [SPECSYNC, "validate", "manifests/valid.yaml"],
        project,
        env={**dict(os.environ), "SPECSYNC_CACHE_DIR": str(cache)},
    )
    assert done.returncode == 0, done.stderr
    assert list(cache.glob("languages-*/*.pack")), sorted(cache.rglob("*"))


@pytest.mark.parametrize("buffered", [True, False])
def test_a_reader_that_went_away_gets_what_click_gives_it(tmp_path: Path, buffered: bool) -> None:
    # `specsync validate --format json | head -c 0`: exit 1 and nothing more, either way
    # (not Python's exit 120 and "Exception ignored" when it flushes stdout at exit).
    project = _project(tmp_path)
    env = {k: v for k, v in os.environ.items() if not buffered or k != "PYTHONUNBUFFERED"}
    answers = [
        run_into_closed_pipe(
            [SPECSYNC, *prefix, "validate", "--format", "json", "manifests"], project, env
        )
        for prefix in ([], ["--debug"])  # --debug: click reads the arguments
    ]
    assert answers == [(1, ""), (1, "")]


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_json_is_utf_8_whatever_the_locale_says(tmp_path: Path, encoding: str) -> None:
    # A quoted Korean key in a problem: written as UTF-8 JSON, never a crash (exit 3).
    (tmp_path / "k.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  a: {스크립트: hi}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    answers = []
    for prefix in ([], ["--debug"]):
        done = subprocess.run(
            [SPECSYNC, *prefix, "validate", "--format", "json", "k.yaml"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        answers.append((done.returncode, done.stdout))
    assert answers[0] == answers[1]
    code, stdout = answers[0]
    assert code == 1
    [problem] = json.loads(stdout.decode("utf-8"))["problems"]
    assert "스크립트" in problem["message"]


def test_the_stand_in_loads_the_module_once_for_threads_asking_at_once() -> None:
    code = (
        "import sys, threading\n"
        "from specsync.cli.deferred import defer_unused_modules\n"
        "defer_unused_modules()\n"
        "import inspect\n"
        "barrier = threading.Barrier(8)\n"
        "found = []\n"
        "def ask():\n"
        "    barrier.wait()\n"
        "    found.append(inspect.signature(ask).parameters)\n"
        "threads = [threading.Thread(target=ask) for _ in range(8)]\n"
        "for thread in threads: thread.start()\n"
        "for thread in threads: thread.join()\n"
        "assert len(found) == 8 and type(sys.modules['inspect']).__name__ == 'module'\n"
        "print('ok')\n"
    )
    for _ in range(5):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.stdout == "ok\n", done.stderr
