"""Benchmarks that measure mlplan against a lower bound or a peer measured in the same run.

Not part of the test suite. Run one with ``.venv/bin/python bench/<name>.py`` (or
``.venv/bin/python -m bench.<name>``), or all of them with ``bash bench/run_all.sh``.
"""
