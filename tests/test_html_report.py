"""The contract report as an HTML page: htmlreport.render, GET /_fake/report.html, --html.

The page must show what the JSON report holds and nothing else. The unit tests read
the rendered page back with the standard library's HTML parser and compare every
call, cell, total, violation and untested sentence with the document; the control
call is checked through each way in (the Python renderer, the test client, a
socket) and with the control token; ``run --html`` and ``serve --html`` write the
page as a CI job would. The browser tests load the page in headless chromium: no
console error and no request off the machine, the cells and texts Playwright reads
equal the document's, no horizontal scroll at phone width, printing and dark mode,
and inside an ``srcdoc`` frame as the inspector page shows it. Screenshots go to
build/screenshots/report-*.png.

Client-chosen values (a path with ``<script>`` and quotes, a query parameter's name,
a message quoting a value) are in the documents the tests render: they must come
out as text.
"""

from __future__ import annotations

import base64
import datetime
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from apollo_fake import htmlreport, report, schemas
from apollo_fake.contract import CALLS
from apollo_fake.fake import Fake, Settings
from apollo_fake.web import create_app

from browser import screenshot
from conftest import SMALL_ARGS, TODAY, Api, Served, Way, small_doc

ROOT = Path(__file__).resolve().parent.parent
MODULE = [sys.executable, "-m", "apollo_fake"]
TOKEN = "t0ken"
HOSTILE_PATH = '/nope/<script>alert("x")</script>&amp;'
HOSTILE_PARAM = '<b>"x"</b>'
HOSTILE_DATE = "<img src=https://example.com/x.png>"
BAD_CREATE = {"time-entry": {"seconds": "60", "time-category-id": "21"}}
DEADLINE = 30.0
VOID = {"meta", "link", "col", "br", "img", "input", "hr", "wbr", "source", "area", "base"}


# --- reading a page back ------------------------------------------------------------


class Node:
    """An element of a parsed page: tag, attributes, children (nodes and text)."""

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Node | str] = []

    def text(self) -> str:
        """Return the element's text, as a browser's textContent would (entities decoded)."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def shown(self) -> str:
        """Return the text a person sees, spaces folded: without visually hidden (.sr) parts
        or a progress bar's fallback text."""
        return " ".join(self._visible().split())

    def _visible(self) -> str:
        return "".join(
            c if isinstance(c, str) else c._visible()
            for c in self.children
            if isinstance(c, str) or ("sr" not in c.classes() and c.tag != "progress")
        )

    def iter(self) -> Any:
        """Yield this element and every element under it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Return the elements under this one with the tag and attribute values given."""
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def classes(self) -> list[str]:
        """Return the element's classes."""
        return self.attrs.get("class", "").split()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.tags.append(tag)
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: bytes) -> tuple[Node, list[str]]:
    """Parse a page (checking that every element is closed); return its root and its tags."""
    builder = _Builder()
    builder.feed(page.decode("utf-8"))
    builder.close()
    assert builder.stack == [builder.root], "an element was left open"
    return builder.root, builder.tags


def checked(doc: Any) -> dict[str, Any]:
    """Validate a report document against its schema and return it."""
    schemas.full_validator("contract-report.schema.json").validate(doc)
    assert isinstance(doc, dict)
    return doc


def basic(token: str) -> dict[str, str]:
    """Return an Authorization header with the API token."""
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:X".encode()).decode()}


