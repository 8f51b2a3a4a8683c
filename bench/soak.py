"""Soak: resident memory of ``apollo-fake serve`` under minutes of mixed load.

Starts ``python -m apollo_fake serve --port 0 --quiet`` on the packaged demo data
and drives it from loopback with Python threads over keep-alive connections:
creates, updates and deletes (each thread deletes what it created, so the data
stays the same size), reads of single entries, pages of listings, reports with
varied filters, and now and then the control calls whose state must stay bounded
(fault rules, snapshots, the journal). Every 5 s it samples the server's VmRSS
from ``/proc/PID/status``.

Prints one row per sample and the growth of resident memory after the warm-up
(30 s by default); the target is under 10%. Also checks the bounded structures
from outside: the journal holds at most ``--journal-size`` records and counts the
ones it dropped, and fault rules and snapshots stop at 100.
Results go to ``bench/results/soak.json``.

Run with ``python -m bench soak`` (5 minutes) or
``python -m bench.soak --minutes N [--warmup S] [--threads T]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._measure import HOST, ROOT, header, stop, write_results

TARGET_GROWTH = 10.0  # percent, after the warm-up
JOURNAL_SIZE = 10_000  # serve's default
KEEP_OWN = 40  # live entries a thread keeps before it deletes its oldest


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the load")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before the baseline")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument(
        "--no-control",
        action="store_true",
        help="leave out the control calls (fault rules, snapshots, journal reads)",
    )
    return parser.parse_args(list(argv))


def rss_kib(pid: int) -> int:
    """Return a process's resident memory (VmRSS) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class Data:
    """Ids of the served data that the load refers to."""

    projects: list[str]
    contacts: list[str]
    tasks: list[str]
    entries: list[str]
    categories: list[str]


@dataclass
class Tally:
    """What all the clients did, counted under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def add(self, status: int, what: str) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[status] += 1
            if status >= 500 and len(self.errors) < 20:
                self.errors.append(f"{what} -> {status}")


class Client:
    """One thread of load over one keep-alive connection."""

    def __init__(self, slot: int, port: int, data: Data, tally: Tally, control: bool) -> None:
        self.slot = slot
        self.with_control = control
        self.port = port
        self.data = data
        self.tally = tally
        self.rng = random.Random(slot)
        self.own: list[str] = []
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.n = 0

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body)
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, payload)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                if attempt:
                    raise
        self.tally.add(resp.status, f"{method} {path.split('?')[0]}")
        return resp.status, json.loads(raw) if raw else None

    def fields(self) -> dict[str, Any]:
        rng = self.rng
        out: dict[str, Any] = {"notes": f"soak t{self.slot}-{self.n} " + "x" * rng.randrange(80)}
        if rng.random() < 0.5:
            out["seconds"] = str(rng.randrange(60, 28_800))
        if rng.random() < 0.5:
            out["billable"] = rng.choice(["unset", "not billable", "billable", "billed"])
        if rng.random() < 0.3:
            out["category-id"] = rng.choice(self.data.categories)
        if rng.random() < 0.3:
            out["date"] = f"2026-0{rng.randrange(1, 7)}-{rng.randrange(1, 29):02d}"
        return out

    def step(self) -> None:
        rng, data = self.rng, self.data
        self.n += 1
        roll = rng.random()
        if roll < 0.18:
            kind = rng.choice(["projects", "contacts", "tasks"])
            parent = rng.choice(getattr(data, kind))
            body = {"time-entry": {"seconds": "900", **self.fields()}}
            status, answer = self.call("POST", f"/{kind}/{parent}/timeEntries", body)
            if status == 201:
                self.own.append(answer["time-entry-id"])
            while len(self.own) > KEEP_OWN:
                self.call("DELETE", f"/timeEntries/{self.own.pop(0)}")
        elif roll < 0.30 and self.own:
            self.call("PUT", f"/timeEntries/{rng.choice(self.own)}", {"time-entry": self.fields()})
        elif roll < 0.50:
            self.call("GET", f"/timeEntries/{rng.choice(self.own + data.entries)}")
        elif roll < 0.75:
            kind = rng.choice(["projects", "contacts"])
            parent = rng.choice(getattr(data, kind))
            self.call("GET", f"/{kind}/{parent}/timeEntries/{rng.randrange(1, 4)}")
        elif roll < 0.80:
            self.call("GET", f"/tasks/{rng.choice(data.tasks)}/timeEntries")
        elif roll < 0.97:
            query = ["with_totals=1"]
            if rng.random() < 0.6:
                query.append(f"project_id={rng.choice(data.projects)}")
            if rng.random() < 0.3:
                query.append("include_contacts=1&include_personal=1")
            if rng.random() < 0.5:
                query.append(f"from=2026-0{rng.randrange(1, 7)}-{rng.randrange(1, 29):02d}")
            self.call("GET", "/report/timeEntries?" + "&".join(query))
        elif self.with_control:
            self.control()
        else:
            self.call("GET", "/account")

    def control(self) -> None:
        """Exercise the bounded control state: fault rules, snapshots, the journal."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.4:
            # A rule that never matches stays until cleared: at most 100 of them.
            rule = {"path": f"/never/{self.slot}/{self.n}", "status": 503}
            status, _ = self.call("POST", "/_fake/faults", rule)
            if status == 422 or rng.random() < 0.05:
                self.call("DELETE", "/_fake/faults")
        elif roll < 0.8:
            name = f"soak-{rng.randrange(150)}"
            status, _ = self.call("POST", f"/_fake/snapshots/{name}")
            if status == 422 or rng.random() < 0.3:
                self.call("DELETE", f"/_fake/snapshots/{name}")
        elif roll < 0.95:
            self.call("GET", "/_fake/faults")
        else:
            self.call("GET", "/_fake/requests?method=DELETE")

    def run(self, stop_at: threading.Event) -> None:
        try:
            while not stop_at.is_set():
                self.step()
        except Exception as exc:  # keep the reason: a dead client makes a lighter load
            with self.tally.lock:
                self.tally.errors.append(f"client {self.slot} stopped: {exc!r}")
        finally:
            self.conn.close()


