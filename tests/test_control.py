"""The control API under ``/_fake/``, over HTTP, through the test client and over a socket.

Covers every control call and its bad bodies: health, reset (to the loaded data or
empty; it also forgets the journal and the fault rules and puts the clock back),
the state (a dump loads back as is; an invalid one changes nothing), named
snapshots, changes (since loading or since a snapshot), the request journal (its
records, filters, bound and what it never holds), fault rules (status with body and
headers, delay, drop; ``after``, ``times``; ``/v1`` paths) and the clock. Also what
the control API never is: under ``/v1``, journaled, rate limited; and the settings
(and CLI flags) that remove it or lock it behind a token.

``conftest.Api.request`` checks bodies against the Apollo schemas by path, which
would fail on ``/_fake/`` answers, so control calls go through ``call`` below,
which checks each body against its own definition in ``control.schema.json``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import json
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apollo_fake import fixtures, schemas
from apollo_fake.fake import Settings

from conftest import DEMO, TODAY, Api, entries_doc, make_api, small_doc

ROOT = Path(__file__).resolve().parent.parent
CONTROL = "control.schema.json#/$defs/"
NOTHING: Any = object()
SECRET = "secret-token"
READY = re.compile(r"apollo-fake listening on (http://127\.0\.0\.1:\d+)")
MIDNIGHT = "2012-07-31 00:00:00"
SMALL_COUNTS = {
    "users": 2,
    "time-categories": 2,
    "companies": 2,
    "contacts": 4,
    "projects": 3,
    "tasks": 2,
    "time-entries": 10,
}
EMPTY_COUNTS = dict.fromkeys(SMALL_COUNTS, 0)
NAME_RULE = "a name is 1 to 64 letters, digits, '_', '.' or '-'"
FAULT_RULE = "a fault does exactly one of: status, delay_ms, drop"

# --- helpers -------------------------------------------------------------------

_RESPONSES = {
    ("GET", "/_fake/health"): "health-response",
    ("POST", "/_fake/reset"): "ok-response",
    ("PUT", "/_fake/state"): "ok-response",
    ("GET", "/_fake/snapshots"): "snapshots-response",
    ("GET", "/_fake/changes"): "changes-response",
    ("GET", "/_fake/requests"): "requests-response",
    ("DELETE", "/_fake/requests"): "ok-response",
    ("POST", "/_fake/faults"): "fault",
    ("GET", "/_fake/faults"): "faults-response",
    ("DELETE", "/_fake/faults"): "ok-response",
    ("GET", "/_fake/clock"): "clock-response",
    ("PUT", "/_fake/clock"): "clock-response",
    ("POST", "/_fake/clock/advance"): "clock-response",
}


def control_schema(method: str, path: str) -> str:
    """Name the schema a successful control answer must match."""
    path = path.split("?", 1)[0]
    if (method, path) == ("GET", "/_fake/state"):
        return "fixture.schema.json"
    if (method, path) in _RESPONSES:
        return CONTROL + _RESPONSES[(method, path)]
    if path.startswith("/_fake/snapshots/") and method in ("POST", "DELETE"):
        return CONTROL + "ok-response"
    raise AssertionError(f"no schema is known for {method} {path}")


class Reply:
    """An answer: status, headers (lower-case names), decoded JSON body and raw bytes."""

    def __init__(self, status: int, headers: dict[str, str], body: Any, raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.json = body
        self.raw = raw

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.raw[:300]!r}>"


def send(
    api: Api, method: str, path: str, payload: bytes | None, headers: dict[str, str] | None
) -> tuple[int, dict[str, str], bytes]:
    """Send one request through the Api's transport, without any schema check."""
    hdrs = dict(headers or {})
    if api.client is not None:
        resp = api.client.open(path, method=method, data=payload, headers=hdrs)
        return resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.get_data()
    assert api.url is not None
    host, port = api.url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=payload, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def call(
    api: Api,
    method: str,
    path: str,
    body: Any = NOTHING,
    *,
    data: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    check: bool = True,
) -> Reply:
    """Send a request and check its answer: JSON always; errors against error.schema.json,
    control answers against their control.schema.json definition (``check=False``: only
    JSON, for injected answers whose body is the test's own)."""
    if body is not NOTHING:
        payload: bytes | None = json.dumps(body).encode()
    elif isinstance(data, str):
        payload = data.encode()
    else:
        payload = data
    status, got, raw = send(api, method, path, payload, headers)
    assert got.get("content-type", "").startswith("application/json"), (status, got, raw)
    parsed = json.loads(raw)
    if check:
        name = None
        if status >= 400:
            name = "error.schema.json"
        elif path.startswith("/_fake/"):
            name = control_schema(method, path)
        # The compiled validator is fast on a whole state; the full one explains a failure.
        if name is not None and not schemas.is_valid(name, parsed):
            schemas.full_validator(name).validate(parsed)
            raise AssertionError(f"{method} {path}: the body does not match {name}")
    return Reply(status, got, parsed, raw)


def basic(token: str) -> dict[str, str]:
    """Return the Authorization header of HTTP Basic with the token as user name."""
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:X".encode()).decode()}


def error(status: int, message: str, details: list[dict[str, str]] | None = None) -> Any:
    """Return the contract's error body."""
    return {"error": {"status": status, "message": message, "details": details or []}}


