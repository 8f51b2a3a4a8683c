"""The ``apollo-fake`` command line, run as a user runs it: in a subprocess.

Covers ``serve`` (the ready line, signals, request logging, default and generated
data, the frozen clock, tokens, the rate limit, bad option values, a busy port),
``--help``, ``validate`` (one line per problem, with its JSON pointer) and
``generate`` (byte-identical output, and the packaged demo is reproducible).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from apollo_fake.generate import generate

from conftest import MODULE, SERVE_DEADLINE, SMALL_ARGS, Served

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "fixtures" / "small.json"
DEMO = ROOT / "fixtures" / "demo.json"
SCRIPT = [str(Path(sys.executable).parent / "apollo-fake")]
LOG_LINE = re.compile(r"(GET|POST|PUT|DELETE) (\S+) (\d{3}) \d+(\.\d+)?ms")
DROPPED_LINE = re.compile(r"(GET|POST|PUT|DELETE) (\S+) (-) \d+(\.\d+)?ms")  # nothing sent


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> Any:
    """Run the CLI to its end and return the completed process (text mode)."""
    return subprocess.run(
        [*MODULE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def run_bytes(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run the CLI to its end and return the completed process (stdout as bytes)."""
    return subprocess.run([*MODULE, *args], cwd=ROOT, capture_output=True, timeout=30, env=env)


def basic(token: str) -> dict[str, str]:
    """Return the Authorization header of HTTP Basic with the token as user name."""
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:x".encode()).decode()}


# --- serve: the ready line, stopping, logging ----------------------------------


@pytest.mark.parametrize(
    "launcher",
    [pytest.param(MODULE, id="python-m"), pytest.param(SCRIPT, id="console-script")],
)
def test_ready_line_comes_first_and_only_once_the_server_answers(
    serve: Any, launcher: list[str]
) -> None:
    server = serve("--quiet", *SMALL_ARGS, launcher=launcher)
    assert server.url == f"http://127.0.0.1:{server.port}"
    # Read from a pipe while the process still runs: the line was flushed, not buffered.
    assert server.proc.poll() is None
    # No retry: a client that connects on seeing the line must be served at once.
    status, _, body = server.request("GET", "/account")
    assert status == 200
    assert body["account"]["name"] == "Acme Ltd"
    assert server.stop() == 0
    assert server.drain(server.stdout) == ""


