"""What was exported: the lockfile (format, reading, writing, merging), the journal and lock.

It may import only `model`; never `service`, `cli`, the HTTP stack or click.
"""
