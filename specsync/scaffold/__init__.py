"""`specsync init`: a new project that validates and applies on the emulator at once.

Owns the starter files (templates/, shipped in the wheel) and writing them without ever
overwriting anything. It may import `manifests` (for the schema) and the shared modules;
never `service`, `state`, `cli` or click.
"""
