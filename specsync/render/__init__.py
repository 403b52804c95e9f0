"""Scripts to text: the Jinja sandbox, the renderer and its compiled-template cache.

It may import only `model` (and specsync's version for the cache key); never the HTTP stack
or click.
"""