@pytest.mark.parametrize(
    "signum",
    [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")],
)
def test_a_signal_stops_the_server_with_exit_code_0(serve: Any, signum: int) -> None:
    server = serve("--quiet", *SMALL_ARGS)
    assert server.request("GET", "/account")[0] == 200
    assert server.stop(signum) == 0  # within stop's bounded wait
    assert "Traceback" not in server.drain(server.stderr)


def test_each_request_logs_one_line_to_stderr(serve: Any) -> None:
    server = serve(*SMALL_ARGS)
    calls = [
        ("GET", "/account", 200),
        ("GET", "/projects/51/timeEntries", 200),
        ("GET", "/timeEntries/9999", 404),
        ("DELETE", "/timeEntries/80", 200),
        ("POST", "/_fake/reset", 200),
        ("GET", "/_fake/nothing", 404),
    ]
    # Reads of the control API that succeed (an inspector page polls them) are left out.
    for method, path, status in [*calls, ("GET", "/_fake/requests", 200)]:
        assert server.request(method, path)[0] == status
    assert server.request("GET", "/_fake/clock")[0] == 200
    assert server.stop() == 0
    lines = server.drain(server.stderr).splitlines()
    assert len(lines) == len(calls), lines
    for line, (method, path, status) in zip(lines, calls, strict=True):
        match = LOG_LINE.fullmatch(line)
        assert match, line
        assert match.group(1, 2, 3) == (method, path, str(status))


def test_a_request_is_logged_while_the_server_runs(serve: Any) -> None:
    # Lines are written in batches a moment apart, not held until the stop; a delayed
    # answer (made in the pool) is logged once it is sent, with the time it took, and
    # a dropped one with "-" for its status: nothing was sent.
    server = serve(*SMALL_ARGS)
    for rule in ({"path": "/account", "delay_ms": 300}, {"path": "/timeEntries/72", "drop": True}):
        assert server.request("POST", "/_fake/faults", rule)[0] == 201
    assert server.request("GET", "/timeEntries/71")[0] == 200
    assert server.request("GET", "/account")[0] == 200
    with pytest.raises(ConnectionError):  # closed or reset: no answer
        server.request("GET", "/timeEntries/72")
    lines = [str(server.stderr.get(timeout=SERVE_DEADLINE)).rstrip("\n") for _ in range(5)]
    matches = [DROPPED_LINE.fullmatch(line) or LOG_LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    assert [m.group(1, 2, 3) for m in matches if m] == [
        ("POST", "/_fake/faults", "201"),
        ("POST", "/_fake/faults", "201"),
        ("GET", "/timeEntries/71", "200"),
        ("GET", "/account", "200"),
        ("GET", "/timeEntries/72", "-"),
    ]
    assert float(lines[3].rsplit(" ", 1)[1][:-2]) >= 300  # the delay is in its time
    assert server.stop() == 0


def test_quiet_logs_nothing_per_request(serve: Any) -> None:
    server = serve("--quiet", *SMALL_ARGS)
    for path in ("/account", "/projects/51/timeEntries", "/timeEntries/9999"):
        server.request("GET", path)
    assert server.stop() == 0
    assert server.drain(server.stderr) == ""


# --- serve: the data -----------------------------------------------------------


def test_default_data_is_the_demo_with_its_clock_and_a_non_empty_report(serve: Any) -> None:
    demo = json.loads(DEMO.read_text())
    server = serve("--quiet")
    status, _, body = server.request("GET", "/account")
    assert status == 200
    assert body["account"]["id"] == demo["account"]["id"]
    assert body["account"]["name"] == demo["account"]["name"]
    assert body["account"]["time-categories"] == demo["time-categories"]
    # The demo ends on its reference date; a clock left at the real today would
    # make the default six-month report of a user trying the fake empty.
    status, _, report = server.request("GET", "/report/timeEntries")
    assert status == 200
    assert len(report["time-entries"]) > 0
    assert server.stop() == 0
    assert server.drain(server.stderr) == ""  # --quiet: not a line


@pytest.mark.parametrize(
    ("args", "kind"),
    [pytest.param([], "demo", id="demo"), pytest.param(["--seed", "3"], "generated", id="seed")],
)
def test_data_made_for_the_reference_day_starts_the_clock_there_and_says_so(
    serve: Any, args: list[str], kind: str
) -> None:
    server = serve(*args)
    status, _, report = server.request("GET", "/report/timeEntries")
    assert status == 200 and report["time-entries"]
    assert max(e["date"] for e in report["time-entries"]) <= "2026-06-30"
    assert server.stop() == 0
    lines = server.drain(server.stderr).splitlines()
    assert lines[0].startswith(f"apollo-fake: {kind} data; the clock starts at 2026-06-30"), lines


def test_serve_imports_neither_faker_nor_a_second_server(serve: Any) -> None:
    # Start-up is a target (issue 5): faker is for generating data, which `serve`
    # does not do; and `serve` runs the one server the live server runs.
    served = serve("--quiet", launcher=[sys.executable, "-X", "importtime", *MODULE[1:]])
    assert served.request("GET", "/account")[0] == 200
    assert served.stop() == 0
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in Served.drain(served.stderr).splitlines()
        if line.startswith("import time:")
    }
    assert "apollo_fake.web" in imported  # the listing is read from the right stream
    assert "httptools" in imported
    assert not {"faker", "cheroot", "h11", "granian", "apollo_fake.generate"} & imported


def test_today_freezes_the_clock(serve: Any) -> None:
    server = serve("--quiet", "--today", "2026-06-30")
    project = json.loads(DEMO.read_text())["projects"][0]["id"]
    body = {"time-entry": {"seconds": "60"}}
    status, headers, created = server.request("POST", f"/projects/{project}/timeEntries", body)
    assert status == 201
    status, _, got = server.request("GET", headers["location"])
    assert status == 200
    entry = got["time-entry"]
    assert entry["id"] == created["time-entry-id"]
    # Frozen at a date: at its midnight, and it stays there.
    assert entry["created-at"] == "2026-06-30 00:00:00"
    assert entry["updated-at"] == "2026-06-30 00:00:00"
    assert entry["date"] == "2026-06-30"


def test_seed_and_entries_serve_generated_data(serve: Any) -> None:
    day = datetime.date(2012, 7, 31)
    expected = generate(7, 300, day)
    server = serve("--quiet", "--seed", "7", "--entries", "300", "--today", day.isoformat())
    status, _, account = server.request("GET", "/account")
    assert status == 200
    assert account["account"]["name"] == expected["account"]["name"]
    # Every kind of entry, over four adjacent six-month windows (the report's
    # maximum) reaching two years back: the generator spans less than that.
    windows = [
        ("2012-02-01", "2012-07-31"),
        ("2011-08-01", "2012-01-31"),
        ("2011-02-01", "2011-07-31"),
        ("2010-08-01", "2011-01-31"),
    ]
    kinds = "include_personal=1&include_projects=1&include_contacts=1&include_cases=1"
    seen: list[str] = []
    for first, last in windows:
        path = f"/report/timeEntries?{kinds}&include_deals=1&from={first}&to={last}"
        status, _, report = server.request("GET", path)
        assert status == 200, report
        seen += [e["id"] for e in report["time-entries"]]
    assert len(seen) == 300
    assert sorted(seen) == sorted(e["id"] for e in expected["time-entries"])


# --- serve: auth and rate limit ------------------------------------------------


def test_token_turns_auth_on(serve: Any) -> None:
    server = serve("--quiet", *SMALL_ARGS, "--token", "tok:11")
    status, headers, body = server.request("GET", "/account")
    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="Apollo API"'
    assert body["error"]["status"] == 401
    assert server.request("GET", "/account", headers=basic("other"))[0] == 401
    assert server.request("GET", "/account", headers=basic("tok"))[0] == 200


def test_token_of_a_user_not_in_the_data_is_a_one_line_error() -> None:
    result = run("serve", "--port", "0", "--quiet", *SMALL_ARGS, "--token", "tok:99")
    assert result.returncode in (1, 2)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("apollo-fake: error:")
    assert "99" in lines[0]


def test_rate_limit_answers_429_past_the_limit(serve: Any) -> None:
    server = serve("--quiet", *SMALL_ARGS, "--rate-limit", "2/60")
    assert server.request("GET", "/account")[0] == 200
    assert server.request("GET", "/account")[0] == 200
    status, headers, body = server.request("GET", "/account")
    assert status == 429
    assert body["error"]["status"] == 429
    assert int(headers["retry-after"]) >= 1


# --- serve: bad options --------------------------------------------------------


def _invalid_fixture(tmp_path: Path) -> str:
    path = tmp_path / "invalid.json"
    path.write_text(json.dumps({"users": [{"id": "1", "nick": "x"}]}))
    return str(path)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--port", "abc"], id="port-not-a-number"),
        pytest.param(["--port", "70000"], id="port-too-large"),
        pytest.param(["--today", "2012-13-01"], id="today-impossible"),
        pytest.param(["--rate-limit", "x"], id="rate-limit-malformed"),
        pytest.param(["--token", "nocolon"], id="token-without-user"),
        pytest.param(["--fixtures", "/no/such/file"], id="fixtures-missing"),
        pytest.param(["--fixtures", "INVALID"], id="fixtures-invalid"),
    ],
)
def test_bad_option_value_is_a_one_line_error(tmp_path: Path, args: list[str]) -> None:
    args = [_invalid_fixture(tmp_path) if a == "INVALID" else a for a in args]
    result = run("serve", "--quiet", *args, timeout=15)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("apollo-fake: error:")


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--port", str(port), "--quiet", *SMALL_ARGS, timeout=15)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("apollo-fake: error:")
    assert str(port) in lines[0]
    assert "in use" in lines[0]


