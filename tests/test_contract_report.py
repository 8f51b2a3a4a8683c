"""The contract report: violations grouped, coverage of the calls of the contract, its renderings.

Covers the counting (root, ``/v1`` and the page route as one call; continued-at
followed and offered; the report's parameters and non-default booleans; the fields of
successful writes; 404s as outcomes, violations grouped by method, route, field and
rule with the values left out of the rule; unknown routes and methods outside the
contract; deliberate violations apart; injected answers as outcomes, never
violations; 401 and 429 only when configured), that the counts outlive the bounded
journal and are exact under concurrent requests, how reset and the report relate,
``GET /_fake/report`` (its Python twin, its control token, that it is neither
journaled nor counted), the JUnit XML and the text, and that the app's routes, the
report and the OpenAPI document all follow the contract's one table.
Every report document a test reads is validated against its JSON Schema.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from werkzeug.test import Client

from apollo_fake import contract, openapi, report, schemas
from apollo_fake.contract import CALLS, ROUTES
from apollo_fake.fake import Fake, Settings
from apollo_fake.report import Coverage
from apollo_fake.web import create_app

from conftest import SMALL, TODAY, Api, ApiOf, entries_doc, small_doc

SCHEMA = "contract-report.schema.json"
CALL_NAMES = [
    "projects_listing",
    "tasks_listing",
    "contacts_listing",
    "get_entry",
    "projects_create",
    "tasks_create",
    "contacts_create",
    "update_entry",
    "delete_entry",
    "report",
    "account",
]
SECONDS = {"time-entry": {"seconds": "60"}}


def checked(doc: dict[str, Any]) -> dict[str, Any]:
    """Validate a report document against its schema and return it."""
    schemas.full_validator(SCHEMA).validate(doc)
    return doc


def since_reset(fake: Fake) -> dict[str, Any]:
    """Return the report of the requests since the last reset (the api fixture resets)."""
    return checked(fake.contract_report(since_reset=True))


def call_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """Return one call's entry of a report."""
    found: dict[str, Any] = next(c for c in doc["calls"] if c["name"] == name)
    return found


def seen(doc: dict[str, Any], name: str, check: str) -> int:
    """Return how often a call's check was seen."""
    count: int = next(k["seen"] for k in call_of(doc, name)["checks"] if k["name"] == check)
    return count


def gaps(doc: dict[str, Any], kind: str | None = None) -> list[tuple[str, list[str]]]:
    """Return the untested items as (name, calls), of one kind or all."""
    return [
        (g["name"], g["calls"])
        for g in doc["coverage"]["untested"]
        if kind is None or g["kind"] == kind
    ]


# --- the calls -------------------------------------------------------------------


def test_the_calls_are_the_seeds_ten_and_the_account_in_the_seeds_order(api: Api) -> None:
    doc = since_reset(api.fake)
    assert [c["name"] for c in doc["calls"]] == CALL_NAMES
    assert [(c["method"], c["path"]) for c in doc["calls"]] == [
        ("GET", "/projects/{project_id}/timeEntries"),
        ("GET", "/tasks/{task_id}/timeEntries"),
        ("GET", "/contacts/{contact_id}/timeEntries"),
        ("GET", "/timeEntries/{id}"),
        ("POST", "/projects/{project_id}/timeEntries"),
        ("POST", "/tasks/{task_id}/timeEntries"),
        ("POST", "/contacts/{contact_id}/timeEntries"),
        ("PUT", "/timeEntries/{id}"),
        ("DELETE", "/timeEntries/{id}"),
        ("GET", "/report/timeEntries"),
        ("GET", "/account"),
    ]
    assert call_of(doc, "tasks_create")["title"] == "Create entry (for a task item)"
    assert doc["requests"] == 0
    assert doc["coverage"] == {
        "calls": 11,
        "exercised": 0,
        "unexercised": CALL_NAMES,
        "untested": doc["coverage"]["untested"],
        "checks": {"total": doc["coverage"]["checks"]["total"], "exercised": 0, "percent": 0.0},
    }
    assert doc["coverage"]["checks"]["total"] == sum(1 + len(c["checks"]) for c in doc["calls"])
    assert gaps(doc, "call") == [(name, [name]) for name in CALL_NAMES]


