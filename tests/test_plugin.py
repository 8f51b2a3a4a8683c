"""The pytest plugin, used the way a user uses it: a small test project run by pytest.

Each inner project runs in a pytest session of its own, in this process (a fresh
configuration and plugin manager, the plugin loaded by its entry point), or in a
subprocess where the test is about the process: xdist, threads left at the end,
start-up that fails or could hang.

Covers the fixtures (``apollo_fake``, ``apollo_client``, ``apollo_url``, the overridable
``apollo_baseline`` and ``apollo_strict``), the ``--apollo-*`` options and their ini keys,
the ``apollo`` marker, baselines built once per session, isolation between tests (one pair
of tests per kind of state), the contract-violation report (strict and not), and the live
server's robustness: no fixed ports, clear start failures, stopped at session end, xdist.
"""

from __future__ import annotations

import faulthandler
import json
import socket
import sys
import textwrap
import time
import warnings

import pytest

from conftest import SMALL

# Installed plugins the projects below do not use cost about a second per run (Faker's
# and Hypothesis' imports); disabling them keeps this file fast without touching ours.
FAST = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")

# Helpers every inner project gets, as a user would write them in a conftest.
INNER_CONFTEST = '''
import json
import urllib.error
import urllib.request

import pytest

# No proxy: the fake listens on 127.0.0.1 and a proxy from the environment would not.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url, method, path, body=None, headers=None):
    """Send one request over a real socket; return (status, decoded JSON body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path, data=data, method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with _OPENER.open(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def send():
    return call


@pytest.fixture
def http(apollo_url):
    return lambda method, path, body=None, headers=None: call(
        apollo_url, method, path, body, headers
    )


@pytest.fixture
def create(apollo_client):
    def create(parent="/projects/51", body=None):
        body = body or {"time-entry": {"seconds": 60}}
        r = apollo_client.post(parent + "/timeEntries", json=body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()["time-entry-id"]
    return create
'''

