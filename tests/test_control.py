"""What only the control API under ``/_fake/`` has, over HTTP: the test client and a socket.

The behaviours the control API shares with the Python API (reset, state, snapshots,
changes, the journal, fault rules, the clock) are tested once, through every way in,
in test_controls.py. Here is what only HTTP has: health, every call's bad bodies and
their ``details``, bad snapshot names in the path, a rule's size limit, the clock's
time formats; what the control API never is (under ``/v1``, journaled, rate
limited, touched by a fault rule); the settings (and CLI flags) that remove it or
lock it behind a token; and a drop fault under Werkzeug's own server.

``conftest.Api.request`` checks bodies against the Apollo schemas by path, which
would fail on ``/_fake/`` answers, so control calls go through
``control_ways.call``, which checks each body against its own definition in
``control.schema.json``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apollo_fake import contract, schemas
from apollo_fake.fake import Fake, Settings
from apollo_fake.server import LiveServer

from conftest import (
    TODAY,
    Api,
    change_some,
    entries_doc,
    make_api,
    new_entry,
    read_to_close,
    small_doc,
)
from control_ways import (
    FAULT_RULE,
    HEADER_NAME_RULE,
    HEADER_VALUE_RULE,
    HEADERS_RULE,
    NOTHING,
    STATUS_RULE,
    TO_RULE,
    call,
    control_schema,
    error,
    rule_of,
)

ROOT = Path(__file__).resolve().parent.parent
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
NAME_RULE = "a name is 1 to 64 letters, digits, '_', '.' or '-'"

# --- helpers -------------------------------------------------------------------


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
    """Add a fault rule over HTTP; return its description."""
    r = call(api, "POST", "/_fake/faults", rule)
    assert r.status == 201, r
    return r.json


def faults(api: Api) -> list[Any]:
    """Return the listed fault rules."""
    r = call(api, "GET", "/_fake/faults")
    assert r.status == 200
    listed: list[Any] = r.json["faults"]
    return listed


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
    ("parents", "GET", "/_fake/data/projects", NOTHING),
    ("parent-entries", "GET", "/_fake/data/projects/51/entries", NOTHING),
    ("put-state", "PUT", "/_fake/state", {}),
    ("snapshots", "GET", "/_fake/snapshots", NOTHING),
    ("save-snapshot", "POST", "/_fake/snapshots/one", NOTHING),
    ("restore-snapshot", "POST", "/_fake/snapshots/one/restore", NOTHING),
    ("changes", "GET", "/_fake/changes", NOTHING),
    ("requests", "GET", "/_fake/requests", NOTHING),
    ("clear-requests", "DELETE", "/_fake/requests", NOTHING),
    ("add-fault", "POST", "/_fake/faults", {"path": "/x", "status": 503}),
    ("faults", "GET", "/_fake/faults", NOTHING),
    ("remove-fault", "DELETE", "/_fake/faults/1", NOTHING),
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
                message = (
                    "The X-Fake-Control-Token header does not match the fake's control token"
                    if headers
                    else "The control API needs the X-Fake-Control-Token header"
                )
                assert r.json == error(401, message)
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


def test_put_state_accepts_a_document_larger_than_an_api_body(api: Api) -> None:
    doc = entries_doc(1500)
    for entry in doc["time-entries"]:
        entry["notes"] = "n" * 700
    data = json.dumps(doc).encode()
    assert len(data) > 1024 * 1024
    r = call(api, "PUT", "/_fake/state", data=data)
    assert r.status == 200, r
    assert call(api, "GET", "/_fake/health").json["counts"]["time-entries"] == 1500


def test_put_state_refuses_what_is_no_document_and_lists_100_problems_at_most(
    api: Api,
) -> None:
    # Invalid documents, refused with pointers on every way in, are in test_controls.py;
    # here is what only a body can be: no JSON, no UTF-8, or thousands of problems.
    change_some(api)
    before = api.dump()
    cases = Cases()
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


# --- changes -------------------------------------------------------------------------


def test_changes_since_a_bad_name_is_a_400(api: Api) -> None:
    # An unknown name, refused on every way in, is in test_controls.py.
    assert call(api, "POST", "/_fake/snapshots/known").status == 201
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


# --- faults ---------------------------------------------------------------------------


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


def test_faults_never_touch_control_calls(api: Api) -> None:
    rule = {"path": "*", "status": 503, "times": None}
    assert call(api, "POST", "/_fake/faults", rule).status == 201
    assert call(api, "GET", "/account").status == 503
    assert call(api, "GET", "/_fake/health").status == 200
    assert call(api, "GET", "/_fake/requests").status == 200
    assert faults(api)[0]["matched"] == 1


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
        status, body = fetch(url, "GET", "/_fake/ui")  # the inspector page goes with the API
        assert status == 404 and body["error"]["status"] == 404
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


# --- following the journal: seq, after, limit ---------------------------------------


def test_journal_records_are_numbered_and_after_reads_only_newer_ones(api: Api) -> None:
    for path in ("/timeEntries/71", "/timeEntries/72", "/account"):
        assert api.get(path).status == 200
    whole = journal(api)
    seqs = [r["seq"] for r in whole["requests"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert whole["last"] == seqs[-1]
    newer = journal(api, f"?after={seqs[0]}")
    assert [r["path"] for r in newer["requests"]] == ["/timeEntries/72", "/account"]
    assert journal(api, f"?after={whole['last']}")["requests"] == []
    # limit keeps the newest matches; the filters still apply.
    assert [r["path"] for r in journal(api, "?limit=1")["requests"]] == ["/account"]
    only = journal(api, "?path=/timeEntries/*&limit=1")
    assert [r["path"] for r in only["requests"]] == ["/timeEntries/72"]
    assert only["last"] == whole["last"]


def test_the_violations_flag_is_read_as_the_reports_flags_are(api: Api) -> None:
    # The filter itself runs through every way in (test_controls.py); here, its words.
    assert api.post("/projects/51/timeEntries", {"time-entry": {"seconds": "-1"}}).status == 422
    assert api.get("/account").status == 200
    assert api.get("/account?x=1").status == 400
    found = journal(api, "?violations=true")["requests"]
    assert [(r["method"], r["status"]) for r in found] == [("POST", 422), ("GET", 400)]
    assert journal(api, "?violations=TRUE&status=4xx&limit=1")["requests"] == found[-1:]
    assert api.fake.requests(violations=True) == found
    r = call(api, "GET", "/_fake/requests?violations=maybe")
    assert r.status == 400 and r.json["error"]["details"][0]["field"] == "violations"


def test_journal_numbers_go_on_across_a_clear_and_a_reset(api: Api) -> None:
    assert api.get("/account").status == 200
    first = journal(api)["requests"][0]["seq"]
    assert call(api, "DELETE", "/_fake/requests").status == 200
    assert api.get("/account").status == 200
    second = journal(api)["requests"][0]["seq"]
    assert call(api, "POST", "/_fake/reset").status == 200
    assert api.get("/account").status == 200
    third = journal(api)
    assert first < second < third["requests"][0]["seq"]
    # A reader holding the cursor from before the reset still sees what came after.
    assert [r["seq"] for r in journal(api, f"?after={second}")["requests"]] == [
        third["requests"][0]["seq"]
    ]


@pytest.mark.parametrize(
    "query, field",
    [("?after=-1", "after"), ("?after=soon", "after"), ("?limit=0", "limit"),
     ("?limit=1.5", "limit"), ("?after=" + "9" * 40, "after")],
)
def test_a_bad_cursor_or_limit_is_a_400(api: Api, query: str, field: str) -> None:
    r = call(api, "GET", "/_fake/requests" + query)
    assert r.status == 400, r
    assert [d["field"] for d in r.json["error"]["details"]] == [field]
    too_long = "with at most 18 digits" in r.json["error"]["details"][0]["message"]
    assert too_long == query.endswith("9" * 40)  # says why a big number is refused


def test_journal_violation_carries_the_reports_rule(api: Api) -> None:
    body = {"time-entry": {"seconds": "60", "time-category-id": "999"}}
    assert api.post("/projects/51/timeEntries", body).status == 422
    assert api.get("/nope/42").status == 404
    [create, nowhere] = journal(api)["requests"]
    kinds = {(v["field"], v["rule"]) for v in api.fake.contract_report()["violations"]}
    for record in (create, nowhere):
        assert record["violations"]
        for violation in record["violations"]:
            assert (violation["field"], violation["rule"]) in kinds


# --- the data views: read through the control API, never journaled -----------------


@pytest.mark.parametrize(
    "path, status",
    [("/_fake/data/contacts/999/entries", 404), ("/_fake/data/users", 404),
     ("/_fake/data/projects?page=0", 400), ("/_fake/data/projects?page=x", 400),
     ("/_fake/data/projects/51/entries?page=0", 400), ("/_fake/data/projects?size=2", 400),
     ("/_fake/data/projects/" + "9" * 5000 + "/entries", 404),
     # What names nothing is a 404 before any parameter is read, in both views.
     ("/_fake/data/users?page=x", 404), ("/_fake/data/users/1/entries?page=x", 404)],
)
def test_data_views_refuse_what_names_nothing(api: Api, path: str, status: int) -> None:
    r = call(api, "GET", path)
    assert r.status == status, r


def test_the_journal_keeps_an_answers_first_4_kib_and_its_size(make: Callable[..., Api]) -> None:
    api = make(entries_doc(60))
    listing = api.get("/projects/51/timeEntries")
    assert listing.status == 200 and len(listing.raw) > 4096
    assert api.request("HEAD", "/timeEntries/1000").status == 200
    [record, head] = journal(api)["requests"]
    assert record["answer"] == listing.raw[:4096].decode()
    assert record["answer_size"] == len(listing.raw)
    assert (head["answer"], head["answer_size"]) == ("", 0)  # HEAD sends no body


# --- browsers: another web site cannot drive a fake that has no control token ---------------

BROWSER_CALLS = [
    pytest.param({}, 200, id="a-client-sends-neither-header"),
    pytest.param({"Origin": "http://localhost:3000"}, 200, id="a-page-of-localhost"),
    pytest.param({"Origin": "http://127.0.0.1:9", "Host": "127.0.0.1:8000"}, 200, id="loopback"),
    pytest.param({"Origin": "http://[::1]:8000", "Host": "[::1]:8000"}, 200, id="ipv6-loopback"),
    pytest.param(
        {"Origin": "http://192.168.1.5:8000", "Host": "192.168.1.5:8000"}, 200, id="its-own-page"
    ),
    pytest.param({"Sec-Fetch-Site": "none", "Host": "localhost:8000"}, 200, id="typed-url"),
    pytest.param({"Origin": "https://evil.example"}, 403, id="another-site"),
    pytest.param({"Origin": "http://1.2.3.4", "Host": "127.0.0.1:8000"}, 403, id="another-address"),
    pytest.param({"Origin": "null", "Host": "127.0.0.1:8000"}, 403, id="a-sandboxed-frame"),
    pytest.param({"Origin": "http://[zz", "Host": "127.0.0.1:8000"}, 403, id="a-broken-origin"),
    pytest.param(
        {"Sec-Fetch-Site": "same-origin", "Host": "evil.example:8000"}, 403, id="dns-rebinding"
    ),
    pytest.param(
        {"Sec-Fetch-Site": "cross-site", "Host": "127.0.0.1:8000"}, 403, id="cross-site-read"
    ),
]


@pytest.mark.parametrize(("headers", "status"), BROWSER_CALLS)
def test_without_a_token_only_pages_of_this_machine_drive_the_control_api(
    api: Api, headers: dict[str, str], status: int
) -> None:
    before = api.dump()
    reads = call(api, "GET", "/_fake/requests", headers=headers)
    rule = {"path": "/account", "status": 503}
    writes = call(api, "POST", "/_fake/faults", rule, headers=headers)
    assert (reads.status, writes.status) == (status, 201 if status == 200 else 403)
    if status == 403:
        assert writes.json == error(403, CONTROL_FORBIDDEN)
        assert api.fake.faults.rules == []
    assert api.dump() == before


CONTROL_FORBIDDEN = (
    "The control API refuses calls from a page of another site, and calls through a host name "
    "other than an address or localhost: open the page at 127.0.0.1 or localhost, or give the "
    "fake a control token (serve --control-token, or Settings(control_token=...))"
)


def test_with_a_token_a_browser_of_any_origin_needs_only_the_token(
    make: Callable[..., Api],
) -> None:
    api = make(settings=Settings(control_token="T"))
    headers = {"Origin": "https://ci.example", "Host": "apollo-fake:8000"}
    assert call(api, "GET", "/_fake/requests", headers=headers).status == 401
    headers["X-Fake-Control-Token"] = "T"
    assert call(api, "GET", "/_fake/requests", headers=headers).status == 200


def test_served_on_loopback_an_http_1_0_control_call_without_host_is_answered() -> None:
    # HTTP/1.0 lets a client leave Host out; a browser never does, so nothing is rebound.
    fake = Fake(small_doc(), today=TODAY)
    fake.faults.add("/account", status=503)
    with LiveServer(fake.app) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"POST /_fake/reset HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
            head, _, body = read_to_close(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), head
    schemas.full_validator(control_schema("POST", "/_fake/reset")).validate(json.loads(body))
    assert fake.faults.rules == []


def _reset_through(way: str, listen: str, host: str) -> list[tuple[int, bytes]]:
    """POST /_fake/reset, then GET /account, naming ``host``, to a fake listening on
    ``listen``, reached one way in; return each answer's status and body."""
    fake = Fake(small_doc(), today=TODAY)
    calls = [("POST", "/_fake/reset"), ("GET", "/account")]
    if way == "client":
        client = fake.app.test_client()
        base = f"http://{listen if ':' not in listen else f'[{listen}]'}:8000"
        answers = [
            client.open(path, method=method, base_url=base, headers={"Host": host})
            for method, path in calls
        ]
        results = [(r.status_code, r.get_data()) for r in answers]
    else:
        serving = fake.serve(listen) if way == "fake.serve" else _live(fake, listen)
        with serving as url:
            port = int(url.rsplit(":", 1)[1])
            results = []
            for method, path in calls:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                try:
                    conn.putrequest(method, path, skip_host=True)
                    conn.putheader("Host", host)
                    conn.endheaders()
                    response = conn.getresponse()
                    results.append((response.status, response.read()))
                finally:
                    conn.close()
    return results


