"""specsync in its ecosystem: the example GitHub workflow, the real pre-commit framework,
GitHub annotations, NO_COLOR and --version, each through the installed tools.

The pre-commit test builds the hook environment (installs specsync and its dependencies
from PyPI) once per test session, in a PRE_COMMIT_HOME shared by the session.
"""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLES, ROOT, git, new_repo, run, with_user_home

BIN = Path(sys.executable).parent
WORKFLOW = EXAMPLES / ".github" / "workflows" / "specsync.yml"

BAD_MANIFEST = (
    'specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  bad: {script: "Hi {{ nme }}"}\n'
)
UNRELATED_WORKFLOW = (
    "name: ci\n"
    "on: [push]\n"
    "jobs:\n"
    "  test:\n"
    "    runs-on: ubuntu-latest\n"
    "    steps:\n"
    "      - run: echo '{{ not a specsync template }}'\n"
)

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def tool(name: str) -> str:
    beside = BIN / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (neither next to {sys.executable} nor on PATH)")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"GITHUB_ACTIONS", "NO_COLOR", "FORCE_COLOR"} and not k.startswith("GIT_")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


# a. the example workflow ------------------------------------------------------------------


def test_example_workflow_matches_the_github_workflow_schema() -> None:
    # The schema ships inside check-jsonschema (--builtin-schema): no network involved.
    done = run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_example_workflow_keeps_the_promises_docs_ci_md_makes() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "group: specsync-apply" in text
    assert "cancel-in-progress: false" in text
    assert "contents: write" in text
    assert "${{ secrets.AISTUDIOS_APP_ID }}" in text
    assert "${{ secrets.AISTUDIOS_USER_KEY }}" in text
    assert "run: specsync doctor" in text
    assert "specsync apply --max-items 200 --max-minutes 120" in text
    assert 'specsync plan --format markdown >> "$GITHUB_STEP_SUMMARY"' in text
    assert "specsync plan --detailed-exitcode || [ $? -eq 2 ]" in text
    assert "if: always()" in text
    assert "git add specsync.lock" in text
    # The optional pull: videos as an artifact, the hashes committed back.
    assert "specsync status --wait --timeout 1800 --pull --out videos" in text
    assert "name: specsync-videos-${{ github.run_id }}" in text
    # The review page is built after the pull and uploaded with the videos, in one
    # artifact where the two folders sit side by side; the job summary says so.
    steps = yaml.safe_load(text)["jobs"]["apply"]["steps"]
    runs = [str(step.get("run", "")) for step in steps]
    pull = next(i for i, command in enumerate(runs) if "--pull --out videos" in command)
    review = next(i for i, command in enumerate(runs) if "specsync review --out review" in command)
    upload = next(
        i
        for i, step in enumerate(steps)
        if "specsync-videos" in str(step.get("with", {}).get("name", ""))
    )
    assert pull < review < upload
    assert "GITHUB_STEP_SUMMARY" in runs[review] and "review/index.html" in runs[review]
    assert steps[upload]["with"]["path"].split() == ["review/", "videos/"]