# --- help ----------------------------------------------------------------------


@pytest.mark.parametrize("help", [["--help"], []], ids=["--help", "no-arguments"])
def test_plain_apollo_fake_shows_its_help(help: list[str]) -> None:
    result = run(*help)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Usage: apollo-fake [OPTIONS] COMMAND [ARGS]...\n")
    assert "Commands:" in result.stdout


@pytest.mark.parametrize("command", ["serve", "run"])
@pytest.mark.parametrize("token", ["", "  "], ids=["empty", "blank"])
def test_an_empty_control_token_is_a_usage_error(command: str, token: str) -> None:
    # It would leave the control API open while the user believes it closed.
    tail = ["--", "true"] if command == "run" else []
    result = run(command, "--port", "0", "--control-token", token, *tail)
    assert result.returncode == 2
    assert "--control-token" in result.stderr and "empty" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        pytest.param([], "Usage: apollo-fake [OPTIONS] COMMAND [ARGS]...", id="group"),
        pytest.param(["serve"], "Usage: apollo-fake serve [OPTIONS]", id="serve"),
        pytest.param(["generate"], "Usage: apollo-fake generate [OPTIONS]", id="generate"),
        pytest.param(["validate"], "Usage: apollo-fake validate [OPTIONS] FILE", id="validate"),
    ],
)
def test_help(args: list[str], usage: str) -> None:
    result = run(*args, "--help")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith(usage + "\n")
    if not args:
        for command in ("serve", "generate", "validate"):
            assert re.search(rf"^\s+{command}\s", result.stdout, re.M), result.stdout