def busy_fake(hostile: bool = True) -> Fake:
    """Return a fake (auth and rate limit on) whose report has every kind of cell,
    violation and gap.

    With ``hostile``, the client's own words (a path, a parameter name, a date)
    carry markup and quotes.
    """
    settings = Settings(tokens={TOKEN: 11}, rate_limit=(1000, 300.0))  # the widest grid
    fake = Fake(small_doc(), today=TODAY, settings=settings)
    client, auth = fake.client, basic(TOKEN)
    assert client.get("/projects/51/timeEntries", headers=auth).status_code == 200
    assert client.get("/account", headers=auth).status_code == 200
    assert client.get("/account").status_code == 401
    for _ in range(12):
        assert client.get("/v1/account", headers=auth).status_code == 200
    for _ in range(3):
        r = client.post("/tasks/61/timeEntries", json=BAD_CREATE, headers=auth)
        assert r.status_code == 422
    created = {"time-entry": {"seconds": "60", "notes": "n", "billable": "billable"}}
    assert client.post("/projects/51/timeEntries", json=created, headers=auth).status_code == 201
    query = "with_totals=1&include_deals=yes"
    assert client.get(f"/report/timeEntries?{query}", headers=auth).status_code == 200
    assert client.get("/report/timeEntries?from=2012-01-01", headers=auth).status_code == 400
    fake.faults.add("/timeEntries/*", status=503, times=1)
    assert client.get("/timeEntries/1", headers=auth).status_code == 503
    with fake.expect_errors():
        assert client.get("/projects/x/timeEntries", headers=auth).status_code == 404
    if hostile:
        assert client.get(HOSTILE_PATH, headers=auth).status_code == 404
        r = client.get(f"/account?{HOSTILE_PARAM}=1", headers=auth)
        assert r.status_code == 400
        r = client.get("/report/timeEntries", query_string={"to": HOSTILE_DATE}, headers=auth)
        assert r.status_code == 400
    return fake


@pytest.fixture(scope="module")
def busy() -> dict[str, Any]:
    """The report document of a busy client with hostile values."""
    return checked(busy_fake().contract_report())


@pytest.fixture(scope="module")
def page_of_busy(busy: dict[str, Any]) -> Node:
    """The busy report rendered and parsed back."""
    return parse(htmlreport.render(busy))[0]


def grid_cells(root: Node) -> dict[tuple[str, str], Node]:
    """Return the grid's check cells by (call, kind:name)."""
    return {
        (c.attrs["data-call"], c.attrs["data-check"]): c
        for c in root.find_all("td")
        if "data-check" in c.attrs
    }


# --- render: what the page says -----------------------------------------------------------


def test_the_busy_document_has_what_the_page_must_show(busy: dict[str, Any]) -> None:
    # The other tests would prove little on a document without these.
    kinds = {c["kind"] for call in busy["calls"] for c in call["checks"]}
    assert kinds == {"status", "field", "parameter", "continued-at"}
    assert busy["outside"] and busy["expected-violations"] and len(busy["violations"]) >= 4
    assert any(c["injected"] for c in busy["calls"])
    assert {c["requests"] > 0 for c in busy["calls"]} == {True, False}
    counts = {k["seen"] for c in busy["calls"] for k in c["checks"]}
    assert {0, 1} <= counts and max(counts) >= 10
    assert {v["call"] is None for v in busy["violations"]} == {True, False}


def test_every_call_is_a_row_named_with_its_method_path_and_title(
    busy: dict[str, Any], page_of_busy: Node
) -> None:
    rows = [r for r in page_of_busy.find_all("tr") if "data-call" in r.attrs]
    assert [r.attrs["data-call"] for r in rows] == [c.name for c in CALLS]
    for row, call in zip(rows, busy["calls"], strict=True):
        [header] = row.find_all("th", scope="row")
        shown = header.shown()
        assert shown.startswith(f"{call['method']} {call['path']}{call['title']}"), shown
        if call["requests"]:
            answered = ", ".join(f"{s} ×{n}" for s, n in call["statuses"].items())
            assert shown.endswith(f"answered {answered}"), shown
        else:
            assert shown.endswith("never called"), shown


