"""The review wing: a static page to watch every pulled video beside its script.

Rules (tests/test_wings.py): plain functions over plain data. It reads the lockfile's
data, the rendered items and the pulled files, and writes one HTML page; it imports
`plan` (the word-level diff and `same_export`), `state` (the lockfile's data) and the
shared modules, never `service` (the CLI hands it the status cache), never click, and
never touches the network. Everything from manifests, the lockfile or the service is
escaped by the page's template (Jinja2 autoescape) before it reaches the page.
"""
