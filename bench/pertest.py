"""Per-test cost of the pytest plugin, against the usual ways of faking an HTTP API in tests.

Writes throwaway pytest projects whose tests each make one GET, in five ways, and
times ``pytest -q -p no:cacheprovider`` on each in a subprocess (best of 3):

1. pytest-httpserver's ``httpserver`` fixture, urllib as the client;
2. ``responses`` mocking ``requests``;
3. a bare Flask app's ``test_client()`` (session-scoped app);
4. ``apollo_client`` on a 100,000-entry generated baseline;
5. ``apollo_url`` (a live server of the same baseline), urllib as the client.

Every canned answer is the very bytes apollo-fake answers for the same GET (page 1
of the largest project), so each way moves the same body. The per-test cost is
the run's time less that of as many empty tests, divided by the number of tests;
and, to leave out what a session pays once (apollo-fake builds its baseline then),
the slope between runs of 30 and 300 tests, less the empty tests' slope.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import _measure as m

MANY, FEW = 300, 30
ROUNDS = 3  # best of
RUN_TIMEOUT = 240.0
INSTALL_TIMEOUT = 300.0
SEED, ENTRIES, TODAY = 1, 100_000, "2026-06-30"
PATH = "/projects/500001/timeEntries"
APOLLO_ARGS = ["--apollo-seed", str(SEED), "--apollo-entries", str(ENTRIES)]
APOLLO_ARGS += ["--apollo-today", TODAY]
# What each variant needs installed: module name -> pip requirement.
NEEDS = {"pytest_httpserver": "pytest-httpserver", "responses": "responses", "requests": "requests"}

HEAD = """\
import pathlib
import urllib.request

BODY = pathlib.Path(__file__).with_name("body.json").read_bytes()
PATH = "{path}"
# No proxy from the environment: every request stays on the loopback interface.
OPEN = urllib.request.build_opener(urllib.request.ProxyHandler({{}})).open
"""

# name -> (label, conftest.py, extra imports, fixture arguments, test body, pytest arguments)
VARIANTS: dict[str, tuple[str, str, str, str, str, list[str]]] = {
    "empty": ("empty tests (baseline)", "", "", "", "    pass\n", []),
    "httpserver": (
        "(1) pytest-httpserver httpserver",
        "",
        "",
        "httpserver",
        "    httpserver.expect_request(PATH).respond_with_data(BODY, content_type="
        '"application/json")\n'
        "    with OPEN(httpserver.url_for(PATH)) as r:\n"
        "        assert r.status == 200\n"
        "        r.read()\n",
        [],
    ),
    "responses": (
        "(2) responses + requests",
        "",
        "import requests\nimport responses\n\nURL = 'http://127.0.0.1:9' + PATH\n",
        "",
        "    responses.add(responses.GET, URL, body=BODY, content_type='application/json')\n"
        "    r = requests.get(URL)\n"
        "    assert r.status_code == 200\n"
        "    r.content\n",
        [],
    ),
    "flask": (
        "(3) bare Flask test_client()",
        "import pathlib\n\n"
        "import pytest\n"
        "from flask import Flask, Response\n\n"
        'BODY = pathlib.Path(__file__).with_name("body.json").read_bytes()\n\n\n'
        '@pytest.fixture(scope="session")\n'
        "def app():\n"
        '    app = Flask("bare")\n\n'
        '    @app.get("/projects/<int:project_id>/timeEntries")\n'
        "    def listing(project_id):\n"
        '        return Response(BODY, mimetype="application/json")\n\n'
        "    return app\n\n\n"
        "@pytest.fixture\n"
        "def client(app):\n"
        "    return app.test_client()\n",
        "",
        "client",
        "    r = client.get(PATH)\n    assert r.status_code == 200\n    r.data\n",
        [],
    ),
    "apollo_client": (
        "(4) apollo_client",
        "",
        "",
        "apollo_client",
        "    r = apollo_client.get(PATH)\n    assert r.status_code == 200\n    r.data\n",
        APOLLO_ARGS,
    ),
    "apollo_url": (
        "(5) apollo_url (urllib)",
        "",
        "",
        "apollo_url",
        "    with OPEN(apollo_url + PATH) as r:\n"
        "        assert r.status == 200\n"
        "        r.read()\n",
        APOLLO_ARGS,
    ),
}


def _ensure_installed() -> list[str]:
    """Install the comparison libraries into this interpreter when missing; say what was done."""
    missing = [req for mod, req in NEEDS.items() if importlib.util.find_spec(mod) is None]
    if not missing:
        return []
    print(f"installing {', '.join(missing)} into {sys.prefix} ...", flush=True)
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done, _ = m.run(
        [*argv, *missing], INSTALL_TIMEOUT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if done is None or done.returncode != 0:
        output = done.stdout.decode(errors="replace") if done is not None else "timed out"
        raise SystemExit(f"could not install {missing}:\n{output}")
    importlib.invalidate_caches()
    return missing


def _write_project(root: Path, name: str, count: int, body: bytes) -> Path:
    """Write one variant's pytest project with ``count`` tests; return its folder."""
    _, conftest, imports, args, test_body, _ = VARIANTS[name]
    folder = root / f"{name}-{count}"
    folder.mkdir()
    # An ini file of its own: the project's rootdir, away from apollo-fake's settings.
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "body.json").write_bytes(body)
    if conftest:
        (folder / "conftest.py").write_text(conftest)
    decorator = "@responses.activate\n" if name == "responses" else ""
    tests = [HEAD.format(path=PATH), imports]
    for i in range(count):
        tests.append(f"\n\n{decorator}def test_{i}({args}):\n{test_body}")
    (folder / "test_many.py").write_text("".join(tests))
    return folder


