"""The inspector page, GET /_fake/ui, driven in a real headless browser against a live fake.

Each test opens the page on a server (``Fake.serve()``, or ``apollo-fake serve``)
and acts as a person would, while a client makes its requests beside it; what the
page shows is then checked against what the control API answers. The ``page``
fixture fails a test on a console error or a request off this machine. The live
fixture comes before ``page`` in each signature, so that the page closes before
its server stops. Screenshots of the views go to build/screenshots/ui-*.png.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import http.server
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apollo_fake import schemas
from apollo_fake.fake import Fake, Settings
from apollo_fake.web import inspector

from browser import screenshot
from conftest import TODAY, Served, small_doc

expect = pytest.importorskip("playwright.sync_api").expect

# A request shows on the open page within a second: the page polls often enough for
# that (test_the_page_polls_often_enough_to_show_a_request_within_a_second). A browser
# on a loaded machine may draw later, so the waits for a row are a bound, not a measure.
LIVE_MS = 5_000
PROMISED_MS = 1_000
# Waits for the page's own calls to be answered; a guard against a hang, not a measure.
GUARD_MS = 10_000
TOKEN = "s3cret-control"
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script>'


class Live:
    """A fake served over HTTP, with a plain client of its API and of its control API."""

    def __init__(self, url: str, fake: Fake | None = None, token: str | None = None) -> None:
        self.url = url
        self.fake = fake
        self.token = token
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.host, self.port = host, int(port)

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request as a client would; return the status and the decoded answer."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            if path.startswith("/_fake/") and self.token is not None:
                headers["X-Fake-Control-Token"] = self.token
            payload = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            ctype = resp.getheader("Content-Type") or ""
            return resp.status, json.loads(raw) if ctype.startswith("application/json") else raw
        finally:
            conn.close()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API and return its checked answer."""
        status, answer = self.send(method, path, body)
        assert status < 300, (status, answer)
        return answer

    def open(self, page: Any) -> None:
        """Open the inspector and wait until it follows the journal."""
        page.goto(self.url + "/_fake/ui")
        expect(page.locator("#status")).to_contain_text("Live", timeout=GUARD_MS)


@pytest.fixture
def live() -> Iterator[Live]:
    """Serve small.json in this process (clock frozen on TODAY) for one test."""
    fake = Fake(small_doc(), today=TODAY)
    with fake.serve() as url:
        yield Live(url, fake)


def rows(page: Any) -> Any:
    """Return the request rows of the page, newest first."""
    return page.locator("#requests tbody tr")


def view(page: Any, name: str) -> None:
    """Switch the page to a view by its tab."""
    page.click(f"#tab-{name}")
    expect(page.locator(f"#view-{name}")).to_be_visible()


# --- the page itself ----------------------------------------------------------------


def test_the_page_is_served_from_the_package_with_a_strict_policy(live: Live) -> None:
    for path, kind in [
        ("/_fake/ui", "text/html"),
        ("/_fake/ui/ui.js", "text/javascript"),
        ("/_fake/ui/ui.css", "text/css"),
    ]:
        conn = http.client.HTTPConnection(live.host, live.port, timeout=10)
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status == 200 and resp.getheader("Content-Type", "").startswith(kind)
        policy = resp.getheader("Content-Security-Policy") or ""
        assert "default-src 'self'" in policy and "script-src 'self';" in policy
        assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
        assert b"http://" not in body and b"https://" not in body  # nothing from the network
    status, answer = live.send("GET", "/_fake/ui/other.js")
    assert status == 404 and answer["error"]["status"] == 404
    # The page is not an operation of the API: it is not journaled.
    assert live.control("GET", "/_fake/requests")["requests"] == []


def test_without_the_control_api_there_is_no_page() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(control=False))
    for path in ("/_fake/ui", "/_fake/ui/ui.js"):
        r = fake.client.get(path)
        assert r.status_code == 404
        assert schemas.is_valid("error.schema.json", r.json)


def test_with_a_control_token_the_page_itself_is_served_and_asks_for_the_token() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(control_token=TOKEN))
    r = fake.client.get("/_fake/ui")
    assert r.status_code == 200
    assert inspector.GUARDED in r.data and inspector.OPEN not in r.data
    assert TOKEN.encode() not in r.data
    assert fake.client.get("/_fake/requests").status_code == 401


