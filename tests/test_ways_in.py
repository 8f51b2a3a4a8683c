"""One wire suite, run against every way in: the same request must get the same answer.

The ways in: Flask's test client, the in-process live server (the plugin's
``apollo_url``, ``Fake.url``, ``Fake.serve()``), the same over HTTPS (``tls=``,
as ``serve --tls`` and ``run --tls`` serve) and ``apollo-fake serve`` in a
subprocess. Each serves its own fake over small.json, reset through the control
API before every test. A request is sent to each way that can carry it (raw
sockets for what a client library would refuse to send), and the answers are
compared: status, headers bar ``Date`` and ``Server``, and body.

Covers: encoded slashes on GET, PUT and DELETE (404, nothing changed); dot
segments, doubled and leading slashes, the ``/v1`` prefix; malformed request
lines and headers, a missing ``Host``, framing headers given twice or two ways,
a 70 KiB URL (414) and an oversized head (431), each a JSON error and a closed
connection; a ``drop`` fault (not a byte written, the connection closed); a
``delay_ms`` fault during which other requests and the control API are answered.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from apollo_fake.fake import Fake
from apollo_fake.server import LiveServer
from apollo_fake.tls import Authority
from apollo_fake.web import create_app

from conftest import (
    MODULE,
    ROOT,
    SMALL_ARGS,
    TODAY,
    Served,
    check_body,
    read_to_close,
    small_doc,
)

WAYS = ("client", "live", "tls", "serve")
SOCKETS = ("live", "tls", "serve")
IGNORED = {"date", "server"}  # the only headers allowed to differ between servers
PROJECT = "/projects/51/timeEntries"
CREATE = json.dumps({"time-entry": {"seconds": "60"}}).encode()
UPDATE = json.dumps({"time-entry": {"notes": "changed"}}).encode()
HANG_GUARD = 10.0  # seconds: a bound on every wait, never an assertion


@dataclass
class Answer:
    """One answer: status, headers (lower-case names), body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def comparable(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """Return what must be equal on every way in."""
        kept = sorted((k, v) for k, v in self.headers.items() if k not in IGNORED)
        return self.status, kept, self.body

    def json(self) -> Any:
        return json.loads(self.body)


class Way:
    """One way into a fake: the test client, or a server's port."""

    def __init__(
        self,
        name: str,
        client: FlaskClient | None = None,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.client = client
        self.port = port
        self.tls = tls

    def connect(self) -> socket.socket:
        """Open a connection to the server, over TLS for an HTTPS one."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=HANG_GUARD)
        if self.tls is None:
            return sock
        return self.tls.wrap_socket(sock, server_hostname="127.0.0.1")

    @property
    def is_socket(self) -> bool:
        return self.client is None

    def send(
        self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        """Send a request a client library can send; return the answer."""
        if self.client is not None:
            resp = self.client.open(target, method=method, data=body, headers=headers or {})
            got = {k.lower(): v for k, v in resp.headers.items()}
            return Answer(resp.status_code, got, resp.get_data())
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        length = f"Content-Length: {len(body)}\r\n" if body or method in ("POST", "PUT") else ""
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{length}{extra}\r\n"
        answer, _ = self.raw(head.encode("latin-1") + body, method, ask_closed=False)
        return answer

    def raw(
        self, data: bytes, method: str = "GET", ask_closed: bool = True
    ) -> tuple[Answer, bool]:
        """Send bytes as written over a new connection; return the answer and whether the
        server closed the connection after it (False when not asked)."""
        assert self.is_socket, "only a socket carries a request written by hand"
        with self.connect() as sock:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
                pass  # the server answered and closed before reading it all
            resp = http.client.HTTPResponse(sock, method=method)
            resp.begin()
            body = resp.read()
            got = {k.lower(): v for k, v in resp.getheaders()}
            return Answer(resp.status, got, body), ask_closed and _closed(sock)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API; return the decoded JSON answer."""
        payload = b"" if body is None else json.dumps(body).encode()
        answer = self.send(method, path, payload)
        assert answer.status < 300, (self.name, answer)
        return answer.json()

    def state(self) -> Any:
        """Return the fake's whole state."""
        return self.control("GET", "/_fake/state")

    def journal(self) -> list[dict[str, Any]]:
        """Return the journal's requests."""
        requests: list[dict[str, Any]] = self.control("GET", "/_fake/requests")["requests"]
        return requests


def _closed(sock: socket.socket) -> bool:
    """Say whether the server closed the connection (a read gives end of file or a reset)."""
    sock.settimeout(HANG_GUARD)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.fixture(scope="module")
def ways() -> Iterator[dict[str, Way]]:
    """Start one fake per way in, each over small.json with the clock at TODAY."""
    proc = subprocess.Popen(
        [*MODULE, "serve", "--port", "0", "--quiet", *SMALL_ARGS],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(proc)
    try:
        served.wait_ready()
        authority = Authority()
        with contextlib.ExitStack() as servers:
            live = servers.enter_context(LiveServer(create_app(Fake(small_doc(), today=TODAY))))
            tls = servers.enter_context(
                LiveServer(create_app(Fake(small_doc(), today=TODAY)), tls=authority)
            )
            client = create_app(Fake(small_doc(), today=TODAY)).test_client()
            yield {
                "client": Way("client", client=client),
                "live": Way("live", port=live.port),
                "tls": Way("tls", port=tls.port, tls=authority.client_context()),
                "serve": Way("serve", port=served.port),
            }
    finally:
        served.close()


@pytest.fixture(autouse=True)
def reset(ways: dict[str, Way]) -> None:
    """Reset every fake to the loaded data, with no rules and an empty journal."""
    for way in ways.values():
        way.control("POST", "/_fake/reset")


def same_everywhere(answers: dict[str, Answer]) -> Answer:
    """Assert every way gave the same answer; return it."""
    first, *others = answers.items()
    for name, answer in others:
        assert answer.comparable() == first[1].comparable(), (first[0], name)
    return first[1]


def assert_json_error(answer: Answer, status: int) -> None:
    """Assert the contract's JSON error with that status."""
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"status", "message", "details"}
    assert body["error"]["status"] == status
    assert body["error"]["message"]


# --- requests any client can send ----------------------------------------------------------

ORDINARY = [
    pytest.param("GET", "/timeEntries/71", b"", 200, id="entry"),
    pytest.param("GET", "/v1/timeEntries/71", b"", 200, id="v1-entry"),
    pytest.param("GET", PROJECT, b"", 200, id="listing"),
    pytest.param("GET", "/report/timeEntries?with_totals=1", b"", 200, id="report"),
    pytest.param("POST", PROJECT, CREATE, 201, id="create"),
    pytest.param("PUT", "/timeEntries/71", UPDATE, 200, id="update"),
    pytest.param("DELETE", "/timeEntries/71", b"", 200, id="delete"),
    pytest.param("HEAD", "/account", b"", 200, id="head"),
    pytest.param("GET", "/timeEntries/999", b"", 404, id="unknown-entry"),
    pytest.param("DELETE", "/account", b"", 405, id="wrong-method"),
    pytest.param("GET", "/account?x=1", b"", 400, id="unknown-parameter"),
    pytest.param("POST", PROJECT, b"{", 400, id="not-json"),
    pytest.param("POST", PROJECT, b'{"time-entry": {"seconds": -1}}', 422, id="invalid"),
    pytest.param("POST", PROJECT, b" " * (1024 * 1024 + 1), 413, id="too-large"),
    pytest.param("POST", PROJECT, b"[" * 100_000 + b"]" * 100_000, 400, id="nested-too-deep"),
    pytest.param(
        "POST", PROJECT, b'{"time-entry": {"notes": ' + b"[" * 65 + b"]" * 65 + b"}}", 400,
        id="notes-nested-65-deep",
    ),
    pytest.param("GET", "/timeEntries/0071", b"", 200, id="leading-zeros"),
    pytest.param("DELETE", "/timeEntries/1000000000000000071", b"", 404, id="19-digit-id"),
    pytest.param("GET", "/timeEntries/" + "9" * 5000, b"", 404, id="5000-digit-id"),
    pytest.param("GET", "/timeEntries/%D9%A3", b"", 404, id="arabic-indic-digit"),
]


@pytest.mark.parametrize(
    ("target", "quoted"),
    [
        pytest.param("/timeEntries/000999", "id 000999", id="id-as-sent"),
        pytest.param("/timeEntries/1000000000000000071", "id 1000000000000000071", id="long-id"),
        pytest.param("/timeEntries/%D9%A3", "GET /timeEntries/\u0663", id="utf-8-path"),
        pytest.param("/v1/../account", "GET /v1/../account", id="dot-dot-as-sent"),
    ],
)
def test_messages_quote_what_was_sent(ways: dict[str, Way], target: str, quoted: str) -> None:
    answer = same_everywhere({name: way.send("GET", target) for name, way in ways.items()})
    assert_json_error(answer, 404)
    assert quoted in answer.json()["error"]["message"], answer
    for way in ways.values():
        journal = way.control("GET", "/_fake/requests")["requests"]
        shown = quoted.split(" ", 1)[1] if quoted.startswith("GET ") else target
        assert journal[-1]["path"] == shown


@pytest.mark.parametrize(
    ("rule", "status", "body"),
    [
        pytest.param({"status": 204}, 204, b"", id="no-content"),
        pytest.param({"status": 502, "text": "<h1>Bad Gateway</h1>",
                      "headers": {"Content-Type": "text/html"}}, 502, b"<h1>Bad Gateway</h1>",
                     id="html-page"),
    ],
)
def test_an_injected_answer_is_what_the_rule_states_on_every_way_in(
    ways: dict[str, Way], rule: dict[str, Any], status: int, body: bytes
) -> None:
    for way in ways.values():
        way.control("POST", "/_fake/faults", {"path": "/account", **rule})
    answer = same_everywhere({name: way.send("GET", "/account") for name, way in ways.items()})
    assert (answer.status, answer.body) == (status, body)
    assert (status == 204) == ("content-length" not in answer.headers)
    for way in ways.values():  # the connection, where there is one, still serves
        assert way.send("GET", "/account").status == 200


@pytest.mark.parametrize(("method", "target", "body", "status"), ORDINARY)
def test_the_same_request_gets_the_same_answer_on_every_way_in(
    ways: dict[str, Way], method: str, target: str, body: bytes, status: int
) -> None:
    answers = {name: way.send(method, target, body) for name, way in ways.items()}
    answer = same_everywhere(answers)
    assert answer.status == status, answer
    check_body(method, target, status, answer.headers, answer.body)
    states = [way.state() for way in ways.values()]
    assert all(state == states[0] for state in states)


NO_ROUTE = [
    pytest.param("GET", "/timeEntries%2F71", id="get-encoded-slash"),
    pytest.param("GET", "/timeEntries%2f71", id="get-encoded-slash-lower"),
    pytest.param("GET", "/v1/timeEntries%2F71", id="get-v1-encoded-slash"),
    pytest.param("GET", "/projects%2F51/timeEntries", id="get-listing-encoded-slash"),
    pytest.param("PUT", "/timeEntries%2F71", id="put-encoded-slash"),
    pytest.param("DELETE", "/timeEntries%2F71", id="delete-encoded-slash"),
    pytest.param("DELETE", "/timeEntries%2f71", id="delete-encoded-slash-lower"),
    pytest.param("POST", "/projects%2F51/timeEntries", id="create-encoded-slash"),
    pytest.param("GET", "/projects/51/../51/timeEntries", id="dot-dot"),
    pytest.param("GET", "/v1/../account", id="dot-dot-out-of-v1"),
    pytest.param("GET", "/v1/%2e%2e/account", id="encoded-dot-dot"),
    pytest.param("DELETE", "/timeEntries/72/../71", id="delete-dot-dot"),
    pytest.param("GET", "/./account", id="dot"),
    pytest.param("GET", "/projects//51/timeEntries", id="inner-double-slash"),
    pytest.param("GET", "/v1/v1/account", id="doubled-prefix"),
]


@pytest.mark.parametrize(("method", "target"), NO_ROUTE)
def test_paths_that_name_no_call_are_404_and_change_nothing(
    ways: dict[str, Way], method: str, target: str
) -> None:
    before = {name: way.state() for name, way in ways.items()}
    body = UPDATE if method == "PUT" else CREATE if method == "POST" else b""
    answer = same_everywhere({name: way.send(method, target, body) for name, way in ways.items()})
    assert_json_error(answer, 404)
    assert "location" not in answer.headers
    for name, way in ways.items():
        assert way.state() == before[name], name
        assert way.send("GET", "/timeEntries/71").status == 200


def test_a_70_kib_url_is_414_and_closes(ways: dict[str, Way]) -> None:
    target = "/timeEntries/71?" + "a" * 70 * 1024
    answer = same_everywhere({name: way.send("GET", target) for name, way in ways.items()})
    assert_json_error(answer, 414)
    assert answer.headers["connection"] == "close"
    for name in SOCKETS:
        _, closed = ways[name].raw(f"GET {target} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        assert closed, name


# --- requests only a raw socket sends -----------------------------------------------------

MALFORMED = [
    pytest.param(b"NOT A REQUEST\r\n\r\n", 400, id="no-version"),
    pytest.param(b"GET /account\r\n\r\n", 400, id="two-parts"),
    pytest.param(b"GET /account HTTP/1.1\n\n", 400, id="bare-newlines"),
    pytest.param(b"GET /account HTTP/x.y\r\nHost: a\r\n\r\n", 400, id="bad-version"),
    pytest.param(b"get /account HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="lower-case-method"),
    pytest.param(b"GET /account#x HTTP/1.1\r\nHost: a\r\n\r\n", 400, id="fragment"),
    pytest.param(b"GET /account HTTP/1.1\r\nNo colon here\r\n\r\n", 400, id="header-no-colon"),
    pytest.param(b"GET /account HTTP/1.1\r\nHost : a\r\n\r\n", 400, id="space-before-colon"),
    pytest.param(b"GET /account HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, id="folded"),
    pytest.param(b"GET /account HTTP/1.1\r\n\r\n", 400, id="no-host"),
    pytest.param(b"GET /account HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, id="two-hosts"),
    pytest.param(
        b"POST /account HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400, id="length-nan"
    ),
    pytest.param(
        b"POST /account HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, id="length-minus"
    ),
    pytest.param(
        b"POST " + PROJECT.encode() + b" HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
        b"Content-Length: 2\r\n\r\n{}",
        400,
        id="two-lengths",
    ),
    pytest.param(
        b"POST " + PROJECT.encode() + b" HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        id="length-and-chunked",
    ),
    pytest.param(
        b"GET /account HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
        431,
        id="head-too-large",
    ),
    pytest.param(
        b"GET /" + b"a" * 70 * 1024 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, id="url-70-kib"
    ),
]


@pytest.mark.parametrize(("request_bytes", "status"), MALFORMED)
def test_a_malformed_request_is_a_json_error_and_a_closed_connection(
    ways: dict[str, Way], request_bytes: bytes, status: int
) -> None:
    answers: dict[str, Answer] = {}
    for name in SOCKETS:
        way = ways[name]
        before = way.state()
        answers[name], closed = way.raw(request_bytes)
        assert closed, name
        assert_json_error(answers[name], status)
        assert answers[name].headers["connection"] == "close"
        assert way.state() == before
        assert way.journal() == []  # the app never saw it
        assert way.send("GET", "/timeEntries/71").status == 200  # the server goes on
    same_everywhere(answers)


# Flask's test client reads a leading "//" as the start of a host name, so these
# paths can only be sent, as written, over a socket.
LEADING_DOUBLE_SLASH = [
    pytest.param("GET", "//projects/51/timeEntries", id="get-listing"),
    pytest.param("GET", "//account", id="get-account"),
    pytest.param("GET", "//v1/account", id="get-v1-account"),
    pytest.param("GET", "//timeEntries/71", id="get-entry"),
    pytest.param("POST", "//projects/51/timeEntries", id="create"),
    pytest.param("DELETE", "//timeEntries/71", id="delete"),
]


@pytest.mark.parametrize(("method", "target"), LEADING_DOUBLE_SLASH)
def test_a_leading_double_slash_is_404_and_changes_nothing(
    ways: dict[str, Way], method: str, target: str
) -> None:
    body = CREATE if method == "POST" else b""
    answers = {}
    for name in SOCKETS:
        before = ways[name].state()
        answers[name] = ways[name].send(method, target, body)
        assert_json_error(answers[name], 404)
        answer = answers[name]
        check_body(method, "/nothing", 404, answer.headers, answer.body)  # error.schema.json
        assert "location" not in answer.headers
        assert ways[name].state() == before
    same_everywhere(answers)


def test_an_absolute_target_is_read_for_its_path(ways: dict[str, Way]) -> None:
    # RFC 9112 section 3.2.2: a server accepts the absolute form.
    answers = {name: ways[name].send("GET", "http://127.0.0.1/timeEntries/71") for name in SOCKETS}
    assert same_everywhere(answers).json()["time-entry"]["id"] == "71"


# --- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SOCKETS)
@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        pytest.param("GET", "/account", b"", id="read"),
        pytest.param("POST", PROJECT, CREATE, id="create"),
    ],
)
def test_a_drop_closes_the_connection_without_writing_a_byte(
    ways: dict[str, Way], name: str, method: str, target: str, body: bytes
) -> None:
    way = ways[name]
    before = way.state()
    way.control("POST", "/_fake/faults", {"method": method, "path": target, "drop": True})
    head = f"{method} {target} HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n"
    with way.connect() as sock:
        sock.sendall(head.encode() + body)
        received = read_to_close(sock)
    assert received == b""  # not a status line, not a byte: the connection just ended
    assert way.state() == before
    assert way.send("GET", "/timeEntries/71").status == 200  # the server goes on
    assert way.journal()[0]["status"] == 0  # journaled as dropped


def test_a_drop_in_the_test_client_raises(ways: dict[str, Way]) -> None:
    way = ways["client"]
    way.control("POST", "/_fake/faults", {"path": "/account", "drop": True})
    with pytest.raises(ConnectionAbortedError):
        way.send("GET", "/account")


@pytest.mark.parametrize("name", WAYS)
def test_a_delay_holds_only_its_request(ways: dict[str, Way], name: str) -> None:
    way = ways[name]
    # Long enough that what follows certainly happens during it.
    way.control("POST", "/_fake/faults", {"path": "/account", "delay_ms": 3000})
    slow: list[Answer] = []
    # A test client of its own for the other thread: a client keeps state between calls.
    other = Way(name, way.client.application.test_client(), way.port) if way.client else way
    thread = threading.Thread(target=lambda: slow.append(other.send("GET", "/account")))
    thread.start()
    deadline = time.monotonic() + HANG_GUARD
    # The control API answers while the delayed request waits ...
    while way.control("GET", "/_fake/faults")["faults"][0]["remaining"] != 0:
        assert time.monotonic() < deadline, "the delayed request never arrived"
        time.sleep(0.01)
    assert way.control("GET", "/_fake/health")
    way.control("DELETE", "/_fake/faults")
    # ... and so do other calls, and the same call once the rule is gone.
    assert way.send("GET", "/timeEntries/71").status == 200
    assert way.send("POST", PROJECT, CREATE).status == 201
    assert way.send("GET", "/account").status == 200
    assert thread.is_alive(), "the delayed request was answered before the others"
    thread.join(HANG_GUARD)
    assert slow and slow[0].status == 200
    # The journal lists requests as they are answered: the delayed one last.
    paths = [r["path"] for r in way.journal()]
    assert paths[-1] == "/account" and paths.count("/account") == 2


def test_a_create_that_asks_to_upgrade_is_a_create_on_every_way_in(ways: dict[str, Way]) -> None:
    # No way in upgrades the connection: the body is the create's, and a request
    # written inside it (here, a DELETE) is never read as a request of its own.
    smuggled = "DELETE /timeEntries/71 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    body = json.dumps({"time-entry": {"seconds": "60", "notes": smuggled}}).encode()
    upgrade = {"Connection": "Upgrade", "Upgrade": "h2c"}
    answers = {name: way.send("POST", PROJECT, body, upgrade) for name, way in ways.items()}
    answer = same_everywhere(answers)
    assert answer.status == 201, answer
    for name, way in ways.items():
        assert way.send("GET", "/timeEntries/71").status == 200, name
        assert [r["method"] for r in way.journal()][-2:] == ["POST", "GET"], name
