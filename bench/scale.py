"""Scale: a million entries must cost at most twice what ten thousand do, in time and in kind.

Measures, side by side in one run, on files made by ``apollo-fake generate`` with
the same seed and day:

* (a) the wall time and size of ``apollo-fake generate`` for 1,000,000 entries, its
  standard error on a pseudo-terminal (to see whether it draws a progress bar);
* (b) in a fresh process per size, the time ``Fake(path)`` takes to load the file,
  the resident memory after loading and after 1,000 mixed requests;
* (c) the median time of each operation at 10,000 and at 1,000,000 entries, through
  the service layer and through ``fake.client`` (the Flask test client), and their ratio.

The generated files are cached in ``bench/.data/`` under a hash of the code that
writes them; ``BENCH_REGENERATE=1`` makes the run generate (and time) them again.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import pty
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import _measure as m

TODAY = "2026-06-30"
SEED = 1
SMALL, LARGE = 10_000, 1_000_000
PAGE_SIZE = 50
FAR_PAGE = 2_000  # the "page 2,000 of a listing"
MID_PAGE = 20  # a page that exists at both sizes
MIXED_REQUESTS = 1_000
# Generation, then one process per size; the 1M one loads the file, so it gets the most.
GENERATE_TIMEOUT = 180.0
WORKER_TIMEOUT = {SMALL: 120.0, LARGE: 300.0}
OP_BUDGET = 2.0  # seconds of timed repetitions per operation, layer and mode
TARGET_RATIO = 2.0
TARGET_RSS_MIB = 1024.0
TARGET_LOAD_S = 30.0
TARGET_GENERATE_S = 60.0
# The code whose changes make a cached file stale: what writes the bytes.
GENERATOR_SOURCES = ("generate.py", "fixtures.py", "dates.py")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # the terminal codes of click's bar


# --- the generated files ---------------------------------------------------------------


def _cli() -> list[str]:
    """Return how to run apollo-fake: the installed console script, as a user would."""
    script = Path(sys.executable).with_name("apollo-fake")
    return [str(script)] if script.exists() else [sys.executable, "-m", "apollo_fake"]


def _generator_hash() -> str:
    package = m.ROOT / "apollo_fake"
    digest = hashlib.sha256()
    for name in GENERATOR_SOURCES:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:12]


def _generate(entries: int, path: Path, final: Path) -> dict[str, Any]:
    """Run ``apollo-fake generate`` with standard error on a pseudo-terminal; time it."""
    args = ["generate", "--seed", str(SEED), "--entries", str(entries), "--today", TODAY, "-o"]
    argv = [*_cli(), *args, str(path)]
    master, slave = pty.openpty()
    seen: list[bytes] = []

    def drain() -> None:
        # The child blocks once the terminal's buffer is full, so read as it writes.
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    began = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    reader.start()
    try:
        code: int | None = proc.wait(timeout=GENERATE_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        m.stop(proc)
    elapsed = time.perf_counter() - began
    reader.join(timeout=5)
    os.close(master)
    stderr = b"".join(seen)
    text = stderr.decode(errors="replace")
    last_line = ANSI.sub("", text.replace("\r", "\n")).strip().splitlines()[-1:]
    return {
        "command": " ".join(["apollo-fake", *args, str(final.relative_to(m.ROOT))]),
        "seconds": elapsed,
        "exit_code": code,
        "timed_out": code is None,
        "size_bytes": path.stat().st_size if path.exists() and code == 0 else None,
        # Click redraws its bar with a carriage return on a terminal.
        "progress_bar": "generating" in text and "\r" in text,
        "progress_redraws": text.count("\r"),
        "stderr_last_line": last_line[0] if last_line else "",
        "measured_at": m.machine("scale")["date"],
    }


def _data_file(entries: int, force: bool) -> tuple[Path | None, dict[str, Any]]:
    """Return the generated file for this size, from the cache or made (and timed) now."""
    m.DATA_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"seed{SEED}-entries{entries}-{TODAY}"
    path = m.DATA_DIR / f"{stem}-{_generator_hash()}.json"
    meta_path = path.with_suffix(".meta.json")
    if not force and path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        return path, meta
    for stale in m.DATA_DIR.glob(f"{stem}-*.json"):
        stale.unlink()  # a file of the same size from older code: 230 MB each
    partial = path.with_suffix(".partial")
    meta = _generate(entries, partial, path)
    if meta["exit_code"] != 0:
        partial.unlink(missing_ok=True)
        meta["cached"] = False
        return None, meta
    partial.rename(path)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    meta["cached"] = False
    return path, meta


# --- the worker: one process per size ---------------------------------------------------


def _worker(size: int, path: Path, out: Path, similar_to: int | None) -> None:
    """Load one file, then measure memory and every operation; write results as they come."""
    res: dict[str, Any] = {"size": size, "pid": os.getpid()}

    def save() -> None:
        out.write_text(json.dumps(res, indent=2))

    began = time.perf_counter()
    from apollo_fake import service
    from apollo_fake.fake import Fake

    res["import_s"] = time.perf_counter() - began
    today = datetime.date.fromisoformat(TODAY)
    began = time.perf_counter()
    # The clock frozen on the generation day, so that the report's window holds data.
    fake = Fake(path, today=today)
    res["load_s"] = time.perf_counter() - began
    res["rss_after_load_mib"] = m.vmrss_mib()
    res["maxrss_after_load_mib"] = m.maxrss_mib()
    save()

    store = fake.store
    res["entries"] = len(store.entries)
    per_project = Counter(e.project_id for e in store.entries.values() if e.project_id)
    largest, largest_count = per_project.most_common(1)[0]
    first, last = service.report_window({}, today)
    lo, hi = first.isoformat(), last.isoformat()
    in_window = Counter(
        e.project_id for e in store.entries.values() if e.project_id and lo <= e.date <= hi
    )
    # The 10k run takes its largest project; the 1M run the project closest to that count.
    if similar_to is None:
        similar = largest
    else:
        similar = min(in_window, key=lambda p: (abs(in_window[p] - similar_to), p))
    res["largest_project"] = {"id": largest, "entries": largest_count}
    res["similar_project"] = {"id": similar, "entries_in_window": in_window[similar]}
    last_page = math.ceil(largest_count / PAGE_SIZE)
    far_page = FAR_PAGE if last_page >= FAR_PAGE else last_page
    res["far_page"] = far_page
    res["last_page"] = last_page
    save()

    client = fake.client
    rng = random.Random(SEED)
    ids = list(store.entries)
    projects = sorted(per_project)
    category = str(min(store.categories))
    body = {
        "time-entry": {
            "category-id": category,
            "notes": "bench",
            "date": "2026-06-29",
            "billable": "billable",
            "seconds": "3600",
        }
    }

    # --- (b) memory after a mix of requests, as a test session would send them ---
    statuses: Counter[int] = Counter()
    created: list[str] = []
    began = time.perf_counter()
    for i in range(MIXED_REQUESTS):
        kind = i % 10
        if kind < 3:
            project = rng.choice(projects)
            number = rng.randint(1, max(1, math.ceil(per_project[project] / PAGE_SIZE)))
            r = client.get(f"/projects/{project}/timeEntries/{number}")
        elif kind < 6:
            r = client.get(f"/timeEntries/{rng.choice(ids)}")
        elif kind == 6:
            r = client.post(f"/projects/{rng.choice(projects)}/timeEntries", json=body)
            if r.status_code == 201:
                created.append(r.get_json()["time-entry-id"])
        elif kind == 7:
            notes = {"time-entry": {"notes": f"mixed {i}"}}
            r = client.put(f"/timeEntries/{rng.choice(ids)}", json=notes)
        elif kind == 8 and created:
            r = client.delete(f"/timeEntries/{created.pop()}")
        else:
            r = client.get(f"/report/timeEntries?project_id={rng.choice(projects)}&with_totals=1")
        r.get_data()
        statuses[r.status_code] += 1
    res["mixed"] = {
        "requests": MIXED_REQUESTS,
        "seconds": time.perf_counter() - began,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "rss_after_mib": m.vmrss_mib(),
        "maxrss_after_mib": m.maxrss_mib(),
    }
    began = time.perf_counter()
    fake.reset()  # back to the loaded data, so every size is timed on its file's data
    res["mixed"]["reset_ms"] = (time.perf_counter() - began) * 1000
    save()

    # --- (c) each operation, through the service layer and through the test client ---
    ops: dict[str, dict[str, Any]] = {}
    res["ops"] = ops
    flips = [0]

    def change_entry(entry_id: int) -> Any:
        """Return an untimed write of one entry the next answer contains."""

        # A test's requests follow writes (its own, or the reset before it), so each
        # timed call follows one: an answer kept from the previous call cannot serve it.

        def change() -> None:
            flips[0] += 1
            service.update(fake, entry_id, {"time-entry": {"notes": f"bench {flips[0] % 2}"}})

        return change

    def measure(name: str, layer: str, call: Any, prepare: Any = None, **extra: Any) -> None:
        ms, reps = m.median_ms(call, prepare, budget=OP_BUDGET)
        ops.setdefault(name, {})[layer] = {"ms": ms, "reps": reps, **extra}
        save()

    def status_of(r: Any) -> int:
        r.get_data()
        return int(r.status_code)

    def page_op(name: str, number: int) -> None:
        page = service.page(fake, "projects", largest, number)
        change = change_entry(page.entries[0].id)
        url = f"/projects/{largest}/timeEntries" + (f"/{number}" if number > 1 else "")
        extra = {"page": number, "entries": len(page.entries)}
        measure(name, "service", lambda: service.page(fake, "projects", largest, number), change)
        measure(name, "client", lambda: client.get(url).get_data(), change, **extra)
        measure(name, "client, repeated", lambda: client.get(url).get_data(), **extra)
        ops[name]["client"]["status"] = status_of(client.get(url))

    page_op("page 1", 1)
    page_op(f"page {MID_PAGE}", MID_PAGE)
    page_op("far page", far_page)

    # A different entry each time, drawn from the whole file, as tests' gets would be.
    picks = iter(rng.choices(ids, k=10_000))
    current = [ids[0]]

    def next_id() -> None:
        current[0] = next(picks)

    def get_current() -> None:
        client.get(f"/timeEntries/{current[0]}").get_data()

    measure("get one entry", "service", lambda: service.entry(fake, current[0]), next_id)
    measure("get one entry", "client", get_current, next_id)
    fixed = f"/timeEntries/{ids[len(ids) // 2]}"
    measure("get one entry", "client, repeated", lambda: client.get(fixed).get_data())
    ops["get one entry"]["client"]["status"] = status_of(client.get(fixed))

    # Each create is deleted (untimed) before the next, so the size stays the same.
    made: list[int] = []

    def forget_made() -> None:
        while made:
            service.delete(fake, made.pop())

    def create_service() -> None:
        made.append(service.create(fake, "projects", largest, body, None).id)

    def create_client() -> None:
        r = client.post(f"/projects/{largest}/timeEntries", json=body)
        made.append(int(r.get_json()["time-entry-id"]))

    measure("create (then delete)", "service", create_service, forget_made)
    measure("create (then delete)", "client", create_client, forget_made)
    forget_made()

    def report_op(name: str, project: int) -> None:
        query = {"project_id": [str(project)], "with_totals": ["1"]}
        found, _ = service.report(fake, query)
        change = change_entry(found[0].id) if found else None
        url = f"/report/timeEntries?project_id={project}&with_totals=1"
        extra = {"project": project, "entries": len(found)}
        measure(name, "service", lambda: service.report(fake, query), change, **extra)
        measure(name, "client", lambda: client.get(url).get_data(), change, **extra)
        measure(name, "client, repeated", lambda: client.get(url).get_data(), **extra)
        ops[name]["client"]["status"] = status_of(client.get(url))

    report_op("report, largest project", largest)
    report_op("report, similar-size project", similar)
    fake.reset()
    res["rss_at_end_mib"] = m.vmrss_mib()
    res["maxrss_at_end_mib"] = m.maxrss_mib()
    res["done"] = True
    save()


def _run_worker(size: int, path: Path, similar_to: int | None) -> dict[str, Any]:
    """Run one size's worker in a fresh process; return what it wrote, even if cut short."""
    out = m.DATA_DIR / f"worker-{size}.json"
    out.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "bench.scale", "worker", str(size), str(path), str(out)]
    argv.append(str(similar_to) if similar_to is not None else "-")
    done, elapsed = m.run(
        argv,
        WORKER_TIMEOUT[size],
        cwd=m.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    res: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    out.unlink(missing_ok=True)
    res["wall_s"] = elapsed
    if done is None:
        res["error"] = f"killed after {WORKER_TIMEOUT[size]:.0f} s"
    elif done.returncode != 0:
        res["error"] = f"exit {done.returncode}: " + done.stderr.decode(errors="replace")[-2000:]
    return res


# --- the report ------------------------------------------------------------------------


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None or value != value else format(value, spec)


def _print_generate(gen: dict[str, Any]) -> None:
    print("(a) apollo-fake generate, 1,000,000 entries")
    print(f"    command:      {gen.get('command')}")
    cached = f"  (cached: measured {gen.get('measured_at')})" if gen.get("cached") else ""
    seconds = gen.get("seconds", float("nan"))
    if gen.get("timed_out"):
        print(f"    wall time:    killed after {GENERATE_TIMEOUT:.0f} s")
    else:
        print(
            f"    wall time:    {seconds:.1f} s   target <= {TARGET_GENERATE_S:.0f} s: "
            f"{m.verdict(seconds, TARGET_GENERATE_S)}{cached}"
        )
    size = gen.get("size_bytes")
    if size:
        print(f"    file size:    {size / 2**20:.1f} MiB ({size:,} bytes)")
    bar = gen.get("progress_bar")
    print(
        f"    progress bar on a terminal: {'shown' if bar else 'NOT shown'} "
        f"({gen.get('progress_redraws', 0)} redraws; last: {gen.get('stderr_last_line')!r})"
    )
    print()


def _print_load(small: dict[str, Any], large: dict[str, Any]) -> None:
    print("(b) loading the file into Fake(path) (a fresh process per size)")
    print(f"    {'':34} {'10,000':>12} {'1,000,000':>12} {'target':>10}  verdict")

    def row(label: str, a: Any, b: Any, target: float | None = None, spec: str = ".2f") -> None:
        judged = m.verdict(b, target) if target is not None and b is not None else ""
        limit = f"<= {target:g}" if target is not None else ""
        print(f"    {label:34} {_fmt(a, spec):>12} {_fmt(b, spec):>12} {limit:>10}  {judged}")

    row("import apollo_fake (s)", small.get("import_s"), large.get("import_s"))
    row("Fake(path) load (s)", small.get("load_s"), large.get("load_s"), TARGET_LOAD_S)
    rss = "rss_after_load_mib"
    row("VmRSS after load (MiB)", small.get(rss), large.get(rss), TARGET_RSS_MIB, ".0f")
    peak = "maxrss_after_load_mib"
    row("peak RSS while loading (MiB)", small.get(peak), large.get(peak), TARGET_RSS_MIB, ".0f")
    sm, lm = small.get("mixed", {}), large.get("mixed", {})
    row(f"{MIXED_REQUESTS:,} mixed requests (s)", sm.get("seconds"), lm.get("seconds"))
    rss = "rss_after_mib"
    row("VmRSS after them (MiB)", sm.get(rss), lm.get(rss), TARGET_RSS_MIB, ".0f")
    peak = "maxrss_after_mib"
    row("peak RSS after them (MiB)", sm.get(peak), lm.get(peak), TARGET_RSS_MIB, ".0f")
    row("reset after them (ms)", sm.get("reset_ms"), lm.get("reset_ms"))
    end = "rss_at_end_mib"
    row("VmRSS after the timings of (c)", small.get(end), large.get(end), TARGET_RSS_MIB, ".0f")
    print(f"    mixed request statuses: 10k {sm.get('statuses')}, 1M {lm.get('statuses')}")
    print(
        "    (mix per 10 requests: 3 pages of random projects, 3 gets, 1 create, 1 update,"
        " 1 delete, 1 report)"
    )
    print()


def _print_ops(small: dict[str, Any], large: dict[str, Any]) -> list[dict[str, Any]]:
    print(
        f"(c) median time per operation (ms), {SMALL:,} vs {LARGE:,} entries; "
        f"target: 1M/10k <= {TARGET_RATIO:g}"
    )
    sp, lp = small.get("largest_project", {}), large.get("largest_project", {})
    print(
        f"    largest project: 10k {sp.get('id')} ({sp.get('entries')} entries, "
        f"{small.get('last_page')} pages), 1M {lp.get('id')} ({lp.get('entries')} entries, "
        f"{large.get('last_page')} pages)"
    )
    ss, ls = small.get("similar_project", {}), large.get("similar_project", {})
    print(
        f"    similar-size project: 10k {ss.get('id')} ({ss.get('entries_in_window')} entries in "
        f"the report's window), 1M {ls.get('id')} ({ls.get('entries_in_window')})"
    )
    print(
        f"    {'operation':40} {'layer':17} {'10k ms':>9} {'1M ms':>9} {'ratio':>7} "
        f"{'reps':>9}  verdict"
    )
    rows: list[dict[str, Any]] = []
    so, lo = small.get("ops", {}), large.get("ops", {})
    labels = {
        "page 1": "page 1 of the largest project",
        f"page {MID_PAGE}": f"page {MID_PAGE} (exists at both sizes)",
        "far page": (f"page {large.get('far_page')} (1M) vs last, {small.get('far_page')} (10k)"),
        "get one entry": "get one entry",
        "create (then delete)": "create (then delete, untimed)",
        "report, largest project": "report, largest project",
        "report, similar-size project": "report, similar-size project",
    }
    for name, label in labels.items():
        for layer in ("service", "client", "client, repeated"):
            a, b = so.get(name, {}).get(layer), lo.get(name, {}).get(layer)
            if a is None and b is None:
                continue
            ams = a["ms"] if a else float("nan")
            bms = b["ms"] if b else float("nan")
            ratio = bms / ams if ams else float("nan")
            reps = f"{a['reps'] if a else '-'}/{b['reps'] if b else '-'}"
            row = {"operation": label, "layer": layer, "ms_10k": ams, "ms_1m": bms}
            row["ratio"] = ratio
            row["verdict"] = m.verdict(ratio, TARGET_RATIO)
            rows.append(row)
            print(
                f"    {label:40} {layer:17} {ams:>9.3f} {bms:>9.3f} {ratio:>7.2f} {reps:>9}  "
                f"{row['verdict']}"
            )
            label = ""
        if name.startswith("report"):
            a, b = so.get(name, {}).get("service"), lo.get(name, {}).get("service")
            if a and b:
                print(
                    f"    {'':40} {'entries returned':17} {a['entries']:>9} {b['entries']:>9} "
                    f"{b['entries'] / max(1, a['entries']):>7.2f}"
                )
                for layer in ("service", "client"):
                    a, b = so[name].get(layer), lo[name].get(layer)
                    if not (a and b and a["entries"] and b["entries"]):
                        continue
                    ua = a["ms"] * 1000 / a["entries"]
                    ub = b["ms"] * 1000 / b["entries"]
                    row = {"operation": f"{name} per entry", "layer": layer}
                    row.update({"us_10k": ua, "us_1m": ub, "ratio": ub / ua})
                    row["verdict"] = m.verdict(ub / ua, TARGET_RATIO)
                    rows.append(row)
                    print(
                        f"    {'':40} {'µs/entry, ' + layer:17} {ua:>9.3f} {ub:>9.3f} "
                        f"{ub / ua:>7.2f} {'':>9}  {row['verdict']}"
                    )
    bad = {
        f"{size} {name}": op["client"]["status"]
        for size, ops in (("10k", so), ("1M", lo))
        for name, op in ops.items()
        if "status" in op.get("client", {}) and op["client"]["status"] >= 400
    }
    if bad:
        print(f"    WARNING: error statuses measured: {bad}")
    print(
        "    service/client: an untimed write of an entry the answer holds precedes each call,\n"
        "    as a test's requests follow its writes or the reset; gets draw a new id each time.\n"
        "    client, repeated: the same request back to back (an answer may be kept)."
    )
    print()
    return rows


def main() -> None:
    """Generate (or reuse) the files, measure both sizes in fresh processes, print the tables."""
    started = time.perf_counter()
    facts = m.header("scale", "Scale: 10,000 vs 1,000,000 entries")
    force = os.environ.get("BENCH_REGENERATE") == "1"
    print(f"generating or reusing the {SMALL:,}- and {LARGE:,}-entry files ...", flush=True)
    small_path, _ = _data_file(SMALL, force)
    large_path, gen = _data_file(LARGE, force)
    results: dict[str, Any] = {"machine": facts, "generate_1m": gen}
    if small_path is None or large_path is None:
        print("generation failed: ", gen)
        m.write_results("scale", results)
        return
    print(f"measuring {SMALL:,} entries in a fresh process ...", flush=True)
    small = _run_worker(SMALL, small_path, None)
    similar = small.get("similar_project", {}).get("entries_in_window")
    print(f"measuring {LARGE:,} entries in a fresh process ...", flush=True)
    large = _run_worker(LARGE, large_path, similar)
    print()
    for label, res in (("10k", small), ("1M", large)):
        if "error" in res:
            print(f"WARNING: the {label} worker failed ({res['error']}); its figures are partial")
    _print_generate(gen)
    _print_load(small, large)
    results.update({"small": small, "large": large, "table": _print_ops(small, large)})
    results["run_s"] = time.perf_counter() - started
    path = m.write_results("scale", results)
    print(f"whole run: {results['run_s']:.0f} s; results in {path.relative_to(m.ROOT)}")
    print()


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    _size, _path, _out, _similar = sys.argv[2:6]
    _worker(int(_size), Path(_path), Path(_out), None if _similar == "-" else int(_similar))
