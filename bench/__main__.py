"""Run benchmarks: ``python -m bench [NAME [OPTIONS ...]] ...``; with no name, every one.

Options after a name go to that benchmark, e.g. ``python -m bench throughput --duration 5``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable

from . import apptime, pertest, reset, scale, soak, startup, throughput

# In the order `make bench` runs them; the five-minute soak last.
BENCHMARKS: dict[str, Callable[..., None]] = {
    "reset": reset.main,
    "startup": startup.main,
    "pertest": pertest.main,
    "scale": scale.main,
    "throughput": throughput.main,
    "apptime": apptime.main,
    "soak": soak.main,
}


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default), each with the options that follow its name."""
    if argv and argv[0] not in BENCHMARKS:
        print(f"unknown benchmark: {argv[0]}; known: {', '.join(BENCHMARKS)}")
        return 2
    runs: list[tuple[str, list[str]]] = []
    for arg in argv:
        if arg in BENCHMARKS:
            runs.append((arg, []))
        else:
            runs[-1][1].append(arg)
    for name, options in runs or [(name, []) for name in BENCHMARKS]:
        bench = BENCHMARKS[name]
        if options and not inspect.signature(bench).parameters:
            print(f"{name} takes no options (given: {' '.join(options)})")
            return 2
        bench(options) if options else bench()
    return 0


sys.exit(main(sys.argv[1:]))
