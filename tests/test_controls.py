"""The fake's controls, each behaviour once, run through every way in.

Each test takes ``way`` (or builds some with ``way_of``): the same steps run through
the Python API (``fake.reset()``, ``fake.snapshot()``, ``fake.faults.add()``,
``fake.clock`` ...), through the control API under ``/_fake/`` on Flask's test client,
and through the control API over a live server's socket (tests/control_ways.py).
Covers reset (to the loaded data or empty; it also forgets the journal and the fault
rules and puts the clock back), the state (a dump loads back as is; an invalid one
changes nothing), named snapshots, changes (since loading or since a snapshot), the
request journal (its records, filters, bound and what it never holds), fault rules
(status with body and headers, delay, drop; ``after``, ``times``; ``/v1`` paths) and
the clock. A refusal is checked on every way, with what each way says of it: the
contract's JSON error over HTTP, the exception's type in Python.

What only HTTP has (bad bodies, status codes of routes, the control token) is in
test_control.py; what only Python has (constructors, ``serve()``, ``faults.match``)
in test_python_api.py.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import json
import time
from typing import Any

import pytest

from apollo_fake import fixtures, report, schemas
from apollo_fake.errors import FixtureError
from apollo_fake.fake import MAX_SNAPSHOTS, Fake, Settings
from apollo_fake.faults import MAX_RULES

from conftest import DEMO, WayOf, change_some, entries_doc, new_entry, small_doc, small_record
from control_ways import (
    FAULT_RULE,
    HEADER_NAME_RULE,
    HEADER_VALUE_RULE,
    STATUS_RULE,
    TO_RULE,
    HttpWay,
    Refused,
    Way,
    call,
    error,
    rule_of,
    send,
)

MIDNIGHT = "2012-07-31 00:00:00"
AT_MIDNIGHT = {"now": MIDNIGHT, "today": "2012-07-31", "frozen": True}
SECRET = "secret-token"
EMPTY_COUNTS = dict.fromkeys(
    ["users", "time-categories", "companies", "contacts", "projects", "tasks", "time-entries"],
    0,
)


def basic(token: str) -> dict[str, str]:
    """Return the Authorization header of HTTP Basic with the token as user name."""
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:X".encode()).decode()}


def refused(way: Way, kind: str, action: Any, *args: Any, **kw: Any) -> Refused:
    """Run a control that must be refused; check the kind on every way, and return it."""
    with pytest.raises(Refused) as caught:
        action(*args, **kw)
    assert caught.value.kind == kind, caught.value
    exc_type = {"bad": ValueError, "unknown": KeyError, "full": OverflowError}[kind]
    status = {"bad": 400, "unknown": 404, "full": 422}[kind]
    if isinstance(way, HttpWay):
        assert caught.value.reply is not None and caught.value.reply.status == status
    else:
        assert isinstance(caught.value.exc, exc_type), caught.value.exc
    return caught.value


# --- reset -------------------------------------------------------------------------------


def test_reset_returns_to_the_loaded_data_and_keeps_the_snapshots(way: Way) -> None:
    loaded = way.dump()
    change_some(way.api)
    way.snapshot("kept")
    assert way.dump() != loaded
    way.reset()
    assert way.dump() == loaded
    assert way.snapshots() == ["kept"]
    # Ids start over too: the next create gets the id the first one got.
    assert new_entry(way.api) == "81"
    way.reset("loaded")
    assert way.dump() == loaded


def test_reset_to_empty_keeps_only_the_account_and_reset_brings_the_data_back(
    way: Way,
) -> None:
    loaded = way.dump()
    way.reset("empty")
    assert way.state() == {
        "account": {"id": "1", "name": "Acme Ltd"}, "users": [], "time-categories": [],
        "companies": [], "contacts": [], "projects": [], "tasks": [], "time-entries": [],
    }
    assert way.fake.store.counts() == EMPTY_COUNTS
    assert way.api.get("/timeEntries/71").status == 404
    way.reset()
    assert way.dump() == loaded


def test_reset_forgets_the_journal_and_the_faults_and_puts_the_clock_back(way: Way) -> None:
    assert way.api.get("/account").status == 200
    way.add_fault(path="/account", status=503, times=None)
    way.set_clock(now="2020-01-01 12:00:00")
    way.reset()
    assert way.requests() == []
    assert way.dropped() == 0
    assert way.faults() == []
    assert way.clock() == AT_MIDNIGHT
    assert way.fake.clock.now() == datetime.datetime(2012, 7, 31)
    # The rule is gone, not merely hidden.
    assert way.api.get("/account").status == 200
    # A clock let run is frozen back where it started.
    way.set_clock(frozen=False)
    way.reset()
    assert way.clock() == AT_MIDNIGHT


def test_reset_renews_the_rate_allowance(way_of: WayOf) -> None:
    way = way_of(settings=Settings(rate_limit=(1, 300)))
    assert way.api.get("/account").status == 200
    assert way.api.get("/account").status == 429
    way.reset()
    assert way.api.get("/account").status == 200


def test_reset_to_an_unknown_target_is_refused_and_changes_nothing(way: Way) -> None:
    change_some(way.api)
    way.add_fault(path="/nowhere", status=503)
    way.advance(5)
    before = way.dump()
    no = refused(way, "bad", way.reset, "nowhere")
    if no.reply is not None:
        assert no.reply.json["error"]["details"] == rule_of("to", TO_RULE)
    else:
        assert "nowhere" in no.message
    # A refused call, like a refused request, must leave everything as it was.
    assert way.dump() == before
    assert len(way.requests()) == 3
    assert len(way.faults()) == 1
    assert way.clock()["now"] == "2012-07-31 00:00:05"


# --- state and load ----------------------------------------------------------------------


def test_state_is_the_whole_data_in_the_fixture_format(way: Way) -> None:
    state = way.state()
    assert state == small_doc()
    assert list(state) == [
        "account", "users", "time-categories", "companies", "contacts", "projects", "tasks",
        "time-entries",
    ]
    change_some(way.api)
    state = way.state()
    assert state == way.fake.state()
    entries = {e["id"]: e for e in state["time-entries"]}
    assert "73" not in entries
    assert entries["72"]["notes"] == "changed"
    assert entries["72"]["updated-at"] == MIDNIGHT
    # 81 was created at its own date's midnight: the dump leaves out what a loader derives.
    assert "created-at" not in entries["81"] and entries["81"]["date"] == MIDNIGHT[:10]


def test_state_loads_back_to_an_identical_dump(way_of: WayOf) -> None:
    source = way_of()
    change_some(source.api)
    source.fake.add_user("Eve", id=99)
    dumped = source.state()
    target = way_of({})
    target.load(dumped)
    assert target.dump() == source.dump()
    assert target.state() == dumped
    if isinstance(target, HttpWay):
        assert target.call("GET", "/_fake/state").raw == call(source.api, "GET", "/_fake/state").raw
    # A fake built on a dump is the same fake.
    assert fixtures.dumps(Fake(dumped).state()) == source.dump()
    # Ids continue above the largest loaded one, as after loading a fixture file.
    assert new_entry(target.api) == "82"


def test_demo_state_loads_back_to_an_identical_dump(way_of: WayOf) -> None:
    demo = way_of(json.loads(DEMO.read_bytes()), today=fixtures.DEMO_TODAY)
    dumped = demo.state()
    assert fixtures.dumps(dumped) == DEMO.read_bytes()
    target = way_of({})
    target.load(dumped)
    assert target.dump() == DEMO.read_bytes()
    # Loading the dump back into the fake it came from changes nothing.
    demo.load(dumped)
    assert demo.dump() == DEMO.read_bytes()
    assert demo.changes() == {}
    # And a fake made from the file's path is that same data.
    assert fixtures.dumps(Fake(DEMO).state()) == DEMO.read_bytes()


def test_load_replaces_the_data_and_reset_returns_to_the_loaded_data(way: Way) -> None:
    loaded = way.dump()
    way.load({
        "users": [{"id": "5", "first-name": "Lin", "last-name": "", "email": ""}],
        "projects": [{"id": "7", "name": "Only", "company-id": None}],
        "time-entries": [
            {"id": "9", "user-id": "5", "project-id": "7", "date": "2012-07-30", "seconds": "60"}
        ],
    })
    assert way.fake.store.counts() == {
        **EMPTY_COUNTS, "users": 1, "projects": 1, "time-entries": 1,
    }
    listed = way.api.get("/projects/7/timeEntries").json["time-entries"]
    assert [e["id"] for e in listed] == ["9"]
    assert way.api.get("/timeEntries/71").status == 404
    # A document without an account keeps the account.
    assert way.state()["account"] == {"id": "1", "name": "Acme Ltd"}
    # New ids continue above the loaded ones.
    assert way.fake.add_user().id == 6
    way.reset()
    assert way.dump() == loaded


def test_load_with_an_account_replaces_it(way: Way) -> None:
    way.load({"account": {"id": "9", "name": "Other Ltd"}})
    assert way.state()["account"] == {"id": "9", "name": "Other Ltd"}
    assert way.api.get("/account").json["account"]["id"] == "9"
    way.reset()
    assert way.state()["account"] == {"id": "1", "name": "Acme Ltd"}


BAD_ENTRY = {"id": "90", "user-id": "99", "project-id": "51", "date": "2012-07-01",
             "seconds": "60"}


@pytest.mark.parametrize(
    ("doc", "fields"),
    [
        pytest.param({"bogus": []}, ["/bogus"], id="unknown-key"),
        pytest.param({"users": "none"}, ["/users"], id="collection-not-a-list"),
        pytest.param({"users": [{"id": "x1"}]}, ["/users/0/id"], id="id-not-digits"),
        pytest.param({"users": [{"id": 11}]}, ["/users/0/id"], id="id-not-a-string"),
        pytest.param(
            {"users": [{"id": "11"}], "projects": [{"id": "51"}],
             "time-entries": [{**BAD_ENTRY, "user-id": "11", "date": "2012-02-30"}]},
            ["/time-entries/0/date"], id="impossible-date",
        ),
        pytest.param(
            {"users": [{"id": "11"}], "projects": [{"id": "51"}], "time-entries": [BAD_ENTRY]},
            ["/time-entries/0/user-id"], id="unknown-user",
        ),
        pytest.param({"projects": [{"id": "5", "company-id": "404"}]},
                     ["/projects/0/company-id"], id="unknown-company"),
        pytest.param({"users": [{"id": "11"}, {"id": "11"}]}, ["/users/1/id"],
                     id="duplicate-id"),
        pytest.param([], [""], id="a-list"),
        pytest.param("users", [""], id="a-string"),
    ],
)
def test_load_of_an_invalid_document_is_refused_with_pointers_and_changes_nothing(
    way: Way, doc: Any, fields: list[str]
) -> None:
    change_some(way.api)
    before = way.dump()
    state = way.state()
    changes = way.changes()
    no = refused(way, "bad", way.load, doc)
    assert no.fields == fields
    if no.reply is not None:
        assert no.message == "The fixture document is invalid; nothing was changed."
    else:
        assert isinstance(no.exc, FixtureError)
    assert way.dump() == before
    assert way.state() == state
    # Still the changed data, and still "changed since loading".
    assert way.changes() == changes
    kinds = changes["time-entries"]
    assert [len(kinds[k]) for k in ("created", "updated", "deleted")] == [1, 1, 1]


# --- snapshots ---------------------------------------------------------------------------


def test_snapshot_save_list_restore_forget(way: Way) -> None:
    assert way.snapshots() == []
    way.snapshot("before-run")
    at_snapshot = way.dump()
    change_some(way.api)
    way.restore("before-run")
    assert way.dump() == at_snapshot
    for name in ("zeta", "Alpha", "mid_1.2-b", "a" * 64):
        way.snapshot(name)
    assert way.snapshots() == ["Alpha", "a" * 64, "before-run", "mid_1.2-b", "zeta"]
    way.forget("before-run")
    assert way.snapshots() == ["Alpha", "a" * 64, "mid_1.2-b", "zeta"]
    refused(way, "unknown", way.restore, "before-run")


def test_restore_after_further_changes_is_byte_identical(way: Way) -> None:
    change_some(way.api)
    way.snapshot("s")
    at_snapshot = way.dump()
    new_entry(way.api, "after")
    assert way.api.put("/timeEntries/81", {"time-entry": {"seconds": 5}}).status == 200
    way.fake.add_entry(60, project_id=51)
    way.fake.add_user("Eve")
    assert way.api.delete("/timeEntries/71").status == 200
    assert way.dump() != at_snapshot
    way.restore("s")
    assert way.dump() == at_snapshot
    assert way.state() == json.loads(at_snapshot)
    # Ids continue from the snapshot: the creates made after it are forgotten.
    assert new_entry(way.api) == "82"
    assert way.fake.add_user().id == 13


def test_restore_an_older_snapshot_after_a_newer_one_after_a_reset_and_after_a_load(
    way: Way,
) -> None:
    loaded = way.dump()
    way.snapshot("old")
    change_some(way.api)
    way.snapshot("new")
    newer = way.dump()
    assert way.api.delete("/timeEntries/74").status == 200
    way.restore("new")
    assert way.dump() == newer
    way.restore("old")
    assert way.dump() == loaded
    way.restore("new")
    assert way.dump() == newer
    way.reset("empty")
    way.restore("new")
    assert way.dump() == newer
    way.reset()
    assert way.dump() == loaded
    way.restore("new")
    assert way.dump() == newer
    way.load({"users": [{"id": "3"}]})
    way.restore("new")
    assert way.dump() == newer


def test_forgetting_one_snapshot_keeps_the_others(way: Way) -> None:
    way.snapshot("one")
    new_entry(way.api)
    way.snapshot("two")
    at_two = way.dump()
    way.forget("one")
    assert way.snapshots() == ["two"]
    refused(way, "unknown", way.restore, "one")
    way.reset()
    way.restore("two")
    assert way.dump() == at_two


def test_saving_a_name_again_replaces_the_snapshot_clock_included(way: Way) -> None:
    way.snapshot("s")
    new_entry(way.api)
    way.set_clock(now="2013-03-04 05:06:07")
    way.snapshot("s")
    second = way.dump()
    way.advance(86400)
    way.reset()
    way.restore("s")
    assert way.dump() == second
    assert way.snapshots() == ["s"]
    assert way.clock() == {"now": "2013-03-04 05:06:07", "today": "2013-03-04", "frozen": True}
    assert way.fake.clock.now() == datetime.datetime(2013, 3, 4, 5, 6, 7)


def test_an_unknown_snapshot_is_refused_and_changes_nothing(way: Way) -> None:
    way.snapshot("known")
    change_some(way.api)
    before = way.dump()
    for action, name in [
        (way.restore, "unknown"),
        (way.forget, "unknown"),
        (way.restore, "Known"),  # names are case-sensitive
        (way.changes, "unknown"),
    ]:
        no = refused(way, "unknown", action, name)
        if no.reply is not None:
            assert no.reply.json == error(404, f"There is no snapshot named '{name}'.")
        assert way.dump() == before
        assert way.snapshots() == ["known"]


def test_at_most_max_snapshots(way: Way) -> None:
    for i in range(MAX_SNAPSHOTS):
        way.snapshot(f"s{i}")
    no = refused(way, "full", way.snapshot, "one-more")
    assert f"at most {MAX_SNAPSHOTS} snapshots" in no.message
    assert len(way.snapshots()) == MAX_SNAPSHOTS
    # An existing name can still be saved again, and a freed slot used.
    way.snapshot("s7")
    assert len(way.snapshots()) == MAX_SNAPSHOTS
    way.forget("s7")
    way.snapshot("one-more")
    assert len(way.snapshots()) == MAX_SNAPSHOTS


# --- changes -----------------------------------------------------------------------------


def test_changes_is_empty_on_the_loaded_data_and_after_create_then_delete(way: Way) -> None:
    assert way.changes() == {}
    created = new_entry(way.api)
    assert way.api.delete(f"/timeEntries/{created}").status == 200
    assert way.changes() == {}


def test_changes_lists_exactly_a_create_an_update_and_a_delete(way: Way) -> None:
    change_some(way.api)
    changes = way.changes()
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
    # A loaded entry without timestamps has them at its date's midnight; an update may
    # write that created-at out, which is the same record.
    assert {"created-at": "2012-07-04 00:00:00", **update["after"]} == {
        **before, "notes": "changed", "created-at": "2012-07-04 00:00:00",
        "updated-at": MIDNIGHT,
    }
    assert kinds["deleted"] == [small_record("time-entries", "73")]


def test_changes_records_are_in_the_fixture_format(way: Way) -> None:
    change_some(way.api)
    found = way.changes()["time-entries"]
    records = [*found["created"], *found["deleted"]]
    records += [side for u in found["updated"] for side in (u["before"], u["after"])]
    for record in records:
        schemas.full_validator("fixture.schema.json").validate({
            "users": [{"id": "11"}, {"id": "12"}],
            "time-categories": [{"id": "21"}, {"id": "22"}],
            "projects": [{"id": "51"}, {"id": "52"}],
            "time-entries": [record],
        })


def test_changes_since_a_snapshot(way: Way) -> None:
    created = new_entry(way.api)
    way.snapshot("mid")
    assert way.changes("mid") == {}
    assert way.api.delete(f"/timeEntries/{created}").status == 200
    assert way.api.delete("/timeEntries/74").status == 200
    since = way.changes("mid")
    assert list(since) == ["time-entries"]
    kinds = since["time-entries"]
    assert kinds["created"] == kinds["updated"] == []
    assert [e["id"] for e in kinds["deleted"]] == ["74", created]
    # Since loading, the created entry never existed; only 74 is gone.
    assert way.changes() == {
        "time-entries": {
            "created": [], "updated": [], "deleted": [small_record("time-entries", "74")]
        }
    }
    # Nothing since a snapshot taken after the last change.
    way.snapshot("last")
    assert way.changes("last") == {}


def test_changes_of_a_load_cover_every_collection(way: Way) -> None:
    doc = small_doc()
    doc["users"][0]["email"] = "ada@new.example"
    doc["companies"].append({"id": "33", "name": "Hooli"})
    doc["time-entries"] = [e for e in doc["time-entries"] if e["id"] != "80"]
    way.load(doc)
    assert way.changes() == {
        "users": {
            "created": [],
            "updated": [{"before": small_record("users", "11"), "after": doc["users"][0]}],
            "deleted": [],
        },
        "companies": {"created": [{"id": "33", "name": "Hooli"}], "updated": [], "deleted": []},
        "time-entries": {
            "created": [], "updated": [], "deleted": [small_record("time-entries", "80")]
        },
    }


def test_changes_of_the_arranging_helpers_and_of_a_load(way: Way) -> None:
    way.fake.add_company("Hooli", id=33)
    way.fake.add_project("Skunkworks", company_id=33, id=54)
    doc = {**small_doc(), "account": {"id": "1", "name": "Acme Corp"}}
    doc["companies"] = [*doc["companies"], {"id": "33", "name": "Hooli"}]
    doc["users"][1]["email"] = "grace@new.example"
    doc["contacts"] = doc["contacts"][:3]
    way.load(doc)
    # Project 54 is not in the document, so loading deleted it: created then deleted is
    # no change at all. Company 33 is, so it counts as created.
    assert way.changes() == {
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


# --- the request journal -----------------------------------------------------------------


def test_journal_is_oldest_first_and_filterable(way: Way) -> None:
    api = way.api
    assert api.get("/account").status == 200
    assert api.get("/timeEntries/71").status == 200
    assert api.delete("/timeEntries/72").status == 200
    assert api.get("/v1/timeEntries/74").status == 200
    assert api.get("/timeEntries/999").status == 404
    # ?x=1 is a parameter the call does not take: a 400.
    assert api.get("/v1/timeEntries/74", query={"x": "1"}).status == 400

    def paths(method: str | None = None, path: str | None = None, status: Any = None) -> Any:
        return [r["path"] for r in way.requests(method, path, status)]

    records = [dict(r) for r in way.requests()]
    assert [(r["method"], r["path"]) for r in records] == [
        ("GET", "/account"), ("GET", "/timeEntries/71"), ("DELETE", "/timeEntries/72"),
        ("GET", "/v1/timeEntries/74"), ("GET", "/timeEntries/999"),
        ("GET", "/v1/timeEntries/74"),
    ]
    assert [r["query"] for r in records] == ["", "", "", "", "", "x=1"]
    assert {r["user"] for r in records} == {None}  # no tokens: no user
    assert paths("GET") == [
        "/account", "/timeEntries/71", "/v1/timeEntries/74", "/timeEntries/999",
        "/v1/timeEntries/74",
    ]
    assert paths("delete") == ["/timeEntries/72"]
    assert paths(path="/timeEntries/*") == [
        "/timeEntries/71", "/timeEntries/72", "/timeEntries/999"
    ]
    assert paths("GET", "/timeEntries/*") == ["/timeEntries/71", "/timeEntries/999"]
    assert paths(path="/v1/*") == ["/v1/timeEntries/74", "/v1/timeEntries/74"]
    assert paths(path="/account") == ["/account"]
    assert paths("PUT") == []
    assert paths(status=404) == ["/timeEntries/999"]
    assert paths(status=200) == [
        "/account", "/timeEntries/71", "/timeEntries/72", "/v1/timeEntries/74"
    ]
    assert paths(status="4xx") == paths(status="4XX") == [
        "/timeEntries/999", "/v1/timeEntries/74"
    ]
    assert paths("GET", status="2xx") == ["/account", "/timeEntries/71", "/v1/timeEntries/74"]
    for bad in ("abc", "42", "600", "4x", "1000", "teapot"):
        no = refused(way, "bad", way.requests, status=bad)
        if no.reply is not None:
            assert no.fields == ["status"]
        else:
            assert "4xx" in no.message


def test_journal_record_of_an_api_request(way_of: WayOf) -> None:
    way = way_of(settings=Settings(tokens={SECRET: 11, "other-token": 12}))
    body = {"time-entry": {"seconds": "60", "notes": "journaled"}}
    created = way.api.post("/v1/projects/51/timeEntries", body, headers=basic(SECRET))
    assert created.status == 201
    way.advance(61)
    r = way.api.get("/projects/51/timeEntries", query={"page": "1"}, headers=basic("other-token"))
    assert r.status == 200
    assert way.requests() == [
        {
            "time": MIDNIGHT, "method": "POST", "path": "/v1/projects/51/timeEntries",
            "query": "", "user": "11", "body": body, "status": 201, "message": None,
            "violations": [], "answer": created.raw.decode(), "answer_size": len(created.raw),
            "seq": 1,
        },
        {
            "time": "2012-07-31 00:01:01", "method": "GET",
            "path": "/projects/51/timeEntries", "query": "page=1", "user": "12",
            "body": None, "status": 200, "message": None, "violations": [],
            "answer": r.raw.decode(), "answer_size": len(r.raw), "seq": 2,
        },
    ]
    assert way.dropped() == 0


def test_journal_records_the_violations_of_a_422(way_of: WayOf) -> None:
    way = way_of(settings=Settings(tokens={SECRET: 12}))
    body = {"time-entry": {"seconds": "60", "billable": "maybe", "time-category-id": "21"}}
    r = way.api.post("/projects/51/timeEntries", body, headers=basic(SECRET))
    assert r.status == 422
    [record] = way.requests()
    assert record == {
        "time": MIDNIGHT, "method": "POST", "path": "/projects/51/timeEntries", "query": "",
        "user": "12", "body": body, "status": 422, "message": r.json["error"]["message"],
        # Each field with the contract's rule in the report's words (values left out).
        "violations": [
            {**detail, "rule": report.rule_of(detail["message"])}
            for detail in r.json["error"]["details"]
        ],
        "answer": r.raw.decode(), "answer_size": len(r.raw),
        "seq": 1,
    }
    assert {v["field"] for v in record["violations"]} == {
        "time-entry.billable", "time-entry.time-category-id"
    }


def test_journal_never_holds_the_token(way_of: WayOf) -> None:
    way = way_of(settings=Settings(tokens={SECRET: 11}))
    api = way.api
    assert api.get("/account", headers=basic(SECRET)).status == 200
    assert api.put("/timeEntries/71", {"time-entry": {"billable": "nope"}},
                   headers=basic(SECRET)).status == 422
    assert api.get("/account", headers=basic("wrong-token")).status == 401
    records = [dict(r) for r in way.requests()]
    assert [rec["user"] for rec in records] == ["11", "11", None]
    secrets = (SECRET, basic(SECRET)["Authorization"].split()[1])
    for secret in secrets:
        assert secret not in json.dumps(records)
        assert secret not in json.dumps(list(way.fake.journal))
    if isinstance(way, HttpWay):
        raw = way.call("GET", "/_fake/requests").raw
        assert all(secret.encode() not in raw for secret in secrets)


def test_clear_requests_empties_the_journal(way_of: WayOf) -> None:
    way = way_of(settings=Settings(journal_size=2))
    for _ in range(3):
        assert way.api.get("/account").status == 200
    assert way.dropped() == 1
    way.clear_requests()
    assert way.requests() == []
    assert way.dropped() == 0
    assert way.api.get("/timeEntries/71").status == 200
    assert [r["path"] for r in way.requests()] == ["/timeEntries/71"]


def test_journal_keeps_only_the_last_records(way_of: WayOf) -> None:
    way = way_of(settings=Settings(journal_size=5))
    for i in range(12):
        assert way.api.get(f"/timeEntries/{71 + i % 10}").status == 200
        assert len(way.fake.journal) <= 5
    assert [r["path"] for r in way.requests()] == [
        "/timeEntries/78", "/timeEntries/79", "/timeEntries/80", "/timeEntries/71",
        "/timeEntries/72",
    ]
    assert way.dropped() == 7


# --- fault rules -------------------------------------------------------------------------


def test_add_fault_describes_the_rule_and_faults_lists_what_remains(way: Way) -> None:
    described = way.add_fault(path="/timeEntries/*", method="get", status=503)
    assert described == {
        "id": 1, "path": "/timeEntries/*", "method": "GET", "after": 0, "times": 1,
        "status": 503, "matched": 0, "applied": 0, "remaining": 1,
    }
    second = way.add_fault(path="/account", delay_ms=5, after=2, times=None)
    assert second == {
        "id": 2, "path": "/account", "method": "*", "after": 2, "times": None, "delay_ms": 5,
        "matched": 0, "applied": 0, "remaining": None,
    }
    third = way.add_fault(path="/account", drop=True, times=3)
    assert third["drop"] is True
    assert third["remaining"] == 3
    assert way.faults() == [described, second, third]
    assert way.api.get("/timeEntries/71").status == 503
    assert way.faults()[0] == {**described, "matched": 1, "applied": 1, "remaining": 0}


@pytest.mark.parametrize(
    ("rule", "details"),
    [
        pytest.param({}, rule_of("", FAULT_RULE), id="no-action"),
        pytest.param({"status": 503, "drop": True}, rule_of("", FAULT_RULE),
                     id="status-and-drop"),
        pytest.param({"status": 503, "delay_ms": 5}, rule_of("", FAULT_RULE),
                     id="status-and-delay"),
        pytest.param({"delay_ms": 5, "drop": True}, rule_of("", FAULT_RULE),
                     id="delay-and-drop"),
        pytest.param({"status": 503, "delay_ms": 5, "drop": True}, rule_of("", FAULT_RULE),
                     id="all-three"),
        # What the server could not send: refused when added, not when it fires.
        pytest.param({"status": 101}, rule_of("status", STATUS_RULE), id="status-1xx"),
        pytest.param({"status": 503, "headers": {"X Y": "1"}},
                     rule_of("headers", HEADER_NAME_RULE), id="header-name-with-a-space"),
        pytest.param({"status": 503, "headers": {"X": "1\r\nA: b"}},
                     rule_of("headers.X", HEADER_VALUE_RULE), id="header-value-with-crlf"),
        pytest.param({"status": 503, "headers": {"Content-Length": "3"}},
                     rule_of("headers", HEADER_NAME_RULE), id="own-content-length"),
    ],
)
def test_a_rule_that_does_not_do_exactly_one_thing_or_cannot_be_sent_is_refused(
    way: Way, rule: dict[str, Any], details: list[dict[str, str]]
) -> None:
    before = way.dump()
    no = refused(way, "bad", way.add_fault, path="/account", **rule)
    if no.reply is not None:
        assert no.reply.json["error"]["details"] == details
    else:
        # One schema decides both ways: the message lists the same problems.
        assert no.message == "; ".join(f"{d['field'] or 'the rule'}: {d['message']}"
                                       for d in details)
    assert way.faults() == []
    assert way.api.get("/account").status == 200
    assert way.dump() == before


def test_a_fault_with_times_2_fires_twice_then_stops(way: Way) -> None:
    way.add_fault(path="/timeEntries/71", status=500, times=2)
    way.add_fault(path="/account", status=502)  # once, by default
    assert [way.api.get("/timeEntries/71").status for _ in range(4)] == [500, 500, 200, 200]
    assert [way.api.get("/account").status for _ in range(3)] == [502, 200, 200]
    assert [(r["matched"], r["applied"], r["remaining"]) for r in way.faults()] == [
        (2, 2, 0), (1, 1, 0)
    ]


def test_a_fault_after_2_lets_two_through_first(way: Way) -> None:
    way.add_fault(path="/account", status=503, after=2)
    assert [way.api.get("/account").status for _ in range(4)] == [200, 200, 503, 200]
    [rule] = way.faults()
    assert (rule["matched"], rule["applied"], rule["remaining"]) == (3, 1, 0)


def test_a_fault_with_times_none_applies_always(way: Way) -> None:
    way.add_fault(path="/account", status=503, times=None)
    assert [way.api.get("/account").status for _ in range(6)] == [503] * 6
    [rule] = way.faults()
    assert (rule["applied"], rule["remaining"], rule["times"]) == (6, None, None)


def test_a_status_fault_answers_the_default_error_or_the_given_body_and_headers(
    way: Way,
) -> None:
    way.add_fault(path="/account", status=503)
    way.add_fault(path="/account", status=429, body={"slow": ["down", 1]},
                  headers={"Retry-After": "7", "X-Trace": "abc"})
    r = way.api.get("/account")
    assert r.status == 503
    assert r.json == error(503, "Injected fault (rule 1).")
    # The body is the rule's own, not the contract's; a /v1 path matches its root path.
    injected = call(way.api, "GET", "/v1/account", check=False)
    assert injected.status == 429
    assert injected.json == {"slow": ["down", 1]}
    assert injected.headers["retry-after"] == "7"
    assert injected.headers["x-trace"] == "abc"
    assert injected.headers["content-type"] == "application/json"
    assert way.api.get("/account").status == 200
    assert [r.get("fault", "none") for r in way.requests()] == [1, 2, "none"]


def test_a_fault_matches_v1_paths_by_their_root_path(way: Way) -> None:
    way.add_fault(path="/timeEntries/*", status=503, times=2)
    assert way.api.get("/v1/timeEntries/71").status == 503
    assert way.api.get("/timeEntries/71").status == 503
    assert way.api.get("/v1/timeEntries/71").status == 200


def test_a_fault_matches_method_and_glob_and_the_first_rule_wins(way: Way) -> None:
    way.add_fault(path="/timeEntries/*", method="DELETE", status=503, times=None)
    assert way.api.get("/timeEntries/71").status == 200
    assert way.api.get("/projects/51/timeEntries").status == 200
    assert way.api.delete("/timeEntries/71").status == 503
    assert way.api.get("/timeEntries/71").status == 200  # the injected answer deleted nothing
    assert way.faults()[0]["matched"] == 1
    way.add_fault(path="/acc*", status=502)
    way.add_fault(path="/account", status=504)
    assert [way.api.get("/account").status for _ in range(3)] == [502, 504, 200]


def test_a_drop_fault_closes_the_connection_without_an_answer(way: Way) -> None:
    way.add_fault(path="/account", drop=True)
    api = way.api
    if api.transport == "socket":
        assert api.url is not None
        host, port = api.url.split("//", 1)[1].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            # RemoteDisconnected is a ConnectionResetError.
            with pytest.raises(ConnectionResetError):
                conn.request("GET", "/account")
                conn.getresponse()
        finally:
            conn.close()
    else:
        # Flask's test client (fake.client, too) has no connection to close: it raises.
        assert api.client is not None
        with pytest.raises(ConnectionAbortedError):
            api.client.get("/account")
    # The rule is spent: the server answers again.
    assert api.get("/account").status == 200


def test_a_delay_fault_delays_the_real_answer(way: Way) -> None:
    way.add_fault(path="/account", delay_ms=200)
    began = time.monotonic()
    r = way.api.get("/account")
    assert time.monotonic() - began >= 0.2
    assert r.status == 200
    assert r.json["account"]["name"] == "Acme Ltd"
    assert way.faults()[0]["remaining"] == 0
    assert way.api.get("/account").status == 200
    # A delayed request is journaled as the real one it is.
    assert [(r["status"], "fault" in r) for r in way.requests()] == [(200, False), (200, False)]


def test_faulted_requests_are_journaled_with_the_rule(way: Way) -> None:
    way.add_fault(path="/timeEntries/71", status=503)
    way.add_fault(path="/timeEntries/72", drop=True)
    assert way.api.get("/v1/timeEntries/71", query={"x": "1"}).status == 503
    with contextlib.suppress(ConnectionError):
        send(way.api, "DELETE", "/timeEntries/72", None, None)
    entry = way.api.get("/timeEntries/72")
    assert entry.status == 200
    records = [dict(r) for r in way.requests()]
    # Numbered in order; the numbers go on from the shared fake's earlier tests.
    seqs = [r.pop("seq") for r in records]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    assert records == [
        {
            "time": MIDNIGHT, "method": "GET", "path": "/v1/timeEntries/71", "query": "x=1",
            "user": None, "body": None, "status": 503, "message": "injected by fault rule 1",
            "violations": [], "fault": 1, "answer_size": 74,
            "answer": '{"error":{"status":503,"message":"Injected fault (rule 1).","details":[]}}',
        },
        {
            "time": MIDNIGHT, "method": "DELETE", "path": "/timeEntries/72", "query": "",
            "user": None, "body": None, "status": 0, "message": "injected by fault rule 2",
            "violations": [], "fault": 2, "answer": "", "answer_size": 0,
        },
        {
            "time": MIDNIGHT, "method": "GET", "path": "/timeEntries/72", "query": "",
            "user": None, "body": None, "status": 200, "message": None, "violations": [],
            "answer": entry.raw.decode(), "answer_size": len(entry.raw),
        },
    ]


def test_at_most_max_rules_and_clear_removes_them(way: Way) -> None:
    way.add_fault(path="/account", status=503, times=None)
    way.add_fault(path="/timeEntries/*", drop=True)
    for i in range(MAX_RULES - 2):
        way.add_fault(path=f"/nowhere/{i}", status=503)
    no = refused(way, "full", way.add_fault, path="/account", status=503)
    assert f"at most {MAX_RULES} fault rules" in no.message
    assert len(way.faults()) == MAX_RULES
    way.clear_faults()
    assert way.faults() == []
    assert way.api.get("/account").status == 200
    assert way.api.get("/timeEntries/71").status == 200
    # Numbering goes on, so the journal's references stay unambiguous.
    assert way.add_fault(path="/account", status=503)["id"] == MAX_RULES + 1


# --- the clock ---------------------------------------------------------------------------


def test_setting_the_clock_freezes_it_there_and_the_api_follows(way: Way) -> None:
    assert way.clock() == AT_MIDNIGHT
    assert way.set_clock(frozen=False)["frozen"] is False
    assert way.set_clock(now="2013-01-02 03:04:05") == {
        "now": "2013-01-02 03:04:05", "today": "2013-01-02", "frozen": True
    }
    # Frozen to the microsecond: the control API's view has whole seconds only.
    time.sleep(0.01)
    assert way.fake.clock.now() == datetime.datetime(2013, 1, 2, 3, 4, 5)
    entry = way.api.get(f"/timeEntries/{new_entry(way.api)}").json["time-entry"]
    assert (entry["date"], entry["created-at"]) == ("2013-01-02", "2013-01-02 03:04:05")


def test_an_unfrozen_clock_runs_on_from_the_time_shown(way: Way) -> None:
    shown = way.set_clock(frozen=False)
    assert shown["frozen"] is False
    assert not way.fake.clock.frozen
    assert MIDNIGHT <= shown["now"] < "2012-07-31 00:01:00"
    # The clock shows whole seconds: wait for the next one, at most about a second.
    deadline = time.monotonic() + 3
    later = way.clock()
    while later["now"] == shown["now"] and time.monotonic() < deadline:
        time.sleep(0.05)
        later = way.clock()
    assert later["frozen"] is False
    assert shown["now"] < later["now"] < "2012-07-31 00:01:00"
    entry = way.api.get(f"/timeEntries/{new_entry(way.api)}").json["time-entry"]
    assert entry["date"] == "2012-07-31"
    # Freezing again stops it where it is.
    frozen = way.set_clock(frozen=True)
    assert frozen["frozen"] is True
    assert way.fake.clock.frozen
    assert way.clock() == frozen


def test_advance_moves_the_clock(way: Way) -> None:
    assert way.advance(90061) == {
        "now": "2012-08-01 01:01:01", "today": "2012-08-01", "frozen": True
    }
    assert way.fake.clock.now() == datetime.datetime(2012, 8, 1, 1, 1, 1)
    entry = way.api.get(f"/timeEntries/{new_entry(way.api)}").json["time-entry"]
    assert (entry["date"], entry["created-at"]) == ("2012-08-01", "2012-08-01 01:01:01")
    back = way.advance(-86400.5)
    assert back == {"now": "2012-07-31 01:01:00", "today": "2012-07-31", "frozen": True}
    assert way.fake.clock.now() == datetime.datetime(2012, 7, 31, 1, 1, 0, 500000)


def test_advance_opens_a_new_rate_window(way_of: WayOf) -> None:
    way = way_of(settings=Settings(rate_limit=(1, 300)))
    assert way.api.get("/account").status == 200
    assert way.api.get("/account").status == 429
    way.advance(300)
    assert way.api.get("/account").status == 200


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        pytest.param("9990-01-01 00:00:00", 3_153_600_000, id="past-9999"),
        pytest.param("0010-01-01 00:00:00", -3_153_600_000, id="before-year-1"),
    ],
)
def test_an_advance_out_of_the_calendar_is_refused_and_moves_nothing(
    way: Way, now: str, seconds: int
) -> None:
    way.set_clock(now=now)
    shown = way.clock()
    no = refused(way, "bad", way.advance, seconds)
    if no.reply is not None:
        assert no.fields == ["seconds"]
    assert way.clock() == shown
    # The Apollo calls still answer on the clock's day.
    assert way.api.get("/account").status == 200
    assert new_entry(way.api)


# --- following the journal, reading the data, removing one fault rule --------------------


def test_the_journal_is_followed_by_its_numbers(way: Way) -> None:
    for path in ("/timeEntries/71", "/timeEntries/72", "/account"):
        assert way.api.get(path).status == 200
    records, last = way.follow()
    seqs = [r["seq"] for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3 and last == seqs[-1]
    newer, _ = way.follow(after=seqs[0])
    assert [r["path"] for r in newer] == ["/timeEntries/72", "/account"]
    assert way.follow(after=last) == ([], last)
    # limit keeps the newest matches.
    assert [r["path"] for r in way.follow(limit=1)[0]] == ["/account"]
    refused(way, "bad", way.follow, limit=0)


def test_the_violations_filter_is_applied_before_the_limit(way: Way) -> None:
    api = way.api
    assert api.post("/projects/51/timeEntries", {"time-entry": {"seconds": "-1"}}).status == 422
    for _ in range(250):  # newer than the violation, and more than the limit
        assert api.get("/account").status == 200
    assert api.get("/account?x=1").status == 400
    newest, _ = way.follow(limit=200)
    assert not any(r["violations"] for r in newest[:-1])
    found, _ = way.follow(limit=200, violations=True)
    assert [(r["method"], r["status"]) for r in found] == [("POST", 422), ("GET", 400)]
    assert len(way.follow(violations=False)[0]) == 252


def test_parents_are_listed_by_id_with_their_entry_counts(way: Way) -> None:
    records, total = way.parents("projects")
    ids = [p["id"] for p in records]
    assert ids == sorted(ids, key=int) and total == len(small_doc()["projects"])
    wanted = {
        p["id"]: sum(1 for e in small_doc()["time-entries"] if e.get("project-id") == p["id"])
        for p in small_doc()["projects"]
    }
    assert {p["id"]: p["entries"] for p in records} == wanted
    assert way.parents("projects", 2) == ([], total)
    assert way.parents("contacts")[1] == len(small_doc()["contacts"])
    assert way.requests() == []  # reading the data is not a request of the client
    refused(way, "unknown", way.parents, "users")


def test_parent_entries_page_as_the_api_does(way_of: WayOf) -> None:
    way = way_of(entries_doc(60))
    pages = []
    for page in (1, 2):
        entries, total = way.entries_of("projects", 51, page)
        assert total == 60
        assert entries == way.api.get(f"/projects/51/timeEntries/{page}").json["time-entries"]
        pages.append(entries)
    assert [len(p) for p in pages] == [50, 10]
    assert [r["path"] for r in way.requests()] == [
        "/projects/51/timeEntries/1", "/projects/51/timeEntries/2"
    ]
    refused(way, "unknown", way.entries_of, "projects", 999)


def test_one_fault_rule_is_removed_and_the_others_stay(way: Way) -> None:
    first = way.add_fault(path="/account", status=503, times=None)
    second = way.add_fault(path="/timeEntries/*", status=500, times=None)
    assert way.api.get("/account").status == 503
    way.remove_fault(first["id"])
    assert [f["id"] for f in way.faults()] == [second["id"]]
    assert way.api.get("/account").status == 200
    assert way.api.get("/timeEntries/71").status == 500
    refused(way, "unknown", way.remove_fault, first["id"])