@contextlib.contextmanager
def _live(fake: Fake, listen: str) -> Iterator[str]:
    with LiveServer(fake.app, host=listen) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize("way", ["client", "live", "fake.serve"])
@pytest.mark.parametrize(
    ("listen", "host", "status"),
    [
        ("127.0.0.1", "127.0.0.1:8000", 200),
        ("127.0.0.1", "localhost:8000", 200),
        ("127.0.0.1", "[::1]:8000", 200),
        ("127.0.0.1", "rebound.example:8000", 403),  # a DNS name pointed at 127.0.0.1
        ("0.0.0.0", "apollo-fake:8000", 200),  # served on all addresses: a service's name
    ],
)
def test_served_on_loopback_a_control_call_names_the_host_as_an_address_or_localhost(
    way: str, listen: str, host: str, status: int
) -> None:
    # Derived from the address the fake listens on, whichever server: `serve`, the
    # plugin's live server and Fake.serve() alike; the Apollo calls are not concerned.
    (reset, reset_body), (account, account_body) = _reset_through(way, listen, host)
    assert reset == status, reset_body
    if status == 403:
        assert json.loads(reset_body) == error(403, CONTROL_FORBIDDEN)
        schemas.full_validator(contract.ERROR_SCHEMA).validate(json.loads(reset_body))
    else:
        schemas.full_validator(control_schema("POST", "/_fake/reset")).validate(
            json.loads(reset_body)
        )
    assert account == 200
    schemas.full_validator("account-response.schema.json").validate(json.loads(account_body))
