"""The Python twins of the control API, on a Fake object without a socket.

Covers ``reset(to=...)``, ``state()`` and ``load(doc)`` (a dump loads back as is; an
invalid document raises and changes nothing), named snapshots (``snapshot``,
``restore``, ``snapshots``, ``forget``), ``changes(since=...)``, the journal
(``journal``, ``requests``, ``clear_journal``, its bound and ``journal_dropped``),
``faults`` (``add``, ``match``, ``listing``, ``clear``, and their effect on requests
through ``fake.client``), the ``clock`` and ``serve()``. Requests, where a twin needs
some, go through ``fake.client``: Flask's test client, no socket.
"""

from __future__ import annotations

import datetime
import http.client
import json
import time
from typing import Any

import pytest

from apollo_fake import fixtures
from apollo_fake.errors import FixtureError
from apollo_fake.fake import MAX_SNAPSHOTS, Fake, Settings
from apollo_fake.faults import MAX_RULES, Fault

from conftest import DEMO, TODAY, small_doc

MIDNIGHT = "2012-07-31 00:00:00"
ENTRY = {"time-entry": {"seconds": "60", "notes": "new"}}


@pytest.fixture
def fake() -> Fake:
    """Return a fake over small.json with the clock frozen at TODAY's midnight."""
    return Fake(small_doc(), today=TODAY)


def dump(fake: Fake) -> bytes:
    """Return the whole data as the fixture file writes it, to compare states byte for byte."""
    return fixtures.dumps(fake.state())


def change_some(fake: Fake) -> None:
    """Create, update and delete an entry through the API."""
    assert fake.client.post("/projects/51/timeEntries", json=ENTRY).status_code == 201
    put = fake.client.put("/timeEntries/72", json={"time-entry": {"notes": "changed"}})
    assert put.status_code == 200
    assert fake.client.delete("/timeEntries/73").status_code == 200


def small_record(collection: str, id: str) -> Any:
    """Return one record of small.json as `changes` shows it (entries: in their wire form)."""
    record = dict(next(r for r in small_doc()[collection] if r["id"] == id))
    if collection == "time-entries":
        record.setdefault("created-at", record["date"] + " 00:00:00")
        record.setdefault("updated-at", record["created-at"])
    return record


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


def test_control_false_removes_the_control_api() -> None:
    fake = Fake(small_doc(), settings=Settings(control=False))
    r = fake.client.get("/_fake/health")
    assert r.status_code == 404
    assert r.json is not None and r.json["error"]["status"] == 404
    assert fake.client.get("/account").status_code == 200


def test_control_token_is_checked() -> None:
    fake = Fake(small_doc(), settings=Settings(control_token="T"))
    assert fake.client.get("/_fake/health").status_code == 401
    ok = fake.client.get("/_fake/health", headers={"X-Fake-Control-Token": "T"})
    assert ok.status_code == 200


# --- state and load ------------------------------------------------------------------


def test_state_is_the_loaded_fixture_document(fake: Fake) -> None:
    assert fake.state() == small_doc()


def test_state_loads_back_to_an_identical_dump(fake: Fake) -> None:
    change_some(fake)
    fake.add_user("Eve", id=99)
    copy = Fake(fake.state())
    assert dump(copy) == dump(fake)
    other = Fake()
    other.load(fake.state())
    assert dump(other) == dump(fake)
    assert other.state() == fake.state()


def test_demo_state_dumps_to_the_demo_file() -> None:
    fake = Fake(DEMO)
    assert dump(fake) == DEMO.read_bytes()
    empty = Fake()
    empty.load(fake.state())
    assert dump(empty) == DEMO.read_bytes()


def test_load_replaces_the_data_and_reset_returns_to_the_loaded_data(fake: Fake) -> None:
    loaded = dump(fake)
    fake.load({"users": [{"id": "5", "first-name": "Lin"}], "projects": [{"id": "7"}]})
    assert fake.store.counts() == {
        "users": 1, "time-categories": 0, "companies": 0, "contacts": 0, "projects": 1,
        "tasks": 0, "time-entries": 0,
    }
    # A document without an account keeps the account.
    assert fake.state()["account"] == {"id": "1", "name": "Acme Ltd"}
    # New ids continue above the loaded ones.
    assert fake.add_user().id == 6
    fake.reset()
    assert dump(fake) == loaded


