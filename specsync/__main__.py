"""`python -m specsync` runs the CLI."""

from specsync.cli.main import main

main()
