"""Generate synthetic manifest sets for the benchmarks (written to a directory you name).

Two shapes, both `files x 10 videos x 10 locales` items (the last file has fewer videos
when the item count is not a multiple of 100):

- `shared`: a few script templates reused by every video (vars differ), as a product team
  that writes one script per kind of video would have. Few distinct template sources.

Every script is a multi-line block scalar (`|`) with Jinja as examples/manifests/ uses it
(`{%- for %}`, filters, conditions, `{% include 'snippets/outro.j2' %}`); the snippet is
written beside the manifests, so the set's directory is their `--root`.
- `distinct`: every video and every locale carries its own script, as a translated catalogue
  does (about 200 bytes of YAML per item). Every item is a distinct
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

# Scripts are written as real manifests write them (examples/manifests/): block scalars
# (`|`) of several lines, `{%- for %}` loops with whitespace control, filters, conditions and
# an included snippet. A lockfile of such items stores every script with `\n` escapes.
SHARED_SCRIPTS = (
    "Hi {{ name }}, welcome to {{ product }}.\n"
    "This is lesson {{ lesson }} ({{ locale }}).\n"
    "{% include 'snippets/outro.j2' %}",
    "{{ product }} in {{ minutes }} minutes.\n"
    "{%- for step in steps %}\n"
    "Step {{ loop.index }}: {{ step }}.\n"
    "{%- endfor %}",
    "{% if minutes > 3 %}A longer tour{% else %}A quick tour{% endif %} of\n"
    "{{ product | upper }} for {{ name }}.\n"
    "{% include 'snippets/outro.j2' %}",
    "Lesson {{ lesson }}: {{ steps | join(', ') }}.\nQuestions? Write to {{ support }}.",
    "{{ name }}, here is what changed in {{ product }} this month:\n{{ steps | first }}.",
)
# The snippet every manifest set carries (as examples/manifests/snippets/outro.j2).
OUTRO = """{%- if locale == "ko" -%}
궁금한 점은 {{ support }}로 문의하세요.
{%- elif locale == "ja" -%}
ご質問は {{ support }} までどうぞ。
{%- else -%}
Questions? Visit {{ support }}.
{%- endif -%}
"""
LOOP = "{%- for step in steps %}\nStep {{ loop.index }}: {{ step }}.\n{%- endfor %}"

# Words for the distinct catalogue: deterministic pseudo-sentences, so every script differs.
WORDS = (
    *("account", "billing", "dashboard", "export", "invoice", "project", "region", "report"),
    *("schedule", "settings", "storage", "team", "template", "upload", "video", "workspace"),
    *("avatar", "caption", "language", "preview", "render", "share", "subtitle", "voice"),
)
STEPS = ("Open the dashboard", "Click New project", "Pick a region", "Invite your team")


def generate(out_dir: Path, *, items: int, shape: str, seed: int = 7) -> list[Path]:
    """Write `ceil(items / 100)` manifest files into out_dir, and the snippet they include
    (`snippets/outro.j2`: out_dir is their --root); return the manifests' paths, sorted."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, not {shape!r}")
    if items <= 0 or items % len(LOCALES):
        raise ValueError(f"items must be a positive multiple of {len(LOCALES)}, not {items}")
    (out_dir / "snippets").mkdir(parents=True, exist_ok=True)
    (out_dir / "snippets" / "outro.j2").write_text(OUTRO, encoding="utf-8")
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
        # One script for every locale, as a team writes them: the locale shows in the text
        # (a real catalogue translates; one text in ten languages is warned about).
        script = (
            "[{{ locale }}] " + SHARED_SCRIPTS[(file_index + video_index) % len(SHARED_SCRIPTS)]
        )
        steps = rng.sample(STEPS, 2)
        lines += [
            f"  f{file_index:04d}-v{video_index:02d}:",
            *_block("script", script, 4),
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
        for locale_index, locale in enumerate(LOCALES):
            words = " ".join(rng.choice(WORDS) for _ in range(9))
            script = (
                f"[{locale}] {{{{ name }}}}, lesson {{{{ lesson }}}} of {{{{ product }}}}:\n"
                f"{words} ({file_index}.{video_index})."
            )
            if loop:
                script += "\n" + LOOP
            if (video_index + locale_index) % 2 == 0:
                script += "\n{% include 'snippets/outro.j2' %}"
            lines += [f"      {locale}:", *_block("script", script, 8)]
    return "\n".join(lines) + "\n"


def _distinct_for_file(file_index: int, videos: int, rng: random.Random) -> str:
    return _distinct_file(file_index, videos, rng, loop=True)


def _block(key: str, text: str, indent: int) -> list[str]:
    """`key: |` and the text's lines below it, a literal block scalar (as people write
    multi-line scripts); YAML keeps the line breaks and adds one at the end."""
    pad = " " * indent
    return [f"{pad}{key}: |", *(f"{pad}  {line}" for line in text.split("\n"))]


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