def test_load_with_an_account_replaces_it(fake: Fake) -> None:
    fake.load({"account": {"id": "9", "name": "Other Ltd"}})
    assert fake.state()["account"] == {"id": "9", "name": "Other Ltd"}
    assert fake.client.get("/account").json["account"]["id"] == "9"
    fake.reset()
    assert fake.state()["account"] == {"id": "1", "name": "Acme Ltd"}


@pytest.mark.parametrize(
    ("doc", "fields"),
    [
        pytest.param({"bogus": []}, ["/bogus"], id="unknown-key"),
        pytest.param({"users": [{"id": "11"}, {"id": "11"}]}, ["/users/1/id"],
                     id="duplicate-id"),
        pytest.param({"projects": [{"id": "5", "company-id": "404"}]},
                     ["/projects/0/company-id"], id="unknown-reference"),
        pytest.param({"users": [{"id": 11}]}, ["/users/0/id"], id="id-not-a-string"),
        pytest.param("users", [""], id="not-an-object"),
    ],
)
def test_load_of_an_invalid_document_raises_and_changes_nothing(
    fake: Fake, doc: Any, fields: list[str]
) -> None:
    change_some(fake)
    before = dump(fake)
    changes = fake.changes()
    with pytest.raises(FixtureError) as caught:
        fake.load(doc)
    assert [p["field"] for p in caught.value.problems] == fields
    assert dump(fake) == before
    assert fake.changes() == changes


# --- reset --------------------------------------------------------------------------


def test_reset_to_empty_keeps_only_the_account(fake: Fake) -> None:
    loaded = dump(fake)
    fake.reset(to="empty")
    assert fake.state() == {
        "account": {"id": "1", "name": "Acme Ltd"}, "users": [], "time-categories": [],
        "companies": [], "contacts": [], "projects": [], "tasks": [], "time-entries": [],
    }
    fake.reset(to="loaded")
    assert dump(fake) == loaded


def test_reset_forgets_journal_and_faults_restores_clock_and_keeps_snapshots(
    fake: Fake,
) -> None:
    loaded = dump(fake)
    change_some(fake)
    fake.snapshot("kept")
    fake.faults.add("/account", status=503, times=None)
    fake.clock.advance(3600)
    fake.reset()
    assert dump(fake) == loaded
    assert list(fake.journal) == []
    assert fake.journal_dropped == 0
    assert fake.faults.listing() == []
    assert fake.clock.now() == datetime.datetime(2012, 7, 31)
    assert fake.clock.frozen
    assert fake.snapshots() == ["kept"]
    assert fake.client.get("/account").status_code == 200


def test_reset_to_an_unknown_target_raises_and_changes_nothing(fake: Fake) -> None:
    change_some(fake)
    fake.faults.add("/nowhere", status=503)
    before = dump(fake)
    with pytest.raises(ValueError, match="nowhere"):
        fake.reset(to="nowhere")
    # A refused call, like a refused request, must leave everything as it was.
    assert dump(fake) == before
    assert len(fake.journal) == 3
    assert len(fake.faults.listing()) == 1


# --- snapshots ----------------------------------------------------------------------


def test_snapshot_restore_is_byte_identical_after_further_changes(fake: Fake) -> None:
    change_some(fake)
    fake.snapshot("s")
    at_snapshot = dump(fake)
    fake.add_entry(60, project_id=51)
    fake.add_user("Eve")
    assert fake.client.delete("/timeEntries/71").status_code == 200
    assert dump(fake) != at_snapshot
    fake.restore("s")
    assert dump(fake) == at_snapshot
    # Ids continue from the snapshot: the creates made after it are forgotten.
    assert fake.add_entry(60, project_id=51).id == 82
    assert fake.add_user().id == 13


def test_restore_an_older_snapshot_after_a_newer_one_and_after_a_reset(fake: Fake) -> None:
    loaded = dump(fake)
    fake.snapshot("old")
    change_some(fake)
    fake.snapshot("new")
    newer = dump(fake)
    fake.restore("old")
    assert dump(fake) == loaded
    fake.restore("new")
    assert dump(fake) == newer
    fake.reset(to="empty")
    fake.restore("new")
    assert dump(fake) == newer
    fake.reset()
    assert dump(fake) == loaded
    fake.restore("new")
    assert dump(fake) == newer


