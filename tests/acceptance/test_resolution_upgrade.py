"""`resolution` joins the fingerprint; lockfiles written before that never re-export."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from specsync.model import fingerprint, legacy_fingerprint
from specsync.state.lockfile_read import read_lockfile
from tests.helpers import assert_not_a_crash, specsync
from tests.helpers.vendor_fake import running_vendor_fake


def _v1_fingerprint(language: str, text: str, model: str) -> str:
    """What specsync computed before resolution counted, written out independently."""
    canonical = json.dumps(
        {"isExport": True, "language": language, "model": model, "text": text},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _old_lockfile() -> str:
    # Exactly the layout the previous version wrote: scheme v1, no `resolution` key.
    blocks = []
    for n, item in enumerate(("hd/en", "plain/en"), start=1):
        blocks.append(
            f'[items."{item}"]\n'
            f'fingerprint = "{_v1_fingerprint("en", "hello " + item, "M1")}"\n'
            f'projectId = "p{n}"\ntaskId = "t{n}"\nsubmittedAt = "2026-11-01T10:00:00Z"\n'
            'state = "done"\nlanguage = "en"\nmodel = "M1"\nisExport = true\n'
            f'text = "hello {item}"\n'
        )
    return (
        "# specsync.lock: what specsync has exported. Written by specsync; commit it, "
        "do not edit it.\n# Docs: docs/lockfile.md\n"
        'version = 1\nfingerprint = "sha256-json-v1"\nemulator = false\n\n' + "\n".join(blocks)
    )


def _manifest(project: Path, hd: str, plain: str = "") -> None:
    (project / "manifests").mkdir(exist_ok=True)
    (project / "manifests" / "v.yaml").write_text(
        "specsync: 1\ndefaults: {model: M1, locales: [en]}\nvideos:\n"
        f'  hd: {{script: "hello {{{{ video }}}}/en"{hd}}}\n'
        f'  plain: {{script: "hello {{{{ video }}}}/en"{plain}}}\n',
        encoding="utf-8",
    )


def test_fingerprint_without_resolution_is_the_old_one_and_with_it_differs() -> None:
    request = {"language": "en", "text": "hi", "model": "M1", "isExport": True}
    old = _v1_fingerprint("en", "hi", "M1")
    assert fingerprint(request) == old == legacy_fingerprint(request)
    with_resolution = {**request, "resolution": "720"}
    assert fingerprint(with_resolution) != old
    assert legacy_fingerprint(with_resolution) == old
    assert fingerprint({**request, "resolution": "4k"}) != fingerprint(with_resolution)


def test_an_upgrade_plans_nothing_and_a_later_resolution_change_plans_an_update(
    tmp_path: Path,
) -> None:
    project = tmp_path
    _manifest(project, hd=", resolution: '720'")
    lockfile = project / "specsync.lock"
    lockfile.write_text(_old_lockfile(), encoding="utf-8")
    planned = specsync(["plan", "--detailed-exitcode", "--format", "json"], project)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert json.loads(planned.stdout)["summary"]["unchanged"] == 2

    with running_vendor_fake() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AISTUDIOS_", "SPECSYNC_"))}
        env.update(
            {
                "SPECSYNC_API_BASE": fake.url,
                "AISTUDIOS_APP_ID": fake.app_id,
                "AISTUDIOS_USER_KEY": fake.user_key,
            }
        )
        applied = specsync(["apply", "--rate", "100"], project, env)
    assert applied.returncode == 0, applied.stderr
    assert fake.exports == []  # nothing re-exported by the upgrade
    assert "recorded the current resolution in 2 entries" in applied.stderr
    lock = read_lockfile(lockfile)
    assert (lock.entries["hd/en"].resolution, lock.entries["plain/en"].resolution) == (
        "720",
        "default",
    )
    assert [lock.entries[i].project_id for i in ("hd/en", "plain/en")] == ["p1", "p2"]
    assert 'fingerprint = "sha256-json-v2"' in lockfile.read_text(encoding="utf-8")

    again = specsync(["plan", "--detailed-exitcode"], project)
    assert again.returncode == 0, again.stdout + again.stderr

    _manifest(project, hd=", resolution: 4k", plain=", resolution: '1080'")
    changed = specsync(["plan", "--detailed-exitcode", "--format", "json"], project)
    assert changed.returncode == 2, changed.stdout + changed.stderr
    items = {i["id"]: i for i in json.loads(changed.stdout)["items"]}
    assert items["hd/en"]["action"] == "update"
    assert items["hd/en"]["changes"] == [{"field": "resolution", "old": "720", "new": "4k"}]
    # 1080 is the documented default (reference/simple-custom.md; docs/vendor.md): writing
    # it out asks for the same video, so nothing is planned for it.
    assert items["plain/en"]["action"] == "unchanged"


def test_a_refused_apply_leaves_an_old_lockfile_untouched(tmp_path: Path) -> None:
    project = tmp_path
    _manifest(project, hd=", resolution: '720'")
    (project / "manifests" / "w.yaml").write_text(
        "specsync: 1\nvideos:\n  new: {script: hi, model: M404, locales: [en]}\n",
        encoding="utf-8",
    )
    lockfile = project / "specsync.lock"
    lockfile.write_text(_old_lockfile(), encoding="utf-8")
    before = lockfile.read_bytes()
    with running_vendor_fake() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AISTUDIOS_", "SPECSYNC_"))}
        env.update({"SPECSYNC_API_BASE": fake.url, "AISTUDIOS_API_KEY": "x"})
        fake.api_key = "x"
        # Refused before anything is sent (the model is only warned about: docs/vendor.md).
        refused = specsync(["apply", "--rate", "100", "--max-items", "0"], project, env)
    assert refused.returncode == 1
    assert "--max-items" in refused.stderr
    assert_not_a_crash(refused)
    assert fake.exports == []
    assert lockfile.read_bytes() == before
