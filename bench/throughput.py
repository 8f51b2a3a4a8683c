"""Throughput: ``apollo-fake serve`` against a bare Flask app and other fakes, in one run.

Four workloads over a project of 10,000 entries, each measured with
``wrk -t2 -c8 --latency`` (keep-alive) after a warm-up run: ``page`` (a page of
50), ``entry`` (one entry), ``create`` (a POST) and ``report`` (the project's
report with totals). The servers run one at a time on 127.0.0.1:

- apollo-fake: ``python -m apollo_fake serve`` on a generated fixture;
- bare-flask: a Flask app returning apollo-fake's own response bytes, served by
  the same server function (``bench/bare.py``): the ceiling for any Flask app;
- json-server 0.17, Prism, WireMock and pytest-httpserver (``bench/peers.py``),
  installed on first use; one that cannot be installed or started is skipped.
  WireMock keeps its request journal, as it does by default and as apollo-fake
  always does; WireMock with ``--no-request-journal`` is a second row, shown for
  reference and not held to the target (apollo-fake has no such mode).

A peer within 15% of apollo-fake's req/s on a workload is a call one run each
cannot make (a JVM's run-to-run spread is about that wide): both are measured
twice more, in turns, each of those runs on a fresh start, and the median runs
(req/s, and that run's p99) are compared.

Prints one table per workload with req/s, p99 latency and apollo-fake's ratio to
each server, and writes everything to ``bench/results/throughput.json``.
Run with ``python -m bench throughput`` or ``python -m bench.throughput [options]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import importlib.metadata
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import peers
from .peers import HOST, ROOT, WORKLOADS, Call, Canned, Running, Server, Setup, Skip

TODAY = datetime.date(2026, 6, 30)
PROJECT_ENTRIES = 10_000
OTHER_ENTRIES = 2_000  # generated around the big project, so the store is not one project
THREADS, CONNECTIONS = 2, 8
# The create workload grows the data the others read, so it runs last on every server.
RUN_ORDER = ("page", "entry", "report", "create")
RESULTS = ROOT / "bench" / "results" / "throughput.json"
WRK_SOCKET_TIMEOUT = "10s"  # a slow answer is a latency to report, not an error to drop
TARGET_BARE_RATIO = 0.8
# Other jobs on a 2-core machine skew every number: above this share of the CPU, say so.
BUSY_WARNING = 0.15
IDLE_WAIT = 10.0  # seconds to wait for it to drop before each server, within the time budget
MAX_RETRIES = 3  # disturbed measurements repeated per run: at most a minute more at 10 s
CLOSE = 0.15  # a peer this close to apollo-fake's req/s is settled (see the docstring)
SETTLE_RUNS = 2


@dataclass
class Result:
    """One wrk measurement, or why there is none."""

    rps: float | None = None
    p99_ms: float | None = None
    requests: int = 0
    non_2xx: int = 0
    socket_errors: int = 0
    body_bytes: int | None = None
    others_cpu: float | None = None  # share of all cores used by neither the server nor wrk
    attempts: int = 1
    note: str = ""
    runs: list[float] = field(default_factory=list)  # req/s of every run, when settled
    runs_p99_ms: list[float | None] = field(default_factory=list)  # ... and their p99


@dataclass
class Measured:
    """A server's results for every workload it ran."""

    name: str
    version: str = ""
    remark: str = ""
    reference: bool = False  # shown, not held to the target (see peers.Server.reference)
    results: dict[str, Result] = field(default_factory=dict)
    skipped: str = ""
    busy_before: float | None = None  # share of all cores other processes used just before


# Data ------------------------------------------------------------------------------------