def test_the_grid_counts_are_the_documents(busy: dict[str, Any], page_of_busy: Node) -> None:
    cells = grid_cells(page_of_busy)
    columns = {check for _, check in cells}
    for call in busy["calls"]:
        name = call["name"]
        [row] = [r for r in page_of_busy.find_all("tr") if r.attrs.get("data-call") == name]
        numbers = {
            td.attrs["data-field"]: td for td in row.find_all("td") if "data-field" in td.attrs
        }
        for field in ("requests", "injected", "violating", "succeeded"):
            assert numbers[field].shown().split()[-1] == str(call[field]), (name, field)
        done = cells[(name, "call:succeeded")]
        assert ("seen" if call["succeeded"] else "unseen") in done.classes()
        checks = {f"{c['kind']}:{c['name']}": c for c in call["checks"]}
        for column in columns - {"call:succeeded"}:
            cell = cells[(name, column)]
            if column not in checks:
                assert cell.classes() == ["na"], (name, column)
                assert cell.shown() == "n/a"
                continue
            check = checks[column]
            seen = check["seen"]
            assert cell.attrs["data-count"] == str(seen)
            shown = cell.shown()
            if seen:
                assert "seen" in cell.classes() and shown.startswith(f"✓ {seen}"), shown
            else:
                assert cell.classes() == ["unseen"] and shown.startswith("✗ 0"), shown
            if "offered" in check:
                assert shown.endswith(f"{check['offered']} offered"), shown
            # Seen or not is in words too, for a screen reader: not colour alone.
            assert (
                cell.text()
                .replace("✓ ", "")
                .replace("✗ ", "")
                .startswith(f"{'seen' if seen else 'unseen'} {seen}")
            )
    # Every check of the document has its cell.
    wanted = {(c["name"], f"{k['kind']}:{k['name']}") for c in busy["calls"] for k in c["checks"]}
    assert wanted <= set(cells)


def test_the_grid_has_headers_for_every_column_and_row(page_of_busy: Node) -> None:
    [table] = page_of_busy.find_all("table")
    [head] = table.find_all("thead")
    group_row, column_row = head.find_all("tr")
    groups = [(th.shown(), int(th.attrs.get("colspan", "1"))) for th in group_row.find_all("th")]
    assert [g for g, _ in groups] == [
        "Call",
        "Requests",
        "Outcomes (status)",
        "Paging",
        "Fields sent",
        "Report parameters",
    ]
    columns = [th.shown() for th in column_row.find_all("th")]
    assert all(th.attrs["scope"] == "col" for th in column_row.find_all("th"))
    assert sum(n for _, n in groups[1:]) == len(columns)
    assert columns[:4] == ["all", "succeeded", "injected", "violating"]
    statuses = columns[4 : 4 + groups[2][1]]
    assert statuses == sorted(statuses, key=int) and {"401", "404", "422"} <= set(statuses)
    assert "continued-at" in columns and "with_totals=true" in columns and "notes" in columns
    for row in table.find_all("tbody")[0].find_all("tr"):
        assert len(row.find_all("th", scope="row")) == 1
        assert len(row.find_all("td")) == len(columns)


def test_the_totals_are_the_documents(busy: dict[str, Any], page_of_busy: Node) -> None:
    tiles = {
        n.attrs["data-total"]: n.find_all("dd")[0].shown()
        for n in page_of_busy.find_all("div")
        if "data-total" in n.attrs
    }
    for key in ("requests", "violating-requests", "outside", "expected-violations"):
        assert tiles[key] == str(busy[key]), key
    cov = busy["coverage"]
    assert tiles["calls"] == f"{cov['exercised']} of {cov['calls']}"
    checks = cov["checks"]
    percent = f"{checks['percent']:g}%"
    assert tiles["checks"] == f"{percent} ({checks['exercised']} of {checks['total']})"
    [bar] = page_of_busy.find_all("progress")
    assert (bar.attrs["value"], bar.attrs["max"]) == (
        str(checks["exercised"]),
        str(checks["total"]),
    )


def test_every_kind_of_violation_is_shown_with_its_rule_and_first_request(
    busy: dict[str, Any], page_of_busy: Node
) -> None:
    articles = page_of_busy.find_all("article")
    assert len(articles) == len(busy["violations"])
    [heading] = [h for h in page_of_busy.find_all("h2") if h.attrs["id"] == "violations"]
    assert heading.text() == f"Violations ({len(articles)} kinds)"
    for article, v in zip(articles, busy["violations"], strict=True):
        [title] = article.find_all("h3")
        outside = " (outside the contract)" if v["call"] is None else ""
        assert title.text() == f"{v['status']} {v['method']} {v['path']}{outside}"
        terms = [dt.text() for dt in article.find_all("dt")]
        values = dict(zip(terms, [dd.text() for dd in article.find_all("dd")], strict=True))
        assert values["Field"] == (v["field"] or "the request as a whole")
        assert values["Rule"] == v["rule"]
        count = v["count"]
        assert values["Count"] == f"{count} request{'s' * (count != 1)}"
        assert values["First request"] == f"{v['method']} {v['example']['path']}"
        message = v["example"]["message"]
        assert values.get("Answered", v["rule"]) == message


