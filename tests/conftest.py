"""Shared test helpers: a fake on small data, reached through the test client or a real socket.

Every response a test receives through ``api`` is checked: JSON content type,
a JSON body, and that body valid against the schema in ``schemas/`` for its call.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from apollo_fake import fixtures, schemas
from apollo_fake.fake import Fake, Settings
from apollo_fake.server import LiveServer
from apollo_fake.web import create_app

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "fixtures" / "small.json"
DEMO = ROOT / "fixtures" / "demo.json"
TODAY = datetime.date(2012, 7, 31)  # tests on small.json run with the clock frozen here


def small_doc() -> dict[str, Any]:
    """Return the hand-made fixture document."""
    return json.loads(SMALL.read_text())


def schema_for(method: str, path: str, status: int, body: Any) -> str:
    """Name the schema a response body must match."""
    if status >= 400:
        return "error.schema.json"
    path = re.sub(r"^/v1(?=/)", "", path.split("?", 1)[0])
    if method == "POST":
        return "create-response.schema.json"
    if method in ("PUT", "DELETE"):
        return "empty-response.schema.json"
    if path.startswith("/report/"):
        if isinstance(body, dict) and "totals" in body:
            return "report-with-totals-response.schema.json"
        return "report-response.schema.json"
    if path == "/account":
        return "account-response.schema.json"
    if path.startswith("/tasks/"):
        return "task-listing-response.schema.json"
    if path.startswith("/timeEntries/"):
        return "entry-response.schema.json"
    return "page-response.schema.json"


def check_body(method: str, path: str, status: int, headers: dict[str, str], raw: bytes) -> Any:
    """Assert a response is JSON valid against its schema; return the decoded body."""
    assert headers.get("content-type", "").startswith("application/json"), headers
    if method == "HEAD":
        assert raw == b""
        return None
    body = json.loads(raw)
    schemas.full_validator(schema_for(method, path, status, body)).validate(body)
    return body


class Result:
    """A checked response: status, headers (lower-case names), decoded JSON body."""

    def __init__(self, status: int, headers: dict[str, str], body: Any, raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.json = body
        self.raw = raw

    def __repr__(self) -> str:
        return f"<Result {self.status} {self.raw[:200]!r}>"


class Api:
    """Call the fake the same way whether through Flask's test client or over a socket."""

    def __init__(self, fake: Fake, transport: str, url: str | None = None) -> None:
        self.fake = fake
        self.transport = transport
        self.url = url
        self.client = create_app(fake).test_client() if transport == "client" else None
        self._conn: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        data: bytes | str | None = None,
        query: dict[str, Any] | list[tuple[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Result:
        """Send one request and return the checked response."""
        if query:
            path = path + ("&" if "?" in path else "?") + urlencode(query)
        payload: bytes | None
        if json_body is not None:
            payload = json.dumps(json_body).encode()
        elif isinstance(data, str):
            payload = data.encode()
        else:
            payload = data
        hdrs = dict(headers or {})
        if self.client is not None:
            resp = self.client.open(path, method=method, data=payload, headers=hdrs)
            status, raw = resp.status_code, resp.get_data()
            got = {k.lower(): v for k, v in resp.headers.items()}
        else:
            status, got, raw = self._socket(method, path, payload, hdrs)
        return Result(status, got, check_body(method, path, status, got, raw), raw)

    def _socket(
        self, method: str, path: str, payload: bytes | None, hdrs: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        assert self.url is not None
        host, port = self.url.split("//", 1)[1].rsplit(":", 1)
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                self._conn.request(method, path, body=payload, headers=hdrs)
                resp = self._conn.getresponse()
                raw = resp.read()
                got = {k.lower(): v for k, v in resp.getheaders()}
                if got.get("connection", "").lower() == "close":
                    self.close()
                return resp.status, got, raw
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the keep-alive connection, if any."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def get(self, path: str, **kw: Any) -> Result:
        """Send a GET."""
        return self.request("GET", path, **kw)

    def post(self, path: str, json_body: Any = None, **kw: Any) -> Result:
        """Send a POST."""
        return self.request("POST", path, json_body, **kw)

    def put(self, path: str, json_body: Any = None, **kw: Any) -> Result:
        """Send a PUT."""
        return self.request("PUT", path, json_body, **kw)

    def delete(self, path: str, **kw: Any) -> Result:
        """Send a DELETE."""
        return self.request("DELETE", path, **kw)

    def dump(self) -> bytes:
        """Return the fake's whole state, to prove a rejected request changed nothing."""
        return fixtures.dumps(self.fake.state())


def make_api(
    request: pytest.FixtureRequest,
    doc: Any,
    today: datetime.date | None = TODAY,
    settings: Settings | None = None,
) -> Iterator[Api]:
    """Yield an Api over a new fake, through the transport the test is parametrized with."""
    fake = Fake(doc, today=today, settings=settings)
    transport = request.param if hasattr(request, "param") else "client"
    if transport == "socket":
        with LiveServer(create_app(fake)) as server:
            api = Api(fake, "socket", server.url)
            yield api
            api.close()
    else:
        yield Api(fake, "client")


ApiOf = Callable[[dict[str, Any]], Api]


@pytest.fixture(scope="module", params=["client", "socket"])
def shared_small(request: pytest.FixtureRequest) -> Iterator[tuple[Api, bytes]]:
    """Yield one Api over small.json per module and transport, with its state as loaded."""
    with contextlib.contextmanager(make_api)(request, small_doc()) as api:
        yield api, api.dump()


@pytest.fixture
def api(shared_small: tuple[Api, bytes]) -> Api:
    """Return an Api over small.json with the clock frozen at TODAY, once per transport.

    Stopping a live server costs a tenth of a second, so the server is shared by a
    module and the fake reset before each test; the checks below make sure the
    reset left nothing over from the test before.
    """
    shared, loaded = shared_small
    shared.fake.reset()
    for name in shared.fake.snapshots():
        shared.fake.forget(name)
    assert shared.dump() == loaded, "the fake's reset did not restore the loaded data"
    assert shared.fake.clock.timestamp() == f"{TODAY} 00:00:00"
    return shared


@pytest.fixture(params=["client", "socket"])
def api_of(request: pytest.FixtureRequest) -> Iterator[ApiOf]:
    """Yield a builder of Apis over any fixture document, on the test's transport."""
    with contextlib.ExitStack() as stack:

        def build(doc: dict[str, Any]) -> Api:
            return stack.enter_context(contextlib.contextmanager(make_api)(request, doc))

        yield build


def entries_doc(count: int, parent: str = "project", same_date: bool = False) -> dict[str, Any]:
    """Return a document with ``count`` entries on project 51 (or contact 41), for paging."""
    doc = small_doc()
    doc["time-entries"] = []
    base = datetime.date(2012, 7, 30)
    for i in range(count):
        day = base if same_date else base - datetime.timedelta(days=i % 90)
        entry: dict[str, Any] = {
            "id": str(1000 + i),
            "user-id": "11",
            "date": day.isoformat(),
            "seconds": str(60 * (i + 1)),
        }
        entry["project-id" if parent == "project" else "contact-id"] = (
            "51" if parent == "project" else "41"
        )
        doc["time-entries"].append(entry)
    return doc