def test_root_v1_and_the_page_route_are_one_call(api: Api) -> None:
    for path in (
        "/projects/51/timeEntries",
        "/v1/projects/51/timeEntries",
        "/projects/51/timeEntries/1",
        "/v1/projects/51/timeEntries/0001",
    ):
        assert api.get(path).status == 200, path
    assert api.get("/v1/account").status == 200
    doc = since_reset(api.fake)
    listing = call_of(doc, "projects_listing")
    assert (listing["requests"], listing["succeeded"], listing["statuses"]) == (4, 4, {"200": 4})
    assert call_of(doc, "account")["statuses"] == {"200": 1}
    assert doc["requests"] == 5
    assert doc["outside"] == 0
    assert doc["coverage"]["exercised"] == 2
    assert "projects_listing" not in doc["coverage"]["unexercised"]


def test_a_page_after_the_first_follows_continued_at(api_of: ApiOf) -> None:
    paged = api_of(entries_doc(120))
    first = paged.get("/projects/51/timeEntries")
    assert first.json["continued-at"] == "/projects/51/timeEntries/2"
    doc = since_reset(paged.fake)
    check = call_of(doc, "projects_listing")["checks"][-1]
    assert check == {"kind": "continued-at", "name": "continued-at", "seen": 0, "offered": 1}
    [text] = [g["text"] for g in doc["coverage"]["untested"] if g["kind"] == "continued-at"]
    assert "no listing followed continued-at" in text
    assert "over 50" not in text  # it was offered: the client did not follow it

    assert paged.get("/projects/51/timeEntries", query={"page": "1"}).status == 200
    assert paged.get(first.json["continued-at"]).status == 200
    assert paged.get("/v1/projects/51/timeEntries", query={"page": "3"}).status == 200
    assert paged.get("/projects/51/timeEntries/9").status == 200  # past the end: still a page
    doc = since_reset(paged.fake)
    check = call_of(doc, "projects_listing")["checks"][-1]
    assert (check["seen"], check["offered"]) == (3, 3)
    assert ("continued-at", ["projects_listing"]) not in gaps(doc)
    assert ("continued-at", ["contacts_listing"]) not in gaps(doc)  # never called at all


def test_without_a_second_page_in_the_data_the_gap_says_so(api: Api) -> None:
    assert api.get("/contacts/41/timeEntries").status == 200
    doc = since_reset(api.fake)
    [text] = [g["text"] for g in doc["coverage"]["untested"] if g["kind"] == "continued-at"]
    assert text.endswith("(no contact in the data has over 50 entries)")


def test_the_report_counts_parameters_and_booleans_given_their_other_value(api: Api) -> None:
    for query in (
        {"with_totals": "0", "include_projects": "TRUE"},  # each its default: nothing new
        {"with_totals": "Yes", "from": "20120201"},
        {"include_projects": "off", "include_deals": "1", "user_id": "11"},
    ):
        assert api.get("/report/timeEntries", query=query).status == 200, query
    assert api.get("/report/timeEntries", query={"to": "someday"}).status == 400
    doc = since_reset(api.fake)
    checks = {k["name"]: k["seen"] for k in call_of(doc, "report")["checks"]}
    assert {name for name, count in checks.items() if count} == {
        "200",
        "with_totals=true",
        "from",
        "include_projects=false",
        "include_deals=true",
        "user_id",
    }
    assert {name for name, _ in gaps(doc, "parameter")} == {
        "include_personal=true",
        "include_contacts=true",
        "include_cases=true",
        "to",  # given once, in a request that failed
        "company_id",
        "task_id",
        "project_id",
    }
    assert list(checks) == [
        "200",
        "include_personal=true",
        "include_projects=false",
        "include_contacts=true",
        "include_cases=true",
        "include_deals=true",
        "from",
        "to",
        "user_id",
        "company_id",
        "task_id",
        "project_id",
        "with_totals=true",
    ]