# --- validate ------------------------------------------------------------------


def test_validate_accepts_the_small_fixture() -> None:
    result = run("validate", "fixtures/small.json")
    assert result.returncode == 0
    assert result.stdout.startswith("fixtures/small.json: ok")
    assert result.stderr == ""


def _small() -> dict[str, Any]:
    return json.loads(SMALL.read_text())


def _unknown_top_level_key() -> dict[str, Any]:
    doc = _small()
    doc["people"] = []
    return doc


def _duplicate_id() -> dict[str, Any]:
    doc = _small()
    doc["projects"].append({"id": "52", "name": "Again"})
    return doc


def _missing_user() -> dict[str, Any]:
    doc = _small()
    doc["time-entries"][0]["user-id"] = "99"
    return doc


def _task_with_both() -> dict[str, Any]:
    doc = _small()
    doc["tasks"][1]["project-id"] = "51"
    return doc


def _entry_disagreeing_with_its_task() -> dict[str, Any]:
    doc = _small()
    doc["time-entries"][0]["project-id"] = "52"  # entry 71 is on task 61 of project 51
    return doc


def _bad_billable() -> dict[str, Any]:
    doc = _small()
    doc["time-entries"][2]["billable"] = "yes"
    return doc


def _impossible_date() -> dict[str, Any]:
    doc = _small()
    doc["time-entries"][3]["date"] = "2012-02-30"
    return doc


def _two_problems() -> dict[str, Any]:
    doc = _small()
    doc["users"][1]["nick"] = "Amazing Grace"
    doc["time-entries"][9]["seconds"] = 600
    return doc


def _ten_problems() -> dict[str, Any]:
    # Five of the schema, a duplicate id and four dangling references.
    doc = _two_problems()
    doc["people"] = []
    doc["time-entries"][6]["date"] = "2012-02-30"
    doc["time-entries"][7]["billable"] = "sometimes"
    doc["projects"].append(dict(doc["projects"][0]))
    doc["projects"][0]["company-id"] = "39"
    doc["time-entries"][3]["user-id"] = "19"
    doc["time-entries"][5]["time-category-id"] = "29"
    doc["contacts"][0]["company-id"] = "39"
    return doc


TEN_POINTERS = [
    "/people",
    "/users/1/nick",
    "/time-entries/6/date",
    "/time-entries/7/billable",
    "/time-entries/9/seconds",
    "/projects/3/id",
    "/projects/0/company-id",
    "/time-entries/3/user-id",
    "/time-entries/5/time-category-id",
    "/contacts/0/company-id",
]


