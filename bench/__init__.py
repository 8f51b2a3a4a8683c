"""Benchmarks a person can rerun with `make bench`; not part of the test suite."""