def test_writes_count_the_fields_of_successful_requests(api: Api) -> None:
    assert api.post("/projects/51/timeEntries", {"time-entry": {"seconds": 60, "notes": "x"}})
    assert api.post("/tasks/61/timeEntries", {"time-entry": {"seconds": "1", "billable": "no"}})
    update = {"time-entry": {"category-id": None, "date": "2012-07-01", "seconds": "5"}}
    assert api.put("/timeEntries/71", update).status == 200
    doc = since_reset(api.fake)
    assert seen(doc, "projects_create", "notes") == 1
    assert seen(doc, "tasks_create", "billable") == 0  # rejected: 422
    assert [k["name"] for k in call_of(doc, "projects_create")["checks"]] == [
        "201",
        "404",
        "422",
        "category-id",
        "user-id",
        "notes",
        "date",
        "billable",
    ]
    assert {k["name"]: k["seen"] for k in call_of(doc, "update_entry")["checks"]} == {
        "200": 1,
        "404": 0,
        "422": 0,
        "category-id": 1,
        "user-id": 0,
        "notes": 0,
        "date": 1,
        "billable": 0,
        "seconds": 1,
    }
    assert ("tasks_create", ["tasks_create"]) in gaps(doc, "success")


def test_a_missing_entity_is_an_outcome_not_a_violation(api: Api) -> None:
    assert api.get("/timeEntries/999").status == 404
    assert api.delete("/timeEntries/999").status == 404
    doc = since_reset(api.fake)
    assert doc["violations"] == []
    assert doc["violating-requests"] == 0
    assert seen(doc, "get_entry", "404") == 1
    assert "get_entry" in doc["coverage"]["unexercised"]  # never a success
    [(name, calls)] = gaps(doc, "status")[:1]
    assert name == "404"
    assert "get_entry" not in calls and "delete_entry" not in calls
    assert "projects_listing" in calls


# --- violations ------------------------------------------------------------------


def test_violations_are_grouped_by_method_route_field_and_rule(api: Api) -> None:
    body = {"time-entry": {"seconds": "60", "time-category-id": "21"}}
    paths = ("/projects/51/timeEntries", "/v1/projects/51/timeEntries", "/projects/52/timeEntries")
    for path in paths:
        assert api.post(path, body).status == 422
    for day in ("20120230", "20120231"):
        assert api.get("/report/timeEntries", query={"from": day}).status == 400
    doc = since_reset(api.fake)
    assert doc["violating-requests"] == 5
    first, second = doc["violations"]
    assert first == {
        "method": "POST",
        "path": "/projects/{project_id}/timeEntries",
        "call": "projects_create",
        "status": 422,
        "field": "time-entry.time-category-id",
        "rule": first["rule"],
        "count": 3,
        "example": {"path": "/projects/51/timeEntries", "message": first["rule"]},
    }
    assert "send category-id" in first["rule"]
    assert second["path"] == "/report/timeEntries"
    assert (second["field"], second["status"], second["count"]) == ("from", 400, 2)
    assert second["rule"] == "'…' is not a real calendar date"  # the values left out
    assert second["example"] == {
        "path": "/report/timeEntries?from=20120230",
        "message": "'20120230' is not a real calendar date",
    }
    assert call_of(doc, "projects_create")["violating"] == 3
    assert call_of(doc, "report")["violating"] == 2