@pytest.mark.parametrize(
    ("make", "pointers"),
    [
        pytest.param(_ten_problems, TEN_POINTERS, id="ten-problems-in-one-pass"),
        pytest.param(_unknown_top_level_key, ["/people"], id="unknown-top-level-key"),
        pytest.param(_duplicate_id, ["/projects/3/id"], id="duplicate-id"),
        pytest.param(_missing_user, ["/time-entries/0/user-id"], id="missing-user"),
        pytest.param(_task_with_both, ["/tasks/1"], id="task-with-project-and-contact"),
        pytest.param(
            _entry_disagreeing_with_its_task, ["/time-entries/0"], id="entry-disagrees-with-task"
        ),
        pytest.param(_bad_billable, ["/time-entries/2/billable"], id="bad-billable"),
        pytest.param(_impossible_date, ["/time-entries/3/date"], id="impossible-date"),
        pytest.param(
            _two_problems,
            ["/users/1/nick", "/time-entries/9/seconds"],
            id="two-problems-two-lines",
        ),
    ],
)
def test_validate_reports_each_problem_with_its_pointer(
    tmp_path: Path, make: Any, pointers: list[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(make()))
    result = run("validate", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(pointers), result.stdout
    found = []
    for line in lines:
        assert line.startswith(f"{path}: "), line
        pointer, sep, message = line[len(f"{path}: ") :].partition(": ")
        assert sep and message, line
        found.append(pointer)
    assert sorted(found) == sorted(pointers)


def test_serve_names_the_first_problem_and_counts_all_the_others(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_ten_problems()))
    result = run("serve", "--port", "0", "--fixtures", str(path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"apollo-fake: error: invalid fixture data in {path}: /")
    assert "(and 9 more problems)" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_validate_reports_malformed_json_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"users": [')
    result = run("validate", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(f"{path}: ")
    assert "JSON" in lines[0]


# --- generate ------------------------------------------------------------------

GENERATE = ["generate", "--seed", "3", "--entries", "200", "--today", "2012-07-31"]


def test_generate_gives_the_same_bytes_every_time(tmp_path: Path) -> None:
    first = run_bytes(*GENERATE)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(b"{\n")
    assert run_bytes(*GENERATE).stdout == first.stdout
    out = tmp_path / "out.json"
    written = run_bytes(*GENERATE, "-o", str(out))
    assert written.returncode == 0, written.stderr
    assert written.stdout == b""
    assert out.read_bytes() == first.stdout


def test_generate_ignores_the_hash_seed() -> None:
    outputs = set()
    for hash_seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = run_bytes(*GENERATE, env=env)
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_generated_file_validates(tmp_path: Path) -> None:
    out = tmp_path / "generated.json"
    assert run_bytes(*GENERATE, "-o", str(out)).returncode == 0
    result = run("validate", str(out))
    assert result.returncode == 0, result.stdout
    assert "200 time-entries" in result.stdout


def test_demo_is_reproducible() -> None:
    # With no --today, generated data ends on the reference day, whatever the date.
    result = run_bytes("generate", "--seed", "1", "--entries", "2000")
    assert result.returncode == 0, result.stderr
    assert result.stdout == DEMO.read_bytes()


def _datetime_module_on(day: datetime.date) -> Any:
    """Return a stand-in for the datetime module whose clock says ``day``."""

    class Clock(datetime.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.datetime(day.year, day.month, day.day, 12, tzinfo=tz)

    class Day(datetime.date):
        @classmethod
        def today(cls) -> Any:
            return day

    shim = types.SimpleNamespace(**vars(datetime))
    shim.datetime, shim.date = Clock, Day
    return shim


def test_generate_gives_the_same_bytes_whatever_the_clock_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from apollo_fake import cli

    outputs = []
    for day in (datetime.date(2031, 1, 2), datetime.date(1999, 12, 31)):
        shim = _datetime_module_on(day)
        monkeypatch.setattr(cli, "datetime", shim)
        result = CliRunner().invoke(cli.cli, ["generate", "--seed", "4", "--entries", "50"])
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout_bytes)
    assert outputs[0] == outputs[1]
    assert b'"date": "2026-06-30"' in outputs[0] or b'"date":"2026-06-30"' in outputs[0]


def test_serve_keeps_collections_to_what_came_since_the_last_older_pass() -> None:
    # `serve` freezes what it loaded and, after each pass of an older generation,
    # what survived it: a pass then walks only new objects (the server's tail latency).
    script = """
import gc
from apollo_fake import cli
cli._keep_collector_passes_short()
loaded = gc.get_freeze_count()
kept = [{"n": [i]} for i in range(5000)]
gc.collect()
print(loaded > 0, gc.get_freeze_count() - loaded >= 10000, len(gc.get_objects(2)) < 1000)
before = gc.get_freeze_count()
more = [{"n": [i]} for i in range(5000)]
gc.collect(1)
print(gc.get_freeze_count() - before >= 10000, len(gc.get_objects(1)) < 1000)
print(gc.get_threshold()[0] >= 10000)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.split() == ["True"] * 6, done.stderr


# --- output files: every one is checked before anything starts ---------------------------


def _output_options() -> list[tuple[str, str]]:
    from apollo_fake import cli

    return [
        (command, option.opts[0])
        for command in ("serve", "run")
        for option in cli.cli.commands[command].params
        if isinstance(option.type, cli.OutputFile)
    ]


@pytest.mark.parametrize(("command", "flag"), _output_options())
def test_every_output_file_is_checked_before_anything_starts(
    tmp_path: Path, command: str, flag: str
) -> None:
    from apollo_fake import cli

    marker = tmp_path / "ran"
    extra = ["--tls"] if flag == "--tls-ca" else []
    tail = ["--", "touch", str(marker)] if command == "run" else []
    # No data to load: were the check missed, serve would fail on it, not serve for good.
    absent = ["--fixtures", str(tmp_path / "absent.json")]
    args = [command, "--port", "0", *absent, *extra, flag, str(tmp_path / "missing" / "out")]
    args += tail
    result = CliRunner().invoke(cli.cli, args)
    assert result.exit_code == 2, result.output
    assert flag in result.output and "does not exist" in result.output
    assert not marker.exists()