def test_the_untested_list_is_the_documents_sentences(
    busy: dict[str, Any], page_of_busy: Node
) -> None:
    [listing] = page_of_busy.find_all("ul", **{"class": "untested"})
    items = listing.find_all("li")
    assert [li.text() for li in items] == [g["text"] for g in busy["coverage"]["untested"]]
    assert [li.attrs["data-kind"] for li in items] == [
        g["kind"] for g in busy["coverage"]["untested"]
    ]


def test_client_values_are_escaped(busy: dict[str, Any]) -> None:
    page = htmlreport.render(busy)
    root, tags = parse(page)
    # No element but the page's own: the client's markup is text.
    assert tags.count("link") == 1  # the page's data: icon, in its head
    assert set(tags) <= {
        "html",
        "head",
        "meta",
        "link",
        "title",
        "style",
        "body",
        "main",
        "header",
        "h1",
        "h2",
        "h3",
        "p",
        "dl",
        "div",
        "dt",
        "dd",
        "small",
        "progress",
        "ul",
        "li",
        "span",
        "table",
        "caption",
        "colgroup",
        "col",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "abbr",
        "article",
        "code",
        "footer",
    }
    assert b"<script" not in page.lower() and b"<img" not in page.lower() and b"<b>" not in page
    paths = [v["path"] for v in busy["violations"]]
    assert HOSTILE_PATH in paths
    [hostile] = [a for a in root.find_all("article") if HOSTILE_PATH in a.text()]
    assert f"GET {HOSTILE_PATH}" in hostile.text()  # &amp; stays the five characters sent
    assert escape(HOSTILE_PATH).encode() in page
    fields = [v["field"] for v in busy["violations"]]
    assert HOSTILE_PARAM in fields
    assert any(HOSTILE_PARAM == code.text() for code in root.find_all("code"))
    assert any(HOSTILE_DATE in dd.text() for dd in root.find_all("dd"))


def test_a_data_attribute_cannot_be_broken_out_of() -> None:
    doc = checked(Fake(small_doc(), today=TODAY).contract_report())
    # A document as a tool other than the fake might write it: quotes in every name.
    doc["calls"][0]["checks"].append({"kind": "field", "name": '"><script>x</script>', "seen": 2})
    doc["calls"][0]["name"] = 'a" onmouseover="x'
    root, tags = parse(htmlreport.render(doc))
    assert "script" not in tags
    assert all(not name.startswith("on") for n in root.iter() for name in n.attrs)
    assert any(c.attrs.get("data-check") == 'field:"><script>x</script>' for c in root.iter())


def test_the_page_is_self_contained() -> None:
    page = htmlreport.render(checked(Fake(small_doc(), today=TODAY).contract_report()))
    root, tags = parse(page)
    assert page.startswith(b"<!doctype html>\n")
    assert "script" not in tags and "img" not in tags
    # The one reference is an icon made of nothing, which needs no request (without it
    # a browser asks for /favicon.ico).
    refs = ("src", "href", "srcset")
    links = [(n.tag, k, n.attrs[k]) for n in root.iter() for k in n.attrs if k in refs]
    assert links == [("link", "href", "data:,")]
    [icon] = root.find_all("link")
    assert icon.attrs["rel"] == "icon"
    metas = {
        m.attrs.get("http-equiv") or m.attrs.get("name") or "charset": m
        for m in root.find_all("meta")
    }
    assert metas["Content-Security-Policy"].attrs["content"] == htmlreport.CSP
    assert htmlreport.CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert metas["charset"].attrs["charset"] == "utf-8"
    [style] = root.find_all("style")
    css = style.text()
    assert "url(" not in css and "@import" not in css  # nothing fetched from the style either
    for rule in ("@media print", "prefers-color-scheme: dark", "max-width: 40rem"):
        assert rule in css