def test_a_request_breaking_several_rules_counts_once_per_rule(api: Api) -> None:
    body = {"time-entry": {"seconds": "-1", "billable": "maybe"}}
    assert api.post("/contacts/41/timeEntries", body).status == 422
    assert api.get("/projects/51/timeEntries", query=[("page", "1"), ("page", "2")]).status == 400
    doc = since_reset(api.fake)
    assert doc["violating-requests"] == 2
    assert sorted((v["field"], v["count"]) for v in doc["violations"]) == [
        ("page", 1),
        ("time-entry.billable", 1),
        ("time-entry.seconds", 1),
    ]
    assert call_of(doc, "contacts_create")["violating"] == 1


def test_unknown_routes_and_methods_are_violations_outside_the_contract(api: Api) -> None:
    assert api.get("/nope/12").status == 404
    assert api.get("/v1/nope/13").status == 404
    assert api.get("/timeEntries/abc").status == 404
    assert api.request("PATCH", "/timeEntries/71").status == 405
    doc = since_reset(api.fake)
    assert doc["outside"] == 4
    assert doc["requests"] == 4
    kinds = {(v["method"], v["path"], v["status"], v["count"]) for v in doc["violations"]}
    assert kinds == {
        ("GET", "/nope/{id}", 404, 2),
        ("GET", "/timeEntries/abc", 404, 1),
        ("PATCH", "/timeEntries/{id}", 405, 1),
    }
    assert {v["call"] for v in doc["violations"]} == {None}
    patch = next(v for v in doc["violations"] if v["method"] == "PATCH")
    assert patch["rule"] == "this path takes only DELETE, GET, HEAD, PUT"
    assert all(c["requests"] == 0 for c in doc["calls"])


def test_deliberate_violations_are_counted_apart(api: Api) -> None:
    with api.fake.expect_errors():
        assert api.post("/projects/51/timeEntries", {"time-entry": {}}).status == 422
    doc = since_reset(api.fake)
    assert doc["violations"] == []
    assert doc["violating-requests"] == 0
    assert doc["expected-violations"] == 1
    assert seen(doc, "projects_create", "422") == 1  # the client's 422 handling was tested
    assert "deliberate" in report.text(doc)


def test_too_many_kinds_of_violation_are_counted_together(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "MAX_KINDS", 3)
    for i in range(6):
        assert api.get(f"/nope{i}").status == 404
    doc = since_reset(api.fake)
    assert len(doc["violations"]) == 4
    other = doc["violations"][0]
    assert (other["path"], other["rule"], other["count"]) == ("*", report.OTHER_KINDS, 3)
    assert sum(v["count"] for v in doc["violations"]) == 6


# --- outcomes: faults, auth, rate limit --------------------------------------------


def test_injected_answers_are_outcomes_never_violations(api: Api) -> None:
    api.fake.faults.add("/projects/*", "POST", status=422)
    api.fake.faults.add("/timeEntries/*", "PUT", status=400)
    api.fake.faults.add("/nowhere", status=503)
    assert api.post("/projects/51/timeEntries", SECONDS).status == 422
    assert api.put("/v1/timeEntries/71", SECONDS).status == 400
    doc = since_reset(api.fake)
    assert doc["violations"] == []
    create = call_of(doc, "projects_create")
    assert (create["requests"], create["injected"], create["succeeded"]) == (1, 1, 0)
    assert create["statuses"] == {"422": 1}
    assert call_of(doc, "update_entry")["statuses"] == {"400": 1}
    assert ("422", ["tasks_create", "contacts_create", "update_entry"]) in gaps(doc, "status")


def test_a_dropped_connection_counts_as_injected_without_a_status() -> None:
    fake = Fake(small_doc(), today=TODAY)
    fake.faults.add("/account", drop=True)
    with fake.serve() as url, pytest.raises(OSError):
        import urllib.request

        urllib.request.urlopen(url + "/account", timeout=5)
    account = call_of(checked(fake.contract_report()), "account")
    assert (account["requests"], account["injected"], account["statuses"]) == (1, 1, {})


