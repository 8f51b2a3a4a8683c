"""Per-test cost of the pytest plugin, against the usual ways of faking an HTTP API in tests.

Writes throwaway pytest projects whose tests each make one GET, in seven ways, and
runs ``pytest -q -p no:cacheprovider`` on each in a subprocess (best of 3):

1. pytest-httpserver's ``httpserver`` fixture, urllib as the client;
2. ``responses`` mocking ``requests``;
3. a bare Flask app's ``test_client()`` (session-scoped app);
4. ``apollo_client`` on a 100,000-entry generated baseline;
5. ``apollo_url`` (a live server of the same baseline), urllib as the client;
6. a bare ``responses`` callback returning the canned answer, ``requests`` to the
   vendor's URL;
7. ``apollo_mock`` (interception) on the same baseline, ``requests`` to the same URL.

6 and 7 run the same client code against the same URL: what 7 costs beyond 6 is
the interception (every installed library patched) and the fake's answer.

Every canned answer is the very bytes apollo-fake answers for the same GET (page 1
of the largest project), so each way moves the same body. A hook in each project's
conftest times every test's set-up, call and teardown inside pytest; the per-test
cost is the mean over the 300 tests but the first (it builds what the session
shares: apollo-fake's baseline) and the last (the session's teardown), less the
same mean for empty tests. Timing inside pytest leaves out pytest's own start,
whose noise between runs was larger than the figures (a spread of 1 s over 300).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import _measure as m

TESTS = 300
ROUNDS = 3  # best of
RUN_TIMEOUT = 240.0
INSTALL_TIMEOUT = 300.0
SEED, ENTRIES, TODAY = 1, 100_000, "2026-06-30"
PATH = "/projects/500001/timeEntries"
APOLLO_ARGS = ["--apollo-seed", str(SEED), "--apollo-entries", str(ENTRIES)]
APOLLO_ARGS += ["--apollo-today", TODAY]
# What each variant needs installed: module name -> pip requirement.
NEEDS = {
    "pytest_httpserver": "pytest-httpserver",
    "responses": "responses",
    "requests": "requests",
}
VENDOR_URL = "https://api.apollohq.com/v1" + PATH

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
    "responses_callback": (
        "(6) responses callback + requests",
        "",
        f"import requests\nimport responses\n\nURL = {VENDOR_URL!r}\n"
        "HEADERS = {'Content-Type': 'application/json'}\n",
        "",
        "    responses.add_callback(responses.GET, URL, callback=lambda r: (200, HEADERS, BODY))\n"
        "    r = requests.get(URL)\n"
        "    assert r.status_code == 200\n"
        "    r.content\n",
        [],
    ),
    "apollo_mock": (
        "(7) apollo_mock + requests",
        "",
        f"import requests\n\nURL = {VENDOR_URL!r}\n",
        "apollo_mock",
        "    r = requests.get(URL)\n    assert r.status_code == 200\n    r.content\n",
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


# Appended to every project's conftest.py: times each test's whole protocol (set-up,
# call, teardown) inside pytest, so that neither pytest's start nor the machine's
# noise between runs enters the figure.
TIMER = """

import json as _json
import os as _os
import time as _time

import pytest as _pytest

_DURATIONS = []


@_pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    began = _time.perf_counter()
    yield
    _DURATIONS.append(_time.perf_counter() - began)


def pytest_sessionfinish(session):
    with open(_os.environ["BENCH_DURATIONS"], "w") as f:
        _json.dump(_DURATIONS, f)
"""


def _write_project(root: Path, name: str, count: int, body: bytes) -> Path:
    """Write one variant's pytest project with ``count`` tests; return its folder."""
    _, conftest, imports, args, test_body, _ = VARIANTS[name]
    folder = root / f"{name}-{count}"
    folder.mkdir()
    # An ini file of its own: the project's rootdir, away from apollo-fake's settings.
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "body.json").write_bytes(body)
    (folder / "conftest.py").write_text(conftest + TIMER)
    decorator = "@responses.activate\n" if name in ("responses", "responses_callback") else ""
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


