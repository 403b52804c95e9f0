"""The compiled-template cache: warm runs reuse code, and nothing unverified ever runs."""

from __future__ import annotations

import marshal
import os
import shutil
import stat
import traceback
from pathlib import Path

import pytest
from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from specsync.render import cache as templatecache
from specsync.render.cache import (
    HEADER,
    MAGIC,
    TemplateCache,
    default_cache_dir,
    environment_fingerprint,
)
from specsync.render.cache_key import default_key_file
from specsync.render.compiling import compile_template, compile_templates, template_from_code

SOURCES = [f"Hi {{{{ name }}}}, lesson {n} of {{{{ product }}}}." for n in range(20)]
VARS = {"name": "Ada", "product": "Acme"}


@pytest.fixture
def env() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A cache directory and, outside it, the key file."""
    return tmp_path / "cache" / "specsync", tmp_path / "config" / "specsync" / "cache.key"


def open_cache(
    env: SandboxedEnvironment, dirs: tuple[Path, Path], **kwargs: object
) -> TemplateCache:
    cache_dir, key_file = dirs
    return TemplateCache(
        environment_fingerprint(env), cache_dir=cache_dir, key_file=key_file, **kwargs
    )


def fill(env: SandboxedEnvironment, dirs: tuple[Path, Path], sources: list[str]) -> TemplateCache:
    cache = open_cache(env, dirs)
    compile_templates(env, sources, cache, processes=1)
    return cache


def test_a_second_run_builds_every_template_from_the_cache(env, dirs) -> None:
    first = fill(env, dirs, SOURCES)
    second = open_cache(env, dirs)
    templates = compile_templates(env, SOURCES, second, processes=1)

    assert (first.stats.misses, first.stats.stored) == (20, 20)
    assert (second.stats.hits, second.stats.misses, second.stats.stored) == (20, 0, 0)
    assert templates[SOURCES[3]].render(VARS) == "Hi Ada, lesson 3 of Acme."
    assert all(templates[s].render(VARS) == env.from_string(s).render(VARS) for s in SOURCES)


def test_cache_files_are_private_and_the_key_lives_outside(env, dirs) -> None:
    cache_dir, key_file = dirs
    cache = fill(env, dirs, SOURCES[:2])

    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.pack_dir.stat().st_mode) == 0o700
    packs = list(cache.pack_dir.iterdir())
    assert packs and {cache.source_path(s) for s in SOURCES[:2]} == set(packs)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in packs)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32
    assert sorted(p.name for p in cache_dir.iterdir()) == [
        ".gitignore",
        "CACHEDIR.TAG",
        cache.pack_dir.name,
    ]
    assert (cache_dir / ".gitignore").read_text() == "*\n"


def forged_entry(env: SandboxedEnvironment, source: str, marker: Path) -> bytes:
    """A well-framed record for `source` whose code writes `marker`, with a wrong MAC."""
    cache = TemplateCache(environment_fingerprint(env))
    code = compile(f"open({str(marker)!r}, 'w').close()", "<forged>", "exec")
    payload = marshal.dumps(code)
    return HEADER.pack(MAGIC, cache._key(source), len(payload), b"\0" * 32) + payload


def test_an_entry_that_does_not_verify_never_runs_and_is_replaced(env, dirs, tmp_path) -> None:
    cache = fill(env, dirs, SOURCES[:1])
    marker = tmp_path / "pwned"
    # A cache restored from elsewhere: the record for SOURCES[1] was not signed by our key.
    with open(cache.source_path(SOURCES[1]), "ab") as pack:
        pack.write(forged_entry(env, SOURCES[1], marker))

    second = open_cache(env, dirs)
    templates = compile_templates(env, SOURCES[:2], second, processes=1)

    assert not marker.exists()
    assert templates[SOURCES[1]].render(VARS) == "Hi Ada, lesson 1 of Acme."
    assert (second.stats.hits, second.stats.rejected, second.stats.stored) == (1, 1, 1)
    third = open_cache(env, dirs)
    compile_templates(env, SOURCES[:2], third, processes=1)
    assert (third.stats.hits, third.stats.rejected) == (2, 0)


def test_entries_signed_with_another_key_are_ignored(env, dirs) -> None:
    _, key_file = dirs
    fill(env, dirs, SOURCES)
    key_file.unlink()  # another machine, or the key was rotated

    cache = open_cache(env, dirs)
    compile_templates(env, SOURCES, cache, processes=1)

    assert (cache.stats.hits, cache.stats.rejected, cache.stats.stored) == (0, 20, 20)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-7], id="truncated"),
        pytest.param(lambda data: b"garbage" + data, id="garbage-first"),
        pytest.param(lambda data: data[:100] + b"\xff" * 50 + data[150:], id="flipped-bytes"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_a_damaged_pack_is_ignored_then_rewritten(env, dirs, damage) -> None:
    cache = fill(env, dirs, SOURCES)
    for pack in cache.pack_dir.iterdir():
        pack.write_bytes(damage(pack.read_bytes()))

    second = open_cache(env, dirs)
    templates = compile_templates(env, SOURCES, second, processes=1)
    third = open_cache(env, dirs)
    compile_templates(env, SOURCES, third, processes=1)

    assert [templates[s].render(VARS) for s in SOURCES] == [
        env.from_string(s).render(VARS) for s in SOURCES
    ]
    assert second.stats.hits < 20
    assert (third.stats.hits, third.stats.rejected) == (20, 0)


def test_another_environment_does_not_share_entries(env, dirs) -> None:
    fill(env, dirs, SOURCES)
    other = SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True)

    cache = open_cache(other, dirs)
    compile_templates(other, SOURCES, cache, processes=1)

    assert (cache.stats.hits, cache.stats.stored) == (0, 20)


def test_another_jinja_or_python_version_uses_another_pack(env, dirs, monkeypatch) -> None:
    before = fill(env, dirs, SOURCES).pack_dir
    monkeypatch.setattr(templatecache, "VERSION_FINGERPRINT", "jinja2-9.9|cpython-399")

    cache = open_cache(env, dirs)
    compile_templates(env, SOURCES, cache, processes=1)

    assert cache.pack_dir != before
    assert (cache.stats.hits, cache.stats.stored) == (0, 20)


def test_a_key_inside_the_cache_disables_it(env, tmp_path) -> None:
    cache = TemplateCache(
        environment_fingerprint(env), cache_dir=tmp_path, key_file=tmp_path / "sub" / "key"
    )
    templates = compile_templates(env, SOURCES[:1], cache, processes=1)

    assert templates[SOURCES[0]].render(VARS) == "Hi Ada, lesson 0 of Acme."
    assert cache.disabled_reason is not None and "must not live inside" in cache.disabled_reason
    assert list(tmp_path.iterdir()) == []


def test_a_key_others_can_read_disables_the_cache(env, dirs) -> None:
    _, key_file = dirs
    fill(env, dirs, SOURCES[:1])
    os.chmod(key_file, 0o644)

    cache = open_cache(env, dirs)
    compile_templates(env, SOURCES[:1], cache, processes=1)

    assert cache.stats.hits == 0
    assert cache.disabled_reason == f"the cache key {key_file} is readable or writable by others"


def test_no_cache_reads_and_writes_nothing(env, dirs) -> None:
    cache_dir, key_file = dirs
    cache = open_cache(env, dirs, enabled=False)
    templates = compile_templates(env, SOURCES[:2], cache, processes=1)

    assert len(templates) == 2
    assert not cache_dir.exists() and not key_file.exists()


def test_an_unwritable_cache_costs_speed_only(env, tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    cache = TemplateCache(
        environment_fingerprint(env), cache_dir=blocker / "cache", key_file=tmp_path / "key"
    )
    templates = compile_templates(env, SOURCES[:2], cache, processes=1)

    assert templates[SOURCES[1]].render(VARS) == "Hi Ada, lesson 1 of Acme."


def test_a_source_that_does_not_compile_is_left_to_the_caller(env, dirs) -> None:
    broken = "Hi {{ name "
    cache = open_cache(env, dirs)
    templates = compile_templates(env, [SOURCES[0], broken], cache, processes=1)

    assert list(templates) == [SOURCES[0]]
    assert cache.stats.stored == 1


def test_two_processes_compile_the_same_templates(env, dirs) -> None:
    sources = [*SOURCES, "{% for x in xs %}{{ x }}{% endfor %}", "{{ 1 + }}"]
    forked = compile_templates(env, sources, open_cache(env, dirs), processes=2)
    again = compile_templates(env, sources, None, processes=1)

    assert sorted(forked) == sorted(again) == sorted(sources[:-1])
    assert forked[sources[-2]].render(xs=[1, 2]) == "12"
    assert forked[SOURCES[5]].render(VARS) == again[SOURCES[5]].render(VARS)


def test_cached_code_reports_errors_at_the_same_template_line(env, dirs) -> None:
    source = "line one\n{{ missing.attribute }}\n"
    fill(env, dirs, [source])
    code = open_cache(env, dirs).load(source)
    assert code is not None

    def failing_line(template) -> int:
        with pytest.raises(UndefinedError) as caught:
            template.render()
        frames = traceback.extract_tb(caught.value.__traceback__)
        return [frame.lineno for frame in frames if frame.filename == "<template>"][-1]

    assert failing_line(template_from_code(env, code)) == 2
    assert failing_line(env.from_string(source)) == 2


def test_template_from_code_equals_from_string(env) -> None:
    source = "{{ product | upper }} {{ greeting }}"
    template = template_from_code(env, compile_template(env, source), {"greeting": "hi"})
    assert template.render(product="acme") == "ACME hi"


def test_default_locations_follow_the_environment(tmp_path) -> None:
    home = Path.home()
    assert default_cache_dir({}) == home / ".cache" / "specsync"
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/specsync")
    assert default_cache_dir({"XDG_CACHE_HOME": "/x", "SPECSYNC_CACHE_DIR": "/c"}) == Path("/c")
    assert default_key_file({}) == home / ".config" / "specsync" / "cache.key"
    assert default_key_file({"XDG_CONFIG_HOME": "/y"}) == Path("/y/specsync/cache.key")
    assert default_key_file({"SPECSYNC_CACHE_KEY_FILE": "/k"}) == Path("/k")


def test_a_mostly_stale_pack_is_compacted_to_what_the_run_used(env, dirs, monkeypatch) -> None:
    monkeypatch.setattr(templatecache, "SHARDS", 1)  # one pack holds every entry
    fill(env, dirs, SOURCES)  # 20 entries, of which the next run uses 2
    monkeypatch.setattr(templatecache, "COMPACT_BYTES", 1000)

    cache = fill(env, dirs, SOURCES[:2])
    after = open_cache(env, dirs)
    compile_templates(env, SOURCES, after, processes=1)

    assert cache.stats.hits == 2
    assert (after.stats.hits, after.stats.misses) == (2, 18)


def test_a_run_reads_only_the_packs_of_its_own_scripts(env, dirs) -> None:
    # A cache grown large with other projects' scripts must not cost a small run.
    many = [f"Script {n}: {{{{ name }}}}" for n in range(400)]
    fill(env, dirs, many)
    cache = open_cache(env, dirs)
    templates = compile_templates(env, many[:3], cache, processes=1)

    assert cache.stats.hits == 3
    assert len(cache._packs) <= 3
    read = sum(len(pack.data) for pack in cache._packs.values())
    total = sum(path.stat().st_size for path in cache.pack_dir.iterdir())
    assert read < total / 10
    assert templates[many[2]].render(VARS) == "Script 2: Ada"


def test_the_single_pack_of_an_earlier_specsync_is_removed(env, dirs) -> None:
    cache_dir, _ = dirs
    cache = open_cache(env, dirs)
    cache_dir.mkdir(parents=True)
    legacy = cache_dir / f"{cache.pack_dir.name}.pack"
    legacy.write_bytes(b"old format")
    compile_templates(env, SOURCES[:1], cache, processes=1)

    assert not legacy.exists()
    assert cache.source_path(SOURCES[0]).exists()


def test_the_compile_pool_is_sized_by_the_cpus_this_process_may_use() -> None:
    import subprocess
    import sys

    from specsync.render.compiling import usable_cpus

    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)
    taskset = shutil.which("taskset")
    if taskset is None:
        pytest.skip("taskset is not installed")
    code = "from specsync.render.compiling import usable_cpus; print(usable_cpus())"
    pinned = subprocess.run(
        [taskset, "-c", "0", sys.executable, "-c", code], capture_output=True, text=True
    )
    assert pinned.returncode == 0, pinned.stderr
    assert pinned.stdout.strip() == "1"


def test_a_damaged_pack_of_a_group_is_rewritten_without_reading_others(dirs) -> None:
    # A group's pack holds keys whose own shard is another one; rewriting it (a torn tail,
    # here) once crashed flush with "dictionary changed size during iteration".
    cache_dir, key_file = dirs
    first = TemplateCache("group test", cache_dir=cache_dir, key_file=key_file, folder="g")
    for code in ("en", "ko", "ja", "de", "fr", "it", "nl", "es"):
        first.put(code, b"valid", "languages")
    first.flush()
    (pack,) = first.pack_dir.iterdir()
    pack.write_bytes(pack.read_bytes() + b"SSTC torn")

    second = TemplateCache("group test", cache_dir=cache_dir, key_file=key_file, folder="g")
    assert second.get("en", "languages") == b"valid"
    second.flush()

    third = TemplateCache("group test", cache_dir=cache_dir, key_file=key_file, folder="g")
    for code in ("en", "ko", "ja", "de", "fr", "it", "nl", "es"):
        assert third.get(code, "languages") == b"valid"
    assert [path.name for path in third.pack_dir.iterdir()] == [pack.name]