def test_401_and_429_are_outcomes_only_when_configured(api: Api) -> None:
    plain = since_reset(api.fake)
    assert not [k for c in plain["calls"] for k in c["checks"] if k["name"] in ("401", "429")]
    settings = Settings(tokens={"tok": 11}, rate_limit=(1, 60))
    fake = Fake(small_doc(), today=TODAY, settings=settings)
    client = create_app(fake).test_client()
    assert client.get("/account").status_code == 401
    auth = {"Authorization": "Basic dG9rOng="}  # tok:x
    assert client.get("/v1/account", headers=auth).status_code == 200
    assert client.get("/timeEntries/71", headers=auth).status_code == 429
    doc = checked(fake.contract_report())
    assert call_of(doc, "account")["statuses"] == {"200": 1, "401": 1}
    assert call_of(doc, "get_entry")["statuses"] == {"429": 1}
    assert [k["name"] for k in call_of(doc, "report")["checks"]][:3] == ["200", "401", "429"]
    assert doc["outside"] == 0
    names = [name for name, _ in gaps(doc, "status")]
    assert "401" not in names and "429" not in names


def test_a_configured_outcome_no_request_got_is_one_gap() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(rate_limit=(100, 300)))
    assert fake.client.get("/account").status_code == 200
    doc = checked(fake.contract_report())
    [(name, calls)] = [(n, c) for n, c in gaps(doc, "status") if n == "429"]
    assert calls == CALL_NAMES
    assert "no request got a 429 (the rate limit)" in report.text(doc)


# --- counting: cumulative, exact, reset ----------------------------------------------


def test_the_counts_outlive_the_journal() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_size=3))
    for _ in range(10):
        assert fake.client.get("/timeEntries/71").status_code == 200
    for _ in range(4):
        assert fake.client.get("/nope").status_code == 404
    assert len(fake.journal) == 3
    doc = checked(fake.contract_report())
    assert call_of(doc, "get_entry")["requests"] == 10
    assert doc["violations"][0]["count"] == 4
    assert doc["requests"] == 14


def test_the_counts_are_exact_under_concurrent_requests() -> None:
    fake = Fake(small_doc(), today=TODAY)
    app = create_app(fake)
    paths = ["/projects/51/timeEntries", "/report/timeEntries?with_totals=1", "/nope", "/account"]

    def client_loop() -> None:
        client = Client(app)
        for i in range(200):
            client.get(paths[i % len(paths)])

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    doc = checked(fake.contract_report())
    assert doc["requests"] == 800
    assert call_of(doc, "report")["statuses"] == {"200": 200}
    assert seen(doc, "report", "with_totals=true") == 200
    assert doc["violations"][0]["count"] == 200
    assert doc["outside"] == 200


def test_reset_forgets_the_coverage_but_not_the_report_of_the_whole_run() -> None:
    fake = Fake(small_doc(), today=TODAY)
    body = {"time-entry": {"seconds": "60", "time-category-id": "21"}}
    assert fake.client.post("/projects/51/timeEntries", json=body).status_code == 422
    assert fake.client.get("/account").status_code == 200
    fake.reset()
    assert fake.coverage.requests == 0
    assert checked(fake.contract_report(since_reset=True))["requests"] == 0
    assert fake.client.get("/account").status_code == 200
    fake.reset("empty")
    # A client resetting between its tests must not erase what it did before.
    doc = checked(fake.contract_report())
    assert doc["requests"] == 3
    assert doc["violating-requests"] == 1
    assert doc["violations"][0]["field"] == "time-entry.time-category-id"
    assert call_of(doc, "account")["statuses"] == {"200": 2}