HOWS = [pytest.param("option", id="option"), pytest.param("ini", id="ini")]
SMALL_LISTING = ["80", "71", "72", "79"]  # GET /projects/51/timeEntries on small.json
BAD_CREATE = {"time-entry": {"seconds": 60, "time-category-id": "21"}}
RULE = (
    "is not a field of a time-entry request; the fields are category-id, user-id, notes, "
    "date, billable and seconds (time-category-id is the response's name: send category-id)"
)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest on the inner project in this process, the plugin loaded by entry point.

    The inner session gets a configuration and a plugin manager of its own (the
    plugin keeps its state in the config's stash), but shares the process: its
    threads, loggers and imported modules (pytester restores ``sys.modules``) and
    the warning filters, of which this suite's "error" is set aside for it. An inner
    session that hangs would hang this worker: after ``INNER_HANG_GUARD_S`` the
    process ends, with every thread's traceback on stderr.
    """
    faulthandler.dump_traceback_later(INNER_HANG_GUARD_S, exit=True, file=sys.__stderr__)
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()
            return pytester.runpytest_inprocess(*FAST, *args)
    finally:
        faulthandler.cancel_dump_traceback_later()


INNER_HANG_GUARD_S = 120  # far above any inner run: only a hang reaches it


def run_apart(pytester: pytest.Pytester, *args: str, timeout: float = 30) -> pytest.RunResult:
    """Run pytest on the inner project in a subprocess: for xdist and process-wide state."""
    return pytester.runpytest_subprocess(*FAST, *args, timeout=timeout)


def small_project(
    pytester: pytest.Pytester, today: str | None = "2012-07-31", strict: bool = False
) -> None:
    """Write small.json as data.json, an ini naming it, and the helper conftest."""
    pytester.makefile(".json", data=SMALL.read_text())
    lines = ["[pytest]", "apollo_fixtures = data.json"]
    if today is not None:
        lines.append(f"apollo_today = {today}")
    if strict:
        lines.append("apollo_strict = true")
    pytester.makeini("\n".join(lines) + "\n")
    pytester.makeconftest(INNER_CONFTEST)


def refused(url: str) -> bool:
    """Tell whether nothing listens at a base URL any more."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


# --- the fixtures ----------------------------------------------------------------


def test_apollo_fake_arranges_reads_and_records(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        """
        import datetime

        from apollo_fake.fake import Fake


        def test_arrange_and_read(apollo_fake, apollo_client):
            assert isinstance(apollo_fake, Fake)
            project = apollo_fake.add_project("Docs", company_id=31)
            entry = apollo_fake.add_entry(120, project_id=project.id, notes="arranged")
            assert (project.id, entry.id) == (54, 81)
            listing = apollo_client.get(f"/projects/{project.id}/timeEntries").get_json()
            assert [e["id"] for e in listing["time-entries"]] == ["81"]
            assert apollo_fake.entry(81).notes == "arranged"
            assert apollo_fake.entry(71).seconds == 3600
            assert apollo_fake.entry(999) is None


        def test_clock(apollo_fake, apollo_client):
            assert apollo_fake.clock.now() == datetime.datetime(2012, 7, 31)
            apollo_fake.clock.advance(86400)
            r = apollo_client.post("/projects/51/timeEntries", json={"time-entry": {"seconds": 1}})
            new = r.get_json()["time-entry-id"]
            assert apollo_fake.entry(int(new)).date == "2012-08-01"
            apollo_fake.clock.freeze(datetime.date(2012, 9, 3))
            assert apollo_fake.clock.today() == datetime.date(2012, 9, 3)


        def test_requests_of_this_test(apollo_fake, apollo_client):
            apollo_client.get("/account")
            apollo_client.post("/projects/51/timeEntries", json={"time-entry": {"seconds": 1}})
            apollo_client.get("/timeEntries/71")
            got = apollo_fake.requests("get")
            assert [r["path"] for r in got] == ["/account", "/timeEntries/71"]
            posted = apollo_fake.requests(path="/projects/*/timeEntries")
            assert [(r["method"], r["status"], r["body"]) for r in posted] == [
                ("POST", 201, {"time-entry": {"seconds": 1}})
            ]
        """
    )
    run(pytester).assert_outcomes(passed=3)


def test_apollo_client_and_apollo_url_reach_the_same_fake(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        """
        import re

        import pytest


        def test_client_is_the_fakes(apollo_fake, apollo_client):
            assert apollo_client is apollo_fake.client
            r = apollo_client.post("/projects/51/timeEntries", json={"time-entry": {"seconds": 5}})
            assert (r.status_code, r.get_json()) == (201, {"time-entry-id": "81"})
            assert apollo_fake.entry(81).project_id == 51


        def test_url_answers_over_http(apollo_fake, apollo_url, send):
            assert re.fullmatch(r"http://127\\.0\\.0\\.1:[0-9]+", apollo_url)
            assert apollo_url == apollo_fake.url
            status, body = send(apollo_url, "GET", "/account")
            assert (status, body["account"]["name"]) == (200, "Acme Ltd")
            status, body = send(apollo_url, "POST", "/v1/projects/51/timeEntries",
                                {"time-entry": {"seconds": 7}})
            assert (status, body) == (201, {"time-entry-id": "81"})
            assert apollo_fake.entry(81).seconds == 7
            assert [r["path"] for r in apollo_fake.requests()] == [
                "/account", "/v1/projects/51/timeEntries"
            ]


        @pytest.mark.apollo(today="2012-06-30")
        def test_other_baseline_other_server(apollo_url, send):
            status, _ = send(apollo_url, "GET", "/account")
            assert status == 200
        """
    )
    run(pytester).assert_outcomes(passed=3)


def test_settings_fixtures_can_be_overridden_in_a_conftest(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", data=SMALL.read_text())
    pytester.makeconftest(
        """
        from pathlib import Path

        import pytest

        from apollo_fake.testing import baseline


        @pytest.fixture(scope="session")
        def apollo_baseline():
            return baseline(fixtures=Path(__file__).parent / "data.json", today="2012-07-31")


        @pytest.fixture(scope="session")
        def apollo_strict():
            return True
        """
    )
    pytester.makepyfile(
        f"""
        def test_data_of_the_overridden_baseline(apollo_client):
            listing = apollo_client.get("/projects/51/timeEntries").get_json()
            assert [e["id"] for e in listing["time-entries"]] == {SMALL_LISTING!r}


        def test_strict_from_the_overridden_fixture(apollo_client):
            apollo_client.post("/projects/51/timeEntries", json={BAD_CREATE!r})
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_strict_from_the_overridden_fixture*"])


# --- options and ini keys --------------------------------------------------------


def test_default_data_is_the_packaged_demo(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import datetime


        def test_demo(apollo_fake):
            assert len(apollo_fake.state()["time-entries"]) == 2000
            # The demo's clock runs from its day at the real time of day: a run that
            # straddles midnight UTC sees the next day.
            assert apollo_fake.clock.today() in (datetime.date(2026, 6, 30),
                                                 datetime.date(2026, 7, 1))
            assert not apollo_fake.clock.frozen
        """
    )
    run(pytester).assert_outcomes(passed=1)


@pytest.mark.parametrize("how", HOWS)
def test_fixtures_file_is_loaded(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # The file sits beside the ini, the test in a subfolder run from there: an option's
    # path and an ini key's are both read from the rootdir, wherever pytest is invoked.
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "small.json").write_text(SMALL.read_text())
    pytester.makeini("[pytest]\n" + ("apollo_fixtures = data/small.json\n" if how == "ini" else ""))
    tests = pytester.path / "tests"
    tests.mkdir()
    (tests / "test_data.py").write_text(
        "def test_sees_file_entries(apollo_fake, apollo_client):\n"
        "    listing = apollo_client.get('/projects/51/timeEntries').get_json()\n"
        f"    assert [e['id'] for e in listing['time-entries']] == {SMALL_LISTING!r}\n"
        "    assert apollo_fake.entry(71).notes == 'Working hard'\n"
        "    assert len(apollo_fake.state()['time-entries']) == 10\n"
    )
    monkeypatch.chdir(tests)
    args = ["--apollo-fixtures", "data/small.json"] if how == "option" else []
    run(pytester, *args).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "ini", "named"),
    [
        pytest.param(["--apollo-today", "2012-13-45"], "", "--apollo-today", id="impossible-date"),
        pytest.param([], "apollo_today = 31/07/2012", "apollo_today", id="ini-date"),
        pytest.param(["--apollo-seed", "abc"], "", "--apollo-seed", id="seed-not-a-number"),
        pytest.param(["--apollo-entries", "-3"], "", "--apollo-entries", id="negative-entries"),
        pytest.param(["--apollo-fixtures", "nope.json"], "", "--apollo-fixtures", id="no-file"),
    ],
)
def test_a_bad_setting_is_one_usage_error_at_start_up(
    pytester: pytest.Pytester, args: list[str], ini: str, named: str
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(
        "def test_one(apollo_fake): pass\n\ndef test_two(apollo_fake): pass\n"
    )
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: apollo-fake:")]
    assert len(errors) == 1 and named in errors[0], result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "passed" not in result.stdout.str()


BAD_MARKERS = [
    ("typo", 'fixture="data.json"', "fixture: is not an argument"),
    ("positional", '"data.json"', "takes keyword arguments only"),
    ("bad-date", 'today="2012-13-45"', "today: '2012-13-45' is not a date"),
    ("no-file", 'fixtures="missing.json"', "fixtures: there is no file"),
    ("negative-seed", "seed=-1", "seed: -1 is not a whole number"),
    ("tokens-not-ids", 'tokens={"t": "11"}', "tokens:"),
    ("rate-limit-not-a-pair", "rate_limit=100", "rate_limit:"),
    ("strict-not-a-bool", 'strict="yes"', "strict:"),
]


# Every bad marker serially; under xdist, whose workers report a collection error
# their own way, one of them: the message is made the same way for each.
@pytest.mark.parametrize(
    ("marker", "said", "workers"),
    [pytest.param(m, said, [], id=f"serial-{name}") for name, m, said in BAD_MARKERS]
    + [pytest.param(BAD_MARKERS[0][1], BAD_MARKERS[0][2], ["-n", "2"], id="xdist-typo")],
)
def test_a_bad_marker_is_one_collection_error_naming_the_test(
    pytester: pytest.Pytester, marker: str, said: str, workers: list[str]
) -> None:
    small_project(pytester)
    pytester.makepyfile(
        test_marked=f"import pytest\n\n@pytest.mark.apollo({marker})\n"
        "def test_marked(apollo_fake): pass\n\ndef test_plain(apollo_fake): pass\n"
    )
    result = run(pytester, *workers)
    # Serially pytest stops at a collection error; xdist reports it as a failed run.
    assert result.ret in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.TESTS_FAILED)
    output = result.stdout.str() + result.stderr.str()
    assert f"test_marked.py::test_marked: apollo marker: {said}" in output, output
    # One error, for the one module (its text is repeated in the summary, in full under CI).
    assert result.parseoutcomes().get("errors") == 1, output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert "passed" not in result.stdout.str()


