"""Shared test helpers: a fake on small data, reached through the test client or a real socket.

Every response a test receives through ``api`` is checked: JSON content type,
a JSON body, and that body valid against the schema in ``schemas/`` for its call.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import os
import queue
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import pytest

from apollo_fake import contract, fixtures, schemas
from apollo_fake.fake import Fake, Settings
from apollo_fake.server import LiveServer
from apollo_fake.web import create_app

from control_ways import WAYS, Reply, Way, make_way

pytest_plugins = ["pytester", "browser"]  # browser: the page tests' chromium

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "fixtures" / "small.json"
DEMO = ROOT / "fixtures" / "demo.json"
TODAY = datetime.date(2012, 7, 31)  # tests on small.json run with the clock frozen here


@pytest.hookimpl(optionalhook=True)  # pytest -p no:xdist still runs
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Run one xdist worker more than there are cores for ``-n auto``.

    A part of the suite waits rather than computes (servers in subprocesses, the
    browser, delays, sockets): one more worker keeps the cores busy meanwhile.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + 1


def small_doc() -> dict[str, Any]:
    """Return the hand-made fixture document."""
    return json.loads(SMALL.read_text())


# --- `apollo-fake serve` in a subprocess ---------------------------------------------

MODULE = [sys.executable, "-m", "apollo_fake"]
SERVE_READY = re.compile(r"apollo-fake listening on (https?://(\S+):(\d+))")
SERVE_DEADLINE = 15.0  # seconds to wait for the ready line: never hang the suite
SMALL_ARGS = ["--fixtures", "fixtures/small.json", "--today", TODAY.isoformat()]


def read_to_close(sock: socket.socket, size: int = 65536) -> bytes:
    """Read what the server sends until it closes the connection (or resets it, or ends
    the TLS session abruptly)."""
    received = b""
    try:
        while chunk := sock.recv(size):
            received += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return received


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


class Served:
    """A running ``apollo-fake serve``: its process, base URL, host, port and output."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.stdout: queue.Queue[str | None] = queue.Queue()
        self.stderr: queue.Queue[str | None] = queue.Queue()
        self.readers: list[threading.Thread] = []
        # Threads, so that reading the ready line can time out instead of hanging.
        for stream, lines in ((proc.stdout, self.stdout), (proc.stderr, self.stderr)):
            assert stream is not None
            reader = threading.Thread(target=_pump, args=(stream, lines), daemon=True)
            reader.start()
            self.readers.append(reader)
        self.url = ""
        self.host = ""
        self.port = 0

    def wait_ready(self) -> None:
        """Read the first line on stdout, which must be the ready line, within the deadline."""
        line = self._first_line()
        match = SERVE_READY.fullmatch(line.rstrip("\n"))
        assert match, f"the first line on stdout is not the ready line: {line!r}"
        self.url, self.host, self.port = match.group(1), match.group(2), int(match.group(3))

    def close(self) -> None:
        """Kill the process if it still runs and release its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        for reader in self.readers:
            reader.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def _first_line(self) -> str:
        try:
            line = self.stdout.get(timeout=SERVE_DEADLINE)
        except queue.Empty:
            raise AssertionError(f"no line on stdout within {SERVE_DEADLINE:g} s") from None
        if line is None:
            self.proc.wait(timeout=5)
            raise AssertionError(
                f"serve ended (exit {self.proc.returncode}) before printing a line; "
                f"stderr: {self.drain(self.stderr)!r}"
            )
        return line

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """Send one request; return status, headers (lower-case) and the decoded JSON body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            payload = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=payload, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            got = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        return resp.status, got, json.loads(raw)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the server and return its exit code (it must stop within 5 s)."""
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=5)

    @staticmethod
    def drain(lines: queue.Queue[str | None], timeout: float = 5.0) -> str:
        """Return what a stream printed up to its end (call once the process ended)."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return "".join(out)
            if line is None:
                return "".join(out)
            out.append(line)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Start ``apollo-fake serve`` with some arguments; kill what is left at the end."""
    started: list[Served] = []

    def start(*args: str, launcher: list[str] = MODULE) -> Served:
        proc = subprocess.Popen(
            [*launcher, "serve", "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        served = Served(proc)
        started.append(served)
        served.wait_ready()
        return served

    yield start
    for served in started:
        served.close()


# Each route of the contract's table as a regex of the paths it takes, with its call.
CONTRACT_ROUTES = [
    (route.method, re.compile(re.sub(r"<id:\w+>", "[0-9]+", route.rule) + "$"), call)
    for call in contract.CALLS
    for route in call.routes
]


def schema_for(method: str, path: str, status: int, body: Any) -> str:
    """Name the schema a response body must match, as the contract's table says."""
    if status >= 400:
        return contract.ERROR_SCHEMA
    path = re.sub(r"^/v1(?=/)", "", path.split("?", 1)[0])
    for route_method, pattern, call in CONTRACT_ROUTES:
        if route_method == method and pattern.match(path):
            return contract.response_schema(call, status)
    raise AssertionError(f"no call of the contract answers {method} {path} with {status}")