def build_document(today: datetime.date) -> tuple[dict[str, Any], str, str]:
    """Return a fixture document whose first project holds exactly 10,000 recent entries.

    The entries are dated within the report's default six-month window, so that
    the report covers all of them; the rest of the document is ``generate``'s.
    """
    from apollo_fake.generate import generate

    doc = generate(1, OTHER_ENTRIES, today)
    project = doc["projects"][0]["id"]
    others = [e for e in doc["time-entries"] if e["project-id"] != project]
    tasks = [t["id"] for t in doc["tasks"] if t.get("project-id") == project]
    next_id = max(int(e["id"]) for e in doc["time-entries"]) + 1
    mine = []
    for i in range(PROJECT_ENTRIES):
        template = others[i % len(others)]  # realistic notes, users, categories, amounts
        mine.append(
            template
            | {
                "id": str(next_id + i),
                "project-id": project,
                "task-id": tasks[i % len(tasks)] if tasks and i % 3 == 0 else None,
                "contact-id": None,
                # 180 days always fit in six calendar months before today.
                "date": (today - datetime.timedelta(days=i % 180)).isoformat(),
            }
        )
    doc["time-entries"] = others + mine
    return doc, project, mine[PROJECT_ENTRIES // 2]["id"]


def fake_calls(project: str, entry: str) -> dict[str, Call]:
    """Return apollo-fake's request for each workload."""
    create = json.dumps({"time-entry": {"seconds": "3600", "notes": "bench"}}).encode()
    return {
        "page": Call("GET", f"/projects/{project}/timeEntries"),
        "entry": Call("GET", f"/timeEntries/{entry}"),
        "create": Call("POST", f"/projects/{project}/timeEntries", create, "application/json"),
        "report": Call("GET", f"/report/timeEntries?project_id={project}&with_totals=1"),
    }


# HTTP ------------------------------------------------------------------------------------


def fetch(port: int, call: Call, timeout: float = 30.0) -> tuple[int, bytes, dict[str, str]]:
    """Send one request; return status, body and headers (names lower-cased)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": call.content_type} if call.content_type else {}
        conn.request(call.method, call.target, body=call.body or None, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, body, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def capture(port: int, calls: dict[str, Call]) -> dict[str, Canned]:
    """Record apollo-fake's answer to each workload."""
    canned: dict[str, Canned] = {}
    for w in WORKLOADS:
        status, body, headers = fetch(port, calls[w])
        if not 200 <= status < 300:
            raise Skip(f"{calls[w].describe()} answered HTTP {status}: {body[:200]!r}")
        extra = {"Location": headers["location"]} if "location" in headers else {}
        canned[w] = Canned(status, body, extra)
        if w == "create":
            # Take the probe's entry back out, so the report covers exactly 10,000 entries.
            created = json.loads(body)["time-entry-id"]
            fetch(port, Call("DELETE", f"/timeEntries/{created}"))
    return canned


# wrk -------------------------------------------------------------------------------------

_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk(text: str) -> Result:
    """Read req/s, p99, request count, non-2xx and socket errors from wrk --latency output."""
    result = Result()
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        result.rps = float(m.group(1))
    if m := re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE):
        result.p99_ms = float(m.group(1)) * _UNITS[m.group(2)]
    if m := re.search(r"(\d+) requests in", text):
        result.requests = int(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text):
        result.non_2xx = int(m.group(1))
    if m := _SOCKET_ERRORS.search(text):
        result.socket_errors = sum(int(g) for g in m.groups())
    return result


def lua_script(call: Call, folder: Path, name: str) -> Path:
    """Write a wrk script sending the call's method, body and content type."""
    body = call.body.decode()
    level = "=" * 4
    while f"]{level}]" in body:  # a long bracket the body cannot close
        level += "="
    lines = [f'wrk.method = "{call.method}"', f"wrk.body = [{level}[{body}]{level}]"]
    if call.content_type:
        lines.append(f'wrk.headers["Content-Type"] = "{call.content_type}"')
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_wrk(
    wrk: str, running: Running, call: Call, seconds: float, folder: Path, name: str
) -> Result:
    """Run wrk against one call for ``seconds``, killing it if it overruns."""
    port = running.port
    cmd = [
        wrk,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        WRK_SOCKET_TIMEOUT,
    ]
    if call.method != "GET" or call.body:
        cmd += ["-s", str(lua_script(call, folder, name))]
    cmd.append(f"http://{HOST}:{port}{call.target}")
    meter = CpuMeter(running.proc.pid)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Result(note=f"wrk did not finish within {seconds + 30:g} s")
    except BaseException:
        # Interrupted: wrk has a session of its own, so no Ctrl-C reaches it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    result = parse_wrk(out.decode(errors="replace"))
    result.others_cpu = meter.others()
    if result.others_cpu is not None and result.others_cpu > BUSY_WARNING:
        result.note = f"other jobs used {result.others_cpu:.0%} of the CPU"
    if result.rps is None:
        last = out.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        result.note = f"wrk failed ({proc.returncode}): {last[0]}"
    return result