def test_absorbing_counts_is_counting_both() -> None:
    one, two, both = Coverage(), Coverage(), Coverage()
    requests: list[tuple[Any, ...]] = [
        (ROUTES["report"], "GET", "/report/timeEntries", "with_totals=1", 200),
        (ROUTES["projects_page"], "GET", "/v1/projects/51/timeEntries/2", "", 200),
        (ROUTES["account"], "GET", "/account", "", 503, None, None, b"", False, True),
        (None, "GET", "/nope", "", 404),
    ]
    for i, args in enumerate(requests):
        (one if i % 2 else two).note(*args)
        both.note(*args)
    merged = Coverage()
    merged.absorb(one)
    merged.absorb(two)
    assert merged.document() == both.document()
    assert merged.requests == 4


# --- GET /_fake/report ------------------------------------------------------------------


def _control(api: Api, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    if api.client is not None:
        resp = api.client.get(path, headers=headers or {})
        return resp.status_code, json.loads(resp.get_data())
    import http.client

    assert api.url is not None
    host, port = api.url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        got = conn.getresponse()
        return got.status, json.loads(got.read())
    finally:
        conn.close()


def test_the_control_api_serves_the_report_of_the_whole_run(api_of: ApiOf) -> None:
    fresh = api_of(small_doc())
    assert fresh.post("/projects/51/timeEntries", {"time-entry": {"time-category-id": 1}})
    assert fresh.get("/account").status == 200
    fresh.fake.reset()
    status, doc = _control(fresh, "/_fake/report")
    assert status == 200
    assert checked(doc) == fresh.fake.contract_report()
    assert doc["requests"] == 2
    # Control calls are neither journaled nor counted.
    assert _control(fresh, "/_fake/report")[1] == doc
    assert fresh.fake.requests() == []


def test_the_report_takes_no_parameters_and_needs_the_control_token() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(control_token="ctl"))
    client = create_app(fake).test_client()
    assert client.get("/_fake/report").status_code == 401
    answer = client.get("/_fake/report", headers={"X-Fake-Control-Token": "ctl"})
    assert answer.status_code == 200
    checked(answer.get_json())
    wrong = client.get("/_fake/report?since=x", headers={"X-Fake-Control-Token": "ctl"})
    assert wrong.status_code == 400
    assert client.get("/v1/_fake/report").status_code == 404  # an Apollo route-404


# --- renderings ---------------------------------------------------------------------


def _mixed(fake: Fake) -> dict[str, Any]:
    client = fake.client
    assert client.get("/projects/51/timeEntries").status_code == 200
    body = {"time-entry": {"seconds": "60", "time-category-id": "21"}}
    for _ in range(2):
        assert client.post("/tasks/61/timeEntries", json=body).status_code == 422
    assert client.get("/report/timeEntries?to=never").status_code == 400
    assert client.get("/nope/1").status_code == 404
    return checked(fake.contract_report())


def test_junit_has_a_case_per_call_and_a_failure_per_violation() -> None:
    doc = _mixed(Fake(small_doc(), today=TODAY))
    root = ET.fromstring(report.junit(doc))
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    names = [c.get("name") for c in cases]
    assert names == [f"{c.method} {c.path}" for c in CALLS] + ["requests outside the contract"]
    assert suite.get("tests") == "12"
    assert suite.get("failures") == root.get("failures") == "3"
    by_name = {c.get("name"): c for c in cases}
    [failure] = by_name["POST /tasks/{task_id}/timeEntries"].findall("failure")
    assert "time-entry.time-category-id" in (failure.get("message") or "")
    assert "(2x)" in (failure.get("message") or "")
    assert "POST /tasks/61/timeEntries" in (failure.text or "")
    assert len(by_name["GET /report/timeEntries"].findall("failure")) == 1
    assert len(by_name["requests outside the contract"].findall("failure")) == 1
    listing = by_name["GET /projects/{project_id}/timeEntries"]
    assert listing.find("failure") is None and listing.find("skipped") is None
    assert "continued-at" in (listing.findtext("system-out") or "")
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    assert len(skipped) == int(suite.get("skipped") or 0) == 8
    assert "GET /account" in skipped
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["violating-requests"] == "4"