def test_a_marker_reads_a_relative_path_from_its_test_file_and_settings_from_the_rootdir(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "small.json").write_text(SMALL.read_text())
    pytester.makeini("[pytest]\napollo_fixtures = data/small.json\napollo_today = 2012-07-31\n")
    sub = pytester.path / "tests" / "deeper"
    sub.mkdir(parents=True)
    (sub / "mine.json").write_text(json.dumps({"projects": [{"id": "9"}]}))
    (sub / "test_paths.py").write_text(
        "import pytest\n\n"
        "def test_session_file(apollo_fake):\n"
        "    assert len(apollo_fake.state()['time-entries']) == 10\n\n"
        "@pytest.mark.apollo(fixtures='mine.json')\n"
        "def test_marker_file(apollo_fake):\n"
        "    assert [p['id'] for p in apollo_fake.state()['projects']] == ['9']\n"
    )
    monkeypatch.chdir(sub)
    run(pytester, "--apollo-fixtures", "data/small.json").assert_outcomes(passed=2)


GENERATED = """
    import datetime

    from apollo_fake.fixtures import build, document
    from apollo_fake.generate import generate


    def test_generated_from_the_seed(apollo_fake):
        state = apollo_fake.state()
        assert len(state["time-entries"]) == 7
        assert state == document(build(generate(3, 7, datetime.date(2024, 10, 31))))
"""