@pytest.mark.parametrize("path", ["/_fake/ui", "/_fake/report.html"])
def test_a_plain_browser_opening_a_page_asks_the_fake_nothing_else(
    live: Live, plain_page: Any, path: str
) -> None:
    # A browser without request routing asks for /favicon.ico unless the page names
    # its icon; the fake would journal that 404 as a request outside the contract.
    plain_page.goto(live.url + path)
    plain_page.wait_for_load_state("load")
    if path == "/_fake/ui":
        expect(plain_page.locator("#status")).to_contain_text("Live", timeout=GUARD_MS)
    plain_page.wait_for_timeout(500)  # the browser's own requests follow the load
    assert live.control("GET", "/_fake/requests")["requests"] == []
    report = live.control("GET", "/_fake/report")
    assert (report["requests"], report["outside"]) == (0, 0)
    plain_page.goto("about:blank")  # the page stops polling before its server stops


# --- requests, live ---------------------------------------------------------------------


def test_the_page_polls_often_enough_to_show_a_request_within_a_second() -> None:
    script = (Path(inspector.__file__).parent / "ui" / "ui.js").read_text(encoding="utf-8")
    found = re.search(r"^const POLL_MS = (\d+);", script, re.MULTILINE)
    assert found is not None, "ui.js no longer names its polling interval POLL_MS"
    assert "let wait = POLL_MS;" in script, "the polling loop no longer waits POLL_MS"
    # A request that lands just after a poll waits one interval, then the poll's round trip.
    assert int(found.group(1)) <= PROMISED_MS / 2


def test_a_clients_request_appears_on_the_open_page(live: Live, page: Any) -> None:
    live.open(page)
    expect(page.locator("#requests-empty")).to_be_visible()
    assert live.send("GET", "/timeEntries/71")[0] == 200
    expect(rows(page).first).to_contain_text("/timeEntries/71", timeout=LIVE_MS)
    assert live.send("GET", "/account")[0] == 200
    first = rows(page).first
    expect(first).to_contain_text("/account", timeout=LIVE_MS)
    # Newest first: method, path, status, time, the token's user.
    cells = first.locator("td")
    expect(cells).to_have_text(["GET", "/account", "200", f"{TODAY} 00:00:00", "–"])
    expect(rows(page)).to_have_count(2)
    # One click shows what was sent and what was answered.
    rows(page).nth(1).click()
    expect(page.locator("#detail-body")).to_have_text("(none)")
    expect(page.locator("#detail-answer")).to_contain_text('"notes": "Working hard"')
    screenshot(page, "ui-requests")


def test_a_rejected_create_shows_its_field_and_the_reports_rule(live: Live, page: Any) -> None:
    live.open(page)
    body = {"time-entry": {"seconds": "60", "time-category-id": "999", "billable": "maybe"}}
    status, answer = live.send("POST", "/projects/51/timeEntries", body)
    assert status == 422
    row = rows(page).first
    expect(row).to_contain_text("422", timeout=LIVE_MS)
    row.click()
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    report = live.control("GET", "/_fake/report")
    kinds = {v["field"]: v["rule"] for v in report["violations"]}
    items = page.locator("#violations li")
    expect(items).to_have_count(len(answer["error"]["details"]))
    for detail_item in answer["error"]["details"]:
        field = detail_item["field"]
        item = items.filter(has_text=field)
        expect(item.locator(".field")).to_have_text(field)
        expect(item.locator(".rule")).to_have_text(kinds[field])
    expect(page.locator("#detail-body")).to_contain_text('"time-category-id": "999"')
    expect(page.locator("#detail-answer")).to_contain_text(answer["error"]["message"])
    screenshot(page, "ui-violation")


def test_filters_narrow_the_requests(live: Live, page: Any) -> None:
    live.open(page)
    assert live.send("GET", "/account")[0] == 200
    assert live.send("GET", "/timeEntries/71")[0] == 200
    assert live.send("POST", "/projects/51/timeEntries", {"time-entry": {}})[0] == 422
    assert live.send("DELETE", "/timeEntries/999")[0] == 404
    expect(rows(page)).to_have_count(4, timeout=GUARD_MS)
    page.select_option("#f-method", "GET")
    expect(rows(page)).to_have_count(2, timeout=GUARD_MS)
    page.fill("#f-path", "/timeEntries/*")
    expect(rows(page)).to_have_count(1, timeout=GUARD_MS)
    expect(rows(page).first).to_contain_text("/timeEntries/71")
    page.select_option("#f-method", "")
    page.select_option("#f-status", "4xx")
    expect(rows(page)).to_have_count(1, timeout=GUARD_MS)
    expect(rows(page).first).to_contain_text("404")
    page.fill("#f-path", "")
    page.check("#f-violations")
    expect(rows(page)).to_have_count(1, timeout=GUARD_MS)
    expect(rows(page).first).to_contain_text("422")
    # Filtered, the page still follows the journal.
    assert live.send("PUT", "/timeEntries/71", {"time-entry": {"seconds": "x"}})[0] == 422
    expect(rows(page)).to_have_count(2, timeout=GUARD_MS)