class CpuMeter:
    """Measure how much CPU processes other than the server and wrk took over a run.

    The machine's busy time (/proc/stat) minus the server's process group
    (/proc/PID/stat) minus this process's waited children (wrk), as a share of
    every core's time: on a shared 2-core machine other jobs skew every number.
    """

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float, float] | None:
        times = _cpu_times()
        if times is None:
            return None
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        mine = (children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime) * self.tick
        return times[0], times[1], float(_group_ticks(self.pgid)), mine

    def others(self) -> float | None:
        """Return the share of the CPU others used since the meter was made."""
        end = self._sample()
        if self.start is None or end is None or end[1] <= self.start[1]:
            return None
        busy, total, server, mine = (b - a for a, b in zip(self.start, end, strict=True))
        return max(0.0, busy - server - mine) / total


def _group_ticks(pgid: int) -> int:
    """Return the user and system clock ticks of every process in a process group."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 12 and fields[2] == str(pgid):  # pgrp, then utime and stime
            ticks += int(fields[11]) + int(fields[12])
    return ticks


def ensure_wrk() -> str:
    """Return the wrk executable, installing Debian's package when missing and allowed."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        print("  installing wrk with apt-get (first run only) ...", flush=True)
        for cmd in (
            [apt, "install", "-y", "-q", "wrk"],
            [apt, "update", "-q"],
            [apt, "install", "-y", "-q", "wrk"],
        ):
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(cmd, capture_output=True, timeout=300, check=False)
            if found := shutil.which("wrk"):
                return found
    raise Skip("wrk is not installed and could not be installed: apt-get install wrk")


# Servers ---------------------------------------------------------------------------------


def fake_server(fixture: Path, calls: dict[str, Call], workdir: Path) -> Server:
    """Describe ``apollo-fake serve`` on the benchmark's fixture."""
    cmd = [
        sys.executable,
        "-m",
        "apollo_fake",
        "serve",
        "--host",
        HOST,
        "--port",
        "0",
        "--quiet",
        "--fixtures",
        str(fixture),
        "--today",
        TODAY.isoformat(),
    ]
    return Server(
        "apollo-fake",
        _version("apollo-fake"),
        lambda: peers.start_with_line("apollo-fake", cmd, workdir, cwd=ROOT),
        dict(calls),
        notes={w: c.describe() for w, c in calls.items()},
        remark="apollo-fake serve --quiet",
    )


def bare_server(setup: Setup) -> Server:
    """Describe the bare Flask app answering apollo-fake's bytes under the same server."""
    bodies = setup.workdir / "bare-bodies.json"
    bodies.write_text(json.dumps(peers.canned_items(setup)), encoding="utf-8")
    cmd = [sys.executable, "-m", "bench.bare", "--port", "0", "--bodies", str(bodies)]
    return Server(
        "bare-flask",
        _version("flask"),
        lambda: peers.start_with_line("bare-flask", cmd, setup.workdir, cwd=ROOT),
        dict(setup.calls),
        notes={w: "canned body, same bytes" for w in WORKLOADS},
        remark="Flask view returning the same bytes; apollo_fake.server.run",
    )


@dataclass
class Budget:
    """How many disturbed measurements the whole run may repeat, to stay within its time."""

    retries: int = MAX_RETRIES


def _disturbed(result: Result) -> bool:
    return result.others_cpu is not None and result.others_cpu > BUSY_WARNING