def _environment() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "PYTEST_ADDOPTS"
    }
    env["PYTEST_HTTPSERVER_HOST"] = m.HOST  # its default is "localhost": maybe ::1
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # every run compiles the tests alike
    return env


def _time_pytest(folder: Path, name: str) -> tuple[float, str]:
    """Run pytest on one project; return (wall seconds or NaN on failure, its last line)."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *VARIANTS[name][5]]
    done, elapsed = m.run(
        argv,
        RUN_TIMEOUT,
        cwd=folder,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if done is None:
        return float("nan"), f"killed after {RUN_TIMEOUT:.0f} s"
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    if done.returncode != 0:
        return float("nan"), f"exit {done.returncode}: " + "\n".join(lines[-15:])
    return elapsed, last


def _apollo_page_and_reset() -> dict[str, Any]:
    """Build the plugin's baseline as it does; return the page's bytes, build and reset times."""
    from apollo_fake.testing import baseline

    from . import reset

    spec = baseline(seed=SEED, entries=ENTRIES, today=TODAY)
    began = time.perf_counter()
    fake = spec.build()
    build_s = time.perf_counter() - began
    r = fake.client.get(PATH)
    body = r.get_data()
    reset_ms = reset._median_reset_ms(fake, 10)
    return {
        "body": body,
        "status": r.status_code,
        "build_s": build_s,
        "reset_10_ms": reset_ms,
        "reset_rounds": reset.ROUNDS,
    }


def main() -> None:
    """Run every variant at 30 and 300 tests, best of 3, and print per-test costs and ratios."""
    started = time.perf_counter()
    facts = m.header("pertest", "Per-test cost of the pytest plugin")
    installed = _ensure_installed()
    print(
        f"building the {ENTRIES:,}-entry baseline in this process (the page's bytes, reset) ...",
        flush=True,
    )
    apollo = _apollo_page_and_reset()
    body: bytes = apollo.pop("body")
    root = Path(tempfile.mkdtemp(prefix="apollo-pertest-"))
    times: dict[str, dict[int, list[float]]] = {name: {MANY: [], FEW: []} for name in VARIANTS}
    notes: dict[str, str] = {}
    try:
        folders = {
            (name, n): _write_project(root, name, n, body) for name in VARIANTS for n in (MANY, FEW)
        }
        print(
            f"timing {len(folders)} pytest projects, {ROUNDS} rounds, interleaved ...", flush=True
        )
        # Interleaved rounds, so that a slow moment of the machine hits every variant alike.
        for _ in range(ROUNDS):
            for (name, n), folder in folders.items():
                seconds, last = _time_pytest(folder, name)
                times[name][n].append(seconds)
                notes[f"{name}-{n}"] = last
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def best(name: str, n: int) -> float:
        ok = [t for t in times[name][n] if t == t]
        return min(ok) if ok else float("nan")

    empty_many, empty_few = best("empty", MANY), best("empty", FEW)
    empty_slope = (empty_many - empty_few) / (MANY - FEW)
    rows: dict[str, dict[str, float]] = {}
    for name in VARIANTS:
        if name == "empty":
            continue
        many, few = best(name, MANY), best(name, FEW)
        slope = (many - few) / (MANY - FEW) - empty_slope
        rows[name] = {
            "best_s_300": many,
            "best_s_30": few,
            "minus_empty_ms": (many - empty_many) / MANY * 1000,
            "slope_ms": slope * 1000,
            # What the session pays once: the 30-test run less its tests and the empty run.
            "once_s": few - empty_few - FEW * slope,
            # How far apart the rounds of the 300-test run were: the figures' noise.
            "spread_s_300": max(times[name][MANY]) - min(times[name][MANY]),
        }
    # The figures: less the empty run for (1)-(3), the slope for (4)-(5),
    # which would otherwise carry the baseline's build.
    for name, row in rows.items():
        row["per_test_ms"] = row["slope_ms"] if name.startswith("apollo") else row["minus_empty_ms"]

    print()
    print(f"pytest -q -p no:cacheprovider, wall seconds, best of {ROUNDS}; per-test ms")
    print(
        f"    {'variant':34} {'300 tests':>10} {'30 tests':>10} {'-empty/300':>11} "
        f"{'slope':>8} {'once (s)':>9} {'per test':>9} {'spread':>7}"
    )
    empty_spread = max(times["empty"][MANY]) - min(times["empty"][MANY])
    print(
        f"    {VARIANTS['empty'][0]:34} {empty_many:>10.3f} {empty_few:>10.3f} "
        f"{'':>11} {'':>8} {'':>9} {'':>9} {empty_spread:>7.3f}"
    )
    for name, row in rows.items():
        print(
            f"    {VARIANTS[name][0]:34} {row['best_s_300']:>10.3f} {row['best_s_30']:>10.3f} "
            f"{row['minus_empty_ms']:>11.3f} {row['slope_ms']:>8.3f} {row['once_s']:>9.2f} "
            f"{row['per_test_ms']:>9.3f} {row['spread_s_300']:>7.3f}"
        )
    print(
        "    -empty/300: (300-test run - 300 empty tests) / 300\n"
        "    slope: per test between 30 and 300 tests, less the empty tests' slope\n"
        "    once: what the session pays once (the slope's fit)\n"
        "    per test: the issue's figure: -empty/300 for (1)-(3), slope for (4)-(5)\n"
        f"    spread: slowest less fastest of the {ROUNDS} 300-test runs (s): the noise"
    )
    print()

    def ratio(a: str, b: str, key: str = "per_test_ms") -> float:
        base = rows[b][key]
        return rows[a][key] / base if base > 0 else float("nan")

    targets = [
        ("(4) apollo_client / (1) httpserver", "apollo_client", "httpserver", 0.5),
        ("(4) apollo_client / (3) bare Flask", "apollo_client", "flask", 1.2),
        ("(5) apollo_url / (1) httpserver", "apollo_url", "httpserver", 1.0),
    ]
    print("targets")
    print(f"    {'ratio':38} {'per test':>9} {'slope only':>11} {'target':>8}  verdict")
    checks = []
    for label, a, b, limit in targets:
        value, like = ratio(a, b), ratio(a, b, "slope_ms")
        judged = m.verdict(value, limit)
        checks.append({"ratio": label, "value": value, "slope_only": like, "target": limit})
        checks[-1]["verdict"] = judged
        print(f"    {label:38} {value:>9.2f} {like:>11.2f} {'<= ' + str(limit):>8}  {judged}")
    print(
        "    per test: the issue's figures;  slope only: every variant by its slope, so that\n"
        "    no variant's once-per-session cost is spread over its tests"
    )
    print()
    reset_ms = apollo["reset_10_ms"]
    print(
        f"apollo-fake session set-up: the {ENTRIES:,}-entry baseline built in "
        f"{apollo['build_s']:.2f} s in this process (generate + load); "
        f"fitted once-per-session cost: {rows['apollo_client']['once_s']:.2f} s (apollo_client), "
        f"{rows['apollo_url']['once_s']:.2f} s (apollo_url)"
    )
    print(
        f"restoring the baseline after a test that changed 10 entries: {reset_ms:.3f} ms "
        f"(median of {apollo['reset_rounds']}, bench/reset.py's measure)   target < 1 ms: "
        f"{m.verdict(reset_ms, 1.0)}"
    )
    print(f"GET {PATH}: {len(body):,} bytes, status {apollo['status']}, in every variant")
    failed = {k: v for k, v in notes.items() if "passed" not in v or "failed" in v}
    if failed:
        print("WARNING: runs that did not pass:")
        for key, text in failed.items():
            print(f"    {key}: {text}")
    run_s = time.perf_counter() - started
    print(f"whole run: {run_s:.0f} s")
    results = {
        "machine": facts,
        "installed_now": installed,
        "tests": {"many": MANY, "few": FEW, "rounds": ROUNDS},
        "body_bytes": len(body),
        "apollo": apollo,
        "empty": {"best_s_300": empty_many, "best_s_30": empty_few},
        "times": {name: {str(n): v for n, v in t.items()} for name, t in times.items()},
        "variants": rows,
        "targets": checks,
        "last_lines": notes,
        "run_s": run_s,
    }
    path = m.write_results("pertest", results)
    print(f"results in {path.relative_to(m.ROOT)}")
    print()