@pytest.mark.parametrize("how", HOWS)
def test_seed_and_entries_generate_the_data(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(GENERATED)
    if how == "ini":
        pytester.makeini(
            "[pytest]\napollo_seed = 3\napollo_entries = 7\napollo_today = 2024-10-31\n"
        )
        args: list[str] = []
    else:
        args = ["--apollo-seed", "3", "--apollo-entries", "7", "--apollo-today", "2024-10-31"]
    run(pytester, *args).assert_outcomes(passed=1)


TODAY_TESTS = """
    import datetime


    def test_created_on_today(apollo_fake, apollo_client):
        assert apollo_fake.clock.frozen
        r = apollo_client.post("/projects/51/timeEntries", json={"time-entry": {"seconds": 1}})
        entry = apollo_client.get("/timeEntries/" + r.get_json()["time-entry-id"]).get_json()
        assert entry["time-entry"]["date"] == "2012-06-30"
        assert entry["time-entry"]["created-at"] == "2012-06-30 00:00:00"


    def test_report_window_ends_today(apollo_client):
        # Six months back from 2012-06-30: 79 (2011-12-15) and the July entries fall out.
        report = apollo_client.get("/report/timeEntries").get_json()
        assert [e["id"] for e in report["time-entries"]] == ["73", "74"]
"""


@pytest.mark.parametrize("how", HOWS)
def test_today_freezes_the_clock(pytester: pytest.Pytester, how: str) -> None:
    small_project(pytester, today="2012-06-30" if how == "ini" else None)
    pytester.makepyfile(TODAY_TESTS)
    args = ["--apollo-today", "2012-06-30"] if how == "option" else []
    run(pytester, *args).assert_outcomes(passed=2)


def test_option_wins_over_ini_key(pytester: pytest.Pytester) -> None:
    small_project(pytester, today="2011-01-01")
    pytester.makepyfile(TODAY_TESTS)
    run(pytester, "--apollo-today", "2012-06-30").assert_outcomes(passed=2)


@pytest.mark.parametrize("how", HOWS)
def test_strict_fails_a_violating_test(pytester: pytest.Pytester, how: str) -> None:
    small_project(pytester, strict=how == "ini")
    pytester.makepyfile(
        f"""
        def test_violates(apollo_client):
            r = apollo_client.post("/projects/51/timeEntries", json={BAD_CREATE!r})
            assert r.status_code == 422


        def test_behaves(apollo_client):
            assert apollo_client.get("/account").status_code == 200
        """
    )
    result = run(pytester, *(["--apollo-strict"] if how == "option" else []))
    result.assert_outcomes(passed=2, errors=1, warnings=0)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_violates*"])


# --- the marker ------------------------------------------------------------------


def test_marker_fixtures_file_and_inline_document(pytester: pytest.Pytester) -> None:
    # No session settings: unmarked tests get the demo data. The marker's file path is
    # relative to the test file, which is in a subfolder here.
    sub = pytester.path / "sub"
    sub.mkdir()
    (sub / "data.json").write_text(SMALL.read_text())
    (sub / "test_marked.py").write_text(
        "import pytest\n"
        "\n"
        "INLINE = {'account': {'id': '1', 'name': 'Solo'},\n"
        "          'users': [{'id': '5', 'first-name': 'Sol'}],\n"
        "          'projects': [{'id': '9', 'name': 'Only'}]}\n"
        "\n"
        "@pytest.mark.apollo(fixtures='data.json')\n"
        "def test_file(apollo_fake, apollo_client):\n"
        "    listing = apollo_client.get('/projects/51/timeEntries').get_json()\n"
        f"    assert [e['id'] for e in listing['time-entries']] == {SMALL_LISTING!r}\n"
        "\n"
        "@pytest.mark.apollo(fixtures=INLINE)\n"
        "def test_inline(apollo_fake, apollo_client):\n"
        "    assert apollo_fake.state()['projects'] == [\n"
        "        {'id': '9', 'name': 'Only', 'company-id': None}]\n"
        "    r = apollo_client.post('/projects/9/timeEntries',\n"
        "                           json={'time-entry': {'seconds': 1}})\n"
        "    assert r.get_json() == {'time-entry-id': '1'}\n"
        "    assert apollo_fake.entry(1).user_id == 5\n"
        "\n"
        "def test_unmarked_is_the_demo(apollo_fake):\n"
        "    assert len(apollo_fake.state()['time-entries']) == 2000\n"
    )
    run(pytester, "sub").assert_outcomes(passed=3)


def test_marker_seed_and_entries(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        """
        import datetime

        import pytest

        from apollo_fake.fixtures import build, document
        from apollo_fake.generate import generate


        @pytest.mark.apollo(seed=3, entries=4, today="2024-10-31")
        def test_generated(apollo_fake):
            state = apollo_fake.state()
            assert len(state["time-entries"]) == 4
            assert state == document(build(generate(3, 4, datetime.date(2024, 10, 31))))


        def test_unmarked_keeps_the_file(apollo_fake):
            assert len(apollo_fake.state()["time-entries"]) == 10
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_marker_today(pytester: pytest.Pytester) -> None:
    small_project(pytester, today=None)
    pytester.makepyfile(
        "import pytest\n\npytestmark = pytest.mark.apollo(today='2012-06-30')\n"
        + TODAY_TESTS.replace("\n    ", "\n")
    )
    run(pytester).assert_outcomes(passed=2)


def test_marker_tokens_require_basic_auth(pytester: pytest.Pytester) -> None:
    # Strict mode on: a 401 is the fake's configured auth, not a broken contract.
    small_project(pytester, strict=True)
    pytester.makepyfile(
        """
        import pytest

        ENTRY = {"time-entry": {"seconds": 60}}


        @pytest.mark.apollo(tokens={"tok-ada": 11, "tok-grace": 12})
        def test_tokens(apollo_fake, apollo_client):
            r = apollo_client.post("/projects/51/timeEntries", json=ENTRY)
            assert r.status_code == 401
            assert r.headers["WWW-Authenticate"] == 'Basic realm="Apollo API"'
            r = apollo_client.post("/projects/51/timeEntries", json=ENTRY, auth=("tok-eve", "X"))
            assert r.status_code == 401
            r = apollo_client.post("/projects/51/timeEntries", json=ENTRY, auth=("tok-grace", "X"))
            assert r.status_code == 201
            assert apollo_fake.entry(int(r.get_json()["time-entry-id"])).user_id == 12
        """
    )
    run(pytester).assert_outcomes(passed=1, warnings=0)


def test_marker_strict_true_in_a_lenient_session(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        f"""
        import pytest


        @pytest.mark.apollo(strict=True)
        def test_marked_strict(apollo_client):
            apollo_client.post("/projects/51/timeEntries", json={BAD_CREATE!r})


        def test_lenient(apollo_client):
            apollo_client.post("/projects/51/timeEntries", json={BAD_CREATE!r})
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1, warnings=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_marked_strict*"])


def test_marker_strict_false_in_a_strict_session(pytester: pytest.Pytester) -> None:
    small_project(pytester, strict=True)
    pytester.makepyfile(
        f"""
        import pytest


        @pytest.mark.apollo(strict=False)
        def test_bad_on_purpose(apollo_client):
            apollo_client.post("/projects/51/timeEntries", json={BAD_CREATE!r})
        """
    )
    result = run(pytester)
    # strict=False opts the test out: it breaks the contract on purpose, so no report at all.
    result.assert_outcomes(passed=1, errors=0, warnings=0)
    result.stdout.no_fnmatch_line("*ContractWarning*")


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        """
        import pytest


        @pytest.mark.apollo(today="2012-06-30", strict=True)
        def test_marked(apollo_fake):
            assert apollo_fake.clock.today().isoformat() == "2012-06-30"
        """
    )
    run(pytester, "--strict-markers").assert_outcomes(passed=1)
    run(pytester, "--markers").stdout.fnmatch_lines(["@pytest.mark.apollo(fixtures=None, *"])


def test_each_baseline_is_built_once_per_session(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makeconftest(
        INNER_CONFTEST
        + """

from apollo_fake.testing import Baseline

BUILDS = []
_build = Baseline.build


def _counting_build(self):
    BUILDS.append(self)
    return _build(self)


Baseline.build = _counting_build


@pytest.fixture
def builds():
    return BUILDS
"""
    )
    pytester.makepyfile(
        """
        import pytest

        SEEN = {}
        OTHER_DAY = pytest.mark.apollo(today="2012-06-30")


        def test_plain_first(apollo_fake, apollo_url):
            SEEN["plain"] = (id(apollo_fake), apollo_url)


        def test_plain_again(apollo_fake, apollo_url):
            assert (id(apollo_fake), apollo_url) == SEEN["plain"]


        @OTHER_DAY
        def test_marked_first(apollo_fake, apollo_url, send):
            SEEN["marked"] = (id(apollo_fake), apollo_url)
            assert id(apollo_fake) != SEEN["plain"][0]
            # No fixed port: each baseline's server has its own, and both answer.
            assert apollo_url != SEEN["plain"][1]
            assert send(SEEN["plain"][1], "GET", "/account")[0] == 200
            assert send(apollo_url, "GET", "/account")[0] == 200


        @OTHER_DAY
        def test_marked_again(apollo_fake):
            assert id(apollo_fake) == SEEN["marked"][0]


        @pytest.mark.apollo(strict=True)
        def test_strict_alone_keeps_the_session_data(apollo_fake):
            assert id(apollo_fake) == SEEN["plain"][0]


        def test_two_builds_in_all(builds):
            assert len(builds) == 2
        """
    )
    run(pytester).assert_outcomes(passed=6)


# --- isolation: each pair changes a kind of state, then checks it is back --------


def test_isolation_of_entities_created_through_the_client(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        f"""
        def test_first_creates(apollo_client, create):
            assert create() == "81"
            assert create("/contacts/41") == "82"
            assert create("/tasks/61") == "83"


        def test_second_sees_none_of_them(apollo_client):
            for id in ("81", "82", "83"):
                assert apollo_client.get("/timeEntries/" + id).status_code == 404
            listing = apollo_client.get("/projects/51/timeEntries").get_json()
            assert [e["id"] for e in listing["time-entries"]] == {SMALL_LISTING!r}
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_isolation_of_entities_created_over_the_socket(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        f"""
        ENTRY = {{"time-entry": {{"seconds": 60}}}}


        def test_first_creates(http):
            created = http("POST", "/projects/51/timeEntries", ENTRY)
            assert created == (201, {{"time-entry-id": "81"}})
            assert http("POST", "/v1/contacts/41/timeEntries", ENTRY)[0] == 201


        def test_second_sees_none_of_them(http):
            assert http("GET", "/timeEntries/81")[0] == 404
            assert http("GET", "/timeEntries/82")[0] == 404
            status, listing = http("GET", "/projects/51/timeEntries")
            assert [e["id"] for e in listing["time-entries"]] == {SMALL_LISTING!r}
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_isolation_of_entities_arranged_on_the_fake(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        """
        def test_first_arranges(apollo_fake):
            user = apollo_fake.add_user("Eve")
            category = apollo_fake.add_category("Travel")
            project = apollo_fake.add_project("Docs")
            task = apollo_fake.add_task("Write", project_id=project.id)
            apollo_fake.add_entry(60, task_id=task.id, user_id=user.id, category_id=category.id)
            assert (user.id, category.id, project.id, task.id) == (13, 23, 54, 63)
            assert apollo_fake.entry(81) is not None


        def test_second_sees_none_of_them(apollo_fake, apollo_client):
            assert apollo_fake.entry(81) is None
            assert apollo_client.get("/projects/54/timeEntries").status_code == 404
            assert apollo_client.get("/tasks/63/timeEntries").status_code == 404
            account = apollo_client.get("/account").get_json()["account"]
            assert [c["id"] for c in account["time-categories"]] == ["21", "22"]
            assert [u["id"] for u in apollo_fake.state()["users"]] == ["11", "12"]
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_isolation_of_updates_and_deletes(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        """
        def test_first_changes(apollo_client, http):
            r = apollo_client.put("/timeEntries/71", json={"time-entry": {"notes": "changed"}})
            assert r.status_code == 200
            assert http("DELETE", "/timeEntries/72") == (200, {})
            assert http("PUT", "/timeEntries/80", {"time-entry": {"seconds": 1}}) == (200, {})
            assert apollo_client.delete("/timeEntries/79").status_code == 200


        def test_second_sees_the_file_again(apollo_fake, apollo_client):
            entry = apollo_client.get("/timeEntries/71").get_json()["time-entry"]
            assert (entry["notes"], entry["updated-at"]) == ("Working hard", "2012-07-05 00:00:00")
            assert apollo_fake.entry(80).seconds == 600
            assert apollo_client.get("/timeEntries/72").status_code == 200
            assert apollo_client.get("/timeEntries/79").status_code == 200
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_isolation_of_ids_handed_out(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        """
        FIRST = {}


        def test_first_hands_out_ids(apollo_fake, create):
            FIRST["entry"] = create()
            assert create() == "82"
            FIRST["project"] = apollo_fake.add_project("Docs").id
            FIRST["user"] = apollo_fake.add_user("Eve").id
            # An explicit high id moves the counter; the next test must not inherit that.
            apollo_fake.add_entry(60, project_id=51, id=5000)
            assert create() == "5001"


        def test_second_gets_the_same_ids(apollo_fake, create):
            assert FIRST["entry"] == "81"
            assert create() == FIRST["entry"]
            assert apollo_fake.add_project("Docs").id == FIRST["project"]
            assert apollo_fake.add_user("Eve").id == FIRST["user"]
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_isolation_of_the_clock(pytester: pytest.Pytester) -> None:
    small_project(pytester, today=None)
    pytester.makepyfile(
        """
        import datetime

        import pytest

        DAY = pytest.mark.apollo(today="2012-07-31")


        def test_first_freezes_a_running_clock(apollo_fake):
            apollo_fake.clock.freeze(datetime.datetime(2030, 1, 1, 12))
            assert apollo_fake.clock.today() == datetime.date(2030, 1, 1)


        def test_second_runs_on_real_time(apollo_fake):
            assert not apollo_fake.clock.frozen
            real = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            assert abs((apollo_fake.clock.now() - real).total_seconds()) < 60


        @DAY
        def test_first_moves_a_frozen_clock(apollo_fake):
            apollo_fake.clock.advance(3 * 86400)
            apollo_fake.clock.unfreeze()
            assert apollo_fake.clock.today() == datetime.date(2012, 8, 3)


        @DAY
        def test_second_is_frozen_on_its_day(apollo_fake, apollo_client, create):
            assert apollo_fake.clock.frozen
            assert apollo_fake.clock.now() == datetime.datetime(2012, 7, 31)
            entry = apollo_client.get("/timeEntries/" + create()).get_json()["time-entry"]
            assert (entry["date"], entry["created-at"]) == ("2012-07-31", "2012-07-31 00:00:00")
        """
    )
    run(pytester).assert_outcomes(passed=4)


def test_isolation_of_rate_windows(pytester: pytest.Pytester) -> None:
    # The marker's rate_limit gives the test a fake with the vendor-style limit; the
    # allowance one test uses up, over either transport, is whole again in the next.
    small_project(pytester)
    pytester.makepyfile(
        """
        import pytest

        LIMITED = pytest.mark.apollo(tokens={"tok-ada": 11}, rate_limit=(2, 300))
        AUTH = {"Authorization": "Basic dG9rLWFkYTpY"}  # tok-ada:X


        @LIMITED
        def test_first_uses_the_allowance(apollo_client, http):
            assert apollo_client.get("/account", headers=AUTH).status_code == 200
            assert http("GET", "/account", headers=AUTH)[0] == 200
            r = apollo_client.get("/account", headers=AUTH)
            assert r.status_code == 429
            assert 1 <= int(r.headers["Retry-After"]) <= 300


        @LIMITED
        def test_second_has_it_whole(apollo_client, http):
            assert http("GET", "/account", headers=AUTH)[0] == 200
            assert apollo_client.get("/account", headers=AUTH).status_code == 200
            assert apollo_client.get("/account", headers=AUTH).status_code == 429
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_isolation_of_tokens(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        """
        import pytest

        ENTRY = {"time-entry": {"seconds": 60}}
        TOKENS = pytest.mark.apollo(tokens={"tok-grace": 12})


        @TOKENS
        def test_first_needs_a_token(apollo_fake, apollo_client):
            assert apollo_client.post("/projects/51/timeEntries", json=ENTRY).status_code == 401
            r = apollo_client.post("/projects/51/timeEntries", json=ENTRY, auth=("tok-grace", "X"))
            assert r.status_code == 201


        def test_second_needs_none(apollo_fake, apollo_client):
            r = apollo_client.post("/projects/51/timeEntries", json=ENTRY)
            assert r.get_json() == {"time-entry-id": "81"}
            assert apollo_fake.entry(81).user_id == 11


        @TOKENS
        def test_third_needs_a_token_again(apollo_fake, apollo_client):
            assert apollo_client.post("/projects/51/timeEntries", json=ENTRY).status_code == 401
            assert apollo_fake.entry(81) is None
        """
    )
    run(pytester).assert_outcomes(passed=3)


def test_isolation_of_recorded_requests(pytester: pytest.Pytester) -> None:
    # Strict session: the first test's violation must not fail the second one.
    small_project(pytester, strict=True)
    pytester.makepyfile(
        """
        import pytest


        @pytest.mark.apollo(strict=False)
        def test_first_makes_requests(apollo_fake, apollo_client, http):
            apollo_client.get("/account")
            http("GET", "/timeEntries/71")
            apollo_client.get("/nope")
            assert [(r["method"], r["path"], r["status"]) for r in apollo_fake.requests()] == [
                ("GET", "/account", 200),
                ("GET", "/timeEntries/71", 200),
                ("GET", "/nope", 404),
            ]


        def test_second_starts_with_none(apollo_fake):
            assert apollo_fake.requests() == []
            assert list(apollo_fake.journal) == []
            assert apollo_fake.violations() == []
        """
    )
    run(pytester).assert_outcomes(passed=2, errors=0, warnings=0)



def test_apollo_server_serves_fixtures_of_broader_scopes(pytester: pytest.Pytester) -> None:
    # apollo_url is per test (a module fixture asking for it is a ScopeMismatch);
    # apollo_server is the same fake for the session, restored before each test.
    small_project(pytester)
    pytester.makepyfile(
        f"""
        import pytest

        from conftest import call

        ENTRY = {{"time-entry": {{"seconds": 60}}}}
        SEEN = []


        @pytest.fixture(scope="session")
        def base_url(apollo_server):
            SEEN.append(apollo_server.url)
            return apollo_server.url


        @pytest.fixture(scope="module")
        def post(base_url):
            return lambda path, body: call(base_url, "POST", path, body)


        def test_first_creates(apollo_fake, apollo_url, post):
            assert apollo_url == SEEN[0]
            assert post("/projects/51/timeEntries", ENTRY) == (201, {{"time-entry-id": "81"}})
            assert [r["method"] for r in apollo_fake.requests()] == ["POST"]


        def test_second_starts_from_the_baseline(apollo_fake, apollo_client, post):
            assert apollo_fake.entry(81) is None and apollo_fake.requests() == []
            assert post("/projects/51/timeEntries", ENTRY) == (201, {{"time-entry-id": "81"}})
            listing = apollo_client.get("/projects/51/timeEntries").get_json()
            assert [e["id"] for e in listing["time-entries"]] == ["81", *{SMALL_LISTING!r}]


        def test_the_same_server_all_session(apollo_server, base_url):
            assert SEEN == [base_url] and apollo_server.url == base_url
        """
    )
    run(pytester).assert_outcomes(passed=3)


# --- isolation from what a test left running ------------------------------------
# Each first test leaves a request in flight when it ends; each second one waits
# until it is over (a bounded wait, a hang guard), then finds none of its doing in
# its data or its journal.

LEFT_OVER = f"""
    import time


    def held(fake):
        # Until the fake is answering the request (a bounded wait: a hang guard).
        deadline = time.monotonic() + 10
        while fake.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        return fake.in_flight > 0


    def clean(apollo_fake, apollo_client):
        assert apollo_fake.entry(81) is None
        listing = apollo_client.get("/projects/51/timeEntries").get_json()
        assert [e["id"] for e in listing["time-entries"]] == {SMALL_LISTING!r}
        assert [r["method"] for r in apollo_fake.requests()] == ["GET"]
"""


def test_a_delayed_request_its_client_gave_up_on_lands_in_no_later_test(
    pytester: pytest.Pytester,
) -> None:
    small_project(pytester)
    pytester.makepyfile(
        textwrap.dedent(LEFT_OVER)
        + textwrap.dedent(
            """
            import socket
            import urllib.request

            import pytest

            from conftest import _OPENER


            def test_first_gives_up(apollo_fake, apollo_url):
                apollo_fake.faults.add("/projects/*", "POST", delay_ms=3000)
                request = urllib.request.Request(
                    apollo_url + "/projects/51/timeEntries", method="POST",
                    data=b'{"time-entry": {"seconds": 60}}',
                    headers={"Content-Type": "application/json"},
                )
                with pytest.raises((TimeoutError, socket.timeout, OSError)):
                    _OPENER.open(request, timeout=0.2)


            def test_second_sees_none_of_it(apollo_fake, apollo_client):
                assert apollo_fake.wait_idle(10)
                clean(apollo_fake, apollo_client)
            """
        )
    )
    run(pytester).assert_outcomes(passed=2)


def test_a_delayed_request_on_an_abandoned_connection_lands_in_no_later_test(
    pytester: pytest.Pytester,
) -> None:
    small_project(pytester)
    pytester.makepyfile(
        textwrap.dedent(LEFT_OVER)
        + textwrap.dedent(
            """
            import socket


            def test_first_abandons(apollo_fake, apollo_url):
                apollo_fake.faults.add("/projects/*", "POST", delay_ms=3000)
                host, port = apollo_url.split("//")[1].rsplit(":", 1)
                body = b'{"time-entry": {"seconds": 60}}'
                with socket.create_connection((host, int(port)), timeout=5) as sock:
                    sock.sendall(
                        b"POST /projects/51/timeEntries HTTP/1.1\\r\\nHost: x\\r\\n"
                        b"Content-Type: application/json\\r\\n"
                        b"Content-Length: %d\\r\\n\\r\\n%s" % (len(body), body)
                    )
                    assert held(apollo_fake)  # then the socket goes, unread


            def test_second_sees_none_of_it(apollo_fake, apollo_client):
                assert apollo_fake.wait_idle(10)
                clean(apollo_fake, apollo_client)
            """
        )
    )
    run(pytester).assert_outcomes(passed=2)


def test_a_body_still_arriving_when_its_test_ends_writes_nothing(
    pytester: pytest.Pytester,
) -> None:
    # No delay: the request waits for the rest of its body, which comes after the reset.
    small_project(pytester)
    pytester.makepyfile(
        textwrap.dedent(LEFT_OVER)
        + textwrap.dedent(
            """
            import json
            import socket

            LEFT = {}
            BODY = b'{"time-entry": {"seconds": 60}}'


            def test_first_sends_half(apollo_fake, apollo_url):
                host, port = apollo_url.split("//")[1].rsplit(":", 1)
                sock = LEFT["sock"] = socket.create_connection((host, int(port)), timeout=5)
                sock.sendall(
                    b"POST /projects/51/timeEntries HTTP/1.1\\r\\nHost: x\\r\\n"
                    b"Connection: close\\r\\nContent-Type: application/json\\r\\n"
                    b"Content-Length: %d\\r\\n\\r\\n%s" % (len(BODY), BODY[:10])
                )
                assert held(apollo_fake)


            def test_second_sees_none_of_it(apollo_fake, apollo_client):
                with LEFT.pop("sock") as sock:
                    sock.sendall(BODY[10:])
                    answer = b""
                    while chunk := sock.recv(65536):
                        answer += chunk
                head, _, body = answer.partition(b"\\r\\n\\r\\n")
                assert head.startswith(b"HTTP/1.1 503"), head
                assert json.loads(body)["error"]["status"] == 503
                assert apollo_fake.wait_idle(10)
                clean(apollo_fake, apollo_client)
            """
        )
    )
    run(pytester).assert_outcomes(passed=2)


@pytest.mark.parametrize("way", ["client", "mock"])
def test_a_thread_the_test_left_calling_writes_into_no_later_test(
    pytester: pytest.Pytester, way: str
) -> None:
    # In process: the test client from a thread, and apollo_mock's requests (the app is
    # called in the caller's thread); the thread outlives its test.
    small_project(pytester)
    post = {
        "client": 'apollo_client.post("/projects/51/timeEntries", json=ENTRY).status_code',
        "mock": 'requests.post(BASE + "/projects/51/timeEntries", json=ENTRY).status_code',
    }[way]
    pytester.makepyfile(
        textwrap.dedent(LEFT_OVER)
        + textwrap.dedent(
            """
            import threading

            import pytest
            import requests

            BASE = "https://api.apollohq.com"
            ENTRY = {"time-entry": {"seconds": 60}}
            LEFT = {}


            @pytest.fixture
            def way(request):
                if "THE_WAY" == "mock":
                    return request.getfixturevalue("apollo_mock")
                return None


            def test_first_leaves_a_thread(apollo_fake, apollo_client, way):
                apollo_fake.faults.add("/projects/*", "POST", delay_ms=3000)

                def keep_calling():
                    LEFT["status"] = THE_CALL

                thread = LEFT["thread"] = threading.Thread(target=keep_calling)
                thread.start()
                assert held(apollo_fake)


            def test_second_sees_none_of_it(apollo_fake, apollo_client):
                thread = LEFT["thread"]
                thread.join(10)
                assert not thread.is_alive()
                assert LEFT["status"] == 503
                clean(apollo_fake, apollo_client)
            """
        )
        .replace("THE_WAY", way)
        .replace("THE_CALL", post)
    )
    run(pytester).assert_outcomes(passed=2)


# --- contract violations ---------------------------------------------------------

VIOLATING = {
    "client": f"""
        def test_sends_the_response_field_name(apollo_client):
            r = apollo_client.post("/projects/51/timeEntries", json={BAD_CREATE!r})
            assert r.status_code == 422
        """,
    "socket": f"""
        def test_sends_the_response_field_name(http):
            assert http("POST", "/projects/51/timeEntries", {BAD_CREATE!r})[0] == 422
        """,
}
TRANSPORTS = [pytest.param("client", id="client"), pytest.param("socket", id="socket")]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_strict_report_fails_at_teardown(pytester: pytest.Pytester, transport: str) -> None:
    small_project(pytester, strict=True)
    pytester.makepyfile(test_contract=VIOLATING[transport])
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1, warnings=0)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_sends_the_response_field_name _*",
            "apollo-fake: the client broke the contract in 1 request:",
            "POST /projects/51/timeEntries -> 422: The time entry has invalid values.",
            f"    time-entry.time-category-id: {RULE}",
        ]
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_lenient_report_is_a_warning(pytester: pytest.Pytester, transport: str) -> None:
    small_project(pytester)
    pytester.makepyfile(test_contract=VIOLATING[transport])
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=0, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*= warnings summary =*",
            "test_contract.py::test_sends_the_response_field_name",
            "*: ContractWarning: apollo-fake: the client broke the contract in 1 request:",
            "  POST /projects/51/timeEntries -> 422: The time entry has invalid values.",
            f"      time-entry.time-category-id: {RULE}",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown*")


def test_expect_errors_covers_only_its_block(pytester: pytest.Pytester) -> None:
    small_project(pytester, strict=True)
    pytester.makepyfile(
        f"""
        def test_bad_on_purpose(apollo_fake, apollo_client, http):
            with apollo_fake.expect_errors():
                r = apollo_client.post("/projects/51/timeEntries", json={BAD_CREATE!r})
                assert r.status_code == 422
                assert http("GET", "/nope")[0] == 404
            assert apollo_client.get("/account").status_code == 200


        def test_bad_after_the_block(apollo_fake, apollo_client):
            with apollo_fake.expect_errors():
                apollo_client.delete("/account")
            apollo_client.get("/nope/after")
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1, warnings=0)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_bad_after_the_block*",
            "apollo-fake: the client broke the contract in 1 request:",
            "GET /nope/after -> 404: No call of the API matches GET /nope/after.",
        ]
    )
    result.stdout.no_fnmatch_line("*DELETE /account*")
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_bad_on_purpose*")


def test_data_404_is_no_violation(pytester: pytest.Pytester) -> None:
    small_project(pytester, strict=True)
    pytester.makepyfile(
        """
        ENTRY = {"time-entry": {"seconds": 60}}


        def test_missing_things(apollo_client, http):
            assert apollo_client.get("/timeEntries/999").status_code == 404
            assert apollo_client.put("/timeEntries/999", json=ENTRY).status_code == 404
            assert apollo_client.delete("/timeEntries/999").status_code == 404
            assert apollo_client.post("/projects/999/timeEntries", json=ENTRY).status_code == 404
            assert apollo_client.get("/contacts/999/timeEntries").status_code == 404
            assert http("GET", "/tasks/999/timeEntries")[0] == 404
        """
    )
    run(pytester).assert_outcomes(passed=1, errors=0, warnings=0)


def test_route_404_405_and_400_are_violations(pytester: pytest.Pytester) -> None:
    small_project(pytester, strict=True)
    pytester.makepyfile(
        """
        def test_wrong_calls(apollo_client, http):
            assert apollo_client.get("/nope").status_code == 404
            assert http("DELETE", "/account")[0] == 405
            assert apollo_client.get("/report/timeEntries?with_totals=maybe").status_code == 400
            assert apollo_client.post("/projects/51/timeEntries", json=[1]).status_code == 400
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_wrong_calls*",
            "apollo-fake: the client broke the contract in 4 requests:",
            "GET /nope -> 404: No call of the API matches GET /nope.",
            "    (request): No call of the API matches GET /nope.",
            "DELETE /account -> 405: DELETE /account is not allowed; this path takes GET, HEAD.",
            "GET /report/timeEntries?with_totals=maybe -> 400: "
            "The parameter with_totals must be a boolean.",
            "    with_totals: must be one of 1, true, yes, on, 0, false, no, off",
            "POST /projects/51/timeEntries -> 400: *",
        ]
    )


# --- the live server: ports, start failures, shutdown, xdist ----------------------


REFUSALS = {
    # The port cannot be had: what a real clash looks like.
    "bind": """
        import socket

        @pytest.fixture
        def refused(monkeypatch):
            def refuse(self, address):
                raise OSError(98, "Address already in use")

            monkeypatch.setattr(socket.socket, "bind", refuse)
    """,
    # The port is bound, but listening on it fails.
    "listen": """
        import socket

        @pytest.fixture
        def refused(monkeypatch):
            def refuse(self, backlog=0):
                raise OSError(98, "Address already in use")

            monkeypatch.setattr(socket.socket, "listen", refuse)
    """,
}


@pytest.mark.parametrize(
    "refusal", [pytest.param("bind", id="bind"), pytest.param("listen", id="listen")]
)
def test_a_refused_listen_errors_quickly(pytester: pytest.Pytester, refusal: str) -> None:
    small_project(pytester)
    pytester.makepyfile(
        "import pytest\n"
        + textwrap.dedent(REFUSALS[refusal])
        + textwrap.dedent(
            """

            def test_needs_a_server(refused, apollo_url):
                pass


            def test_a_later_test_still_gets_one(apollo_url, send):
                assert send(apollo_url, "GET", "/account")[0] == 200
            """
        )
    )
    # A bounded wait: a start-up that retried, or waited for a port, would overrun it.
    result = run_apart(pytester, timeout=15)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_needs_a_server*",
            "E *ServerError: cannot listen on 127.0.0.1:0: *",
        ]
    )


