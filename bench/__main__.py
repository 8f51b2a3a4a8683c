"""Run every benchmark: ``python -m bench [NAME ...]``."""

from __future__ import annotations

import sys

from . import pertest, reset, scale, soak, startup, throughput

BENCHMARKS = {"reset": reset.main, "throughput": throughput.main}
BENCHMARKS["scale"] = scale.main
BENCHMARKS["pertest"] = pertest.main
BENCHMARKS["startup"] = startup.main
BENCHMARKS["soak"] = soak.main


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