@pytest.mark.parametrize(
    ("requests", "violating", "verdict", "sentence"),
    [
        (0, 0, "empty", "No request reached the Apollo calls: nothing was checked"),
        (1, 0, "pass", "Kept the contract: none of the 1 request broke it"),
        (5, 2, "fail", "Broke the contract: 2 of 5 requests violated it"),
    ],
)
def test_the_verdict(requests: int, violating: int, verdict: str, sentence: str) -> None:
    doc = checked(Fake(small_doc(), today=TODAY).contract_report())
    doc["requests"], doc["violating-requests"], doc["outside"] = requests, violating, requests
    root, _ = parse(htmlreport.render(doc))
    [shown] = [p for p in root.find_all("p") if "data-verdict" in p.attrs]
    assert (shown.attrs["data-verdict"], shown.text()) == (verdict, sentence)
    assert report.failed(doc) is (verdict == "fail")
    [title] = root.find_all("title")
    assert title.text() == f"apollo-fake contract report: {sentence}"


def test_a_clean_full_report_says_nothing_is_untested_and_nothing_broke() -> None:
    doc = checked(Fake(small_doc(), today=TODAY).contract_report())
    doc["coverage"]["untested"] = []
    root, _ = parse(htmlreport.render(doc))
    texts = [p.text() for p in root.find_all("p")]
    assert "No request broke the contract." in texts
    headings = [h.text() for h in root.find_all("h2")]
    assert headings == ["Coverage", "Violations (0 kinds)", "Untested (0)"]
    assert "Every call, documented parameter, field and outcome was exercised." in texts
    assert root.find_all("article") == []


def test_render_is_a_function_of_the_document(busy: dict[str, Any]) -> None:
    again = json.loads(json.dumps(busy))
    assert htmlreport.render(busy) == htmlreport.render(again)
    again["calls"][0]["requests"] += 1
    assert htmlreport.render(busy) != htmlreport.render(again)


# --- GET /_fake/report.html ---------------------------------------------------------------


def test_the_page_is_the_report_rendered_through_every_way_in(way: Way) -> None:
    client = way.api
    assert client.get("/account").status == 200
    r = client.post("/tasks/61/timeEntries", BAD_CREATE)
    assert r.status == 422
    doc = checked(way.report())
    page = way.report_html()
    assert page == htmlreport.render(doc)
    root, _ = parse(page)
    assert "time-entry.time-category-id" in [c.text() for c in root.find_all("code")]
    assert "Violations (1 kind)" in [h.text() for h in root.find_all("h2")]
    # Looking at the report is no request of the client's.
    assert checked(way.report()) == doc
    assert way.fake.requests(path="/_fake/*") == []


def _get(
    api: Api, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    from control_ways import send

    return send(api, "GET", path, None, headers)


@pytest.fixture(params=["client", "socket"])
def guarded(request: pytest.FixtureRequest) -> Any:
    """An Api whose fake has a control token."""
    from conftest import make_api

    settings = Settings(control_token="ctl")
    yield from make_api(request, small_doc(), settings=settings)


def test_the_page_needs_the_control_token_and_takes_no_parameters(guarded: Api) -> None:
    status, headers, raw = _get(guarded, "/_fake/report.html")
    assert status == 401
    assert headers["content-type"] == "application/json"
    assert json.loads(raw)["error"]["status"] == 401
    ok = {"X-Fake-Control-Token": "ctl"}
    status, headers, raw = _get(guarded, "/_fake/report.html", ok)
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert raw == htmlreport.render(guarded.fake.contract_report())
    status, headers, raw = _get(guarded, "/_fake/report.html?since=x", ok)
    assert status == 400
    error = json.loads(raw)["error"]
    assert [d["field"] for d in error["details"]] == ["since"]
    status, _, _ = _get(guarded, "/v1/_fake/report.html", ok)
    assert status == 404  # the control API is at the root only


def test_without_the_control_api_there_is_no_page() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(control=False))
    client = create_app(fake).test_client()
    answer = client.get("/_fake/report.html")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["status"] == 404


def test_the_openapi_document_lists_the_page_with_the_control_calls() -> None:
    doc = create_app(Fake()).test_client().get("/openapi.json").get_json()
    operation = doc["paths"]["/_fake/report.html"]["get"]
    assert operation["tags"] == ["control"]
    assert operation["operationId"] == "control.contract_report_html"
    assert operation["responses"]["200"]["content"] == {"text/html": {"schema": {"type": "string"}}}
    assert sorted(operation["responses"]) == ["200", "400", "401", "403"]
    assert operation["security"] == [{"control-token": []}, {}]