def test_a_serving_thread_that_dies_errors_within_seconds(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.makepyfile(
        """
        import pytest
        from apollo_fake.server import Server


        @pytest.fixture
        def serving_loop_dies(monkeypatch):
            def crash(self):
                raise OSError("the serving loop failed")

            monkeypatch.setattr(Server, "serve", crash)


        def test_needs_a_server(serving_loop_dies, apollo_url):
            pass
        """
    )
    began = time.monotonic()
    try:
        result = run_apart(pytester, timeout=12)
    except pytester.TimeoutExpired:
        pytest.fail(
            f"pytest still ran after {time.monotonic() - began:.0f} s: a server whose thread "
            "died hangs its start instead of raising ServerError"
        )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_needs_a_server*", "E *ServerError*"])


@pytest.mark.parametrize(
    "args",
    [pytest.param([], id="test-fails"), pytest.param(["-x"], id="exitfirst")],
)
def test_server_stops_at_session_end_when_a_test_fails(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    small_project(pytester)
    # Checked inside the inner process, after the session: once the process exits
    # its sockets close anyway, so only an in-process check can catch a server left up.
    pytester.makeconftest(
        INNER_CONFTEST
        + """

import socket
import threading
from pathlib import Path

HERE = Path(__file__).parent


def pytest_unconfigure(config):
    url = (HERE / "url.txt").read_text()
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        state = "answered"
    except ConnectionRefusedError:
        state = "refused"
    threads = sorted(t.name for t in threading.enumerate() if t.name.startswith("apollo-fake:"))
    (HERE / "after.txt").write_text(f"{state} {threads}")
"""
    )
    pytester.makepyfile(
        """
        from pathlib import Path


        def test_fails_with_a_server(apollo_url):
            (Path(__file__).parent / "url.txt").write_text(apollo_url)
            assert False, "fails on purpose"


        def test_after(apollo_fake):
            pass
        """
    )
    result = run_apart(pytester, *args)  # apart: no thread of this process's other tests
    result.assert_outcomes(failed=1, passed=0 if args else 1)
    assert (pytester.path / "after.txt").read_text() == "refused []"
    assert refused((pytester.path / "url.txt").read_text())


def test_xdist_gives_each_worker_its_own_server(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    (pytester.path / "seen").mkdir()
    pytester.makepyfile(
        """
        import json
        import os
        from pathlib import Path

        import pytest

        SEEN = Path(__file__).parent / "seen"


        @pytest.mark.parametrize("n", range(6))
        def test_on_a_worker(apollo_url, http, n):
            # Every test starts from the file, whatever ran before it on this worker.
            assert http("POST", "/projects/51/timeEntries", {"time-entry": {"seconds": 60}}) == (
                201, {"time-entry-id": "81"}
            )
            record = {"worker": os.environ["PYTEST_XDIST_WORKER"], "url": apollo_url}
            (SEEN / f"{n}.json").write_text(json.dumps(record))
        """
    )
    result = run_apart(pytester, "-n", "2", timeout=40)
    result.assert_outcomes(passed=6)
    records = [json.loads(p.read_text()) for p in sorted((pytester.path / "seen").iterdir())]
    assert len(records) == 6
    urls = {r["worker"]: set() for r in records}
    for r in records:
        urls[r["worker"]].add(r["url"])
    assert sorted(urls) == ["gw0", "gw1"]
    assert [len(u) for u in urls.values()] == [1, 1]
    servers = set.union(*urls.values())
    assert len(servers) == 2
    assert all(refused(url) for url in servers)


def test_plugin_loads_by_its_entry_point(pytester: pytest.Pytester) -> None:
    # Nothing in the inner project names the plugin: installing the package is enough.
    pytester.makepyfile("def test_nothing(apollo_fake):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["plugins: *apollo-fake-0.1.0*"])