class Cases:
    """Run related cases in one test (a socket test costs a server start) and report
    every case that fails, by name."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    @contextlib.contextmanager
    def case(self, name: str) -> Iterator[None]:
        """Run one case, noting its failure instead of stopping."""
        try:
            yield
        except AssertionError as exc:
            self.failed.append(f"{name}: {exc}")

    def check(self) -> None:
        """Fail with every failed case."""
        assert not self.failed, "\n".join(self.failed)


def journal(api: Api, query: str = "") -> Any:
    """Return the decoded ``GET /_fake/requests`` answer."""
    r = call(api, "GET", "/_fake/requests" + query)
    assert r.status == 200, r
    return r.json


def clock(api: Api) -> Any:
    """Return the decoded ``GET /_fake/clock`` answer."""
    r = call(api, "GET", "/_fake/clock")
    assert r.status == 200, r
    return r.json


def add_fault(api: Api, rule: dict[str, Any]) -> Any:
    """Add a fault rule through the control API; return its description."""
    r = call(api, "POST", "/_fake/faults", rule)
    assert r.status == 201, r
    return r.json


def faults(api: Api) -> list[Any]:
    """Return the listed fault rules."""
    r = call(api, "GET", "/_fake/faults")
    assert r.status == 200
    listed: list[Any] = r.json["faults"]
    return listed


def new_entry(api: Api, notes: str = "new") -> str:
    """Create an entry on project 51 through the API; return its id."""
    r = api.post("/projects/51/timeEntries", {"time-entry": {"seconds": "60", "notes": notes}})
    assert r.status == 201, r
    entry_id: str = r.json["time-entry-id"]
    return entry_id


def change_some(api: Api) -> None:
    """Create, update and delete an entry through the API."""
    new_entry(api)
    assert api.put("/timeEntries/72", {"time-entry": {"notes": "changed"}}).status == 200
    assert api.delete("/timeEntries/73").status == 200


def small_record(collection: str, id: str) -> Any:
    """Return one record of small.json as `changes` shows it (entries: in their wire form)."""
    record = dict(next(r for r in small_doc()[collection] if r["id"] == id))
    if collection == "time-entries":
        record.setdefault("created-at", record["date"] + " 00:00:00")
        record.setdefault("updated-at", record["created-at"])
    return record


@pytest.fixture(params=["client", "socket"])
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., Api]]:
    """Build Apis over other data or settings, through the transport the test runs with."""
    made: list[Iterator[Api]] = []

    def build(doc: Any = None, *, settings: Settings | None = None, today: Any = TODAY) -> Api:
        gen = make_api(
            request, small_doc() if doc is None else doc, today=today, settings=settings
        )
        made.append(gen)
        return next(gen)

    yield build
    for gen in made:
        next(gen, None)  # runs the rest of make_api: closes the connection, stops the server


# --- health --------------------------------------------------------------------


def test_health_answers_with_the_entity_counts(api: Api) -> None:
    r = call(api, "GET", "/_fake/health")
    assert r.status == 200
    assert r.json == {"status": "ok", "counts": SMALL_COUNTS}
    new_entry(api)
    assert api.delete("/timeEntries/71").status == 200
    assert api.delete("/timeEntries/72").status == 200
    counts = call(api, "GET", "/_fake/health").json["counts"]
    assert counts == {**SMALL_COUNTS, "time-entries": 9}


# --- what the control API is not --------------------------------------------------


def test_control_routes_answer_json_errors(api: Api) -> None:
    cases = Cases()
    # Never under /v1: the prefix is the API's, not the control API's.
    for path in ("/v1/_fake/health", "/v1/_fake/state", "/v1/_fake/requests"):
        with cases.case(path):
            assert call(api, "GET", path).status == 404
    with cases.case("unknown control route"):
        r = call(api, "GET", "/_fake/nothing-here")
        assert r.status == 404
        assert r.json["error"]["status"] == 404
    with cases.case("wrong method"):
        r = call(api, "POST", "/_fake/health")
        assert r.status == 405
        assert r.headers["allow"] == "GET, HEAD"
    cases.check()


def test_control_calls_are_never_journaled(api: Api) -> None:
    assert api.get("/account").status == 200
    calls = [
        ("GET", "/_fake/health", NOTHING, 200),
        ("GET", "/_fake/state", NOTHING, 200),
        ("POST", "/_fake/snapshots/one", NOTHING, 201),
        ("GET", "/_fake/snapshots", NOTHING, 200),
        ("GET", "/_fake/changes", NOTHING, 200),
        ("GET", "/_fake/faults", NOTHING, 200),
        ("GET", "/_fake/clock", NOTHING, 200),
        ("POST", "/_fake/clock/advance", {"seconds": 1}, 200),
        ("POST", "/_fake/faults", {"path": "/nowhere", "status": 503}, 201),
        ("DELETE", "/_fake/faults", NOTHING, 200),
        ("PUT", "/_fake/state", small_doc(), 200),
        # Rejected control calls are not journaled either.
        ("PUT", "/_fake/clock", {"bogus": 1}, 400),
        ("GET", "/_fake/changes?since=unknown", NOTHING, 404),
        ("GET", "/_fake/nothing-here", NOTHING, 404),
        ("POST", "/_fake/snapshots/one/restore", NOTHING, 200),
        ("GET", "/_fake/requests", NOTHING, 200),
    ]
    for method, path, body, status in calls:
        assert call(api, method, path, body).status == status, (method, path)
    found = journal(api)
    assert [(r["method"], r["path"]) for r in found["requests"]] == [("GET", "/account")]
    assert found["dropped"] == 0


def test_control_calls_are_never_rate_limited(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(rate_limit=(1, 300)))
    for _ in range(10):
        assert call(api, "GET", "/_fake/health").status == 200
        assert call(api, "GET", "/_fake/requests").status == 200
        assert call(api, "GET", "/_fake/clock").status == 200
    # The allowance of one is still whole: the first API call passes, the second not.
    assert api.get("/account").status == 200
    limited = api.get("/account")
    assert limited.status == 429
    assert "retry-after" in limited.headers
    assert call(api, "GET", "/_fake/health").status == 200


# --- settings: control=False, control_token -------------------------------------

EVERY_CALL: list[tuple[str, str, str, Any]] = [
    ("health", "GET", "/_fake/health", NOTHING),
    ("reset", "POST", "/_fake/reset", NOTHING),
    ("get-state", "GET", "/_fake/state", NOTHING),
    ("put-state", "PUT", "/_fake/state", {}),
    ("snapshots", "GET", "/_fake/snapshots", NOTHING),
    ("save-snapshot", "POST", "/_fake/snapshots/one", NOTHING),
    ("restore-snapshot", "POST", "/_fake/snapshots/one/restore", NOTHING),
    ("changes", "GET", "/_fake/changes", NOTHING),
    ("requests", "GET", "/_fake/requests", NOTHING),
    ("clear-requests", "DELETE", "/_fake/requests", NOTHING),
    ("add-fault", "POST", "/_fake/faults", {"path": "/x", "status": 503}),
    ("faults", "GET", "/_fake/faults", NOTHING),
    ("clear-faults", "DELETE", "/_fake/faults", NOTHING),
    ("clock", "GET", "/_fake/clock", NOTHING),
    ("set-clock", "PUT", "/_fake/clock", {"frozen": False}),
    ("advance", "POST", "/_fake/clock/advance", {"seconds": 5}),
    ("delete-snapshot", "DELETE", "/_fake/snapshots/one", NOTHING),
]


def test_control_false_removes_every_control_call(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(control=False))
    assert api.get("/account").status == 200
    before = api.dump()
    cases = Cases()
    for name, method, path, body in EVERY_CALL:
        with cases.case(name):
            r = call(api, method, path, body)
            assert r.status == 404, r
            assert r.json["error"]["status"] == 404
    cases.check()
    assert api.dump() == before
    assert api.fake.snapshots() == []
    assert api.fake.faults.rules == []
    assert len(api.fake.journal) == 1
    assert api.fake.clock.now().strftime("%Y-%m-%d %H:%M:%S") == MIDNIGHT
    assert api.get("/account").status == 200


def test_control_token_is_required_by_every_control_call(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(control_token="T"))
    assert api.post("/projects/51/timeEntries", {"time-entry": {"seconds": "60"}}).status == 201
    before = api.dump()
    cases = Cases()
    for name, method, path, body in EVERY_CALL:
        for headers in ({}, {"X-Fake-Control-Token": "wrong"}, {"X-Fake-Control-Token": "t"}):
            with cases.case(f"{name} {headers}"):
                r = call(api, method, path, body, headers=headers)
                assert r.status == 401, r
                assert r.json == error(401, "The control API needs the X-Fake-Control-Token header")
    cases.check()
    # None of the refused calls did anything.
    assert api.dump() == before
    assert api.fake.snapshots() == []
    assert api.fake.faults.rules == []
    assert len(api.fake.journal) == 1
    assert api.fake.clock.now().strftime("%Y-%m-%d %H:%M:%S") == MIDNIGHT
    for name, method, path, body in EVERY_CALL:
        with cases.case(name + " with the token"):
            r = call(api, method, path, body, headers={"X-Fake-Control-Token": "T"})
            assert r.status in (200, 201), r
    cases.check()
    # The API itself does not need the control token.
    assert api.get("/account").status == 200


# --- reset -----------------------------------------------------------------------


def test_reset_returns_to_the_loaded_data_and_keeps_the_snapshots(api: Api) -> None:
    loaded = api.dump()
    change_some(api)
    assert call(api, "POST", "/_fake/snapshots/kept").status == 201
    assert api.dump() != loaded
    r = call(api, "POST", "/_fake/reset")
    assert (r.status, r.json) == (200, {"ok": True})
    assert api.dump() == loaded
    assert call(api, "GET", "/_fake/snapshots").json == {"snapshots": ["kept"]}
    # Ids start over too: the next create gets the id the first one got.
    assert new_entry(api) == "81"
    assert call(api, "POST", "/_fake/reset", {"to": "loaded"}).status == 200
    assert api.dump() == loaded


def test_reset_to_empty_empties_the_data_and_reset_brings_it_back(api: Api) -> None:
    loaded = api.dump()
    r = call(api, "POST", "/_fake/reset", {"to": "empty"})
    assert (r.status, r.json) == (200, {"ok": True})
    assert call(api, "GET", "/_fake/health").json["counts"] == EMPTY_COUNTS
    state = call(api, "GET", "/_fake/state").json
    assert state == {
        "account": {"id": "1", "name": "Acme Ltd"},
        "users": [],
        "time-categories": [],
        "companies": [],
        "contacts": [],
        "projects": [],
        "tasks": [],
        "time-entries": [],
    }
    assert api.get("/timeEntries/71").status == 404
    assert call(api, "POST", "/_fake/reset").status == 200
    assert api.dump() == loaded


def test_reset_forgets_the_journal_and_the_faults_and_puts_the_clock_back(api: Api) -> None:
    assert api.get("/account").status == 200
    assert call(api, "POST", "/_fake/faults", {"path": "/account", "status": 503}).status == 201
    assert call(api, "PUT", "/_fake/clock", {"now": "2020-01-01 12:00:00"}).status == 200
    assert call(api, "POST", "/_fake/reset").status == 200
    assert journal(api) == {"requests": [], "dropped": 0}
    assert call(api, "GET", "/_fake/faults").json == {"faults": []}
    assert clock(api) == {"now": MIDNIGHT, "today": "2012-07-31", "frozen": True}
    # The rule is gone, not merely hidden.
    assert api.get("/account").status == 200
    # A clock let run is frozen back where it started.
    assert call(api, "PUT", "/_fake/clock", {"frozen": False}).status == 200
    assert call(api, "POST", "/_fake/reset").status == 200
    assert clock(api) == {"now": MIDNIGHT, "today": "2012-07-31", "frozen": True}


def test_reset_renews_the_rate_allowance(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(rate_limit=(1, 300)))
    assert api.get("/account").status == 200
    assert api.get("/account").status == 429
    assert call(api, "POST", "/_fake/reset").status == 200
    assert api.get("/account").status == 200


TO_RULE = 'to is "loaded" (the default) or "empty"'
BAD_RESETS: list[tuple[str, bytes, Any]] = [
    ("malformed-json", b"{bad", None),
    ("unknown-target", b'{"to": "nowhere"}', [{"field": "to", "message": TO_RULE}]),
    ("target-not-a-string", b'{"to": 1}', [{"field": "to", "message": TO_RULE}]),
    ("unknown-key", b'{"to": "empty", "also": 1}',
     [{"field": "also", "message": "is not a known key"}]),
    ("not-an-object", b'["empty"]', [{"field": "", "message": "must be a JSON object"}]),
]


def test_reset_refuses_a_bad_body_and_changes_nothing(api: Api) -> None:
    change_some(api)
    assert call(api, "POST", "/_fake/faults", {"path": "/nowhere", "status": 503}).status == 201
    assert call(api, "POST", "/_fake/clock/advance", {"seconds": 5}).status == 200
    before = api.dump()
    cases = Cases()
    for name, data, details in BAD_RESETS:
        with cases.case(name):
            r = call(api, "POST", "/_fake/reset", data=data)
            assert r.status == 400, r
            if details is None:
                assert r.json["error"]["details"][0]["field"] == ""
            else:
                assert r.json["error"]["details"] == details
            assert api.dump() == before
            assert len(journal(api)["requests"]) == 3
            assert len(faults(api)) == 1
            assert clock(api)["now"] == "2012-07-31 00:00:05"
    cases.check()


# --- state -----------------------------------------------------------------------


def test_get_state_is_the_whole_state_in_the_fixture_format(api: Api) -> None:
    r = call(api, "GET", "/_fake/state")
    assert r.status == 200
    assert r.json == small_doc()
    assert list(r.json) == [
        "account", "users", "time-categories", "companies", "contacts", "projects", "tasks",
        "time-entries",
    ]
    change_some(api)
    state = call(api, "GET", "/_fake/state").json
    assert state == api.fake.state()
    entries = {e["id"]: e for e in state["time-entries"]}
    assert "73" not in entries
    assert entries["72"]["notes"] == "changed"
    assert entries["72"]["updated-at"] == MIDNIGHT
    # 81 was created at its own date's midnight: the dump leaves out what a loader derives.
    assert "created-at" not in entries["81"] and entries["81"]["date"] == MIDNIGHT[:10]


def test_state_dump_loads_back_to_an_identical_dump(make: Callable[..., Api]) -> None:
    source = make()
    change_some(source)
    dumped = call(source, "GET", "/_fake/state")
    target = make({})
    r = call(target, "PUT", "/_fake/state", data=dumped.raw)
    assert (r.status, r.json) == (200, {"ok": True})
    assert target.dump() == source.dump()
    assert call(target, "GET", "/_fake/state").raw == dumped.raw
    # Ids continue above the largest loaded one, as after loading a fixture file.
    assert new_entry(target) == "82"


def test_demo_state_loads_back_through_put_to_an_identical_dump(
    make: Callable[..., Api],
) -> None:
    demo = make(json.loads(DEMO.read_bytes()), today=fixtures.DEMO_TODAY)
    dumped = call(demo, "GET", "/_fake/state")
    assert fixtures.dumps(dumped.json) == DEMO.read_bytes()
    target = make({})
    assert call(target, "PUT", "/_fake/state", data=dumped.raw).status == 200
    assert target.dump() == DEMO.read_bytes()
    # Putting the dump back into the fake it came from changes nothing.
    assert call(demo, "PUT", "/_fake/state", data=dumped.raw).status == 200
    assert demo.dump() == DEMO.read_bytes()
    assert call(demo, "GET", "/_fake/changes").json == {"since": None, "changes": {}}


def test_put_state_replaces_the_data(api: Api) -> None:
    doc = {
        "users": [{"id": "5", "first-name": "Lin", "last-name": "", "email": ""}],
        "projects": [{"id": "7", "name": "Only", "company-id": None}],
        "time-entries": [
            {"id": "9", "user-id": "5", "project-id": "7", "date": "2012-07-30", "seconds": "60"}
        ],
    }
    r = call(api, "PUT", "/_fake/state", doc)
    assert (r.status, r.json) == (200, {"ok": True})
    assert call(api, "GET", "/_fake/health").json["counts"] == {
        **EMPTY_COUNTS, "users": 1, "projects": 1, "time-entries": 1,
    }
    assert [e["id"] for e in api.get("/projects/7/timeEntries").json["time-entries"]] == ["9"]
    assert api.get("/timeEntries/71").status == 404


def test_put_state_then_reset_returns_to_the_originally_loaded_data(api: Api) -> None:
    loaded = api.dump()
    assert call(api, "PUT", "/_fake/state", {"users": []}).status == 200
    assert api.dump() != loaded
    assert call(api, "POST", "/_fake/reset").status == 200
    assert api.dump() == loaded


def test_put_state_accepts_a_document_larger_than_an_api_body(api: Api) -> None:
    doc = entries_doc(1500)
    for entry in doc["time-entries"]:
        entry["notes"] = "n" * 700
    data = json.dumps(doc).encode()
    assert len(data) > 1024 * 1024
    r = call(api, "PUT", "/_fake/state", data=data)
    assert r.status == 200, r
    assert call(api, "GET", "/_fake/health").json["counts"]["time-entries"] == 1500


BAD_ENTRY = {"id": "90", "user-id": "99", "project-id": "51", "date": "2012-07-01",
             "seconds": "60"}


BAD_STATES: list[tuple[str, Any, list[str]]] = [
    ("unknown-key", {"bogus": []}, ["/bogus"]),
    ("collection-not-a-list", {"users": "none"}, ["/users"]),
    ("id-not-digits", {"users": [{"id": "x1"}]}, ["/users/0/id"]),
    ("impossible-date", {"users": [{"id": "11"}], "projects": [{"id": "51"}],
                         "time-entries": [{**BAD_ENTRY, "user-id": "11", "date": "2012-02-30"}]},
     ["/time-entries/0/date"]),
    ("unknown-reference", {"users": [{"id": "11"}], "projects": [{"id": "51"}],
                           "time-entries": [BAD_ENTRY]}, ["/time-entries/0/user-id"]),
    ("duplicate-id", {"users": [{"id": "11"}, {"id": "11"}]}, ["/users/1/id"]),
    ("not-an-object", [], [""]),
]


def test_put_state_refuses_an_invalid_document_with_pointers_and_changes_nothing(
    api: Api,
) -> None:
    change_some(api)
    before = api.dump()
    state = call(api, "GET", "/_fake/state").raw
    cases = Cases()
    for name, doc, fields in BAD_STATES:
        with cases.case(name):
            r = call(api, "PUT", "/_fake/state", doc)
            assert r.status == 400, r
            assert r.json["error"]["message"] == (
                "The fixture document is invalid; nothing was changed."
            )
            assert [d["field"] for d in r.json["error"]["details"]] == fields
            assert api.dump() == before
            assert call(api, "GET", "/_fake/state").raw == state
            # Still the changed data, and still "changed since loading".
            kinds = call(api, "GET", "/_fake/changes").json["changes"]["time-entries"]
            assert [len(kinds[k]) for k in ("created", "updated", "deleted")] == [1, 1, 1]
    with cases.case("thousands-of-problems"):
        # Answered at once, listing the first hundred and counting the rest.
        r = call(api, "PUT", "/_fake/state", {"time-entries": [{"id": "1"}] * 2000})
        assert r.status == 400, r
        assert r.json["error"]["message"] == (
            "The fixture document is invalid; nothing was changed. "
            "The first 100 of 6000 problems are listed."
        )
        assert len(r.json["error"]["details"]) == 100
        assert api.dump() == before
    for name, data in [("empty", b""), ("malformed-json", b'{"users": ['),
                       ("not-utf8", b"\xff\xfe{}")]:
        with cases.case(name):
            r = call(api, "PUT", "/_fake/state", data=data)
            assert r.status == 400, r
            assert r.json["error"]["details"][0]["field"] == ""
            assert api.dump() == before
    cases.check()


# --- snapshots ---------------------------------------------------------------------


def test_snapshot_save_list_restore_delete(api: Api) -> None:
    assert call(api, "GET", "/_fake/snapshots").json == {"snapshots": []}
    saved = call(api, "POST", "/_fake/snapshots/before-run")
    assert (saved.status, saved.json) == (201, {"ok": True})
    at_snapshot = api.dump()
    change_some(api)
    restored = call(api, "POST", "/_fake/snapshots/before-run/restore")
    assert (restored.status, restored.json) == (200, {"ok": True})
    assert api.dump() == at_snapshot
    for name in ("zeta", "Alpha", "mid_1.2-b", "a" * 64):
        assert call(api, "POST", f"/_fake/snapshots/{name}").status == 201
    assert call(api, "GET", "/_fake/snapshots").json == {
        "snapshots": ["Alpha", "a" * 64, "before-run", "mid_1.2-b", "zeta"]
    }
    deleted = call(api, "DELETE", "/_fake/snapshots/before-run")
    assert (deleted.status, deleted.json) == (200, {"ok": True})
    assert "before-run" not in call(api, "GET", "/_fake/snapshots").json["snapshots"]
    assert call(api, "POST", "/_fake/snapshots/before-run/restore").status == 404


def test_restore_after_further_changes_is_byte_identical(api: Api) -> None:
    change_some(api)
    assert call(api, "POST", "/_fake/snapshots/s").status == 201
    at_snapshot = api.dump()
    new_entry(api, "after")
    assert api.put("/timeEntries/81", {"time-entry": {"seconds": 5}}).status == 200
    assert api.delete("/timeEntries/71").status == 200
    assert api.dump() != at_snapshot
    assert call(api, "POST", "/_fake/snapshots/s/restore").status == 200
    assert api.dump() == at_snapshot
    assert call(api, "GET", "/_fake/state").json == json.loads(at_snapshot)
    # Ids continue from the snapshot: the create made after it is forgotten.
    assert new_entry(api) == "82"


def test_restore_an_older_snapshot_after_a_newer_one(api: Api) -> None:
    loaded = api.dump()
    assert call(api, "POST", "/_fake/snapshots/old").status == 201
    change_some(api)
    assert call(api, "POST", "/_fake/snapshots/new").status == 201
    newer = api.dump()
    assert api.delete("/timeEntries/74").status == 200
    assert call(api, "POST", "/_fake/snapshots/new/restore").status == 200
    assert api.dump() == newer
    assert call(api, "POST", "/_fake/snapshots/old/restore").status == 200
    assert api.dump() == loaded
    assert call(api, "POST", "/_fake/snapshots/new/restore").status == 200
    assert api.dump() == newer


def test_restore_after_a_reset_and_after_put_state(api: Api) -> None:
    change_some(api)
    assert call(api, "POST", "/_fake/snapshots/s").status == 201
    at_snapshot = api.dump()
    assert call(api, "POST", "/_fake/reset", {"to": "empty"}).status == 200
    assert call(api, "POST", "/_fake/snapshots/s/restore").status == 200
    assert api.dump() == at_snapshot
    assert call(api, "POST", "/_fake/reset").status == 200
    assert call(api, "POST", "/_fake/snapshots/s/restore").status == 200
    assert api.dump() == at_snapshot
    assert call(api, "PUT", "/_fake/state", {"users": [{"id": "3"}]}).status == 200
    assert call(api, "POST", "/_fake/snapshots/s/restore").status == 200
    assert api.dump() == at_snapshot


def test_deleting_one_snapshot_keeps_the_others(api: Api) -> None:
    assert call(api, "POST", "/_fake/snapshots/one").status == 201
    new_entry(api)
    assert call(api, "POST", "/_fake/snapshots/two").status == 201
    at_two = api.dump()
    assert call(api, "DELETE", "/_fake/snapshots/one").status == 200
    assert call(api, "GET", "/_fake/snapshots").json == {"snapshots": ["two"]}
    assert call(api, "POST", "/_fake/snapshots/one/restore").status == 404
    assert call(api, "POST", "/_fake/reset").status == 200
    assert call(api, "POST", "/_fake/snapshots/two/restore").status == 200
    assert api.dump() == at_two


def test_saving_a_name_again_replaces_the_snapshot_clock_included(api: Api) -> None:
    assert call(api, "POST", "/_fake/snapshots/s").status == 201
    new_entry(api)
    assert call(api, "PUT", "/_fake/clock", {"now": "2013-03-04 05:06:07"}).status == 200
    assert call(api, "POST", "/_fake/snapshots/s").status == 201
    second = api.dump()
    assert call(api, "POST", "/_fake/reset").status == 200
    assert call(api, "POST", "/_fake/snapshots/s/restore").status == 200
    assert api.dump() == second
    assert call(api, "GET", "/_fake/snapshots").json == {"snapshots": ["s"]}
    assert clock(api) == {"now": "2013-03-04 05:06:07", "today": "2013-03-04", "frozen": True}


SNAPSHOT_CALLS = [("save", "POST", ""), ("restore", "POST", "/restore"),
                  ("delete", "DELETE", "")]


def test_bad_snapshot_name_is_a_400(api: Api) -> None:
    assert call(api, "POST", "/_fake/snapshots/good").status == 201
    new_entry(api)
    before = api.dump()
    cases = Cases()
    names = [("65-chars", "a" * 65), ("space", "a%20b"), ("non-ascii", "caf%C3%A9"),
             ("question-mark", "a%3Fb"), ("colon", "a:b"),
             # An encoded slash is part of its segment, never a separator (the
             # contract's paths): one segment, and a name no snapshot may have.
             ("encoded-slash", "a%2Fb")]
    for label, name in names:
        for call_name, method, suffix in SNAPSHOT_CALLS:
            with cases.case(f"{call_name} {label}"):
                r = call(api, method, f"/_fake/snapshots/{name}{suffix}")
                assert r.status == 400, r
                assert r.json == error(
                    400, "Bad snapshot name.", [{"field": "name", "message": NAME_RULE}]
                )
                assert call(api, "GET", "/_fake/snapshots").json == {"snapshots": ["good"]}
                assert api.dump() == before
    # A name with a slash is two path segments: no route.
    for method, path in [
        ("POST", "/_fake/snapshots/a/b"),
        ("POST", "/_fake/snapshots/a/b/restore"),
        ("DELETE", "/_fake/snapshots/a/b"),
    ]:
        with cases.case(f"{method} {path}"):
            r = call(api, method, path)
            assert r.status == 404, r
            assert call(api, "GET", "/_fake/snapshots").json == {"snapshots": ["good"]}
            assert api.dump() == before
    cases.check()


def test_unknown_snapshot_is_a_404(api: Api) -> None:
    assert call(api, "POST", "/_fake/snapshots/known").status == 201
    new_entry(api)
    before = api.dump()
    cases = Cases()
    for method, path in [
        ("POST", "/_fake/snapshots/unknown/restore"),
        ("DELETE", "/_fake/snapshots/unknown"),
        ("POST", "/_fake/snapshots/Known/restore"),  # names are case-sensitive
    ]:
        with cases.case(f"{method} {path}"):
            r = call(api, method, path)
            assert r.status == 404
            name = path.split("/")[3]
            assert r.json == error(404, f"There is no snapshot named '{name}'.")
            assert api.dump() == before
            assert call(api, "GET", "/_fake/snapshots").json == {"snapshots": ["known"]}
    cases.check()


def test_at_most_100_snapshots(api: Api) -> None:
    for i in range(100):
        assert call(api, "POST", f"/_fake/snapshots/s{i}").status == 201
    r = call(api, "POST", "/_fake/snapshots/one-more")
    assert r.status == 422
    assert "at most 100 snapshots" in r.json["error"]["message"]
    # An existing name can still be saved again, and a freed slot used.
    assert call(api, "POST", "/_fake/snapshots/s7").status == 201
    assert call(api, "DELETE", "/_fake/snapshots/s7").status == 200
    assert call(api, "POST", "/_fake/snapshots/one-more").status == 201


# --- changes -------------------------------------------------------------------------


def test_changes_is_empty_on_the_loaded_data_and_after_create_then_delete(api: Api) -> None:
    r = call(api, "GET", "/_fake/changes")
    assert (r.status, r.json) == (200, {"since": None, "changes": {}})
    created = new_entry(api)
    assert api.delete(f"/timeEntries/{created}").status == 200
    assert call(api, "GET", "/_fake/changes").json == {"since": None, "changes": {}}


def test_changes_lists_exactly_a_create_an_update_and_a_delete(api: Api) -> None:
    change_some(api)
    before = small_record("time-entries", "72")
    r = call(api, "GET", "/_fake/changes")
    assert r.status == 200
    # A loaded entry without timestamps has them at its date's midnight; an update may
    # write that created-at out, which is the same record.
    after = r.json["changes"]["time-entries"]["updated"][0]["after"]
    after.setdefault("created-at", "2012-07-04 00:00:00")
    assert r.json == {
        "since": None,
        "changes": {
            "time-entries": {
                "created": [
                    {
                        "id": "81", "time-category-id": None, "user-id": "11",
                        "project-id": "51", "task-id": None, "contact-id": None,
                        "date": "2012-07-31", "seconds": "60", "notes": "new",
                        "billable": "unset", "created-at": MIDNIGHT, "updated-at": MIDNIGHT,
                    }
                ],
                "updated": [
                    {
                        "before": before,
                        "after": {
                            **before, "notes": "changed",
                            "created-at": "2012-07-04 00:00:00", "updated-at": MIDNIGHT,
                        },
                    }
                ],
                "deleted": [small_record("time-entries", "73")],
            }
        },
    }


def test_changes_records_are_in_the_fixture_format(api: Api) -> None:
    change_some(api)
    found = call(api, "GET", "/_fake/changes").json["changes"]["time-entries"]
    records = [*found["created"], *found["deleted"]]
    records += [side for u in found["updated"] for side in (u["before"], u["after"])]
    for record in records:
        schemas.full_validator("fixture.schema.json").validate({
            "users": [{"id": "11"}, {"id": "12"}],
            "time-categories": [{"id": "21"}, {"id": "22"}],
            "projects": [{"id": "51"}, {"id": "52"}],
            "time-entries": [record],
        })


def test_changes_since_a_snapshot(api: Api) -> None:
    new_entry(api)
    assert call(api, "POST", "/_fake/snapshots/mid").status == 201
    assert api.delete("/timeEntries/81").status == 200
    assert api.delete("/timeEntries/74").status == 200
    r = call(api, "GET", "/_fake/changes?since=mid")
    assert r.status == 200
    created = r.json
    assert created["since"] == "mid"
    assert list(created["changes"]) == ["time-entries"]
    kinds = created["changes"]["time-entries"]
    assert kinds["created"] == []
    assert kinds["updated"] == []
    assert [e["id"] for e in kinds["deleted"]] == ["74", "81"]
    # Since loading, 81 never existed; only 74 is gone.
    since_load = call(api, "GET", "/_fake/changes").json["changes"]["time-entries"]
    assert since_load == {
        "created": [], "updated": [], "deleted": [small_record("time-entries", "74")]
    }
    # Nothing since a snapshot taken after the last change.
    assert call(api, "POST", "/_fake/snapshots/last").status == 201
    assert call(api, "GET", "/_fake/changes?since=last").json == {"since": "last", "changes": {}}


def test_changes_of_put_state_cover_every_collection(api: Api) -> None:
    doc = small_doc()
    doc["users"][0]["email"] = "ada@new.example"
    doc["companies"].append({"id": "33", "name": "Hooli"})
    doc["time-entries"] = [e for e in doc["time-entries"] if e["id"] != "80"]
    assert call(api, "PUT", "/_fake/state", doc).status == 200
    changes = call(api, "GET", "/_fake/changes").json["changes"]
    assert changes == {
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


def test_changes_since_an_unknown_or_bad_name(api: Api) -> None:
    assert call(api, "POST", "/_fake/snapshots/known").status == 201
    r = call(api, "GET", "/_fake/changes?since=unknown")
    assert r.status == 404
    assert r.json == error(404, "There is no snapshot named 'unknown'.")
    cases = Cases()
    for label, since in [("slash", "a%2Fb"), ("65-chars", "a" * 65), ("empty", "")]:
        with cases.case(label):
            r = call(api, "GET", f"/_fake/changes?since={since}")
            assert r.status == 400
            assert r.json == error(
                400, "Bad snapshot name.", [{"field": "name", "message": NAME_RULE}]
            )
    cases.check()


# --- the request journal --------------------------------------------------------------


def test_journal_record_of_an_api_request(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(tokens={SECRET: 11, "other-token": 12}))
    body = {"time-entry": {"seconds": "60", "notes": "journaled"}}
    r = api.post("/v1/projects/51/timeEntries", body, headers=basic(SECRET))
    assert r.status == 201
    assert call(api, "POST", "/_fake/clock/advance", {"seconds": 61}).status == 200
    r = api.get("/projects/51/timeEntries", query={"page": "1"}, headers=basic("other-token"))
    assert r.status == 200
    found = journal(api)
    assert found == {
        "requests": [
            {
                "time": MIDNIGHT, "method": "POST", "path": "/v1/projects/51/timeEntries",
                "query": "", "user": "11", "body": body, "status": 201, "message": None,
                "violations": [],
            },
            {
                "time": "2012-07-31 00:01:01", "method": "GET",
                "path": "/projects/51/timeEntries", "query": "page=1", "user": "12",
                "body": None, "status": 200, "message": None, "violations": [],
            },
        ],
        "dropped": 0,
    }


def test_journal_never_holds_the_token(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(tokens={SECRET: 11}))
    assert api.get("/account", headers=basic(SECRET)).status == 200
    assert api.put("/timeEntries/71", {"time-entry": {"billable": "nope"}},
                   headers=basic(SECRET)).status == 422
    assert api.get("/account", headers=basic("wrong-token")).status == 401
    r = call(api, "GET", "/_fake/requests")
    assert [rec["user"] for rec in r.json["requests"]] == ["11", "11", None]
    for secret in (SECRET.encode(), basic(SECRET)["Authorization"].split()[1].encode()):
        assert secret not in r.raw
    assert SECRET not in json.dumps(api.fake.requests())


def test_journal_records_the_violations_of_a_422(api: Api) -> None:
    body = {"time-entry": {"seconds": "60", "billable": "maybe", "time-category-id": "21"}}
    r = api.post("/projects/51/timeEntries", body)
    assert r.status == 422
    [record] = journal(api)["requests"]
    assert record["status"] == 422
    assert record["body"] == body
    assert record["user"] is None
    assert record["message"] == r.json["error"]["message"]
    assert record["violations"] == r.json["error"]["details"]
    assert {v["field"] for v in record["violations"]} == {
        "time-entry.billable", "time-entry.time-category-id"
    }


def test_journal_is_oldest_first_and_filterable(api: Api) -> None:
    assert api.get("/account").status == 200
    assert api.get("/timeEntries/71").status == 200
    assert api.delete("/timeEntries/72").status == 200
    assert api.get("/v1/timeEntries/74").status == 200
    assert api.get("/timeEntries/999").status == 404

    def paths(query: str) -> list[str]:
        return [r["path"] for r in journal(api, query)["requests"]]

    assert paths("") == [
        "/account", "/timeEntries/71", "/timeEntries/72", "/v1/timeEntries/74",
        "/timeEntries/999",
    ]
    assert paths("?method=GET") == [
        "/account", "/timeEntries/71", "/v1/timeEntries/74", "/timeEntries/999"
    ]
    assert paths("?method=delete") == ["/timeEntries/72"]
    assert paths("?path=/timeEntries/*") == ["/timeEntries/71", "/timeEntries/72",
                                             "/timeEntries/999"]
    assert paths("?method=GET&path=/timeEntries/*") == ["/timeEntries/71", "/timeEntries/999"]
    assert paths("?path=/v1/*") == ["/v1/timeEntries/74"]
    assert paths("?path=/account") == ["/account"]
    assert paths("?method=PUT") == []
    assert paths("?status=404") == ["/timeEntries/999"]
    assert paths("?status=4xx") == paths("?status=4XX") == ["/timeEntries/999"]
    assert paths("?status=2xx&method=GET") == ["/account", "/timeEntries/71", "/v1/timeEntries/74"]
    for bad in ("abc", "42", "600", "4x", "1000"):
        r = call(api, "GET", f"/_fake/requests?status={bad}")
        assert r.status == 400, (bad, r)
        assert [d["field"] for d in r.json["error"]["details"]] == ["status"]


def test_delete_requests_clears_the_journal(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(journal_size=2))
    for _ in range(3):
        assert api.get("/account").status == 200
    assert journal(api)["dropped"] == 1
    r = call(api, "DELETE", "/_fake/requests")
    assert (r.status, r.json) == (200, {"ok": True})
    assert journal(api) == {"requests": [], "dropped": 0}
    assert api.get("/timeEntries/71").status == 200
    assert [r["path"] for r in journal(api)["requests"]] == ["/timeEntries/71"]


def test_journal_keeps_only_the_last_records(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(journal_size=5))
    for i in range(12):
        assert api.get(f"/timeEntries/{71 + i % 10}").status == 200
        assert len(api.fake.journal) <= 5
    found = journal(api)
    assert [r["path"] for r in found["requests"]] == [
        "/timeEntries/78", "/timeEntries/79", "/timeEntries/80", "/timeEntries/71",
        "/timeEntries/72",
    ]
    assert found["dropped"] == 7


# --- faults ---------------------------------------------------------------------------


def test_add_fault_answers_the_rule(api: Api) -> None:
    described = add_fault(api, {"path": "/timeEntries/*", "method": "get", "status": 503})
    assert described == {
        "id": 1, "path": "/timeEntries/*", "method": "GET", "after": 0, "times": 1,
        "status": 503, "matched": 0, "applied": 0, "remaining": 1,
    }
    second = add_fault(api, {"path": "/account", "delay_ms": 5, "after": 2, "times": None})
    assert second == {
        "id": 2, "path": "/account", "method": "*", "after": 2, "times": None, "delay_ms": 5,
        "matched": 0, "applied": 0, "remaining": None,
    }
    third = add_fault(api, {"path": "/account", "drop": True, "times": 3})
    assert third["drop"] is True
    assert third["remaining"] == 3
    assert faults(api) == [described, second, third]


def test_status_fault_answers_the_default_error_or_the_given_body_and_headers(api: Api) -> None:
    add_fault(api, {"path": "/account", "status": 503})
    add_fault(api, {"path": "/account", "status": 429, "body": {"slow": ["down", 1]},
                    "headers": {"Retry-After": "7", "X-Trace": "abc"}})
    r = call(api, "GET", "/account")
    assert r.status == 503
    assert r.json == error(503, "Injected fault (rule 1).")
    r = call(api, "GET", "/account", check=False)
    assert r.status == 429
    assert r.json == {"slow": ["down", 1]}
    assert r.headers["retry-after"] == "7"
    assert r.headers["x-trace"] == "abc"
    assert r.headers["content-type"] == "application/json"


def test_a_rules_headers_replace_the_defaults_and_its_text_goes_as_is(api: Api) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1>caf\u00e9</body></html>"
    add_fault(api, {"path": "/account", "status": 502, "text": page,
                    "headers": {"content-type": "text/html; charset=utf-8"}})
    add_fault(api, {"path": "/account", "status": 503, "text": "down"})
    add_fault(api, {"path": "/account", "status": 500, "body": {"a": 1},
                    "headers": {"Content-Type": "application/problem+json"}})
    status, headers, body = api.raw("GET", "/account")
    types = [v for k, v in headers if k.lower() == "content-type"]
    assert (status, types, body) == (502, ["text/html; charset=utf-8"], page.encode())
    status, headers, body = api.raw("GET", "/account")
    types = [v for k, v in headers if k.lower() == "content-type"]
    assert (status, types, body) == (503, ["text/plain; charset=utf-8"], b"down")
    status, headers, body = api.raw("GET", "/account")
    types = [v for k, v in headers if k.lower() == "content-type"]
    assert (status, types, json.loads(body)) == (500, ["application/problem+json"], {"a": 1})
    assert api.get("/account").status == 200


@pytest.mark.parametrize("status", [204, 304])
def test_a_bodiless_status_is_sent_without_a_body_or_a_length(api: Api, status: int) -> None:
    add_fault(api, {"path": "/account", "status": status, "body": {"ignored": True}})
    got, headers, body = api.raw("GET", "/account")
    assert (got, body) == (status, b"")
    assert "content-length" not in {k.lower() for k, _ in headers}
    # The connection is still good for the next request (a keep-alive client does not stall).
    assert api.get("/account").status == 200


def test_deep_bodies_are_refused_and_the_journal_stays_readable(api: Api) -> None:
    deep = b"[" * 300 + b"]" * 300
    r = call(api, "POST", "/_fake/faults", data=b'{"path": "/x", "status": 500, "body": '
             + deep + b"}")
    assert r.status == 400 and faults(api) == []
    assert api.post("/projects/51/timeEntries", data=b'{"time-entry": ' + deep + b"}").status == 400
    r = call(api, "PUT", "/_fake/state", data=b'{"users": ' + deep + b"}")
    assert r.status == 400
    assert call(api, "GET", "/_fake/requests").status == 200


def test_a_rule_gives_body_or_text_not_both(api: Api) -> None:
    r = call(api, "POST", "/_fake/faults",
             {"path": "/account", "status": 500, "body": {}, "text": "x"})
    assert r.status == 400
    assert faults(api) == []


def test_auth_and_the_rate_limit_come_before_a_fault_rule(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(tokens={"secret": 11}, rate_limit=(1, 300)))
    token = {"Authorization": "Basic " + base64.b64encode(b"secret:X").decode()}
    add_fault(api, {"path": "/account", "status": 503, "times": None})
    assert api.get("/account").status == 401  # no token: the 401, and the rule unused
    assert faults(api)[0]["applied"] == 0
    status, _, _ = api.raw("GET", "/account", token)
    assert status == 503  # the rule answers the one request the limit allows
    assert api.get("/account", headers=token).status == 429  # over the limit: no rule
    assert faults(api)[0]["applied"] == 1


def test_fault_with_times_2_fires_twice_then_stops(api: Api) -> None:
    add_fault(api, {"path": "/timeEntries/71", "status": 500, "times": 2})
    add_fault(api, {"path": "/account", "status": 502})  # once, by default
    assert [call(api, "GET", "/timeEntries/71").status for _ in range(4)] == [500, 500, 200, 200]
    assert [call(api, "GET", "/account").status for _ in range(3)] == [502, 200, 200]
    assert [(r["matched"], r["applied"], r["remaining"]) for r in faults(api)] == [
        (2, 2, 0), (1, 1, 0)
    ]


def test_fault_after_2_lets_two_through_first(api: Api) -> None:
    add_fault(api, {"path": "/account", "status": 503, "after": 2})
    assert [call(api, "GET", "/account").status for _ in range(4)] == [200, 200, 503, 200]
    [rule] = faults(api)
    assert (rule["matched"], rule["applied"], rule["remaining"]) == (3, 1, 0)


def test_fault_times_null_applies_always(api: Api) -> None:
    add_fault(api, {"path": "/account", "status": 503, "times": None})
    assert [call(api, "GET", "/account").status for _ in range(6)] == [503] * 6
    [rule] = faults(api)
    assert (rule["applied"], rule["remaining"], rule["times"]) == (6, None, None)


def test_fault_matches_v1_paths_by_their_root_path(api: Api) -> None:
    add_fault(api, {"path": "/timeEntries/*", "status": 503, "times": 2})
    assert call(api, "GET", "/v1/timeEntries/71").status == 503
    assert call(api, "GET", "/timeEntries/71").status == 503
    assert call(api, "GET", "/v1/timeEntries/71").status == 200


def test_fault_matches_method_and_glob_and_the_first_rule_wins(api: Api) -> None:
    add_fault(api, {"path": "/timeEntries/*", "method": "DELETE", "status": 503,
                    "times": None})
    assert api.get("/timeEntries/71").status == 200
    assert api.get("/projects/51/timeEntries").status == 200
    assert call(api, "DELETE", "/timeEntries/71").status == 503
    assert api.get("/timeEntries/71").status == 200  # the injected answer deleted nothing
    assert faults(api)[0]["matched"] == 1
    add_fault(api, {"path": "/acc*", "status": 502})
    add_fault(api, {"path": "/account", "status": 504})
    assert [call(api, "GET", "/account").status for _ in range(3)] == [502, 504, 200]


def test_faults_never_touch_control_calls(api: Api) -> None:
    add_fault(api, {"path": "*", "status": 503, "times": None})
    assert call(api, "GET", "/account").status == 503
    assert call(api, "GET", "/_fake/health").status == 200
    assert call(api, "GET", "/_fake/requests").status == 200
    assert faults(api)[0]["matched"] == 1


def test_delay_fault_delays_the_real_answer(api: Api) -> None:
    add_fault(api, {"path": "/account", "delay_ms": 200})
    began = time.monotonic()
    r = api.get("/account")
    elapsed = time.monotonic() - began
    assert elapsed >= 0.2
    assert r.status == 200
    assert r.json["account"]["name"] == "Acme Ltd"
    assert faults(api)[0]["remaining"] == 0
    assert api.get("/account").status == 200
    # A delayed request is journaled as the real one it is.
    records = journal(api)["requests"]
    assert [(r["status"], "fault" in r) for r in records] == [(200, False), (200, False)]


def test_drop_fault_closes_the_connection_without_an_answer(api: Api) -> None:
    add_fault(api, {"path": "/account", "drop": True})
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
        assert api.client is not None
        with pytest.raises(ConnectionAbortedError):
            api.client.get("/account")
    # The rule is spent: the server answers again.
    assert api.get("/account").status == 200


def test_drop_fault_under_werkzeugs_own_server_closes_before_any_answer() -> None:
    # A user may serve fake.app with Werkzeug (flask run, make_server): there, a body
    # that fails would become Werkzeug's HTML 500, so the fake closes the socket itself.
    from werkzeug.serving import make_server

    from apollo_fake.fake import Fake

    fake = Fake(small_doc(), today=TODAY)
    fake.faults.add("/account", "GET", drop=True)
    server = make_server("127.0.0.1", 0, fake.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        with pytest.raises(ConnectionResetError):  # nothing at all was written
            conn.request("GET", "/account")
            conn.getresponse()
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/account")
        assert conn.getresponse().status == 200  # the rule is spent
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_faulted_requests_are_journaled_with_the_rule(api: Api) -> None:
    add_fault(api, {"path": "/timeEntries/71", "status": 503})
    add_fault(api, {"path": "/timeEntries/72", "drop": True})
    assert call(api, "GET", "/v1/timeEntries/71?x=1").status == 503
    with contextlib.suppress(ConnectionError):
        send(api, "DELETE", "/timeEntries/72", None, None)
    assert api.get("/timeEntries/72").status == 200
    assert journal(api)["requests"] == [
        {
            "time": MIDNIGHT, "method": "GET", "path": "/v1/timeEntries/71", "query": "x=1",
            "user": None, "body": None, "status": 503, "message": "injected by fault rule 1",
            "violations": [], "fault": 1,
        },
        {
            "time": MIDNIGHT, "method": "DELETE", "path": "/timeEntries/72", "query": "",
            "user": None, "body": None, "status": 0, "message": "injected by fault rule 2",
            "violations": [], "fault": 2,
        },
        {
            "time": MIDNIGHT, "method": "GET", "path": "/timeEntries/72", "query": "",
            "user": None, "body": None, "status": 200, "message": None, "violations": [],
        },
    ]


def test_at_most_100_fault_rules_and_delete_clears_them(api: Api) -> None:
    add_fault(api, {"path": "/account", "status": 503, "times": None})
    add_fault(api, {"path": "/timeEntries/*", "drop": True})
    for i in range(98):
        add_fault(api, {"path": f"/nowhere/{i}", "status": 503})
    r = call(api, "POST", "/_fake/faults", {"path": "/account", "status": 503})
    assert r.status == 422
    assert "at most 100 fault rules" in r.json["error"]["message"]
    assert len(faults(api)) == 100
    r = call(api, "DELETE", "/_fake/faults")
    assert (r.status, r.json) == (200, {"ok": True})
    assert faults(api) == []
    assert api.get("/account").status == 200
    assert api.get("/timeEntries/71").status == 200
    assert add_fault(api, {"path": "/account", "status": 503})["id"] == 101


def rule_of(field: str, rule: str) -> list[dict[str, str]]:
    """Return the details of one bad field."""
    return [{"field": field, "message": rule}]


STATUS_RULE = (
    "status is an HTTP status code the server can answer with (200 to 599; a 1xx is not an "
    "answer)"
)
HEADERS_RULE = (
    "headers maps at most 50 header names (HTTP tokens; not Content-Length, Transfer-Encoding "
    "or Connection, which the server sets) to values of at most 8,192 characters without "
    "control characters"
)
HEADER_NAME_RULE = (
    "a header name is an HTTP token of 1 to 64 characters (letters, digits, -, and "
    "!#$%&'*+.^_`|~), not Content-Length, Transfer-Encoding or Connection, which the server sets"
)
HEADER_VALUE_RULE = (
    "a header value is at most 8,192 characters of Latin-1 without control characters "
    "(no CR or LF)"
)
DELAY_RULE = "delay_ms is a delay in milliseconds (0 to 60000)"
BAD_FAULTS: list[tuple[str, bytes, Any]] = [
    ("malformed-json", b'{"path": "/x", "status": 503', None),
    ("empty", b"", rule_of("", "is empty")),
    ("no-action", b'{"path": "/x"}', rule_of("", FAULT_RULE)),
    ("status-and-drop", b'{"path": "/x", "status": 503, "drop": true}', rule_of("", FAULT_RULE)),
    ("status-and-delay", b'{"path": "/x", "status": 503, "delay_ms": 10}',
     rule_of("", FAULT_RULE)),
    ("delay-and-drop", b'{"path": "/x", "delay_ms": 10, "drop": true}', rule_of("", FAULT_RULE)),
    ("all-three", b'{"path": "/x", "status": 503, "delay_ms": 10, "drop": true}',
     rule_of("", FAULT_RULE)),
    ("drop-false", b'{"path": "/x", "drop": false}', [
        {"field": "drop", "message": "drop is true: close the connection without an answer"},
    ]),
    ("no-path", b'{"status": 503}',
     rule_of("path", "is required: path is a glob of API paths such as /timeEntries/*")),
    ("relative-path", b'{"path": "account", "status": 503}',
     rule_of("path", "path is a glob of API paths such as /timeEntries/*")),
    ("path-not-a-string", b'{"path": ["/x"], "status": 503}',
     rule_of("path", "path is a glob of API paths such as /timeEntries/*")),
    ("status-a-string", b'{"path": "/x", "status": "503"}', rule_of("status", STATUS_RULE)),
    ("status-too-high", b'{"path": "/x", "status": 600}', rule_of("status", STATUS_RULE)),
    ("status-too-low", b'{"path": "/x", "status": 99}', rule_of("status", STATUS_RULE)),
    # What the server could not send: refused when added, not when it fires.
    ("status-1xx", b'{"path": "/x", "status": 101}', rule_of("status", STATUS_RULE)),
    ("header-name-with-a-space", b'{"path": "/x", "status": 503, "headers": {"X Y": "1"}}',
     rule_of("headers", HEADER_NAME_RULE)),
    ("header-value-with-crlf",
     b'{"path": "/x", "status": 503, "headers": {"X": "1\\r\\nSet-Cookie: a=b"}}',
     rule_of("headers.X", HEADER_VALUE_RULE)),
    ("header-value-not-latin-1", b'{"path": "/x", "status": 503, "headers": {"X": "\\u20ac"}}',
     rule_of("headers.X", HEADER_VALUE_RULE)),
    ("own-content-length", b'{"path": "/x", "status": 503, "headers": {"content-length": "3"}}',
     rule_of("headers", HEADER_NAME_RULE)),
    ("own-transfer-encoding",
     b'{"path": "/x", "status": 503, "headers": {"Transfer-Encoding": "chunked"}}',
     rule_of("headers", HEADER_NAME_RULE)),
    ("five-thousand-headers", b'{"path": "/x", "status": 503, "headers": {'
     + b", ".join(b'"X-%d": "1"' % i for i in range(5000)) + b"}}",
     rule_of("headers", HEADERS_RULE)),
    ("times-0", b'{"path": "/x", "status": 503, "times": 0}', rule_of(
        "times", "times is how often the rule applies (at least 1), or null for always")),
    ("times-a-string", b'{"path": "/x", "status": 503, "times": "2"}', rule_of(
        "times", "times is how often the rule applies (at least 1), or null for always")),
    ("after-negative", b'{"path": "/x", "status": 503, "after": -1}', rule_of(
        "after", "after is how many matching requests to let through first")),
    ("delay-too-long", b'{"path": "/x", "delay_ms": 60001}', rule_of("delay_ms", DELAY_RULE)),
    ("delay-not-integer", b'{"path": "/x", "delay_ms": 1.5}', rule_of("delay_ms", DELAY_RULE)),
    ("bad-method", b'{"path": "/x", "status": 503, "method": "GET /"}',
     rule_of("method", "method is an HTTP method such as GET, or * for any")),
    ("headers-not-an-object", b'{"path": "/x", "status": 503, "headers": ["a"]}',
     rule_of("headers", HEADERS_RULE)),
    ("header-not-a-string", b'{"path": "/x", "status": 503, "headers": {"Retry-After": 7}}',
     rule_of("headers.Retry-After", HEADER_VALUE_RULE)),
    ("unknown-key", b'{"path": "/x", "status": 503, "when": "now"}',
     rule_of("when", "is not a known key")),
    ("not-an-object", b'[{"path": "/x", "status": 503}]', [
        {"field": "", "message": "must be a JSON object"}
    ]),
]


def test_a_fault_rule_is_at_most_as_large_as_an_apollo_body(api: Api) -> None:
    big = b'{"path": "/x", "status": 503, "body": "' + b"a" * (1024 * 1024) + b'"}'
    r = call(api, "POST", "/_fake/faults", data=big)
    assert r.status == 413, r
    assert faults(api) == []


def test_the_python_api_refuses_the_rules_the_control_api_refuses(api: Api) -> None:
    for rule in [
        {"status": 101},
        {"status": 503, "headers": {"X Y": "1"}},
        {"status": 503, "headers": {"X": "1\r\nA: b"}},
        {"status": 503, "headers": {"Content-Length": "3"}},
        {"status": 503, "delay_ms": 5},
    ]:
        with pytest.raises(ValueError):
            api.fake.faults.add("/x", **rule)
    assert api.fake.faults.listing() == []


def test_add_fault_refuses_a_bad_body(api: Api) -> None:
    before = api.dump()
    cases = Cases()
    for name, data, details in BAD_FAULTS:
        with cases.case(name):
            r = call(api, "POST", "/_fake/faults", data=data)
            assert r.status == 400, r
            if details is None:
                assert r.json["error"]["details"][0]["field"] == ""
            else:
                assert r.json["error"]["details"] == details
            assert faults(api) == []
    cases.check()
    assert api.get("/account").status == 200
    assert api.dump() == before


# --- the clock ---------------------------------------------------------------------------


def test_put_clock_now_freezes_there_and_the_api_follows(api: Api) -> None:
    assert clock(api) == {"now": MIDNIGHT, "today": "2012-07-31", "frozen": True}
    assert call(api, "PUT", "/_fake/clock", {"frozen": False}).json["frozen"] is False
    r = call(api, "PUT", "/_fake/clock", {"now": "2013-01-02 03:04:05"})
    assert (r.status, r.json) == (
        200, {"now": "2013-01-02 03:04:05", "today": "2013-01-02", "frozen": True}
    )
    # Frozen to the microsecond: the HTTP view has whole seconds only.
    time.sleep(0.01)
    assert api.fake.clock.now() == datetime.datetime(2013, 1, 2, 3, 4, 5)
    entry_id = new_entry(api)
    entry = api.get(f"/timeEntries/{entry_id}").json["time-entry"]
    assert (entry["date"], entry["created-at"]) == ("2013-01-02", "2013-01-02 03:04:05")


def test_put_clock_now_accepts_dates_and_iso_times(api: Api) -> None:
    cases = Cases()
    for now, shown in [
        ("2013-01-02", "2013-01-02 00:00:00"),
        ("2013-01-02 03:04:05", "2013-01-02 03:04:05"),
        ("2013-01-02T03:04:05Z", "2013-01-02 03:04:05"),
        ("2013-01-02T05:04:05+02:00", "2013-01-02 03:04:05"),
    ]:
        with cases.case(now):
            r = call(api, "PUT", "/_fake/clock", {"now": now})
            assert r.json == {"now": shown, "today": shown[:10], "frozen": True}
    with cases.case("now and unfrozen"):
        r = call(api, "PUT", "/_fake/clock", {"now": "2014-05-06 07:08:09", "frozen": False})
        assert r.json["frozen"] is False
        assert "2014-05-06 07:08:09" <= r.json["now"] < "2014-05-06 07:09:00"
        assert not api.fake.clock.frozen
    cases.check()


def test_put_clock_unfrozen_runs_on_from_the_time_shown(api: Api) -> None:
    r = call(api, "PUT", "/_fake/clock", {"frozen": False})
    assert r.status == 200
    assert r.json["frozen"] is False
    assert MIDNIGHT <= r.json["now"] < "2012-07-31 00:01:00"
    # The clock shows whole seconds: wait for the next one, at most about a second.
    deadline = time.monotonic() + 3
    later = clock(api)
    while later["now"] == r.json["now"] and time.monotonic() < deadline:
        time.sleep(0.05)
        later = clock(api)
    assert later["frozen"] is False
    assert r.json["now"] < later["now"] < "2012-07-31 00:01:00"
    # Freezing again stops it where it is.
    frozen = call(api, "PUT", "/_fake/clock", {"frozen": True}).json
    assert frozen["frozen"] is True
    assert api.fake.clock.frozen
    assert clock(api) == frozen


def test_advance_moves_the_clock(api: Api) -> None:
    r = call(api, "POST", "/_fake/clock/advance", {"seconds": 90061})
    assert (r.status, r.json) == (
        200, {"now": "2012-08-01 01:01:01", "today": "2012-08-01", "frozen": True}
    )
    entry = api.get(f"/timeEntries/{new_entry(api)}").json["time-entry"]
    assert (entry["date"], entry["created-at"]) == ("2012-08-01", "2012-08-01 01:01:01")
    back = call(api, "POST", "/_fake/clock/advance", {"seconds": -86400.5}).json
    assert back == {"now": "2012-07-31 01:01:00", "today": "2012-07-31", "frozen": True}


def test_advance_opens_a_new_rate_window(make: Callable[..., Api]) -> None:
    api = make(settings=Settings(rate_limit=(1, 300)))
    assert api.get("/account").status == 200
    assert api.get("/account").status == 429
    assert call(api, "POST", "/_fake/clock/advance", {"seconds": 300}).status == 200
    assert api.get("/account").status == 200


BAD_CLOCKS: list[tuple[str, str, bytes, str]] = [
    ("set-malformed-json", "/_fake/clock", b"{", ""),
    ("set-empty-body", "/_fake/clock", b"", ""),
    ("set-nothing", "/_fake/clock", b"{}", ""),
    ("set-not-an-object", "/_fake/clock", b'"2013-01-01"', ""),
    ("set-garbage", "/_fake/clock", b'{"now": "garbage"}', "now"),
    ("set-impossible", "/_fake/clock", b'{"now": "2013-02-30"}', "now"),
    ("set-number", "/_fake/clock", b'{"now": 1357095845}', "now"),
    ("set-frozen-string", "/_fake/clock", b'{"frozen": "yes"}', "frozen"),
    ("set-unknown-key", "/_fake/clock", b'{"at": "2013-01-01"}', "at"),
    ("advance-malformed-json", "/_fake/clock/advance", b"{seconds: 1}", ""),
    ("advance-empty-body", "/_fake/clock/advance", b"", ""),
    ("advance-nothing", "/_fake/clock/advance", b"{}", "seconds"),
    ("advance-string", "/_fake/clock/advance", b'{"seconds": "60"}', "seconds"),
    ("advance-boolean", "/_fake/clock/advance", b'{"seconds": true}', "seconds"),
    ("advance-too-far", "/_fake/clock/advance", b'{"seconds": 1e12}', "seconds"),
    ("advance-unknown-key", "/_fake/clock/advance", b'{"seconds": 1, "days": 1}', "days"),
    ("set-before-year-1-in-utc", "/_fake/clock", b'{"now": "0001-01-01T00:00:00+01:00"}', "now"),
    ("set-past-9999-in-utc", "/_fake/clock", b'{"now": "9999-12-31T23:00:00-05:00"}', "now"),
]


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        pytest.param("9990-01-01 00:00:00", 3_153_600_000, id="past-9999"),
        pytest.param("0010-01-01 00:00:00", -3_153_600_000, id="before-year-1"),
    ],
)
def test_an_advance_out_of_the_calendar_is_400_and_moves_nothing(
    api: Api, now: str, seconds: int
) -> None:
    assert call(api, "PUT", "/_fake/clock", {"now": now}).status == 200
    shown = clock(api)
    r = call(api, "POST", "/_fake/clock/advance", {"seconds": seconds})
    assert r.status == 400, r
    assert [d["field"] for d in r.json["error"]["details"]] == ["seconds"]
    assert clock(api) == shown
    # The Apollo calls still answer on the clock's day.
    assert api.get("/account").status == 200
    assert new_entry(api)


def test_clock_messages_say_what_advance_takes(api: Api) -> None:
    for body in (b"{}", b'{"seconds": "-5"}'):
        r = call(api, "POST", "/_fake/clock/advance", data=body)
        message = r.json["error"]["details"][0]["message"]
        assert "JSON number" in message and "negative" in message and "2^31" not in message


def test_clock_refuses_a_bad_body(api: Api) -> None:
    cases = Cases()
    for name, path, data, field in BAD_CLOCKS:
        with cases.case(name):
            method = "PUT" if path == "/_fake/clock" else "POST"
            r = call(api, method, path, data=data)
            assert r.status == 400, r
            assert r.json["error"]["details"][0]["field"] == field
            assert clock(api) == {"now": MIDNIGHT, "today": "2012-07-31", "frozen": True}
    cases.check()


# --- the command line's flags -------------------------------------------------------------


@contextlib.contextmanager
def cli_server(*args: str) -> Iterator[str]:
    """Run ``apollo-fake serve`` on small.json with more flags; yield its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "apollo_fake", "serve", "--port", "0", "--quiet",
         "--fixtures", "fixtures/small.json", "--today", "2012-07-31", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        seen = []
        deadline = time.monotonic() + 15
        while True:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line is not None, f"serve ended early: {''.join(seen)!r}"
            seen.append(line)
            match = READY.search(line)
            if match:
                break
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=5)
        assert proc.stdout is not None
        proc.stdout.close()