def measure(
    server: Server,
    wrk: str,
    workloads: Sequence[str],
    duration: float,
    warmup: float,
    workdir: Path,
    budget: Budget,
    running: Running | None = None,
) -> tuple[Measured, str]:
    """Start one server (unless given running), run every workload, stop it.

    Returns the results and the server's Server header.
    """
    measured = Measured(server.name, server.version, server.remark, server.reference)
    measured.busy_before = wait_idle()
    busy = ""
    if measured.busy_before is not None and measured.busy_before > BUSY_WARNING:
        busy = f" (warning: other processes use {measured.busy_before:.0%} of the CPU)"
    print(f"  {server.name} {server.version}: measuring{busy}", flush=True)
    if running is None:
        try:
            running = server.start()
        except Skip as exc:
            measured.skipped = f"did not start: {exc}"
            print(f"  {server.name}: skipped, {measured.skipped}", flush=True)
            return measured, ""
    header = ""
    try:
        for w in [w for w in RUN_ORDER if w in workloads]:
            call = server.calls.get(w)
            if call is None:
                measured.results[w] = Result(note=server.notes.get(w, "not supported"))
                continue
            if server.fresh_each and measured.results:
                running.stop()
                try:
                    running = server.start()
                except Skip as exc:
                    measured.results[w] = Result(note=f"did not start again: {exc}")
                    break
            try:
                status, body, headers = fetch(running.port, call)
            except (OSError, http.client.HTTPException) as exc:
                measured.results[w] = Result(note=f"no answer: {exc}")
                continue
            header = header or headers.get("server", "")
            if not 200 <= status < 300:
                snippet = body[:120].decode(errors="replace").replace("\n", " ")
                measured.results[w] = Result(note=f"answers HTTP {status}: {snippet}")
                continue
            run_wrk(wrk, running, call, warmup + server.warmup, workdir, f"{server.name}-{w}")
            not_cleared = ""
            if server.after_warmup is not None:
                try:
                    fetch(running.port, server.after_warmup)
                except (OSError, http.client.HTTPException) as exc:
                    not_cleared = f"{server.after_warmup.describe()} failed: {exc}"
            result = run_wrk(wrk, running, call, duration, workdir, f"{server.name}-{w}")
            result.note = "; ".join(x for x in (result.note, not_cleared) if x)
            if _disturbed(result) and budget.retries > 0:
                # Other jobs come and go on a shared machine: wait for a quiet moment
                # and measure once more, keeping the less disturbed run.
                budget.retries -= 1
                print(f"    {w:<7} {result.note}: measuring again", flush=True)
                wait_idle()
                again = run_wrk(wrk, running, call, duration, workdir, f"{server.name}-{w}")
                again.attempts = 2
                if (again.others_cpu or 0.0) < (result.others_cpu or 0.0):
                    result = again
            result.body_bytes = len(body)
            if running.proc.poll() is not None:
                result.note = f"server exited ({running.proc.returncode}) during the run"
            measured.results[w] = result
            print(
                f"    {w:<7} {_num(result.rps):>9} req/s  p99 {_ms(result.p99_ms):>8} ms"
                f"{'  ' + result.note if result.note else ''}",
                flush=True,
            )
    finally:
        running.stop()
    return measured, header


# Report ----------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _first_line(cmd: Sequence[str]) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(list(cmd), capture_output=True, timeout=20, check=False)
        lines = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()
        return lines[0] if lines else "?"
    return "not installed"


def _cpu_times() -> tuple[int, int] | None:
    """Return (busy, total) jiffies of all cores from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq; steal is not ours, and the guest
    # fields that follow are already counted in user and nice.
    user, nice, system, idle, iowait, irq, softirq = (fields + [0] * 7)[:7]
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait


def cpu_busy(seconds: float = 0.5) -> float | None:
    """Return the share of the CPU in use while this benchmark idles, e.g. by other jobs."""
    before = _cpu_times()
    time.sleep(seconds)
    after = _cpu_times()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def wait_idle(limit: float = IDLE_WAIT) -> float | None:
    """Wait up to ``limit`` seconds for other jobs to leave the CPU; return the share they use."""
    deadline = time.monotonic() + limit
    busy = cpu_busy()
    while busy is not None and busy > BUSY_WARNING and time.monotonic() < deadline:
        busy = cpu_busy()
    return busy


def machine() -> dict[str, Any]:
    """Describe the machine: cores, CPU model, kernel, memory."""
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "kernel": f"{platform.system()} {platform.release()}",
    }


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _ratio(fake: Result | None, other: Result | None) -> float | None:
    if fake is None or other is None or not fake.rps or not other.rps:
        return None
    return fake.rps / other.rps


def render(
    measured: list[Measured], calls: dict[str, dict[str, str]], workloads: Sequence[str]
) -> tuple[list[str], dict[str, Any]]:
    """Return the tables' lines and the ratios, workload by workload."""
    fake = measured[0]
    lines: list[str] = []
    ratios: dict[str, Any] = {}
    for w in workloads:
        f = fake.results.get(w)
        size = f"  ({f.body_bytes:,} bytes)" if f and f.body_bytes else ""
        lines.append(f"{w}: {calls['apollo-fake'].get(w, '')}{size}")
        head = f"  {'server':<22} {'req/s':>9} {'p99 ms':>9} {'bytes':>10}"
        lines.append(f"{head} {'apollo-fake/server':>18}  note")
        ratios[w] = {}
        for m in measured:
            r = m.results.get(w)
            if m.skipped or r is None:
                continue
            ratio = _ratio(f, r)
            ratios[w][m.name] = ratio
            flags = []
            if r.non_2xx:
                flags.append(f"{r.non_2xx:,} non-2xx")
            if r.socket_errors:
                flags.append(f"{r.socket_errors:,} socket errors")
            if r.note:
                flags.append(r.note)
            if m.name not in ("apollo-fake", "bare-flask") and r.rps is not None:
                flags.append(calls.get(m.name, {}).get(w, ""))
            lines.append(
                f"  {m.name:<22} {_num(r.rps):>9} {_ms(r.p99_ms):>9} "
                f"{_num(r.body_bytes):>10} {('-' if ratio is None else f'{ratio:.2f}'):>18}  "
                + "; ".join(x for x in flags if x)
            )
        lines.append("")
    return lines, ratios


