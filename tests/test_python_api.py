"""What only the Python API has, on a Fake object.

The controls it shares with the control API (reset, state and load, snapshots,
changes, the journal, fault rules, the clock) are tested once, through every way in,
in test_controls.py. Here is what only Python has: ``Settings``' defaults, the
journal's default bound (``fake.record``), the ``Fault`` that ``faults.add`` returns
and ``faults.match``, the clock the constructor sets (``today=``, ``start=``), and
``serve()`` and ``url``.
"""

from __future__ import annotations

import datetime
import http.client
import json
from typing import Any

import pytest

from apollo_fake.fake import Fake, Settings
from apollo_fake.faults import Fault

from conftest import TODAY, small_doc

MIDNIGHT = "2012-07-31 00:00:00"


@pytest.fixture
def fake() -> Fake:
    """Return a fake over small.json with the clock frozen at TODAY's midnight."""
    return Fake(small_doc(), today=TODAY)


def get(url: str, path: str) -> tuple[int, Any]:
    """GET over a real socket; return the status and the decoded body."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


# --- settings --------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = Settings()
    assert settings.journal_size == 10_000
    assert settings.control is True
    assert settings.control_token is None
    fake = Fake()
    assert fake.journal.maxlen == 10_000


# --- the journal --------------------------------------------------------------------


def test_journal_holds_10000_records_by_default() -> None:
    fake = Fake()
    for i in range(10_001):
        fake.record({"path": f"/r/{i}", "method": "GET", "violations": []})
    assert len(fake.journal) == 10_000
    assert fake.journal_dropped == 1
    assert fake.journal[0]["path"] == "/r/1"


# --- faults -------------------------------------------------------------------------


def test_faults_add_returns_the_rule_it_describes(fake: Fake) -> None:
    # What a rule does is tested on every way in (test_controls.py); in Python, add
    # returns the rule itself, which describes itself as the listing does.
    rule = fake.faults.add("/account", "get", status=503, times=2)
    assert isinstance(rule, Fault)
    assert rule.describe() == fake.faults.listing()[0]
    assert fake.client.get("/account").status_code == 503
    assert rule.remaining == 1
    assert rule.describe() == fake.faults.listing()[0]
    second = fake.faults.add("/x", drop=True, times=None)
    assert second.id == 2
    assert second.describe()["remaining"] is None


def test_match_counts_after_and_times(fake: Fake) -> None:
    rule = fake.faults.add("/timeEntries/*", "GET", status=500, after=2, times=2)
    hits = [fake.faults.match("GET", "/timeEntries/71") for _ in range(6)]
    assert hits == [None, None, rule, rule, None, None]
    assert (rule.matched, rule.applied, rule.remaining) == (4, 2, 0)
    assert fake.faults.match("POST", "/timeEntries/71") is None
    assert fake.faults.match("GET", "/projects/51/timeEntries") is None


# --- the clock ----------------------------------------------------------------------


def test_today_freezes_the_clock_at_midnight() -> None:
    fake = Fake(small_doc(), today=datetime.date(2012, 7, 31))
    assert fake.clock.frozen
    assert fake.clock.now() == datetime.datetime(2012, 7, 31)
    assert fake.clock.timestamp() == MIDNIGHT


def test_today_may_be_a_time() -> None:
    fake = Fake(small_doc(), today=datetime.datetime(2012, 7, 31, 9, 30, 15))
    assert fake.clock.timestamp() == "2012-07-31 09:30:15"


def test_start_runs_the_clock_from_that_day() -> None:
    fake = Fake(small_doc(), start=datetime.date(2012, 7, 31))
    assert not fake.clock.frozen
    assert fake.clock.today() == datetime.date(2012, 7, 31)


# --- serve() ------------------------------------------------------------------------


def test_serve_yields_a_url_that_answers_and_stops_after_the_block(fake: Fake) -> None:
    with fake.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        assert get(url, "/_fake/health")[0] == 200
        status, body = get(url, "/account")
        assert (status, body["account"]["name"]) == (200, "Acme Ltd")
    with pytest.raises(ConnectionRefusedError):
        get(url, "/account")
    # What the served requests did stays on the fake.
    assert [r["path"] for r in fake.requests()] == ["/account"]


def test_url_starts_a_server_that_stop_ends(fake: Fake) -> None:
    url = fake.url
    assert fake.url == url  # one server, started once
    assert get(url, "/_fake/health") == (
        200, {"status": "ok", "counts": fake.store.counts()}
    )
    fake.stop()
    with pytest.raises(ConnectionRefusedError):
        get(url, "/account")
