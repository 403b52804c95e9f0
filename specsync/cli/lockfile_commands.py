"""forget and merge-driver: the commands that edit the lockfile itself."""

from __future__ import annotations

import json
from pathlib import Path

import click

from specsync.cli.console import counted
from specsync.cli.exit_codes import EXIT_INVALID, EXIT_OK
from specsync.cli.options import LOCKFILE_OPTION, emulator_flag, format_option, mode_lockfile
from specsync.service.forget import forget_matching
from specsync.state.lockfile_merge import merge_text_files


@click.command()
@click.argument("patterns", nargs=-1, required=True, metavar="GLOB...")
@LOCKFILE_OPTION
@click.option("--dry-run", is_flag=True, help="Say what would be dropped; change nothing.")
@emulator_flag("Forget in the rehearsal lockfile of `apply --emulator` (.specsync/emulator.lock).")
@format_option(
    ("text", "json"),
    "json: {lockfile, dryRun, forgotten: [id], recovered} on stdout alone.",
)
def forget(
    patterns: tuple[str, ...], lockfile: str, dry_run: bool, use_emulator: bool, output_format: str
) -> None:
    """Drop lockfile entries whose item id matches GLOB (orphans, mistakes).

    Nothing is deleted remotely. The dropped entries' ids move to the lockfile's
    `forgotten` section, so no id is ever lost; a forgotten item still in the manifests is
    planned as `create` again. Takes the apply lock, and first folds in the journal an
    interrupted apply left (so an item only that journal knows can be forgotten). Exit 1,
    with nothing dropped, when any GLOB matches no entry.

    \b
    Examples:
      specsync forget 'old-promo/*'
      specsync forget welcome/ko
      specsync forget --dry-run 'promo-*/*'
    """

    lockfile = mode_lockfile(lockfile, use_emulator)

    result = forget_matching(Path(lockfile), patterns, dry_run=dry_run)
    dropped = result.dropped
    if output_format == "json":
        document = {
            "lockfile": lockfile,
            "dryRun": dry_run,
            "forgotten": list(dropped),
            "recovered": result.recovered,
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    if result.recovered:
        click.echo(
            f"recorded {counted(result.recovered, 'journal record')} of an interrupted apply first",
            err=True,
        )
    verb = "would forget" if dry_run else "forgot"
    for item_id in dropped:
        click.echo(f"{verb} {item_id}", err=True)
    entries = counted(len(dropped), "entry")
    if dry_run:
        click.echo(f"{entries} would be dropped from {lockfile}; nothing changed", err=True)
        return
    click.echo(f"{entries} dropped from {lockfile} (ids kept under [forgotten])", err=True)


@click.command("merge-driver")
@click.argument("base", metavar="%O")
@click.argument("ours", metavar="%A")
@click.argument("theirs", metavar="%B")
def merge_driver(base: str, ours: str, theirs: str) -> int:
    """Git merge driver for specsync.lock: merges entry by entry into %A.

    Two branches that exported different items merge cleanly. The same item exported on
    both sides with different projectIds is a conflict: both ids stay in the file (marked
    with a `# CONFLICT:` comment) and the exit code is 1.

    \b
    Set up once per clone (`specsync init` does it), naming this interpreter by its
    absolute path so that any git client finds it:

    \b
      echo 'specsync.lock merge=specsync' >> .gitattributes
      git config merge.specsync.driver "/path/to/venv/bin/python -m specsync merge-driver %O %A %B"
    """

    conflicts = merge_text_files(Path(base), Path(ours), Path(theirs))
    for message in conflicts:
        click.echo(f"specsync.lock: {message}", err=True)
    return EXIT_INVALID if conflicts else EXIT_OK