def check_body(method: str, path: str, status: int, headers: dict[str, str], raw: bytes) -> Any:
    """Assert a response is JSON valid against its schema; return the decoded body."""
    assert headers.get("content-type", "").startswith("application/json"), headers
    if method == "HEAD":
        assert raw == b""
        return None
    body = json.loads(raw)
    schemas.full_validator(schema_for(method, path, status, body)).validate(body)
    return body


# A checked response: status, headers (lower-case names), decoded JSON body, raw bytes.
Result = Reply


class Api:
    """Call the fake the same way whether through Flask's test client or over a socket."""

    def __init__(self, fake: Fake, transport: str, url: str | None = None) -> None:
        self.fake = fake
        self.transport = transport
        self.url = url
        self.client = create_app(fake).test_client() if transport == "client" else None
        self._conn: http.client.HTTPConnection | None = None
        self._last_headers: list[tuple[str, str]] = []

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

    def raw(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request and return its answer unchecked: status, every header, body."""
        if self.client is not None:
            resp = self.client.open(path, method=method, headers=headers or {})
            return resp.status_code, list(resp.headers.items()), resp.get_data()
        status, _, body = self._socket(method, path, None, dict(headers or {}))
        return status, self._last_headers, body

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
                self._last_headers = resp.getheaders()
                got = {k.lower(): v for k, v in self._last_headers}
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


def restored(shared: Any, loaded: bytes) -> Any:
    """Reset a module's shared fake (an Api or a Way) for the next test, and check the reset
    left nothing over from the test before: data, snapshots, clock."""
    shared.fake.reset()
    for name in shared.fake.snapshots():
        shared.fake.forget(name)
    assert shared.dump() == loaded, "the fake's reset did not restore the loaded data"
    assert shared.fake.clock.timestamp() == f"{TODAY} 00:00:00"
    return shared


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
    return restored(shared, loaded)


@pytest.fixture(params=["client", "socket"])
def api_of(request: pytest.FixtureRequest) -> Iterator[ApiOf]:
    """Yield a builder of Apis over any fixture document, on the test's transport."""
    with contextlib.ExitStack() as stack:

        def build(doc: dict[str, Any]) -> Api:
            return stack.enter_context(contextlib.contextmanager(make_api)(request, doc))

        yield build


class _Param:
    """Stand in for a FixtureRequest that only carries a param (a transport)."""

    def __init__(self, param: str) -> None:
        self.param = param


def _transport(way: str) -> _Param:
    # The Python way reaches the Apollo API through Flask's test client, as fake.client does.
    return _Param("socket" if way == "socket" else "client")


@pytest.fixture(scope="module", params=WAYS)
def shared_way(request: pytest.FixtureRequest) -> Iterator[tuple[Way, bytes]]:
    """Yield one control driver over small.json per module and way in, with its loaded state."""
    transport: Any = _transport(request.param)
    with contextlib.contextmanager(make_api)(transport, small_doc()) as api:
        yield make_way(request.param, api), api.dump()


@pytest.fixture
def way(shared_way: tuple[Way, bytes]) -> Way:
    """Return the controls of a fake over small.json (clock frozen at TODAY) through one
    way in: the Python API, the control API on the test client, or over a socket.

    As with ``api``, the fake is shared by a module and reset before each test.
    """
    shared, loaded = shared_way
    return restored(shared, loaded)


WayOf = Callable[..., Way]


@pytest.fixture(params=WAYS)
def way_of(request: pytest.FixtureRequest) -> Iterator[WayOf]:
    """Yield a builder of control drivers over other data, settings or day, on one way in."""
    with contextlib.ExitStack() as stack:

        def build(
            doc: Any = None, *, settings: Settings | None = None, today: Any = TODAY
        ) -> Way:
            transport: Any = _transport(request.param)
            made = contextlib.contextmanager(make_api)(
                transport, small_doc() if doc is None else doc, today=today, settings=settings
            )
            return make_way(request.param, stack.enter_context(made))

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


# --- arranging through the Apollo API, for the control tests ----------------------------------


def new_entry(api: Api, notes: str = "new") -> str:
    """Create an entry on project 51 through the API; return its id."""
    r = api.post("/projects/51/timeEntries", {"time-entry": {"seconds": "60", "notes": notes}})
    assert r.status == 201, r
    entry_id: str = r.json["time-entry-id"]
    return entry_id


def change_some(api: Api) -> None:
    """Create (81), update (72) and delete (73) an entry through the API."""
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
