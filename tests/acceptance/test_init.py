"""`specsync init` as a newcomer uses it: an empty folder to a first emulator export."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from specsync import __version__
from tests.helpers import (
    EXAMPLES,
    ROOT,
    SPECSYNC,
    assert_not_a_crash,
    git,
    new_repo,
    run,
    specsync,
    tomllib,
)
from tests.helpers.tmpfs import tmpfs

WRITTEN = [
    "specsync.yaml",
    "manifests/welcome.yaml",
    "manifests/snippets/outro.j2",
    "schemas/manifest.schema.json",
    ".pre-commit-config.yaml",
    ".github/workflows/specsync.yml",
    ".gitattributes",
    ".gitignore",
]


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_an_empty_folder_validates_and_applies_on_the_emulator_at_once(tmp_path: Path) -> None:
    project = new_repo(tmp_path / "videos")
    made = specsync(["init"], project)
    assert made.returncode == 0, made.stderr
    for name in WRITTEN:
        assert (project / name).is_file(), name
        assert f"wrote                  {name}" in made.stderr
    assert "specsync apply --emulator" in made.stderr  # what to run next

    validated = specsync(["validate"], project)
    assert validated.returncode == 0, validated.stderr
    assert "valid: 2 items from 1 video" in validated.stderr
    applied = specsync(["apply", "--emulator"], project)
    assert applied.returncode == 0, applied.stderr
    rehearsal = project / ".specsync" / "emulator.lock"
    lock = tomllib.loads(rehearsal.read_text(encoding="utf-8"))
    assert sorted(lock["items"]) == ["welcome/en", "welcome/ko"]
    # The rehearsal never touches the real record, and .specsync/ is ignored: nothing of
    # it is staged, and the first real plan shows every item as new.
    assert not (project / "specsync.lock").exists()
    git(project, "add", "-A")
    staged = git(project, "diff", "--cached", "--name-only").stdout.split()
    assert not [name for name in staged if name.startswith(".specsync/")]
    planned = specsync(["plan", "--detailed-exitcode"], project)
    assert planned.returncode == 2, planned.stdout + planned.stderr


def test_a_second_init_changes_nothing(tmp_path: Path) -> None:
    project = new_repo(tmp_path / "videos")
    assert specsync(["init"], project).returncode == 0
    before = tree(project), git(project, "config", "--local", "--list").stdout
    again = specsync(["init"], project)
    assert again.returncode == 0, again.stderr
    assert (tree(project), git(project, "config", "--local", "--list").stdout) == before
    assert "Nothing to do" in again.stderr


def test_init_never_overwrites_and_never_follows_a_link(tmp_path: Path) -> None:
    project = tmp_path / "videos"
    (project / "manifests").mkdir(parents=True)
    mine = "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n  a: {script: Mine}\n"
    (project / "manifests" / "welcome.yaml").write_text(mine, encoding="utf-8")
    (project / ".gitignore").write_text("node_modules/", encoding="utf-8")  # no final newline
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n", encoding="utf-8")
    (project / ".pre-commit-config.yaml").symlink_to(outside)

    made = specsync(["init", str(project)], tmp_path)
    assert made.returncode == 0, made.stderr
    assert (project / "manifests" / "welcome.yaml").read_text(encoding="utf-8") == mine
    assert outside.read_text(encoding="utf-8") == "not yours\n"
    assert (project / ".gitignore").read_text(encoding="utf-8") == (
        "node_modules/\n.specsync/\nvideos/\nreview/\n"
    )
    assert "kept (already there)   manifests/welcome.yaml" in made.stderr
    # The project has a manifest: nothing of the example is added (its snippet neither).
    assert "not written            manifests/snippets/outro.j2 (the project has manifests)" in (
        made.stderr
    )
    assert not (project / "manifests" / "snippets").exists()
    # Not a git repository: the driver line is printed for the user to run.
    assert "git config merge.specsync.driver" in made.stderr
    assert f"cd {project}" in made.stderr


def test_init_on_a_file_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    done = specsync(["init", "taken"], tmp_path)
    assert done.returncode == 1
    assert "is not a folder" in done.stderr
    assert_not_a_crash(done)


def test_init_names_what_stands_where_a_starter_file_goes_and_a_broken_link(
    tmp_path: Path,
) -> None:
    # A FIFO or a folder where a starter file goes is no file "already there": every
    # command would refuse it later, so init says so instead of "kept".
    project = tmp_path / "videos"
    project.mkdir()
    os.mkfifo(project / "specsync.yaml")
    (project / ".pre-commit-config.yaml").mkdir()
    made = specsync(["init", str(project)], tmp_path)
    assert made.returncode == 0, made.stderr
    assert "run yourself           replace specsync.yaml (a FIFO) with a file" in made.stderr
    assert "replace .pre-commit-config.yaml (a folder) with a file" in made.stderr
    assert "kept (already there)   specsync.yaml" not in made.stderr
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    broken = specsync(["init", "dangling"], tmp_path)
    assert broken.returncode == 1
    assert f"dangling is a broken symbolic link (to {tmp_path / 'nowhere'})" in broken.stderr
    assert_not_a_crash(broken)


def test_the_workflow_init_writes_is_the_documented_example() -> None:
    example = (EXAMPLES / ".github" / "workflows" / "specsync.yml").read_text(encoding="utf-8")
    from specsync.scaffold.install_line import InstallLine
    from specsync.scaffold.project import starter_files, workflow_text

    # Installed from the index, init writes the example, pinned to the running version.
    written = workflow_text(InstallLine(f'pip install "specsync-videos=={__version__}"'))
    assert written == example.replace("specsync-videos==0.1.0", f"specsync-videos=={__version__}")
    assert starter_files()[".github/workflows/specsync.yml"] == workflow_text()


def test_the_merge_driver_init_configures_works_without_specsync_on_path(tmp_path: Path) -> None:
    """An IDE or GUI git client may not have the venv on its PATH: the driver line names the
    interpreter by absolute path, so the merge still goes entry by entry."""
    project = new_repo(tmp_path / "videos")
    assert specsync(["init"], project).returncode == 0
    # A committed lockfile to merge (emulator-marked, named on purpose).
    emulate = ["apply", "--emulator", "--lockfile", "specsync.lock"]
    assert specsync(emulate, project).returncode == 0
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "start")
    manifest = project / "manifests" / "welcome.yaml"
    base_text = manifest.read_text(encoding="utf-8")
    for branch, video in (("a", "alpha"), ("b", "beta")):
        git(project, "checkout", "-q", "-b", branch, "main")
        manifest.write_text(base_text + f"  {video}:\n    script: Hi\n", encoding="utf-8")
        assert specsync(emulate, project).returncode == 0
        git(project, "commit", "-q", "-am", f"add {video}")
    git(project, "checkout", "-q", "a")
    bare_path = {**os.environ, "PATH": "/usr/bin:/bin"}
    # The manifests conflict (both appended a video); the lockfile must not.
    merged = subprocess.run(
        ["git", "merge", "-q", "b"], cwd=project, env=bare_path, capture_output=True, text=True
    )
    unmerged = git(project, "diff", "--name-only", "--diff-filter=U").stdout.split()
    assert unmerged == ["manifests/welcome.yaml"], merged.stdout + merged.stderr
    lock = tomllib.loads((project / "specsync.lock").read_text(encoding="utf-8"))
    assert {"alpha/en", "alpha/ko", "beta/en", "beta/ko", "welcome/en"} <= set(lock["items"])


@pytest.mark.parametrize("name", ["pyproject.toml"])
def test_the_package_version_is_one_number(name: str) -> None:
    project = tomllib.loads((ROOT / name).read_text(encoding="utf-8"))["project"]
    assert project["version"] == __version__


def test_the_pre_commit_config_init_writes_runs_the_hook(tmp_path: Path) -> None:
    project = new_repo(tmp_path / "videos")
    assert specsync(["init"], project).returncode == 0
    (project / "manifests" / "welcome.yaml").write_text(
        (project / "manifests" / "welcome.yaml")
        .read_text("utf-8")
        .replace("{{ name }}", "{{ nme }}"),
        encoding="utf-8",
    )
    git(project, "add", "-A")
    bin_dir = str(Path(SPECSYNC).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    pre_commit = str(Path(SPECSYNC).parent / "pre-commit")
    done = run([pre_commit, "run", "--all-files"], project, env, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "manifests/welcome.yaml:" in done.stdout and "nme" in done.stdout


def test_init_on_a_read_only_file_system_is_a_clean_error(tmp_path: Path) -> None:
    # A read-only mount refuses even root (file modes would not).
    with tmpfs(tmp_path / "ro", "size=1m,ro") as mount_point:
        done = specsync(["init", str(mount_point / "videos")], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "cannot create" in done.stderr and "Read-only file system" in done.stderr
    assert_not_a_crash(done)


def test_init_under_a_file_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    done = specsync(["init", "afile/videos"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "cannot create" in done.stderr
    assert_not_a_crash(done)


def test_doctor_on_the_emulator_is_happy_with_a_new_project(tmp_path: Path) -> None:
    project = tmp_path / "videos"
    assert specsync(["init", str(project)], tmp_path).returncode == 0
    assert specsync(["apply", "--emulator"], project).returncode == 0
    doctor = specsync(["doctor", "--emulator"], project)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "FAIL" not in doctor.stdout + doctor.stderr


# issue 25/27: an existing project, symlinks, a stale git lock, the install line -----------


def test_init_in_an_existing_project_adds_no_billable_item(tmp_path: Path) -> None:
    project = tmp_path / "videos"
    assert specsync(["init", str(project)], tmp_path).returncode == 0
    (project / "manifests" / "welcome.yaml").rename(project / "manifests" / "mine.yaml")
    (project / "manifests" / "mine.yaml").write_text(
        (project / "manifests" / "mine.yaml").read_text("utf-8").replace("welcome:", "mine:")
    )
    assert specsync(["apply", "--emulator"], project).returncode == 0
    again = specsync(["init", str(project)], tmp_path)
    assert again.returncode == 0, again.stderr
    assert not (project / "manifests" / "welcome.yaml").exists()
    # Against the rehearsal's lockfile, where mine/* was recorded (specsync.lock has none).
    plan = specsync(["plan", "--emulator", "--format", "json"], project)
    import json

    assert json.loads(plan.stdout)["summary"]["create"] == 0


def test_init_never_writes_through_a_link_leading_outside(tmp_path: Path) -> None:
    project = tmp_path / "videos"
    project.mkdir()
    elsewhere = tmp_path / "elsewhere"
    for name in ("manifests", ".github"):
        (elsewhere / name).mkdir(parents=True)
        (project / name).symlink_to(elsewhere / name)
    (project / ".gitignore").symlink_to(elsewhere / "gitignore")
    (elsewhere / "gitignore").write_text("x\n")
    done = specsync(["init", str(project)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p for p in elsewhere.rglob("*") if p.is_file()] == [elsewhere / "gitignore"]
    assert (elsewhere / "gitignore").read_text() == "x\n"
    assert "not written            manifests/welcome.yaml (a symbolic link leads outside: " in (
        done.stderr
    )
    assert "not written            .github/workflows/specsync.yml" in done.stderr
    wanted = "add `.specsync/`, `videos/` and `review/` to .gitignore"
    assert f"run yourself           {wanted}" in done.stderr
    # A link that stays inside the project is followed as any folder.
    (project / "manifests").unlink()
    (project / "real-manifests").mkdir()
    (project / "manifests").symlink_to(project / "real-manifests")
    assert specsync(["init", str(project)], tmp_path).returncode == 0
    assert (project / "real-manifests" / "welcome.yaml").is_file()


def test_init_beside_a_stale_git_config_lock_exits_1_clearly(tmp_path: Path) -> None:
    project = new_repo(tmp_path / "videos")
    (project / ".git" / "config.lock").write_text("")
    done = specsync(["init"], project)
    assert done.returncode == 1, done.stderr
    assert_not_a_crash(done)
    assert "failed                 git config merge.specsync.driver" in done.stderr
    assert "remove the stale .git/config.lock" in done.stderr
    assert (project / "manifests" / "welcome.yaml").is_file()  # the rest was done


def test_init_lists_each_kept_file_once_and_reports_json(tmp_path: Path) -> None:
    project = tmp_path / "videos"
    assert specsync(["init", str(project)], tmp_path).returncode == 0
    again = specsync(["init", str(project)], tmp_path)
    assert again.stderr.count("kept (already there)   .gitignore") == 1
    import json

    document = json.loads(specsync(["init", str(project), "--format", "json"], tmp_path).stdout)
    assert document["ok"] is True
    assert {"action": "kept", "what": ".gitignore"} in document["steps"]
    assert document["next"][-1] == "specsync apply --emulator"


def test_a_fresh_project_plans_from_a_subfolder_before_its_first_apply(tmp_path: Path) -> None:
    project = tmp_path / "videos"
    assert specsync(["init", str(project)], tmp_path).returncode == 0
    plan = specsync(["plan"], project / "manifests" / "snippets")
    assert plan.returncode == 0, plan.stderr
    assert "welcome/en" in plan.stdout and "welcome/ko" in plan.stdout


def test_the_install_line_reproduces_the_running_specsync() -> None:
    from specsync.scaffold.install_line import install_line

    git_info = {
        "url": "https://user:ghp_secret@github.com/acme/specsync.git",
        "vcs_info": {"vcs": "git", "commit_id": "a" * 40},
    }
    line = install_line("0.1.0", git_info)
    assert line.command == (
        f'pip install "specsync-videos @ git+https://github.com/acme/specsync.git@{"a" * 40}"'
    )
    assert "ghp_secret" not in line.command
    local = install_line("0.1.0", {"url": "file:///home/me/specsync", "dir_info": {}})
    assert local.command == 'pip install "specsync-videos==0.1.0"'
    assert "local checkout" in local.note and "/home/me" not in local.note
