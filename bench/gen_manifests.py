"""Generate synthetic manifest sets for the benchmarks (written to a directory you name).

Two shapes, both `files x 10 videos x 10 locales` items (the last file has fewer videos
when the item count is not a multiple of 100):

- `shared`: a few script templates reused by every video (vars differ), as a product team
  that writes one script per kind of video would have. Few distinct template sources.
- `distinct`: every video and every locale carries its own script, as a translated catalogue
  does (about 160 bytes of YAML per item, 1.6 MB for 10,000 items). Every item is a distinct
  template source, so this is the set where template compilation dominates.
- `distinct-for`: as `distinct`, each script also with a `{% for %}` over the video's steps
  (the shape issue 18 measures cold compiles on: a loop costs Jinja more code to make).

    python bench/gen_manifests.py OUT_DIR --items 10000 --shape distinct
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from pathlib import Path

VIDEOS_PER_FILE = 10
LOCALES = ("en", "ko", "ja", "zh-CN", "pt-BR", "de", "fr", "es", "it", "nl")
ITEMS_PER_FILE = VIDEOS_PER_FILE * len(LOCALES)
SHAPES = ("shared", "distinct", "distinct-for")

# Shared scripts: a handful of templates with the usual Jinja features (loops, filters,
# conditions), reused across every video of every file.
SHARED_SCRIPTS = (
    "Hi {{ name }}, welcome to {{ product }}. This is lesson {{ lesson }} ({{ locale }}).",
    "{{ product }} in {{ minutes }} minutes:{% for step in steps %} {{ loop.index }}. "
    "{{ step }}.{% endfor %}",
    "{% if minutes > 3 %}A longer tour{% else %}A quick tour{% endif %} of "
    "{{ product | upper }} for {{ name }}.",
    "Lesson {{ lesson }}: {{ steps | join(', ') }}. Questions? Write to {{ support }}.",
    "{{ name }}, here is what changed in {{ product }} this month: {{ steps | first }}.",
)

# Words for the distinct catalogue: deterministic pseudo-sentences, so every script differs.
WORDS = (
    *("account", "billing", "dashboard", "export", "invoice", "project", "region", "report"),
    *("schedule", "settings", "storage", "team", "template", "upload", "video", "workspace"),
    *("avatar", "caption", "language", "preview", "render", "share", "subtitle", "voice"),
)
STEPS = ("Open the dashboard", "Click New project", "Pick a region", "Invite your team")


def generate(out_dir: Path, *, items: int, shape: str, seed: int = 7) -> list[Path]:
    """Write `ceil(items / 100)` manifest files into out_dir; return their paths, sorted."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, not {shape!r}")
    if items <= 0 or items % len(LOCALES):
        raise ValueError(f"items must be a positive multiple of {len(LOCALES)}, not {items}")
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    render_file = {
        "shared": _shared_file,
        "distinct": _distinct_file,
        "distinct-for": _distinct_for_file,
    }[shape]
    paths = []
    for file_index, first in enumerate(range(0, items, ITEMS_PER_FILE)):
        videos = min(VIDEOS_PER_FILE, (items - first) // len(LOCALES))
        path = out_dir / f"catalogue-{file_index:04d}.yaml"
        path.write_text(render_file(file_index, videos, rng), encoding="utf-8")
        paths.append(path)
    return paths


def _header(file_index: int) -> list[str]:
    return [
        "# yaml-language-server: $schema=../schemas/manifest.schema.json",
        f"# Synthetic benchmark manifest {file_index}.",
        "specsync: 1",
        "defaults:",
        "  model: M000045058",
        f"  locales: [{', '.join(LOCALES)}]",
        "  isExport: true",
        "  webhookUrl: https://hooks.example.com/aistudios",
        "vars:",
        "  product: Acme Cloud",
        "  support: support@acme.example",
        "videos:",
    ]


def _shared_file(file_index: int, videos: int, rng: random.Random) -> str:
    lines = _header(file_index)
    for video_index in range(videos):
        script = SHARED_SCRIPTS[(file_index + video_index) % len(SHARED_SCRIPTS)]
        steps = rng.sample(STEPS, 2)
        lines += [
            f"  f{file_index:04d}-v{video_index:02d}:",
            f"    script: {_quote(script)}",
            "    vars:",
            f"      name: Viewer {video_index}",
            f"      lesson: {video_index + 1}",
            f"      minutes: {rng.randint(1, 6)}",
            f"      steps: [{', '.join(steps)}]",
        ]
    return "\n".join(lines) + "\n"


def _distinct_file(file_index: int, videos: int, rng: random.Random, *, loop: bool = False) -> str:
    lines = _header(file_index)
    for video_index in range(videos):
        steps = ", ".join(rng.sample(STEPS, 2)) if loop else ""
        lines += [
            f"  f{file_index:04d}-v{video_index:02d}:",
            f"    vars: {{name: Viewer {video_index}, lesson: {video_index + 1}"
            + (f", steps: [{steps}]}}" if loop else "}"),
            "    locales:",
        ]
        for locale in LOCALES:
            words = " ".join(rng.choice(WORDS) for _ in range(9))
            script = (
                f"[{locale}] {{{{ name }}}}, lesson {{{{ lesson }}}} of {{{{ product }}}}: "
                f"{words} ({file_index}.{video_index})."
            )
            if loop:
                script += " Steps:{% for step in steps %} {{ loop.index }}. {{ step }}.{% endfor %}"
            lines += [f"      {locale}:", f"        script: {_quote(script)}"]
    return "\n".join(lines) + "\n"


def _distinct_for_file(file_index: int, videos: int, rng: random.Random) -> str:
    return _distinct_file(file_index, videos, rng, loop=True)


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (our scripts hold no backslashes or double quotes)."""
    assert '"' not in text and "\\" not in text
    return f'"{text}"'


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--items", type=int, default=10_000, help="multiple of 10")
    parser.add_argument("--shape", choices=SHAPES, default="shared")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    paths = generate(args.out_dir, items=args.items, shape=args.shape, seed=args.seed)
    size = sum(path.stat().st_size for path in paths)
    print(f"{len(paths)} files, {args.items} items, {size / 1e6:.2f} MB in {args.out_dir}")


if __name__ == "__main__":
    main()
