"""specsync's tests: a package, so that every test module imports the shared helpers one
way, `from tests.helpers import ...` (see tests/helpers/__init__.py)."""
