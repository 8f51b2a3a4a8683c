"""Run every benchmark: ``python -m bench [NAME ...]``."""

from __future__ import annotations

import sys

from . import reset, throughput

BENCHMARKS = {"reset": reset.main, "throughput": throughput.main}


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default) and print their tables."""
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        BENCHMARKS[name]()
    return 0


sys.exit(main(sys.argv[1:]))
