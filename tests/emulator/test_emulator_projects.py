"""The emulator's project endpoints answer what it made, in the vendor's documented shapes
(docs/vendor.md, rows 25, 27, 29), and previews are never rendered (row 20)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

from specsync.emulator import EmulatorConfig, running_emulator
from specsync.emulator.export_log import EXPORT_EVENT, Journal
from specsync.emulator.projects import MadeProjects
from tests.helpers.tmpfs import tmpfs

KEY = {"Authorization": "k"}
BODY: dict[str, Any] = {"language": "ko", "text": "안녕하세요", "model": "M7"}


def export(url: str, body: dict[str, Any]) -> str:
    answer = requests.post(url + "/api/odin/v3/simple/custom", json=body, headers=KEY, timeout=5)
    return str(answer.json()["data"]["projectId"])


def get(url: str, path: str) -> requests.Response:
    return requests.get(url + path, headers=KEY, timeout=5)


def test_one_project_as_the_get_project_page_lays_it_out() -> None:
    with running_emulator(EmulatorConfig(render_seconds=0.2)) as emu:
        project_id = export(emu.url, BODY)
        early = get(emu.url, f"/api/odin/v3/editor/project/{project_id}").json()["data"]
        time.sleep(0.25)
        done = get(emu.url, f"/api/odin/v3/editor/project/{project_id}").json()["data"]
        unknown = get(emu.url, "/api/odin/v3/editor/project/65f1a2b3c4d5e6f708192a3b")
    project = early["project"]
    assert project["_id"] == project_id
    assert (project["state"], project["creditSubstracted"]) == ("processing", False)
    assert isinstance(project["progress"], int) and 0 <= project["progress"] < 100  # Int
    assert project["download_url"] is None
    [scene] = project["scenes"]
    clip = scene["clips"][0]
    assert clip["type"] == "aiModel" and clip["script"]["org"] == "안녕하세요"
    assert (clip["model"]["ai_name"], clip["model"]["language"]) == ("M7", "ko")
    assert scene["scripts"][0]["modelId"] == "M7"
    assert project["createdAt"].endswith("Z") and project["backendTaskId"]
    finished = done["project"]
    assert (finished["state"], finished["progress"], finished["creditSubstracted"]) == (
        "exported",
        100,
        True,
    )
    assert finished["download_url"].startswith(emu.url)
    assert unknown.status_code == 404


def test_the_list_holds_only_what_it_made_paged_on_request() -> None:
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        made = [export(emu.url, {**BODY, "text": f"t{n}"}) for n in range(3)]
        listed = get(emu.url, "/api/odin/v3/editor/project").json()["data"]
        second = get(emu.url, "/api/odin/v3/editor/project?page=2&limit=2").json()["data"]
        bad = get(emu.url, "/api/odin/v3/editor/project?page=0")
    assert [p["id"] for p in listed] == made
    assert set(listed[0]) == {"id", "name", "state", "download_url"}
    assert [p["id"] for p in second] == made[2:]
    assert bad.status_code == 400


def test_a_later_emulator_on_the_same_journal_still_knows_its_projects(tmp_path: Path) -> None:
    journal = tmp_path / "made.jsonl"
    with running_emulator(EmulatorConfig(render_seconds=0, journal=str(journal))) as first:
        project_id = export(first.url, BODY)
    with running_emulator(EmulatorConfig(journal=str(journal))) as second:
        listed = get(second.url, "/api/odin/v3/editor/project").json()["data"]
        one = get(second.url, f"/api/odin/v3/editor/project/{project_id}")
    with running_emulator(EmulatorConfig()) as stranger:
        elsewhere = get(stranger.url, f"/api/odin/v3/editor/project/{project_id}")
    assert [p["id"] for p in listed] == [project_id]
    assert one.status_code == 200
    assert elsewhere.status_code == 404  # only what it made (or its journal says it made)


def test_a_preview_is_never_rendered_and_gets_no_video() -> None:
    with running_emulator(EmulatorConfig(render_seconds=0)) as emu:
        project_id = export(emu.url, {**BODY, "isExport": False})
        time.sleep(0.05)
        polls = [get(emu.url, f"/api/odin/v3/editor/progress/{project_id}") for _ in range(2)]
        project = get(emu.url, f"/api/odin/v3/editor/project/{project_id}").json()["data"]
    for poll in polls:
        data = poll.json()["data"]
        assert data["progress"] == 0 and "downloadUrl" not in data
    assert project["project"]["state"] == "draft"
    assert project["project"]["download_url"] is None


def test_a_fifo_where_projects_are_read_back_is_skipped_not_waited_on(tmp_path: Path) -> None:
    import os

    from specsync.emulator.projects import MadeProjects

    fifo = tmp_path / "made.jsonl"
    os.mkfifo(fifo)
    assert MadeProjects(fifo, memory=10).ids() == []  # returns at once


def test_a_record_the_full_disk_cut_loses_only_itself(tmp_path: Path) -> None:
    body = {"text": "x" * 6000}  # more than the one page (4 KiB) left free below
    with tmpfs(tmp_path / "disk", "size=16k") as disk:
        journal = Journal(disk / "exports.jsonl")
        filler = disk / "filler"
        with filler.open("wb") as out:  # fills the disk but for a part of one record
            try:
                out.write(b"x" * (1 << 20))
                out.flush()
            except OSError:
                pass
        kept = filler.read_bytes()
        filler.write_bytes(kept[: (len(kept) // 4096 - 1) * 4096])  # one page free

        with pytest.raises(OSError):
            journal.record(EXPORT_EVENT, projectId="cut", body=body)
        assert 0 < (disk / "exports.jsonl").stat().st_size < 6000  # a part of the line
        filler.unlink()
        journal.record(EXPORT_EVENT, projectId="whole", body=body)
        journal.close()  # no buffered rest to fail on
        made = MadeProjects(disk / "exports.jsonl", memory=10)
        assert made.get("whole") is not None
        assert made.get("cut") is None
