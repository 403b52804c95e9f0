"""`python -m specsync` runs the CLI."""

from specsync.cli import main

main()