def test_violations_only_finds_a_violation_older_than_the_rows_the_page_keeps(
    live: Live, page: Any
) -> None:
    assert live.fake is not None
    client = live.fake.client  # the same fake, journaled alike, without a socket per request
    assert client.post("/projects/51/timeEntries", json={"time-entry": {}}).status_code == 422
    for _ in range(600):  # more than the page keeps, all newer than the violation
        assert client.get("/account").status_code == 200
    live.open(page)
    page.check("#f-violations")
    expect(rows(page)).to_have_count(1, timeout=GUARD_MS)
    expect(rows(page).first).to_contain_text("422")


def test_a_fake_started_afresh_on_the_same_port_is_read_from_its_start(
    serve: Callable[..., Served], page: Any, free_tcp_port: int
) -> None:
    # A port of its own choosing, as `make serve` has: only then is it reusable at once.
    first = serve("--quiet", "--fixtures", "fixtures/small.json", "--port", str(free_tcp_port))
    live = Live(first.url)
    live.open(page)
    for _ in range(5):
        assert live.send("GET", "/account")[0] == 200
    expect(rows(page)).to_have_count(5, timeout=GUARD_MS)
    assert first.stop() == 0
    # Its journal numbers from 1 again, below the page's cursor.
    serve("--quiet", "--fixtures", "fixtures/small.json", "--port", str(live.port))
    assert live.send("GET", "/timeEntries/71")[0] == 200
    expect(rows(page)).to_have_count(1, timeout=GUARD_MS)
    expect(rows(page).first).to_contain_text("/timeEntries/71")
    # Polls while no fake answered: the browser logs each refused connection.
    page.watch.errors[:] = [e for e in page.watch.errors if "ERR_CONNECTION_REFUSED" not in e]


def test_the_header_counts_the_requests_the_list_holds(live: Live, page: Any) -> None:
    for path in ("/account", "/account", "/timeEntries/71"):
        assert live.send("GET", path)[0] == 200
    live.control("POST", "/_fake/reset")  # the journal starts again; its numbers go on
    for path in ("/account", "/timeEntries/71", "/timeEntries/999"):
        assert live.send("GET", path)[0] in (200, 404)
    assert live.control("GET", "/_fake/requests")["last"] > 3
    live.open(page)
    status = page.locator("#status")
    expect(status).to_have_text("Live · 3 requests in the journal", timeout=GUARD_MS)
    page.fill("#f-path", "/timeEntries/*")
    expect(status).to_have_text("Live · 2 requests match the filter", timeout=GUARD_MS)
    page.select_option("#f-status", "4xx")
    expect(status).to_have_text("Live · 1 request matches the filter", timeout=GUARD_MS)


# --- controls: each one call of the control API --------------------------------------------


def test_the_fault_form_adds_a_rule_that_the_next_request_meets(live: Live, page: Any) -> None:
    live.open(page)
    view(page, "controls")
    page.fill("#fault-method", "GET")
    page.fill("#fault-path", "/account")
    page.fill("#fault-status", "503")
    page.fill("#fault-times", "1")
    page.click("#fault-form button[type=submit]")
    expect(page.locator("#faults li")).to_have_count(1, timeout=GUARD_MS)
    expect(page.locator("#last-call")).to_contain_text("curl -X POST")
    expect(page.locator("#last-call")).to_contain_text("/_fake/faults")
    [rule] = live.control("GET", "/_fake/faults")["faults"]
    assert (rule["method"], rule["path"], rule["status"]) == ("GET", "/account", 503)
    status, answer = live.send("GET", "/account")
    assert status == 503 and answer["error"]["status"] == 503
    assert live.send("GET", "/account")[0] == 200  # times 1: spent
    screenshot(page, "ui-controls", full_page=True)
    # And removed from the page, by its own button.
    live.control("POST", "/_fake/faults", {"path": "/timeEntries/*", "status": 500})
    page.click("#tab-requests")
    view(page, "controls")
    expect(page.locator("#faults li")).to_have_count(2, timeout=GUARD_MS)
    page.get_by_role("button", name=f"Remove fault rule {rule['id']}").click()
    expect(page.locator("#faults li")).to_have_count(1, timeout=GUARD_MS)
    assert [f["id"] for f in live.control("GET", "/_fake/faults")["faults"]] != [rule["id"]]