def _time_pytest(folder: Path, name: str) -> tuple[list[float], str]:
    """Run pytest on one project; return each test's seconds (none on failure), its last line."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *VARIANTS[name][5]]
    durations = folder / "durations.json"
    durations.unlink(missing_ok=True)
    done, _ = m.run(
        argv,
        RUN_TIMEOUT,
        cwd=folder,
        env=_environment() | {"BENCH_DURATIONS": str(durations)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if done is None:
        return [], f"killed after {RUN_TIMEOUT:.0f} s"
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    if done.returncode != 0 or not durations.exists():
        return [], f"exit {done.returncode}: " + "\n".join(lines[-15:])
    found: list[float] = json.loads(durations.read_text())
    return found, last


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


def _summary(durations: list[float]) -> dict[str, float]:
    """Per-test figures of one run (ms): the first test carries the session's set-up and
    the last its teardown, so the mean and median are of the tests between."""
    middle = durations[1:-1]
    return {
        "mean_ms": statistics.fmean(middle) * 1000,
        "median_ms": statistics.median(middle) * 1000,
        "first_ms": durations[0] * 1000,
        "last_ms": durations[-1] * 1000,
    }


def main() -> None:
    """Run every variant's 300 tests, 3 rounds, and print per-test costs and ratios."""
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
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    notes: dict[str, str] = {}
    try:
        folders = {name: _write_project(root, name, TESTS, body) for name in VARIANTS}
        print(
            f"timing {len(folders)} pytest projects of {TESTS} tests, {ROUNDS} rounds, "
            "interleaved ...",
            flush=True,
        )
        # Interleaved rounds, so that a slow moment of the machine hits every variant alike.
        for _ in range(ROUNDS):
            for name, folder in folders.items():
                durations, last = _time_pytest(folder, name)
                if len(durations) == TESTS:
                    runs[name].append(_summary(durations))
                notes[name] = last
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def best(name: str, key: str) -> float:
        values = [run[key] for run in runs[name]]
        return min(values) if values else float("nan")

    empty_mean, empty_median = best("empty", "mean_ms"), best("empty", "median_ms")
    rows: dict[str, dict[str, float]] = {}
    for name in VARIANTS:
        if name == "empty":
            continue
        means = [run["mean_ms"] for run in runs[name]]
        rows[name] = {
            # The figure: what a test costs beyond an empty one, the machine's
            # pauses included (a mean), best of the rounds.
            "per_test_ms": best(name, "mean_ms") - empty_mean,
            "median_ms": best(name, "median_ms") - empty_median,
            # What the session pays once, in its first test (apollo-fake: the baseline).
            "first_ms": best(name, "first_ms"),
            "spread_ms": (max(means) - min(means)) if means else float("nan"),
        }

    print()
    print(
        f"per test, ms: each test's set-up + call + teardown timed inside pytest, less an "
        f"empty test's; best of {ROUNDS}"
    )
    print(
        f"    {'variant':34} {'per test':>9} {'median':>8} {'1st test':>9} {'spread':>7}"
    )
    print(
        f"    {VARIANTS['empty'][0]:34} {empty_mean:>9.3f} {empty_median:>8.3f} "
        f"{best('empty', 'first_ms'):>9.1f} {'':>7}"
    )
    for name, row in rows.items():
        print(
            f"    {VARIANTS[name][0]:34} {row['per_test_ms']:>9.3f} {row['median_ms']:>8.3f} "
            f"{row['first_ms']:>9.1f} {row['spread_ms']:>7.3f}"
        )
    print(
        "    per test: mean over tests 2-299, less the empty tests' (the empty row: absolute)\n"
        "    median: the same with medians;  1st test: it carries the session's set-up\n"
        f"    spread: the highest less the lowest mean of the {ROUNDS} rounds: the noise"
    )
    print()

    def ratio(a: str, b: str, key: str = "per_test_ms") -> float:
        base = rows[b][key]
        return rows[a][key] / base if base > 0 else float("nan")

    targets = [
        ("(4) apollo_client / (1) httpserver", "apollo_client", "httpserver", 0.5),
        ("(4) apollo_client / (3) bare Flask", "apollo_client", "flask", 1.2),
        ("(5) apollo_url / (1) httpserver", "apollo_url", "httpserver", 1.0),
        ("(7) apollo_mock / (6) responses callback", "apollo_mock", "responses_callback", 1.5),
    ]
    print("targets")
    print(f"    {'ratio':42} {'per test':>9} {'median':>8} {'target':>8}  verdict")
    checks = []
    for label, a, b, limit in targets:
        value, by_median = ratio(a, b), ratio(a, b, "median_ms")
        judged = m.verdict(value, limit)
        checks.append({"ratio": label, "value": value, "by_median": by_median, "target": limit})
        checks[-1]["verdict"] = judged
        print(f"    {label:42} {value:>9.2f} {by_median:>8.2f} {'<= ' + str(limit):>8}  {judged}")
    print()
    reset_ms = apollo["reset_10_ms"]
    print(
        f"apollo-fake session set-up: the {ENTRIES:,}-entry baseline built in "
        f"{apollo['build_s']:.2f} s in this process (generate + load); "
        f"the first test, which builds it: {rows['apollo_client']['first_ms']:.0f} ms "
        f"(apollo_client), {rows['apollo_url']['first_ms']:.0f} ms (apollo_url), "
        f"{rows['apollo_mock']['first_ms']:.0f} ms (apollo_mock)"
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
        "tests": TESTS,
        "rounds": ROUNDS,
        "body_bytes": len(body),
        "apollo": apollo,
        "empty": {"mean_ms": empty_mean, "median_ms": empty_median},
        "runs": runs,
        "variants": rows,
        "targets": checks,
        "last_lines": notes,
        "run_s": run_s,
    }
    path = m.write_results("pertest", results)
    print(f"results in {path.relative_to(m.ROOT)}")
    print()
