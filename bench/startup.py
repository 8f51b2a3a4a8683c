"""Start-up: from process start to the first answered request, apollo-fake vs a bare Flask app.

Starts ``apollo-fake serve --port 0 --quiet`` (the packaged demo data), reads the
port from its ``listening on`` line, sends ``GET /account`` and stops the clock
when the answer is read. The same for a bare Flask app served by the same server
function (``bench/startup_bare.py``). Median of 7 runs each, interleaved. Then
lists, from ``python -X importtime``, the modules ``serve`` imports, by cost.

apollo-fake's own modules are compiled to bytecode first, as a wheel install
compiles them: Flask's are, and an editable install run with
PYTHONDONTWRITEBYTECODE would otherwise compile ours at every start (+100 ms).
"""

from __future__ import annotations

import compileall
import http.client
import importlib.util
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

from . import _measure as m

RUNS = 7
START_TIMEOUT = 60.0
TOP = 15
TARGET_RATIO = 1.5
LISTENING = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def _apollo_argv(*python_flags: str) -> list[str]:
    if python_flags:
        return [
            sys.executable,
            *python_flags,
            "-m",
            "apollo_fake",
            "serve",
            "--port",
            "0",
            "--quiet",
        ]
    script = Path(sys.executable).with_name("apollo-fake")
    # The installed console script, as a user starts it.
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "apollo_fake"]
    return [*launcher, "serve", "--port", "0", "--quiet"]


COMMANDS: dict[str, tuple[str, list[str]]] = {
    "apollo": ("apollo-fake serve --port 0 --quiet (demo data)", _apollo_argv()),
    "bare_run": (
        "bare Flask app, apollo_fake.server.run",
        [sys.executable, "-m", "bench.startup_bare", "run"],
    ),
    "bare_live": (
        "bare Flask app, apollo_fake.server.LiveServer",
        [sys.executable, "-m", "bench.startup_bare", "live"],
    ),
}


def _lines(stream: IO[bytes], into: queue.Queue[bytes]) -> None:
    for line in iter(stream.readline, b""):
        into.put(line)