@pytest.mark.parametrize(
    ("status", "delay", "drop"),
    [("503", "100", False), ("503", "", True), ("", "", False), ("99", "", False)],
    ids=["status-and-delay", "status-and-drop", "nothing", "no-status"],
)
def test_the_fault_form_sends_what_was_typed_and_shows_the_refusal(
    live: Live, page: Any, status: str, delay: str, drop: bool
) -> None:
    live.open(page)
    view(page, "controls")
    page.fill("#fault-path", "/account")
    page.fill("#fault-status", status)
    page.fill("#fault-delay", delay)
    page.set_checked("#fault-drop", drop)
    page.click("#fault-form button[type=submit]")
    # The same rule sent by hand: the page adds and drops nothing.
    rule: dict[str, Any] = {"method": "*", "path": "/account"}
    if status:
        rule["status"] = int(status)
    if delay:
        rule["delay_ms"] = int(delay)
    if drop:
        rule["drop"] = True
    rule["times"] = 1
    expect(page.locator("#last-call")).to_contain_text(json.dumps(rule, separators=(",", ":")))
    code, refused = live.send("POST", "/_fake/faults", rule)
    assert code == 400
    [detail] = refused["error"]["details"]
    error = page.locator("#fault-error")
    expect(error).to_be_visible(timeout=GUARD_MS)
    expect(error).to_contain_text(refused["error"]["message"])
    expect(error).to_contain_text(detail["message"])
    assert live.control("GET", "/_fake/faults")["faults"] == []  # nothing chosen for the user
    if status and delay:
        screenshot(page, "ui-fault-refused")
    # Fixed, the rule is added as typed and the message goes. An emptied method is
    # not sent at all: the API's default (any method) holds, as without the page.
    page.fill("#fault-method", "")
    page.fill("#fault-status", "")
    page.fill("#fault-delay", "100")
    page.set_checked("#fault-drop", False)
    page.click("#fault-form button[type=submit]")
    expect(page.locator("#faults li")).to_have_count(1, timeout=GUARD_MS)
    expect(error).to_be_hidden()
    expect(page.locator("#last-call")).to_contain_text('{"path":"/account","delay_ms":100')
    [added] = live.control("GET", "/_fake/faults")["faults"]
    assert added["delay_ms"] == 100 and "status" not in added and added["method"] == "*"
    # The browser logs the refused call (400) as it is meant to be refused.
    page.watch.errors[:] = [e for e in page.watch.errors if "400" not in e]


def test_reset_and_the_clock_controls_change_state_and_clock(live: Live, page: Any) -> None:
    live.open(page)
    created = live.send("POST", "/projects/51/timeEntries", {"time-entry": {"seconds": "60"}})
    assert created[0] == 201
    loaded = len(small_doc()["time-entries"])
    assert len(live.control("GET", "/_fake/state")["time-entries"]) == loaded + 1
    view(page, "controls")
    page.select_option("#reset-to", "empty")
    page.click("#reset-form button[type=submit]")
    expect(page.locator("#last-answer")).to_contain_text("200", timeout=GUARD_MS)
    assert live.control("GET", "/_fake/state").get("time-entries", []) == []
    page.select_option("#reset-to", "loaded")
    page.click("#reset-form button[type=submit]")
    expect(page.locator("#last-call")).to_contain_text('"to":"loaded"')
    expect(page.locator("#last-answer")).to_contain_text("200", timeout=GUARD_MS)
    assert len(live.control("GET", "/_fake/state")["time-entries"]) == loaded

    page.fill("#clock-value", "2012-08-01 10:00:00")
    page.click("#clock-set button")
    expect(page.locator("#clock-now")).to_contain_text("2012-08-01 10:00:00", timeout=GUARD_MS)
    assert live.control("GET", "/_fake/clock")["now"] == "2012-08-01 10:00:00"
    page.fill("#clock-seconds", "3600")
    page.click("#clock-advance button")
    expect(page.locator("#clock-now")).to_contain_text("11:00:00", timeout=GUARD_MS)
    assert live.control("GET", "/_fake/clock")["now"] == "2012-08-01 11:00:00"
    page.click("#clock-unfreeze")
    expect(page.locator("#clock-now")).to_contain_text("running", timeout=GUARD_MS)
    assert live.control("GET", "/_fake/clock")["frozen"] is False
    page.click("#clock-freeze")
    expect(page.locator("#clock-now")).to_contain_text("frozen", timeout=GUARD_MS)
    assert live.control("GET", "/_fake/clock")["frozen"] is True