def verdicts(measured: list[Measured], workloads: Sequence[str]) -> list[str]:
    """Say, per workload, whether the target holds: >= 0.8 x bare Flask, ahead of every peer."""
    fake = measured[0]
    out = []
    for w in workloads:
        f = fake.results.get(w)
        if f is None or f.rps is None:
            out.append(f"  {w:<7} no apollo-fake measurement")
            continue
        misses: list[str] = []
        compared: list[str] = []
        references: list[str] = []
        for m in measured[1:]:
            r = m.results.get(w)
            if m.skipped or r is None or r.rps is None:
                continue
            if m.reference:
                ratio = _ratio(f, r)
                references.append(f"{'-' if ratio is None else f'{ratio:.2f}'} x {m.name}")
                continue
            compared.append(m.name + ("*" if _disturbed(r) or _disturbed(f) else ""))
            if m.name == "bare-flask":
                if f.rps < TARGET_BARE_RATIO * r.rps:
                    misses.append(f"{f.rps / r.rps:.2f} x bare Flask (< {TARGET_BARE_RATIO})")
                continue
            if f.rps <= r.rps:
                misses.append(f"slower than {m.name}")
            if f.p99_ms is not None and r.p99_ms is not None and f.p99_ms > r.p99_ms:
                misses.append(f"p99 {f.p99_ms:.2f} ms > {m.name}'s {r.p99_ms:.2f} ms")
        if not compared:
            out.append(f"  {w:<7} nothing else measured")
        else:
            verdict = "met" if not misses else "NOT met: " + "; ".join(misses)
            out.append(f"  {w:<7} {verdict} (against {', '.join(compared)})")
        if references:
            out.append(f"  {'':<7} for reference, not the same work: {', '.join(references)}")
    if any("*" in line for line in out):
        out.append("  * one of the two runs was disturbed by other jobs: not a fair comparison")
    return out


