"""The command line: parse arguments, call the core, print what it returns.

Owns argument parsing (click), the text/JSON/markdown formatting of results, progress
display and terminal colour. It may import every other wing; no other wing imports it, and
nothing below it imports click.
"""