def test_snapshot_keeps_the_clock(fake: Fake) -> None:
    fake.clock.freeze(datetime.datetime(2013, 3, 4, 5, 6, 7))
    fake.snapshot("s")
    fake.clock.advance(86400)
    fake.restore("s")
    assert fake.clock.now() == datetime.datetime(2013, 3, 4, 5, 6, 7)


def test_snapshots_lists_sorted_names_and_forget_deletes_one(fake: Fake) -> None:
    assert fake.snapshots() == []
    for name in ("zeta", "Alpha", "mid"):
        fake.snapshot(name)
    assert fake.snapshots() == ["Alpha", "mid", "zeta"]
    fake.forget("mid")
    assert fake.snapshots() == ["Alpha", "zeta"]
    with pytest.raises(KeyError):
        fake.restore("mid")


def test_unknown_snapshot_is_a_key_error_that_changes_nothing(fake: Fake) -> None:
    change_some(fake)
    before = dump(fake)
    with pytest.raises(KeyError):
        fake.restore("unknown")
    with pytest.raises(KeyError):
        fake.forget("unknown")
    with pytest.raises(KeyError):
        fake.changes("unknown")
    assert dump(fake) == before


def test_at_most_max_snapshots(fake: Fake) -> None:
    for i in range(MAX_SNAPSHOTS):
        fake.snapshot(f"s{i}")
    with pytest.raises(OverflowError):
        fake.snapshot("one-more")
    fake.snapshot("s0")  # saving an existing name again is no new snapshot
    assert len(fake.snapshots()) == MAX_SNAPSHOTS


# --- changes ------------------------------------------------------------------------


def test_changes_lists_exactly_a_create_an_update_and_a_delete(fake: Fake) -> None:
    assert fake.changes() == {}
    change_some(fake)
    changes = fake.changes()
    assert list(changes) == ["time-entries"]
    kinds = changes["time-entries"]
    assert kinds["created"] == [
        {
            "id": "81", "time-category-id": None, "user-id": "11", "project-id": "51",
            "task-id": None, "contact-id": None, "date": "2012-07-31", "seconds": "60",
            "notes": "new", "billable": "unset", "created-at": MIDNIGHT, "updated-at": MIDNIGHT,
        }
    ]
    before = small_record("time-entries", "72")
    [update] = kinds["updated"]
    assert update["before"] == before
    # The loaded entry had no timestamps (its date's midnight); the update may write
    # that created-at out, which is the same record.
    assert {"created-at": "2012-07-04 00:00:00", **update["after"]} == {
        **before, "notes": "changed", "created-at": "2012-07-04 00:00:00",
        "updated-at": MIDNIGHT,
    }
    assert kinds["deleted"] == [small_record("time-entries", "73")]


def test_changes_of_the_arranging_helpers_and_of_load(fake: Fake) -> None:
    fake.add_company("Hooli", id=33)
    fake.add_project("Skunkworks", company_id=33, id=54)
    changed_account = {"account": {"id": "1", "name": "Acme Corp"}}
    doc = {**small_doc(), **changed_account}
    doc["companies"] = [*doc["companies"], {"id": "33", "name": "Hooli"}]
    doc["users"][1]["email"] = "grace@new.example"
    doc["contacts"] = doc["contacts"][:3]
    fake.load(doc)
    # Project 54 is not in the document, so loading deleted it: created then deleted is
    # no change at all. Company 33 is, so it counts as created.
    assert fake.changes() == {
        "account": {
            "created": [],
            "updated": [{"before": {"id": "1", "name": "Acme Ltd"},
                         "after": {"id": "1", "name": "Acme Corp"}}],
            "deleted": [],
        },
        "users": {
            "created": [],
            "updated": [{"before": small_record("users", "12"), "after": doc["users"][1]}],
            "deleted": [],
        },
        "companies": {"created": [{"id": "33", "name": "Hooli"}], "updated": [], "deleted": []},
        "contacts": {"created": [], "updated": [], "deleted": [small_record("contacts", "44")]},
    }