def test_junit_without_violations_has_one_case_per_call() -> None:
    doc = checked(Fake().contract_report())
    root = ET.fromstring(report.junit(doc))
    assert len(root.findall("./testsuite/testcase")) == 11
    assert root.get("failures") == "0"


def test_the_checks_count_each_call_and_each_of_its_checks_once_seen(api: Api) -> None:
    assert api.get("/projects/51/timeEntries").status == 200
    assert api.get("/projects/999/timeEntries").status == 404
    doc = since_reset(api.fake)
    listing = call_of(doc, "projects_listing")
    # The call itself, its 200 and its 404: three of its checks; continued-at is not.
    assert [(k["name"], bool(k["seen"])) for k in listing["checks"]] == [
        ("200", True),
        ("404", True),
        ("continued-at", False),
    ]
    total = sum(1 + len(c["checks"]) for c in doc["calls"])
    assert doc["coverage"]["checks"] == {
        "total": total,
        "exercised": 3,
        "percent": report.percent(3, total),
    }


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [(0, 97, 0.0), (1, 3, 33.3), (2, 3, 66.6), (9999, 10000, 99.9), (97, 97, 100.0), (0, 0, 100.0)],
)
def test_the_percentage_is_rounded_down_so_100_means_everything(
    part: int, whole: int, shown: float
) -> None:
    assert report.percent(part, whole) == shown


def test_the_text_report_lists_violations_coverage_and_gaps() -> None:
    text = report.text(_mixed(Fake(small_doc(), today=TODAY)))
    assert text.startswith("apollo-fake contract report\n  5 requests to the Apollo API; 4 broke")
    line = "  POST /tasks/{task_id}/timeEntries  422  time-entry.time-category-id  x2\n"
    assert line in text
    assert "  GET /nope/{id}  404  (request)  x1" in text
    assert "e.g. GET /report/timeEntries?to=never ('never' is not a date" in text
    doc = _mixed(Fake(small_doc(), today=TODAY))
    checks = doc["coverage"]["checks"]
    shown = f"{checks['exercised']} of {checks['total']} checks ({checks['percent']:g}%)"
    assert f"Coverage: 1 of 11 calls of the contract exercised; {shown}" in text
    assert re.search(r"^  ok  GET /projects/\{project_id\}/timeEntries +200 x1$", text, re.M)
    assert re.search(r"^  --  GET /account +never called$", text, re.M)
    assert "  - POST /tasks/{task_id}/timeEntries never succeeded (2 requests)" in text
    assert "  - GET /timeEntries/{id} was never called" in text
    assert "  - GET /report/timeEntries never succeeded (1 request)" in text


def test_the_text_report_gives_a_calls_unused_parameters_and_fields_one_line() -> None:
    fake = Fake(small_doc(), today=TODAY)
    assert fake.client.get("/report/timeEntries?with_totals=1&to=today").status_code == 200
    body = {"time-entry": {"seconds": "60", "notes": "x", "date": "2012-07-01"}}
    assert fake.client.post("/contacts/41/timeEntries", json=body).status_code == 201
    lines = report.text(checked(fake.contract_report())).splitlines()
    assert "  - GET /report/timeEntries was never called with: include_personal=true, " + (
        "include_projects=false, include_contacts=true, include_cases=true, "
        "include_deals=true, from, user_id, company_id, task_id, project_id"
    ) in lines
    assert "  - POST /contacts/{contact_id}/timeEntries never sent: " + (
        "category-id, user-id, billable"
    ) in lines


