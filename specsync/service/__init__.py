"""Talking to AI Studios: the HTTP client, apply (submit and record) and status (poll).

The only wing that imports the HTTP stack (requests, tenacity). It may import `plan`,
`state`, `manifests`, `render` and `model`; never `cli` or click. Its modules each have
one job: no module over 500 lines, no function over 60, no private name imported from
another module, no import cycle between modules (tests/test_wings.py checks them).
`http/` is its HTTP layer, which knows nothing of AI Studios (see `http/__init__`).
"""