def test_changes_since_a_snapshot(fake: Fake) -> None:
    created = fake.add_entry(60, project_id=51)
    fake.snapshot("mid")
    assert fake.changes("mid") == {}
    assert fake.client.delete(f"/timeEntries/{created.id}").status_code == 200
    assert fake.client.delete("/timeEntries/74").status_code == 200
    since = fake.changes("mid")["time-entries"]
    assert since["created"] == since["updated"] == []
    assert [r["id"] for r in since["deleted"]] == ["74", str(created.id)]
    # Since loading, the created entry never existed.
    assert fake.changes() == {
        "time-entries": {
            "created": [], "updated": [], "deleted": [small_record("time-entries", "74")]
        }
    }


# --- the journal --------------------------------------------------------------------


def test_journal_records_requests_and_requests_filters_them(fake: Fake) -> None:
    fake.client.get("/account")
    fake.client.get("/timeEntries/71")
    fake.client.delete("/timeEntries/72")
    fake.client.get("/v1/timeEntries/74?x=1")
    fake.client.get("/_fake/health")  # a control call is never journaled
    assert [(r["method"], r["path"]) for r in fake.journal] == [
        ("GET", "/account"), ("GET", "/timeEntries/71"), ("DELETE", "/timeEntries/72"),
        ("GET", "/v1/timeEntries/74"),
    ]
    assert fake.journal[3]["query"] == "x=1"
    assert [r["path"] for r in fake.requests("get")] == [
        "/account", "/timeEntries/71", "/v1/timeEntries/74"
    ]
    assert [r["path"] for r in fake.requests(path="/timeEntries/*")] == [
        "/timeEntries/71", "/timeEntries/72"
    ]
    assert [r["path"] for r in fake.requests("DELETE", "/timeEntries/*")] == ["/timeEntries/72"]
    assert fake.requests("PUT") == []
    # ?x=1 is a parameter the call does not take: a 400.
    assert [r["path"] for r in fake.requests(status=200)] == [
        "/account", "/timeEntries/71", "/timeEntries/72"
    ]
    assert [r["path"] for r in fake.requests(status="4xx")] == ["/v1/timeEntries/74"]
    with pytest.raises(ValueError, match="4xx"):
        fake.requests(status="teapot")


def test_journal_record_has_user_body_status_and_violations() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(tokens={"secret-token": 12}))
    body = {"time-entry": {"seconds": "60", "billable": "maybe"}}
    auth = {"Authorization": "Basic c2VjcmV0LXRva2VuOlg="}  # secret-token:X
    r = fake.client.post("/projects/51/timeEntries", json=body, headers=auth)
    assert r.status_code == 422
    [record] = fake.requests()
    assert record == {
        "time": MIDNIGHT, "method": "POST", "path": "/projects/51/timeEntries", "query": "",
        "user": "12", "body": body, "status": 422, "message": r.json["error"]["message"],
        "violations": r.json["error"]["details"],
    }
    assert "secret-token" not in json.dumps(list(fake.journal))


def test_clear_journal(fake: Fake) -> None:
    fake.client.get("/account")
    fake.clear_journal()
    assert fake.requests() == []
    assert fake.journal_dropped == 0


def test_journal_keeps_only_the_last_records() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_size=5))
    for i in range(12):
        fake.client.get(f"/timeEntries/{71 + i % 10}")
        assert len(fake.journal) <= 5
    assert [r["path"] for r in fake.requests()] == [
        "/timeEntries/78", "/timeEntries/79", "/timeEntries/80", "/timeEntries/71",
        "/timeEntries/72",
    ]
    assert fake.journal_dropped == 7
    fake.clear_journal()
    assert fake.journal_dropped == 0


def test_journal_holds_10000_records_by_default() -> None:
    fake = Fake()
    for i in range(10_001):
        fake.record({"path": f"/r/{i}", "method": "GET", "violations": []})
    assert len(fake.journal) == 10_000
    assert fake.journal_dropped == 1
    assert fake.journal[0]["path"] == "/r/1"


# --- faults -------------------------------------------------------------------------


