"""Manifests in, items out: discover files, load YAML with marks, check the schema, expand.

Owns everything between a path on the command line and a list of rendered items (the
`pipeline` module runs the stages in order). It may import `render` and `model`; never
`state`, `service`, `cli`, the HTTP stack or click.
"""