def test_rules_leave_the_values_out_and_unknown_paths_keep_their_shape() -> None:
    assert report.rule_of("'abc' is not digits") == "'…' is not digits"
    assert report.rule_of("names no existing user (99)") == "names no existing user (…)"
    assert report.rule_of("2012-01-02 is after to (2012-01-01)") == (
        "YYYY-MM-DD is after to (YYYY-MM-DD)"
    )
    assert report.rule_of("must be one of 1, true, yes, on") == "must be one of 1, true, yes, on"
    assert report.shape("/v1/projects/51/timeEntries/2x") == "/projects/{id}/timeEntries/2x"
    assert report.shape("/v1/../account") == "/v1/../account"
    assert report.shape("/v1") == "/v1"
    assert len(report.shape("/" + "a" * 1000)) == report.MAX_TEXT


# --- the app, the report and the OpenAPI document read the contract's one table ---------


def test_every_apollo_route_is_a_route_of_a_call_with_the_same_template() -> None:
    app = create_app(Fake())
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("api.", "api_v1.")):
            template = re.sub(r"<id:[a-z_]+>", "{}", rule.rule.removeprefix("/v1"))
            found[rule.endpoint] = template
    assert set(found) == {f"{b}.{e}" for b in ("api", "api_v1") for e in ROUTES}
    for endpoint, template in found.items():
        route = ROUTES[endpoint.partition(".")[2]]
        assert re.sub(r"\{[a-z_]+\}", "{}", route.template) == template, endpoint
        methods = next(r.methods for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        assert route.method in (methods or ()), endpoint
        assert contract.CALLS_BY_NAME[route.call].method == route.method


def test_every_schema_the_table_names_is_a_file_of_schemas() -> None:
    files = set(schemas.names())
    for call in CALLS:
        assert {call.answer, contract.ERROR_SCHEMA} <= files, call.name
        assert call.request is None or call.request in files, call.name
        assert contract.response_schema(call, call.status) == call.answer
        assert contract.response_schema(call, 404) == contract.ERROR_SCHEMA
        assert all(route.call == call.name for route in call.routes)
    assert len(CALLS) == 11 and len({c.name for c in CALLS}) == 11


def test_the_dispatcher_calls_the_views_of_the_url_map() -> None:
    app = create_app(Fake())
    targets = app.wsgi_app.app._targets  # type: ignore[attr-defined]
    assert set(targets) == {f"{b}.{e}" for b in ("api", "api_v1") for e in ROUTES}
    for endpoint, (view, route) in targets.items():
        assert app.view_functions[endpoint] is view, endpoint
        assert route is ROUTES[endpoint.partition(".")[2]]


def test_the_reports_parameters_are_the_vendors_in_its_order() -> None:
    names = [p.name for p in contract.REPORT_PARAMETERS]
    assert names == [
        "include_personal", "include_projects", "include_contacts", "include_cases",
        "include_deals", "from", "to", "user_id", "company_id", "task_id", "project_id",
        "with_totals",
    ]  # fmt: skip
    documented = openapi.build(create_app(Fake()))["paths"]["/report/timeEntries"]["get"]
    assert [p["name"] for p in documented["parameters"]] == names


def test_the_outcomes_are_documented_statuses_of_each_route() -> None:
    for call in CALLS:
        for route in call.routes:
            documented = openapi.CALLS[f"api.{route.endpoint}"]
            assert set(call.outcomes) <= {documented.status, *documented.errors}, route
            assert {401, 429} <= set(documented.errors), route


def test_the_report_document_is_served_with_its_schema_in_the_openapi_document() -> None:
    doc = create_app(Fake()).test_client().get("/openapi.json").get_json()
    answer = doc["paths"]["/_fake/report"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/contract-report"
    }
    assert "contract-report" in doc["components"]["schemas"]


def test_a_fresh_fake_from_a_file_reports_nothing_yet() -> None:
    doc = checked(Fake(SMALL, today=datetime.date(2012, 7, 31)).contract_report())
    assert (doc["requests"], doc["violations"], doc["coverage"]["exercised"]) == (0, [], 0)
    assert report.failed(doc) is False