def test_snapshots_are_saved_and_restored_from_the_page(live: Live, page: Any) -> None:
    live.open(page)
    view(page, "controls")
    page.fill("#snapshot-name", "before")
    page.click("#snapshot-form button[type=submit]")
    expect(page.locator("#snapshots li")).to_have_count(1, timeout=GUARD_MS)
    assert live.control("GET", "/_fake/snapshots")["snapshots"] == ["before"]
    assert live.send("DELETE", "/timeEntries/71")[0] == 200
    page.get_by_role("button", name="Restore before").click()
    expect(page.locator("#last-call")).to_contain_text("/_fake/snapshots/before/restore")
    expect(page.locator("#last-answer")).to_contain_text("200", timeout=GUARD_MS)
    assert live.send("GET", "/timeEntries/71")[0] == 200
    # A refused name shows the API's own message.
    page.fill("#snapshot-name", "no way")
    page.click("#snapshot-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("Bad snapshot name", timeout=GUARD_MS)
    # It stays to be read: the live count of the polls that follow does not replace it.
    polled = live.control("GET", "/_fake/requests?limit=1")["last"]
    assert live.send("GET", "/account")[0] == 200
    expect(page.locator("#requests tbody tr").first).to_contain_text(
        "/account", timeout=GUARD_MS
    )
    assert live.control("GET", "/_fake/requests?limit=1")["last"] > polled
    expect(page.locator("#status")).to_contain_text("Bad snapshot name")
    page.watch.errors[:] = [e for e in page.watch.errors if "400" not in e]


# --- coverage: the HTML report, in a frame that runs no script ----------------------------


def test_the_coverage_view_is_the_html_report_redrawn_as_requests_arrive(
    live: Live, page: Any
) -> None:
    live.open(page)
    view(page, "coverage")
    frame = page.frame_locator("#coverage")
    expect(frame.locator("body")).to_contain_text("GET /account", timeout=GUARD_MS)
    assert page.locator("#coverage").get_attribute("sandbox") == "allow-same-origin"
    before = live.control("GET", "/_fake/report")
    assert before["coverage"]["checks"]["exercised"] == 0
    assert live.send("GET", "/account")[0] == 200
    assert live.send("POST", "/projects/51/timeEntries", {"time-entry": {"x": 1}})[0] == 422
    after = live.control("GET", "/_fake/report")
    shown = f"{after['coverage']['checks']['exercised']} of {after['coverage']['checks']['total']}"
    expect(frame.locator("body")).to_contain_text(shown, timeout=GUARD_MS)
    expect(frame.locator("body")).to_contain_text("time-entry.x", timeout=GUARD_MS)
    screenshot(page, "ui-coverage", full_page=True)
    # Reading the report is a control call: the client's coverage is what it was.
    assert live.control("GET", "/_fake/report")["coverage"] == after["coverage"]


# --- the data ----------------------------------------------------------------------------


def test_the_data_view_shows_parents_entries_and_the_changes(live: Live, page: Any) -> None:
    status, created = live.send(
        "POST", "/projects/51/timeEntries", {"time-entry": {"seconds": "600", "notes": "added"}}
    )
    assert status == 201
    assert live.send("PUT", "/timeEntries/72", {"time-entry": {"notes": "changed"}})[0] == 200
    assert live.send("DELETE", "/timeEntries/73")[0] == 200
    live.open(page)
    journaled = live.control("GET", "/_fake/requests")["last"]
    view(page, "data")
    project = page.locator("#parents tbody tr").filter(has_text="51").first
    expect(project).to_be_visible(timeout=GUARD_MS)
    project.click()
    entries = page.locator("#entries tbody tr")
    expect(entries.first).to_be_visible(timeout=GUARD_MS)
    listed = live.control("GET", "/_fake/data/projects/51/entries")["time-entries"]
    expect(entries).to_have_count(len(listed))
    assert entries.first.locator("td").last.inner_text() == listed[0]["id"]
    entries.first.click()
    expect(page.locator("#entry-fields")).to_contain_text(listed[0]["date"])
    changes = page.locator("#changes")
    expect(changes.locator(".created")).to_contain_text(created["time-entry-id"])
    expect(changes.locator(".updated")).to_contain_text("changed")
    expect(changes.locator(".deleted")).to_contain_text("73")
    projects = live.control("GET", "/_fake/data/projects")["total"]
    expect(page.locator("#parents-pager")).to_contain_text(f"page 1 of 1 · {projects} projects")
    # Reading the data made no request of the API: nothing journaled, nothing counted.
    assert live.control("GET", "/_fake/requests")["last"] == journaled
    # A created entry shows with its fields, and the view follows new requests unasked.
    body = {"time-entry": {"seconds": "900", "notes": "while looking"}}
    status, later = live.send("POST", "/projects/51/timeEntries", body)
    assert status == 201
    fresh = changes.locator(".created").filter(has_text=later["time-entry-id"])
    expect(fresh).to_be_visible(timeout=GUARD_MS)
    [record] = [
        r
        for r in live.control("GET", "/_fake/changes")["changes"]["time-entries"]["created"]
        if r["id"] == later["time-entry-id"]
    ]
    fields = fresh.locator("dl > div")
    expect(fields).to_have_count(len(record))
    for name, value in record.items():
        shown = "null" if value is None else str(value)
        expect(fields.filter(has=page.get_by_text(name, exact=True))).to_have_text(name + shown)
    expect(entries).to_have_count(len(listed) + 1, timeout=GUARD_MS)
    screenshot(page, "ui-data", full_page=True)


# --- safety ----------------------------------------------------------------------------------


def test_a_note_holding_script_runs_nothing_and_shows_as_text(live: Live, page: Any) -> None:
    live.open(page)
    body = {"time-entry": {"seconds": "60", "notes": HOSTILE}}
    assert live.send("POST", "/projects/51/timeEntries", body)[0] == 201
    assert live.send("POST", "/projects/51/timeEntries", {"time-entry": {HOSTILE: 1}})[0] == 422
    expect(rows(page)).to_have_count(2, timeout=GUARD_MS)
    rows(page).nth(1).click()
    expect(page.locator("#detail-body")).to_contain_text(HOSTILE.replace('"', '\\"'))
    rows(page).first.click()
    expect(page.locator("#violations")).to_contain_text("<script>")
    view(page, "data")
    expect(page.locator("#changes .created")).to_contain_text(HOSTILE, timeout=GUARD_MS)
    page.locator("#parents tbody tr").filter(has_text="51").first.click()
    expect(page.locator("#entries tbody tr").first).to_contain_text(HOSTILE, timeout=GUARD_MS)
    # The page's policy would stop an injected script from running anyway, so the
    # flag alone proves little: the test is that no element was made from the data.
    assert page.locator("#app script, #app img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_with_a_control_token_the_page_shows_nothing_until_it_is_given(
    serve: Callable[..., Served], page: Any
) -> None:
    served = serve("--control-token", TOKEN, "--fixtures", "fixtures/small.json")
    live = Live(served.url, token=TOKEN)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url.split(str(live.port), 1)[1]))
    page.goto(live.url + "/_fake/ui")
    expect(page.locator("#token-form")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    assert live.send("GET", "/account")[0] == 200
    page.wait_for_load_state("networkidle")
    # Only the page's own files: no control call was made without the token.
    assert sorted(set(asked)) == ["/_fake/ui", "/_fake/ui/ui.css", "/_fake/ui/ui.js"]
    screenshot(page, "ui-token")

    page.fill("#token", "wrong")
    page.press("#token", "Enter")
    # A wrong token shows the API's own words for it.
    status, refused = Live(served.url, token="wrong").send("GET", "/_fake/health")
    assert status == 401
    assert refused["error"]["message"] == (
        "The X-Fake-Control-Token header does not match the fake's control token"
    )
    expect(page.locator("#token-error")).to_have_text(
        refused["error"]["message"], timeout=GUARD_MS
    )
    expect(page.locator("#app")).to_be_hidden()
    # The browser logs the refused call (401) as it is meant to be refused.
    page.watch.errors[:] = [e for e in page.watch.errors if "401" not in e]
    # The refused token is not kept: a reload asks for the token again, calling nothing.
    asked.clear()
    page.reload()
    expect(page.locator("#token-form")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert sorted(set(asked)) == ["/_fake/ui", "/_fake/ui/ui.css", "/_fake/ui/ui.js"]
    assert page.evaluate("sessionStorage.getItem('apollo-fake-control-token')") is None
    expect(page.locator("#token-error")).to_be_hidden()

    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    expect(page.locator("#app")).to_be_visible(timeout=GUARD_MS)
    expect(rows(page).first).to_contain_text("/account", timeout=GUARD_MS)
    # Kept for the tab: a reload does not ask again.
    page.reload()
    expect(rows(page).first).to_contain_text("/account", timeout=GUARD_MS)
    expect(page.locator("#token-form")).to_be_hidden()
    sent = page.evaluate("sessionStorage.getItem('apollo-fake-control-token')")
    assert sent == TOKEN


# --- keyboard, phone width, dark --------------------------------------------------------


def focused(page: Any) -> Any:
    """Return the focused element's id, tag and data-key."""
    return page.evaluate(
        "[document.activeElement.id, document.activeElement.tagName,"
        " document.activeElement.dataset.key ?? null]"
    )


def test_the_page_is_usable_with_the_keyboard(live: Live, page: Any) -> None:
    live.open(page)
    paths = [f"/timeEntries/{71 + i % 3}" for i in range(30)] + ["/account"]
    for path in paths:
        assert live.send("GET", path)[0] in (200, 404)
    expect(rows(page)).to_have_count(len(paths), timeout=GUARD_MS)
    # Tab order: the tabs first, then the filters, then the list.
    page.locator("body").focus()
    page.keyboard.press("Tab")
    assert focused(page)[0] == "tab-requests"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    for _ in range(20):
        page.keyboard.press("Tab")
        if focused(page)[1] == "TR":
            break
    newest = rows(page).first.get_attribute("data-key")
    assert focused(page)[2] == newest
    # The list is one Tab stop however long it is: the next Tab leaves it.
    assert page.locator("#requests tbody tr[tabindex='0']").count() == 1
    page.keyboard.press("Tab")
    assert focused(page)[1] != "TR"
    page.keyboard.press("Shift+Tab")
    assert focused(page)[2] == newest
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_contain_text("/account")
    # Arrows move, End and Home jump; Space opens the focused row.
    page.keyboard.press("ArrowDown")
    page.keyboard.press(" ")
    expect(page.locator("#detail-title")).to_contain_text(paths[-2])
    page.keyboard.press("End")
    assert focused(page)[2] == rows(page).last.get_attribute("data-key")
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_contain_text(paths[0])
    page.keyboard.press("Home")
    assert focused(page)[2] == newest
    # A row focused last keeps the Tab stop while new requests arrive.
    page.keyboard.press("ArrowDown")
    kept = focused(page)[2]
    assert live.send("GET", "/account")[0] == 200
    expect(rows(page)).to_have_count(len(paths) + 1, timeout=GUARD_MS)
    assert focused(page)[2] == kept
    assert page.locator("#requests tbody tr[tabindex='0']").get_attribute("data-key") == kept
    # The views are tabs: arrows move between them.
    page.focus("#tab-requests")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#view-controls")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#view-data")).to_be_visible()
    assert focused(page)[0] == "tab-data"
    expect(page.locator("#view-requests")).to_be_hidden()
    # The data lists are one Tab stop each too.
    expect(page.locator("#parents tbody tr").first).to_be_visible(timeout=GUARD_MS)
    assert page.locator("#parents tbody tr[tabindex='0']").count() == 1
    page.locator("#parents tbody tr").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#entries tbody tr").first).to_be_visible(timeout=GUARD_MS)
    assert page.locator("#entries tbody tr[tabindex='0']").count() == 1
    screenshot(page, "ui-keyboard-data")


def test_on_a_phone_a_tapped_request_shows_its_detail_in_view(live: Live, page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    live.open(page)
    for i in range(12):
        assert live.send("GET", f"/timeEntries/{71 + i % 3}")[0] == 200
    assert live.send("GET", "/account")[0] == 200
    expect(rows(page)).to_have_count(13, timeout=GUARD_MS)
    rows(page).first.click()
    detail = page.locator("#detail")
    expect(page.locator("#detail-title")).to_contain_text("/account")
    top = detail.evaluate("e => e.getBoundingClientRect().top")
    assert 0 <= top < page.evaluate("innerHeight") / 2, top  # its start is on the screen
    assert focused(page)[0] == "detail"
    screenshot(page, "ui-phone-detail")
    # Escape goes back to the row that was opened.
    page.keyboard.press("Escape")
    assert focused(page)[2] == rows(page).first.get_attribute("data-key")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_fits_a_phone_in_light_and_dark(live: Live, page: Any, scheme: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme=scheme)
    live.open(page)
    long = "/no-such-call/" + "x" * 120
    assert live.send("GET", long)[0] == 404
    assert live.send("POST", "/projects/51/timeEntries", {"time-entry": {"x": 1}})[0] == 422
    expect(rows(page)).to_have_count(2, timeout=GUARD_MS)
    rows(page).first.click()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    dark = background in ("rgb(17, 20, 24)",)
    assert dark == (scheme == "dark")
    drawn = {
        "requests": "#detail pre",
        "coverage": "#coverage[style*=height]",
        "data": "#parents tbody tr",
        "controls": "#clock-now:not(:text-is('–'))",
    }
    for name, shown in drawn.items():
        view(page, name)
        expect(page.locator(shown).first).to_be_visible(timeout=GUARD_MS)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (name, width)
        screenshot(page, f"ui-phone-{scheme}-{name}", full_page=True)


def test_a_data_set_larger_than_a_page_is_paged(page: Any) -> None:
    doc = small_doc()
    base = datetime.date(2012, 7, 30)
    doc["time-entries"] = [
        {"id": str(1000 + i), "user-id": "11", "project-id": "51",
         "date": (base - datetime.timedelta(days=i)).isoformat(), "seconds": "60"}
        for i in range(120)
    ]
    fake = Fake(doc, today=TODAY)
    with fake.serve() as url:
        Live(url, fake).open(page)
        view(page, "data")
        page.locator("#parents tbody tr").filter(has_text="51").first.click()
        entries = page.locator("#entries tbody tr")
        expect(entries).to_have_count(50, timeout=GUARD_MS)
        expect(entries.first).to_contain_text("2012-07-30")  # date descending
        pager = page.locator("#entries-pager")
        expect(pager).to_contain_text("page 1 of 3 · 120 entries")
        pager.get_by_role("button", name="Next").click()
        expect(pager).to_contain_text("page 2 of 3", timeout=GUARD_MS)
        expect(entries.first).to_contain_text((base - datetime.timedelta(days=50)).isoformat())
        pager.get_by_role("button", name="Next").click()
        expect(entries).to_have_count(20, timeout=GUARD_MS)
        page.goto("about:blank")  # the page stops polling before its server stops


# --- another web site in the same browser ------------------------------------------------


ATTACK = """<!doctype html><title>another site</title><script>
for (const [method, path, body] of [
  ["POST", "/_fake/reset", '{"to": "empty"}'],
  ["POST", "/_fake/faults", '{"path": "/account", "status": 503}'],
]) {
  // Simple requests: a browser sends them to another origin without asking first.
  fetch("FAKE" + path, {method, body, mode: "no-cors", headers: {"Content-Type": "text/plain"}})
    .catch(() => {});
}
</script>"""


@contextlib.contextmanager
def other_site(html: str) -> Iterator[str]:
    """Serve one page from this machine under another site's name; yield its URL."""
    from browser import OTHER_SITE

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{OTHER_SITE}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_of_another_site_cannot_drive_the_fake(
    serve: Callable[..., Served], plain_page: Any
) -> None:
    from browser import OTHER_SITE

    served = serve("--fixtures", "fixtures/small.json")
    live = Live(served.url)
    before = live.control("GET", "/_fake/state")
    with other_site(ATTACK.replace("FAKE", live.url)) as attacker:
        plain_page.goto(attacker)
        plain_page.wait_for_load_state("networkidle")
    # DNS rebinding: the same fake reached through a name of the attacker's.
    plain_page.goto(f"http://{OTHER_SITE}:{live.port}/_fake/ui")
    expect(plain_page.locator("#status")).to_contain_text(
        "refuses calls from a page of another site", timeout=GUARD_MS
    )
    plain_page.goto("about:blank")
    assert live.control("GET", "/_fake/state") == before
    assert live.control("GET", "/_fake/faults")["faults"] == []
    assert served.stop() == 0
    log = served.drain(served.stderr)
    # The calls reached the fake and were refused: not merely blocked by the browser.
    assert "POST /_fake/reset 403" in log and "POST /_fake/faults 403" in log, log
    assert "GET /_fake/requests 403" in log or "GET /_fake/health 403" in log, log
    # The browser logs each refused call: that is the point of the test.
    plain_page.watch.errors[:] = [e for e in plain_page.watch.errors if "403" not in e]
