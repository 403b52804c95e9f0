"""Talking to AI Studios: the HTTP client, apply (submit and record) and status (poll).

The only wing that imports the HTTP stack (requests, tenacity). It may import `plan`,
`state`, `manifests`, `render` and `model`; never `cli` or click.
"""