# b. the real pre-commit framework ---------------------------------------------------------


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PRE_COMMIT_HOME for the session, so the hook environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout as it is now (uncommitted changes included), as a clean git repo.

    `pre-commit try-repo` on a dirty checkout copies it into a fresh shadow repo with a new
    commit on every call, and so builds a new hook environment every time; a clean snapshot
    has one commit, so the session's PRE_COMMIT_HOME caches its environment.
    """
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    assert listed.returncode == 0, listed.stderr
    snapshot = new_repo(tmp_path_factory.mktemp("specsync-hook-repo"))
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = snapshot / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(snapshot, "add", "-A")
    git(snapshot, "commit", "-q", "-m", "snapshot of the specsync checkout under test")
    return snapshot


def try_repo(repo: Path, hook_repo: Path, home: Path, *extra: str) -> tuple[int, str]:
    # The pip that builds the hook environment needs the user's pip configuration (package
    # index settings); the specsync hook still keeps its cache in the test's folders.
    done = run(
        [tool("pre-commit"), "try-repo", str(hook_repo), "specsync-validate", *extra],
        repo,
        env=with_user_home(clean_env(PRE_COMMIT_HOME=str(home))),
        timeout=900,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
# Five pre-commit runs, each in a fresh hook environment: 60-95 s alone, more on a busy
# machine, over the suite-wide 120 s.
@pytest.mark.timeout(300)
@needs_git
def test_pre_commit_hook_validates_the_manifest_set(
    tmp_path: Path, hook_repo: Path, pre_commit_home: Path
) -> None:
    repo = new_repo(tmp_path / "project")
    shutil.copytree(EXAMPLES / "manifests", repo / "manifests")
    shutil.copy(EXAMPLES / "specsync.yaml", repo / "specsync.yaml")  # its `ignore:` list
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yaml").write_text(UNRELATED_WORKFLOW)
    git(repo, "add", "-A")

    code, output = try_repo(repo, hook_repo, pre_commit_home, "--all-files")
    assert code == 0, output
    assert "Passed" in output, output

    (repo / "manifests" / "bad.yaml").write_text(BAD_MANIFEST)
    git(repo, "add", "manifests/bad.yaml")
    code, output = try_repo(repo, hook_repo, pre_commit_home, "--all-files")
    assert code == 1, output
    assert "Failed" in output, output
    assert "manifests/bad.yaml:4:" in output, output
    assert "nme" in output, output

    # Back to valid manifests, committed; the only staged change is unrelated YAML. The
    # hook runs (a YAML file changed), validates the whole set and ignores the workflow.
    git(repo, "rm", "-q", "-f", "manifests/bad.yaml")
    git(repo, "commit", "-q", "-m", "valid manifests")
    workflow = repo / ".github" / "workflows" / "ci.yaml"
    workflow.write_text(UNRELATED_WORKFLOW + "# touched\n")
    git(repo, "add", ".github/workflows/ci.yaml")
    code, output = try_repo(repo, hook_repo, pre_commit_home)
    assert code == 0, output
    assert "Passed" in output, output

    # A data file under manifests/, excluded by the project file's `ignore:`: a commit that
    # changes only it (no manifest) still passes; without the exclusion it is refused.
    (repo / "specsync.yaml").write_text(
        'specsync: 1\nignore: ["manifests/data/*", "manifests/reviewers.yaml"]\n'
    )
    (repo / "manifests" / "data").mkdir()
    (repo / "manifests" / "data" / "prices.yaml").write_text("plans: [basic, pro]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "project file and data")
    (repo / "manifests" / "data" / "prices.yaml").write_text("plans: [basic, pro, team]\n")
    git(repo, "add", "manifests/data/prices.yaml")
    code, output = try_repo(repo, hook_repo, pre_commit_home)
    assert code == 0, output
    assert "Passed" in output, output
    (repo / "specsync.yaml").write_text('specsync: 1\nignore: ["manifests/reviewers.yaml"]\n')
    git(repo, "add", "specsync.yaml")
    code, output = try_repo(repo, hook_repo, pre_commit_home)
    assert code == 1, output
    assert "manifests/data/prices.yaml:1:1: not a manifest" in output, output


# c. GitHub Actions annotations ------------------------------------------------------------


def bad_project(tmp_path: Path) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "bad.yaml").write_text(BAD_MANIFEST)
    return tmp_path


def test_validate_prints_github_annotations_under_github_actions(tmp_path: Path) -> None:
    project = bad_project(tmp_path)
    done = run([tool("specsync"), "validate"], project, env=clean_env(GITHUB_ACTIONS="true"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^::error file=manifests/bad\.yaml,line=4,col=\d+::", done.stderr, re.M), (
        done.stderr
    )
    assert "::error" not in done.stdout

    plain = run([tool("specsync"), "validate"], project, env=clean_env())
    assert plain.returncode == 1
    assert "::error" not in plain.stderr, plain.stderr
    assert "manifests/bad.yaml:4:" in plain.stderr, plain.stderr


# d. --version and NO_COLOR ----------------------------------------------------------------


def test_version_prints_a_version(tmp_path: Path) -> None:
    done = run([tool("specsync"), "--version"], tmp_path, env=clean_env())
    assert done.returncode == 0, done.stderr
    assert re.search(r"\b\d+\.\d+(\.\d+)?", done.stdout), done.stdout


def run_on_tty(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal (colour is for terminals only)."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary
        )
    finally:
        os.close(secondary)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    code = proc.wait(timeout=60)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_no_color_turns_colour_off_even_on_a_terminal(tmp_path: Path) -> None:
    project = bad_project(tmp_path)
    args = [tool("specsync"), "validate"]

    code, coloured = run_on_tty(args, project, clean_env())
    assert code == 1, coloured
    assert "\x1b[" in coloured, "expected colour on a terminal: " + repr(coloured)

    code, plain = run_on_tty(args, project, clean_env(NO_COLOR="1"))
    assert code == 1, plain
    assert "manifests/bad.yaml:4:" in plain, plain
    assert "\x1b[" not in plain, repr(plain)

    code, version = run_on_tty([tool("specsync"), "--version"], project, clean_env(NO_COLOR="1"))
    assert code == 0, version
    assert "\x1b[" not in version, repr(version)