# Main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Read --duration, --quick and --only."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    parser.add_argument("--quick", action="store_true", help="3 s runs and 1 s warm-ups")
    parser.add_argument(
        "--only",
        default="",
        metavar="NAME,...",
        help="servers (bare-flask, json-server, prism, wiremock, wiremock-no-journal, "
        "pytest-httpserver, "
        "apollo-fake-on-cheroot) and/or "
        "workloads (page, entry, create, report) to run; apollo-fake always runs",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 3.0
    if args.duration < 1:
        parser.error("--duration must be at least 1 second")
    args.warmup = 1.0 if args.quick or args.duration < 5 else 2.0
    known = {"bare-flask", *peers.PEERS, *WORKLOADS}
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := [n for n in names if n not in known and n != "apollo-fake"]:
        parser.error(f"unknown name(s) in --only: {', '.join(unknown)}")
    args.workloads = [w for w in WORKLOADS if w in names] or list(WORKLOADS)
    every = ["bare-flask", *peers.PEERS]
    args.servers = [n for n in every if n in names] or every
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Run the throughput benchmark and print its tables."""
    if argv is None:
        command = shlex.join(["python", "-m", "bench", *sys.argv[1:]])
        argv = []
    else:
        command = shlex.join(["python", "-m", "bench.throughput", *argv])
    args = parse_args(argv)
    began = time.monotonic()
    # A SIGTERM must unwind through the finally blocks that stop the servers.
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        with tempfile.TemporaryDirectory(prefix="apollo-bench-") as tmp:
            _run(args, command, Path(tmp))
    except Skip as exc:
        print(f"throughput: cannot run: {exc}")
    finally:
        peers.stop_all()
        signal.signal(signal.SIGTERM, previous)
        print(f"throughput: whole run took {time.monotonic() - began:.0f} s", flush=True)


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _run(args: argparse.Namespace, command: str, workdir: Path) -> None:
    """Do the benchmark in ``workdir``: data, apollo-fake, the others, tables, JSON."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    host = machine()
    wrk = ensure_wrk()
    doc, project, entry = build_document(TODAY)
    fixture = workdir / "fixture.json"
    fixture.write_text(json.dumps(doc), encoding="utf-8")
    calls = fake_calls(project, entry)
    title = [
        f"Throughput: apollo-fake serve vs a bare Flask app and other fakes ({command})",
        f"date: {now}; machine: {host['nproc']} cores (nproc), {host['cpu']}, {host['kernel']}",
        f"data: {len(doc['time-entries']):,} entries, project {project} holds "
        f"{PROJECT_ENTRIES:,} (all within six months of --today {TODAY})",
        f"load: wrk -t{THREADS} -c{CONNECTIONS} -d{args.duration:g}s --latency, keep-alive, "
        f"{args.warmup:g} s warm-up per workload; one server at a time, all on 127.0.0.1",
    ]
    print("\n".join(title), flush=True)

    fake = fake_server(fixture, calls, workdir)
    print(f"  {fake.name} {fake.version}: starting, recording its answers", flush=True)
    running = fake.start()
    measured: list[Measured] = []
    headers: dict[str, str] = {}  # each server's Server header
    budget = Budget()
    try:
        canned = capture(running.port, calls)
        status, openapi, _ = fetch(running.port, Call("GET", "/openapi.json"))
    except BaseException:
        running.stop()
        raise
    # Measured in the same process that answered: the capture's create is deleted again.
    result, headers[fake.name] = measure(
        fake, wrk, args.workloads, args.duration, args.warmup, workdir, budget, running
    )
    measured.append(result)
    setup = Setup(
        workdir,
        doc,
        project,
        entry,
        TODAY.isoformat(),
        calls,
        canned,
        openapi if status == 200 else None,
    )
    servers: list[Server] = []
    skipped: dict[str, str] = {}
    for name in args.servers:
        try:
            servers.append(bare_server(setup) if name == "bare-flask" else peers.PEERS[name](setup))
        except Skip as exc:
            skipped[name] = str(exc)
            print(f"  {name}: skipped, {exc}", flush=True)

    for server in servers:
        result, headers[server.name] = measure(
            server, wrk, args.workloads, args.duration, args.warmup, workdir, budget
        )
        measured.append(result)
        if result.skipped:
            skipped[server.name] = result.skipped

    settle(measured, [fake, *servers], wrk, args, workdir, budget)
    call_notes = {s.name: s.notes for s in [fake, *servers]}
    lines, ratios = render(measured, call_notes, args.workloads)
    versions = {
        "python": platform.python_version(),
        **{
            d: _version(d)
            for d in ("apollo-fake", "flask", "werkzeug", "httptools", "uvloop", "orjson")
        },
        "wrk": _first_line([wrk, "-v"]).split(" [")[0].removeprefix("wrk "),
        "node": _first_line(["node", "--version"]),
        "java": _first_line(["java", "-version"]).replace(" version ", " ").replace('"', ""),
        **{m.name: m.version for m in measured if m.name in peers.PEERS and m.version},
    }
    print()
    print("\n".join(title))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    for m in measured:
        if m.remark and not m.skipped:
            print(f"  {m.name}: {m.remark}")
    print()
    print("\n".join(lines))
    bare = ratios_with(ratios, "bare-flask")
    if bare:
        print(
            "apollo-fake / bare Flask (same server): "
            + "  ".join(f"{w} {'-' if r is None else f'{r:.2f}'}" for w, r in bare.items())
        )
    fake_server_header, bare_header = headers.get("apollo-fake"), headers.get("bare-flask")
    if fake_server_header and bare_header and fake_server_header != bare_header:
        print(
            f"  warning: not the same server: apollo-fake answers with Server: "
            f"{headers.get('apollo-fake')!r}, bare-flask with {headers.get('bare-flask')!r}"
        )
    print(
        f"target (>= {TARGET_BARE_RATIO} x bare Flask; more req/s and a p99 no worse than "
        "every peer measured):"
    )
    print("\n".join(verdicts(measured, args.workloads)))
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    disturbed = [f"{m.name} {w}" for m in measured for w, r in m.results.items() if _disturbed(r)]
    if disturbed:
        print(
            f"warning: other jobs used over {BUSY_WARNING:.0%} of the CPU during: "
            f"{', '.join(disturbed)}; those numbers are low, rerun on a quiet machine"
        )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "command": command,
                "date": now,
                "machine": host,
                "versions": versions,
                "settings": {
                    "duration_s": args.duration,
                    "warmup_s": args.warmup,
                    "threads": THREADS,
                    "connections": CONNECTIONS,
                    "today": TODAY.isoformat(),
                    "entries": len(doc["time-entries"]),
                    "project_entries": PROJECT_ENTRIES,
                },
                "server_headers": headers,
                "calls": call_notes,
                "servers": [asdict(m) for m in measured],
                "ratios": ratios,
                "skipped": skipped,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"results: {RESULTS.relative_to(ROOT)}")


