"""Benchmarks: ``make bench`` (``python -m tests.bench``). They report; tests assert.

Each module listed in :data:`tests.bench.__main__.MODULES` exposes ``NAME``,
``run(opts) -> list[Row]`` and, optionally, ``add_arguments(group)``.
See docs/benchmarks.md.
"""