def _start_and_ask(argv: list[str], stderr: IO[bytes]) -> dict[str, Any]:
    """Start a server, wait for its port, GET /account; return the times from process start."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=m.ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
    )
    try:
        assert proc.stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
        deadline = began + START_TIMEOUT
        port = None
        while port is None:
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or proc.poll() is not None and lines.empty():
                return {"error": f"no listening line (exit {proc.poll()})"}
            try:
                found = LISTENING.search(lines.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue
            if found:
                port = int(found.group(1))
        announced = time.perf_counter()
        conn = http.client.HTTPConnection(m.HOST, port, timeout=START_TIMEOUT)
        try:
            conn.request("GET", "/account")
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        answered = time.perf_counter()
        return {
            "to_listening_s": announced - began,
            "to_answer_s": answered - began,
            "status": response.status,
            "bytes": len(body),
        }
    finally:
        m.stop(proc)


def _importtime() -> dict[str, Any]:
    """Run ``serve`` under -X importtime up to its first answer; return the costliest imports."""
    with tempfile.TemporaryFile() as err:
        run = _start_and_ask(_apollo_argv("-X", "importtime"), err)
        err.seek(0)
        text = err.read().decode(errors="replace")
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        found = IMPORT_LINE.match(line)
        if found:
            self_us, cumulative_us, indent, name = found.groups()
            rows.append(
                {
                    "module": name,
                    "depth": len(indent) // 2,
                    "self_ms": int(self_us) / 1000,
                    "cumulative_ms": int(cumulative_us) / 1000,
                }
            )
    # Top-level rows are disjoint, so their sum is the whole import time.
    total = sum(r["cumulative_ms"] for r in rows if r["depth"] == 0)
    by_package: dict[str, float] = defaultdict(float)
    for r in rows:
        by_package[r["module"].split(".")[0]] += r["self_ms"]
    # A submodule whose package imports it is listed twice (inside the package, and again
    # around it); keep its costlier line, the cost of importing it from outside.
    costliest: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["cumulative_ms"] > costliest.get(r["module"], {}).get("cumulative_ms", -1):
            costliest[r["module"]] = r
    top = sorted(costliest.values(), key=lambda r: -r["cumulative_ms"])[:TOP]
    packages = sorted(by_package.items(), key=lambda kv: -kv[1])[:TOP]
    return {
        "run": run,
        "modules": len(rows),
        "total_ms": total,
        "top": top,
        "packages": [{"package": p, "self_ms": ms} for p, ms in packages],
        "httptools": "httptools" in by_package,
    }


def main() -> None:
    """Time start-up to the first answer, apollo-fake vs bare Flask; list serve's imports."""
    started = time.perf_counter()
    facts = m.header("startup", "Start-up: process start to first answered request")
    spec = importlib.util.find_spec("apollo_fake")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryFile() as err:
        for _ in range(RUNS):
            # Interleaved, so that a slow moment of the machine hits each server alike.
            for name, (_, argv) in COMMANDS.items():
                err.seek(0)
                err.truncate()
                result = _start_and_ask(argv, err)
                if "error" in result:
                    err.seek(0)
                    result["stderr"] = err.read().decode(errors="replace")[-2000:]
                runs[name].append(result)

    def median(name: str, key: str) -> float:
        values = [r[key] for r in runs[name] if key in r]
        return statistics.median(values) if values else float("nan")

    summary = {
        name: {
            "to_answer_ms": median(name, "to_answer_s") * 1000,
            "to_listening_ms": median(name, "to_listening_s") * 1000,
            "min_to_answer_ms": min(
                (r["to_answer_s"] for r in runs[name] if "to_answer_s" in r), default=float("nan")
            )
            * 1000,
            "ok": sum(1 for r in runs[name] if r.get("status") == 200),
        }
        for name in COMMANDS
    }
    print(f"median of {RUNS} runs each (ms from process start)")
    print(f"    {'server':48} {'to listening':>13} {'to answer':>10} {'min':>8} {'200s':>5}")
    for name, (label, _) in COMMANDS.items():
        s = summary[name]
        print(
            f"    {label:48} {s['to_listening_ms']:>13.0f} {s['to_answer_ms']:>10.0f} "
            f"{s['min_to_answer_ms']:>8.0f} {s['ok']:>3}/{RUNS}"
        )
    apollo = summary["apollo"]["to_answer_ms"]
    ratio_run = apollo / summary["bare_run"]["to_answer_ms"]
    ratio_live = apollo / summary["bare_live"]["to_answer_ms"]
    print()
    print(
        f"    apollo-fake / bare Flask (server.run):  {ratio_run:.2f}   target <= "
        f"{TARGET_RATIO:g}: {m.verdict(ratio_run, TARGET_RATIO)}"
    )
    print(f"    apollo-fake / bare Flask (LiveServer):  {ratio_live:.2f}   (for reference)")
    failures = {
        (name, r["error"], r.get("stderr", "")[-800:])
        for name in COMMANDS
        for r in runs[name]
        if "error" in r
    }
    for name, error, stderr in sorted(failures):
        count = sum(1 for r in runs[name] if r.get("error") == error)
        print(f"    WARNING: {name} failed {count} time(s): {error}\n{stderr}")
    print()

    imports = _importtime()
    server = "httptools (server.run)" if imports["httptools"] else "no httptools: not the server"
    print(
        f"python -X importtime -m apollo_fake serve --port 0 --quiet, up to the first answer: "
        f"{imports['modules']} modules, {imports['total_ms']:.0f} ms of imports; serve "
        f"imported {server}"
    )
    if "error" in imports["run"]:
        print(f"    WARNING: that run did not answer ({imports['run']['error']}): partial list")
    print(f"    top {TOP} by cumulative time (indent: how deeply nested the import is)")
    print(f"    {'cumulative ms':>13} {'self ms':>8}  module")
    for r in imports["top"]:
        indent = "  " * r["depth"]
        print(f"    {r['cumulative_ms']:>13.1f} {r['self_ms']:>8.1f}  {indent}{r['module']}")
    print(f"    top {TOP} packages by their modules' own (self) time")
    for p in imports["packages"]:
        print(f"    {p['self_ms']:>13.1f}           {p['package']}")
    run_s = time.perf_counter() - started
    print(f"whole run: {run_s:.0f} s")
    path = m.write_results(
        "startup",
        {
            "machine": facts,
            "runs": runs,
            "summary": summary,
            "ratio": ratio_run,
            "ratio_live": ratio_live,
            "target": TARGET_RATIO,
            "importtime": imports,
            "run_s": run_s,
        },
    )
    print(f"results in {path.relative_to(m.ROOT)}")
    print()