def close_peers(measured: list[Measured], workload: str) -> list[Measured]:
    """Return the peers held to the target whose req/s is within CLOSE of apollo-fake's."""
    f = measured[0].results.get(workload)
    if f is None or not f.rps:
        return []
    close = []
    for m in measured[1:]:
        r = m.results.get(workload)
        if m.reference or m.skipped or m.name == "bare-flask" or r is None or not r.rps:
            continue  # bare Flask's target is a ratio, far from 1
        if abs(f.rps / r.rps - 1) < CLOSE:
            close.append(m)
    return close


def settle(
    measured: list[Measured],
    servers: list[Server],
    wrk: str,
    args: argparse.Namespace,
    workdir: Path,
    budget: Budget,
) -> None:
    """Measure apollo-fake and every close peer again, in turns, keeping each one's median run."""
    by_name = {s.name: s for s in servers}
    for w in args.workloads:
        close = close_peers(measured, w)
        if not close:
            continue
        settled = [measured[0], *close]
        print(
            f"  {w}: {', '.join(m.name for m in close)} within {CLOSE:.0%} of apollo-fake: "
            f"{SETTLE_RUNS} more runs each, in turns",
            flush=True,
        )
        runs = {m.name: [m.results[w]] for m in settled}
        for _ in range(SETTLE_RUNS):
            for m in settled:
                again, _ = measure(
                    by_name[m.name], wrk, [w], args.duration, args.warmup, workdir, budget
                )
                result = again.results.get(w)
                # A run whose server died measured nothing: it is not counted.
                if result is not None and result.rps is not None and "exited" not in result.note:
                    runs[m.name].append(result)
        for m in settled:
            kept = sorted(runs[m.name], key=lambda r: r.rps or 0.0)
            # Of an even count (a run lost), the one that favours the other side.
            middle = (len(kept) - 1) // 2 if m is measured[0] else len(kept) // 2
            median = kept[middle]
            median.runs = [r.rps for r in runs[m.name] if r.rps is not None]
            median.runs_p99_ms = [r.p99_ms for r in runs[m.name] if r.rps is not None]
            shown = ", ".join(f"{rps:,.0f}" for rps in median.runs)
            median.note = "; ".join(
                x for x in (median.note, f"median of {len(median.runs)} runs ({shown})") if x
            )
            m.results[w] = median


def ratios_with(ratios: dict[str, Any], name: str) -> dict[str, float | None]:
    """Return apollo-fake's ratio to one server, workload by workload."""
    return {w: by_server[name] for w, by_server in ratios.items() if name in by_server}


if __name__ == "__main__":
    main(sys.argv[1:])