def start_server() -> tuple[subprocess.Popen[str], int]:
    """Start ``apollo-fake serve`` on the demo data; return the process and its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "apollo_fake", "serve", "--port", "0", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("apollo-fake listening on "):
        stop(proc)
        raise RuntimeError(f"apollo-fake serve did not start: {line!r}")
    return proc, int(line.rsplit(":", 1)[1])


def read_data(port: int) -> Data:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("GET", "/_fake/state")
    state = json.loads(conn.getresponse().read())
    conn.close()

    def ids(name: str) -> list[str]:
        return [r["id"] for r in state[name]]

    return Data(
        ids("projects"), ids("contacts"), ids("tasks"), ids("time-entries"), ids("time-categories")
    )


def get_json(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the soak benchmark and print its table."""
    args = parse_args([] if argv is None else argv)
    facts = header("soak", "Soak: resident memory of apollo-fake serve under mixed load")
    print(
        f"{args.minutes:g} min of load from {args.threads} loopback threads (keep-alive"
        f"{', no control calls' if args.no_control else ''}), "
        f"warm-up {args.warmup:g} s, a sample every {args.interval:g} s\n"
    )
    proc, port = start_server()
    tally = Tally()
    stop_at = threading.Event()
    samples: list[dict[str, Any]] = []
    try:
        data = read_data(port)
        clients = [
            Client(slot, port, data, tally, not args.no_control) for slot in range(args.threads)
        ]
        threads = [threading.Thread(target=c.run, args=(stop_at,), daemon=True) for c in clients]
        began = time.monotonic()
        for t in threads:
            t.start()
        print(f"{'time':>6} {'RSS MiB':>8} {'vs warm':>8} {'requests':>9} {'req/s':>7} {'5xx':>4}")
        baseline: float | None = None
        last_requests, last_time = 0, began
        end = began + args.minutes * 60
        next_sample = began
        while True:
            now = time.monotonic()
            if now >= next_sample:
                rss = rss_kib(proc.pid) / 1024
                with tally.lock:
                    done, failed = (
                        tally.requests,
                        sum(n for s, n in tally.statuses.items() if s >= 500),
                    )
                elapsed = now - began
                if baseline is None and elapsed >= args.warmup:
                    baseline = rss
                rate = (done - last_requests) / max(now - last_time, 1e-9)
                last_requests, last_time = done, now
                vs = f"{(rss / baseline - 1) * 100:+.1f}%" if baseline else "warm-up"
                print(
                    f"{elapsed:5.0f}s {rss:8.1f} {vs:>8} {done:9d} {rate:7.0f} {failed:4d}",
                    flush=True,
                )
                samples.append(
                    {"seconds": round(elapsed, 1), "rss_mib": round(rss, 2), "requests": done}
                )
                next_sample += args.interval
            if now >= end:
                break
            time.sleep(min(max(0.0, next_sample - now), max(0.0, end - now), 1.0))
        stop_at.set()
        for t in threads:
            t.join(30)
        final = rss_kib(proc.pid) / 1024
        faults = get_json(port, "/_fake/faults")["faults"]
        snapshots = get_json(port, "/_fake/snapshots")["snapshots"]
        journal_all = get_json(port, "/_fake/requests")
    finally:
        stop_at.set()
        stop(proc)

    after = [s["rss_mib"] for s in samples if s["seconds"] >= args.warmup]
    warm = baseline if baseline is not None else samples[0]["rss_mib"]
    growth = (final / warm - 1) * 100
    peak_growth = (max([*after, final]) / warm - 1) * 100
    seconds = time.monotonic() - began
    print()
    print(f"requests:     {tally.requests} in {seconds:.0f} s ({tally.requests / seconds:.0f}/s)")
    print(f"statuses:     {dict(sorted(tally.statuses.items()))}")
    print(f"RSS:          {warm:.1f} MiB after warm-up, {final:.1f} MiB at the end")
    print(
        f"growth:       {growth:+.1f}% at the end, {peak_growth:+.1f}% at the peak "
        f"(target < {TARGET_GROWTH:g}%): {'met' if peak_growth < TARGET_GROWTH else 'MISSED'}"
    )
    print(
        f"bounded:      journal {len(journal_all['requests'])} kept, "
        f"{journal_all['dropped']} dropped (size {JOURNAL_SIZE}); "
        f"{len(faults)} fault rules, {len(snapshots)} snapshots (each at most 100)"
    )
    if tally.errors:
        print("errors:       " + "; ".join(tally.errors[:5]))
    path = write_results(
        "soak",
        {
            "machine": facts,
            "minutes": args.minutes,
            "warmup_seconds": args.warmup,
            "threads": args.threads,
            "control_calls": not args.no_control,
            "requests": tally.requests,
            "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
            "errors": tally.errors,
            "rss_after_warmup_mib": round(warm, 2),
            "rss_final_mib": round(final, 2),
            "growth_percent": round(growth, 2),
            "peak_growth_percent": round(peak_growth, 2),
            "target_growth_percent": TARGET_GROWTH,
            "journal_kept": len(journal_all["requests"]),
            "journal_dropped": journal_all["dropped"],
            "fault_rules": len(faults),
            "snapshots": len(snapshots),
            "samples": samples,
        },
    )
    print(f"results:      {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
