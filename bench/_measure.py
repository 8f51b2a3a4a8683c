"""Shared pieces of the benchmarks: the header, results files, memory and subprocess control."""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DATA_DIR = BENCH_DIR / ".data"
HOST = "127.0.0.1"


def cpu_model() -> str:
    """Return the CPU's model name as /proc/cpuinfo gives it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(name: str) -> dict[str, Any]:
    """Describe which benchmark runs, where and when."""
    return {
        "command": f"python -m bench {name}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        # Other processes share the cores: a busy machine makes every figure noisier.
        "load_average_1min": os.getloadavg()[0],
    }


def header(name: str, title: str) -> dict[str, Any]:
    """Print the benchmark's title and the machine it runs on; return the same facts."""
    facts = machine(name)
    print(title)
    print("=" * len(title))
    print(f"command: {facts['command']}")
    print(f"date:    {facts['date']}")
    print(f"nproc:   {facts['nproc']}")
    print(f"CPU:     {facts['cpu']}")
    print(f"Python:  {facts['python']} ({sys.executable})")
    print(f"load:    {facts['load_average_1min']:.2f} (1-minute load average at the start)")
    print(flush=True)
    return facts


def write_results(name: str, data: dict[str, Any]) -> Path:
    """Write a benchmark's results to bench/results/NAME.json and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def vmrss_mib() -> float:
    """Return this process's current resident memory (VmRSS) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def maxrss_mib() -> float:
    """Return this process's peak resident memory (ru_maxrss, KiB on Linux) in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stop(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass


def run(
    argv: Sequence[str], timeout: float, **kwargs: Any
) -> tuple[subprocess.CompletedProcess[bytes] | None, float]:
    """Run a command to its end; return (result or None on timeout, wall seconds)."""
    began = time.perf_counter()
    proc = subprocess.Popen(list(argv), **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        proc.communicate()
        return None, time.perf_counter() - began
    finally:
        stop(proc)
    elapsed = time.perf_counter() - began
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), elapsed


def median_ms(
    call: Callable[[], object],
    prepare: Callable[[], object] | None = None,
    *,
    budget: float = 2.0,
    max_reps: int = 1001,
    min_reps: int = 5,
    warmup: int = 3,
) -> tuple[float, int]:
    """Time ``call`` (``prepare`` runs untimed before each); return (median ms, repetitions)."""
    # Up to max_reps, or budget seconds, but at least min_reps: slow operations stay bounded.
    for _ in range(warmup):
        if prepare is not None:
            prepare()
        call()
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    while len(samples) < max_reps and (len(samples) < min_reps or time.perf_counter() < deadline):
        if prepare is not None:
            prepare()
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), len(samples)


def verdict(value: float, limit: float) -> str:
    """Say whether a figure is within its target, and by how much it misses."""
    if value != value:  # NaN: nothing was measured
        return "not measured"
    if value <= limit:
        return "met"
    return f"MISSED by {value / limit:.2f}x"