def fetch(url: str, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    """Send one request over a new connection; return status and decoded JSON body."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_cli_no_control_removes_the_control_api() -> None:
    with cli_server("--no-control") as url:
        status, body = fetch(url, "GET", "/_fake/health")
        assert status == 404
        assert body["error"]["status"] == 404
        assert fetch(url, "GET", "/_fake/requests")[0] == 404
        assert fetch(url, "GET", "/account")[0] == 200


def test_cli_control_token_and_journal_size() -> None:
    with cli_server("--control-token", "T", "--journal-size", "2") as url:
        status, body = fetch(url, "GET", "/_fake/health")
        assert status == 401
        assert body["error"]["status"] == 401
        assert fetch(url, "GET", "/_fake/health", {"X-Fake-Control-Token": "x"})[0] == 401
        token = {"X-Fake-Control-Token": "T"}
        assert fetch(url, "GET", "/_fake/health", token) == (
            200, {"status": "ok", "counts": SMALL_COUNTS}
        )
        for path in ("/timeEntries/71", "/timeEntries/72", "/timeEntries/73"):
            assert fetch(url, "GET", path)[0] == 200
        status, body = fetch(url, "GET", "/_fake/requests", token)
        assert status == 200
        assert [r["path"] for r in body["requests"]] == ["/timeEntries/72", "/timeEntries/73"]
        assert body["dropped"] == 1
