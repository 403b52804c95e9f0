"""Scripts to text: the Jinja sandbox, the renderer, its compiled-template cache and the
rendered-text cache.

It may import only `model` (and specsync's version for the cache key); never the HTTP stack
or click. Jinja is imported only by the modules that run it (`render`, `sandbox` with its
`stable_values` and `root_loader`, `compiling`): `items`, the front the pipeline calls,
renders plain scripts and cached texts without it (tests/test_imports.py checks the CLI).
The compiled-template cache is `cache` (its pack files `cache_pack`, what its keys cover
`cache_fingerprint`), its secret `cache_key`; `processes` shares the CPUs between a split
run's two processes.
"""