# --- --html on run and serve -------------------------------------------------------------

needs_curl = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not Path("/usr/bin/curl").exists(),
    reason="needs Linux and curl",
)


@needs_curl
def test_run_html_writes_the_page_of_the_report(tmp_path: Path) -> None:
    page_file, json_file = tmp_path / "out" / "report.html", tmp_path / "report.json"
    page_file.parent.mkdir()
    script = (
        'curl -sf "$APOLLO_BASE_URL/account" >/dev/null; '
        'curl -s -X POST "$APOLLO_BASE_URL/projects/51/timeEntries" '
        '-d \'{"time-entry": {"seconds": "60", "time-category-id": "21"}}\' >/dev/null'
    )
    result = subprocess.run(
        [*MODULE, "run", "--quiet", *SMALL_ARGS, "--html", str(page_file),
         "--report", str(json_file), "--", "sh", "-c", script],
        cwd=ROOT, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # the violation
    doc = checked(json.loads(json_file.read_text()))
    page = page_file.read_bytes()
    assert page == htmlreport.render(doc)
    root, _ = parse(page)
    text = root.text()
    for call in CALLS:
        assert f"{call.method} {call.path}" in text
    assert "time-entry.time-category-id" in text
    assert list(tmp_path.glob("**/*.partial")) == []


def test_serve_html_writes_the_page_when_it_stops(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    page_file, json_file = tmp_path / "report.html", tmp_path / "report.json"
    served = serve("--quiet", *SMALL_ARGS, "--html", str(page_file), "--report", str(json_file))
    with urllib.request.urlopen(served.url + "/_fake/report.html", timeout=DEADLINE) as live:
        assert b"apollo-fake contract report" in live.read()
    assert not page_file.exists()  # written when the server stops
    assert served.stop() == 0
    doc = checked(json.loads(json_file.read_text()))
    assert page_file.read_bytes() == htmlreport.render(doc)


# --- in a real browser ---------------------------------------------------------------------

# Read the page as a person sees it: each cell's and section's rendered text.
READ_PAGE = """() => {
  // What a person sees: the text without the parts only a screen reader reads (.sr).
  const text = (el) => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll('.sr').forEach((hidden) => hidden.remove());
    return copy.textContent.replace(/\\s+/g, ' ').trim();
  };
  const cells = {};
  for (const td of document.querySelectorAll('td[data-check]')) {
    cells[td.dataset.call + ' ' + td.dataset.check] = text(td);
  }
  const totals = {};
  for (const div of document.querySelectorAll('[data-total]')) {
    totals[div.dataset.total] = text(div.querySelector('dd'));
  }
  return {
    verdict: text(document.querySelector('[data-verdict]')),
    rows: [...document.querySelectorAll('tbody th[scope=row]')].map(
      (th) => text(th.querySelector('.method')) + ' ' + text(th.querySelector('.path'))),
    cells,
    totals,
    violations: [...document.querySelectorAll('article')].map((a) => ({
      title: text(a.querySelector('h3')),
      rule: text(a.querySelector('.rule')),
      count: text(a.querySelector('.count')),
      example: text(a.querySelector('.example')),
    })),
    untested: [...document.querySelectorAll('ul.untested li')].map(text),
  };
}"""


def _served_page(page: Any, url: str, width: int = 1280) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(url + "/_fake/report.html")
    page.wait_for_load_state("load")


def _page_scrolls_sideways(page: Any) -> bool:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width > page.evaluate("document.documentElement.clientWidth")


def test_the_browser_shows_what_the_json_report_holds(page: Any) -> None:
    fake = busy_fake()
    with fake.serve() as url:
        _served_page(page, url)
        doc = checked(fake.contract_report())
        seen = page.evaluate(READ_PAGE)
        screenshot(page, "report-desktop", full_page=True)
    assert seen["rows"] == [f"{c['method']} {c['path']}" for c in doc["calls"]]
    for call in doc["calls"]:
        for check in call["checks"]:
            shown = seen["cells"][f"{call['name']} {check['kind']}:{check['name']}"]
            mark = "✓" if check["seen"] else "✗"
            assert shown.startswith(f"{mark} {check['seen']}"), (call["name"], check, shown)
        kinds = {f"{k['kind']}:{k['name']}" for k in call["checks"]} | {"call:succeeded"}
        others = [v for k, v in seen["cells"].items() if k.startswith(call["name"] + " ")
                  and k.split(" ", 1)[1] not in kinds]  # fmt: skip
        assert others and set(others) == {"n/a"}
    assert seen["totals"]["requests"] == str(doc["requests"])
    assert seen["totals"]["violating-requests"] == str(doc["violating-requests"])
    assert seen["totals"]["checks"].startswith(f"{doc['coverage']['checks']['percent']:g}%")
    assert [v["title"] for v in seen["violations"]] == [
        f"{v['status']} {v['method']} {v['path']}"
        + (" (outside the contract)" if v["call"] is None else "")
        for v in doc["violations"]
    ]
    assert [v["rule"] for v in seen["violations"]] == [v["rule"] for v in doc["violations"]]
    assert [v["example"] for v in seen["violations"]] == [
        f"{v['method']} {v['example']['path']}" for v in doc["violations"]
    ]
    assert seen["untested"] == [g["text"] for g in doc["coverage"]["untested"]]
    assert seen["verdict"].startswith("Broke the contract")
    # The hostile values are on the page as text, and no script ran.
    assert page.evaluate("document.querySelectorAll('script, img').length") == 0


def test_at_phone_width_only_the_grid_scrolls_sideways(page: Any) -> None:
    fake = busy_fake()
    with fake.serve() as url:
        _served_page(page, url, width=390)
        assert not _page_scrolls_sideways(page)
        box = page.locator(".scroll")
        assert box.evaluate("(el) => el.scrollWidth > el.clientWidth")  # the grid scrolls within
        assert box.evaluate("(el) => el.getBoundingClientRect().right") <= 390
        screenshot(page, "report-phone", full_page=True)


def test_dark_mode_and_print(page: Any) -> None:
    fake = busy_fake()
    with fake.serve() as url:
        _served_page(page, url)
        light = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.emulate_media(color_scheme="dark")
        dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (light, dark) == ("rgb(255, 255, 255)", "rgb(13, 17, 23)")
        screenshot(page, "report-dark", full_page=True)
        page.emulate_media(media="print", color_scheme="dark")
        # Printed: dark ink on white whatever the screen's scheme, the whole grid on
        # the width of a landscape A4 page within its margins (277 mm at 96 px an inch).
        page.set_viewport_size({"width": 1047, "height": 740})
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == (
            "rgb(255, 255, 255)"
        )
        box = page.locator(".scroll")
        assert box.evaluate("(el) => getComputedStyle(el).overflowX") == "visible"
        assert not _page_scrolls_sideways(page)
        assert page.locator("progress").is_hidden()
        screenshot(page, "report-print", full_page=True)
        pdf = page.pdf(prefer_css_page_size=True)
        assert pdf.startswith(b"%PDF")


def test_the_page_shows_in_an_srcdoc_frame_as_the_inspector_shows_it(page: Any) -> None:
    fake = busy_fake()
    page_bytes = htmlreport.render(checked(fake.contract_report()))
    frame_html = escape(page_bytes.decode())
    page.set_content(f'<iframe title="report" width="1000" height="800" srcdoc="{frame_html}">')
    frame = page.frame_locator("iframe")
    assert frame.locator("h1").inner_text() == "apollo-fake contract report"
    assert frame.locator("tbody tr").count() == len(CALLS)
    hostile = frame.locator("article", has_text="/nope/").locator("h3").inner_text()
    assert HOSTILE_PATH in hostile


def test_the_page_of_a_fresh_fake_warns_that_nothing_was_checked(page: Any) -> None:
    # A fake no client has called yet: the warning verdict, every call never called.
    fake = Fake(small_doc(), today=datetime.date(2012, 7, 31))
    with fake.serve() as url:
        _served_page(page, url)
        seen = page.evaluate(READ_PAGE)
    assert seen["verdict"] == "No request reached the Apollo calls: nothing was checked"
    assert seen["violations"] == []
    assert len(seen["untested"]) == len(checked(fake.contract_report())["coverage"]["untested"])