def test_add_returns_the_rule_and_listing_shows_what_remains(fake: Fake) -> None:
    rule = fake.faults.add("/account", "get", status=503, times=2)
    assert isinstance(rule, Fault)
    assert rule.describe() == {
        "id": 1, "path": "/account", "method": "GET", "after": 0, "times": 2, "status": 503,
        "matched": 0, "applied": 0, "remaining": 2,
    }
    fake.client.get("/account")
    assert fake.faults.listing()[0]["remaining"] == 1
    second = fake.faults.add("/x", drop=True, times=None)
    assert second.id == 2
    assert second.describe()["remaining"] is None


@pytest.mark.parametrize(
    "actions",
    [
        pytest.param({}, id="none"),
        pytest.param({"status": 503, "drop": True}, id="status-and-drop"),
        pytest.param({"status": 503, "delay_ms": 5}, id="status-and-delay"),
        pytest.param({"delay_ms": 5, "drop": True}, id="delay-and-drop"),
    ],
)
def test_add_needs_exactly_one_action(fake: Fake, actions: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        fake.faults.add("/account", **actions)
    assert fake.faults.listing() == []


def test_match_counts_after_and_times(fake: Fake) -> None:
    rule = fake.faults.add("/timeEntries/*", "GET", status=500, after=2, times=2)
    hits = [fake.faults.match("GET", "/timeEntries/71") for _ in range(6)]
    assert hits == [None, None, rule, rule, None, None]
    assert (rule.matched, rule.applied, rule.remaining) == (4, 2, 0)
    assert fake.faults.match("POST", "/timeEntries/71") is None
    assert fake.faults.match("GET", "/projects/51/timeEntries") is None


def test_times_none_applies_always(fake: Fake) -> None:
    fake.faults.add("/account", status=503, times=None)
    assert [fake.client.get("/account").status_code for _ in range(5)] == [503] * 5


def test_status_rule_answers_body_and_headers_exactly(fake: Fake) -> None:
    fake.faults.add("/account", status=429, body={"slow": "down"}, headers={"Retry-After": "9"})
    r = fake.client.get("/v1/account")
    assert r.status_code == 429
    assert r.json == {"slow": "down"}
    assert r.headers["Retry-After"] == "9"
    assert fake.client.get("/account").status_code == 200
    assert fake.requests()[0]["fault"] == 1
    assert "fault" not in fake.requests()[1]


def test_drop_rule_raises_connection_aborted_in_the_test_client(fake: Fake) -> None:
    fake.faults.add("/account", drop=True)
    with pytest.raises(ConnectionAbortedError):
        fake.client.get("/account")
    assert fake.client.get("/account").status_code == 200


def test_delay_rule_delays_the_real_answer(fake: Fake) -> None:
    fake.faults.add("/account", delay_ms=200)
    began = time.monotonic()
    r = fake.client.get("/account")
    assert time.monotonic() - began >= 0.2
    assert r.status_code == 200
    assert r.json["account"]["name"] == "Acme Ltd"


def test_clear_removes_every_rule(fake: Fake) -> None:
    fake.faults.add("/account", status=503, times=None)
    fake.faults.clear()
    assert fake.faults.listing() == []
    assert fake.client.get("/account").status_code == 200


def test_at_most_max_rules(fake: Fake) -> None:
    for i in range(MAX_RULES):
        fake.faults.add(f"/nowhere/{i}", status=503)
    with pytest.raises(OverflowError):
        fake.faults.add("/account", status=503)
    assert len(fake.faults.listing()) == MAX_RULES


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


def test_freeze_advance_unfreeze(fake: Fake) -> None:
    fake.clock.freeze(datetime.datetime(2013, 1, 2, 3, 4, 5))
    fake.clock.advance(90061)
    assert fake.clock.now() == datetime.datetime(2013, 1, 3, 4, 5, 6)
    fake.clock.advance(-86400)
    assert fake.clock.timestamp() == "2013-01-02 04:05:06"
    fake.clock.unfreeze()
    assert not fake.clock.frozen
    # A running clock goes on from the time it showed.
    shown = fake.clock.now()
    assert datetime.datetime(2013, 1, 2, 4, 5, 6) <= shown < datetime.datetime(2013, 1, 2, 4, 6)
    entry = fake.add_entry(60, project_id=51)
    assert entry.date == "2013-01-02"


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
