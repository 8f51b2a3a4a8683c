"""The live server (cheroot with apollo-fake's hooks), over raw sockets.

The Apollo calls themselves are tested over the live server everywhere else (the
"socket" transport of conftest's Api), and what every way in must answer alike
(malformed requests, encoded slashes, faults) in test_ways_in.py; here it is the
protocol: keep-alive and pipelining, ``Expect: 100-continue``, HTTP/1.0,
``Connection: close``, chunked bodies, requests framed two ways (smuggling), clients
that hang up, stall or trickle a byte at a time, a transient ``accept()`` error,
bodies the app did not read, and answers the app got wrong.
"""

from __future__ import annotations

import contextlib
import errno
import json
import select
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from apollo_fake import fixtures
from apollo_fake import server as server_module
from apollo_fake.fake import Fake
from apollo_fake.server import LiveServer

from conftest import TODAY, check_body, small_doc

PROJECT = "/projects/51/timeEntries"
CREATE = json.dumps({"time-entry": {"seconds": "60"}}).encode()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Fake, LiveServer, bytes]]:
    fake = Fake(small_doc(), today=TODAY)
    with LiveServer(fake.app) as server:
        yield fake, server, fixtures.dumps(fake.state())


@pytest.fixture
def fake(served: tuple[Fake, LiveServer, bytes]) -> Fake:
    fake, _, loaded = served
    fake.reset()
    assert fixtures.dumps(fake.state()) == loaded
    return fake


@pytest.fixture
def connect(served: tuple[Fake, LiveServer, bytes], fake: Fake) -> Iterator[Any]:
    """Return a maker of raw connections to the live server, all closed at the end."""
    socks: list[socket.socket] = []

    def make() -> Wire:
        sock = socket.create_connection(("127.0.0.1", served[1].port), timeout=10)
        socks.append(sock)
        return Wire(sock)

    yield make
    for sock in socks:
        sock.close()


class Response:
    """One response as read off the wire: status, headers (lower-case names), body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def will_close(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"

    def json(self) -> Any:
        return json.loads(self.body)


class Wire:
    """A raw connection that reads responses itself, so that pipelined ones are not lost.

    (http.client reads ahead into a buffer of its own, and drops it with the response.)
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.send(data)

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self._buffer += data

    def response(self, method: str = "GET") -> Response:
        while b"\r\n\r\n" not in self._buffer:
            self._more()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split(" ")[1])
        size = 0 if method == "HEAD" else int(headers.get("content-length", "0"))
        while len(self._buffer) < size:
            self._more()
        body, self._buffer = self._buffer[:size], self._buffer[size:]
        return Response(status, headers, body)

    def closed_by_server(self) -> bool:
        """Say whether the server has closed its end (reads give end of file)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def assert_json_error(response: Response, status: int) -> None:
    """Assert a JSON error of the contract's shape with that status."""
    assert response.status == status, response.body
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"status", "message", "details"}
    assert body["error"]["status"] == status
    assert body["error"]["message"]


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def post(path: str, body: bytes, extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def test_a_connection_is_kept_alive_across_requests(connect: Any) -> None:
    sock = connect()
    for _ in range(3):
        sock.send(get("/timeEntries/71"))
        response = sock.response()
        assert response.status == 200
        assert not response.will_close
        body = check_body("GET", "/timeEntries/71", 200, response.headers, response.body)
        assert body["time-entry"]["id"] == "71"


def test_pipelined_requests_are_answered_in_order(connect: Any, fake: Fake) -> None:
    sock = connect()
    sock.send(get("/timeEntries/71") + post(PROJECT, CREATE) + get("/timeEntries/81"))
    first, second, third = (sock.response(m) for m in ("GET", "POST", "GET"))
    assert first.json()["time-entry"]["id"] == "71"
    assert (second.status, second.json()) == (201, {"time-entry-id": "81"})
    assert third.json()["time-entry"]["seconds"] == "60"


def test_expect_100_continue_is_answered_before_the_body_is_sent(connect: Any) -> None:
    sock = connect()
    head = post(PROJECT, CREATE, "Expect: 100-continue\r\n")[: -len(CREATE)]
    sock.send(head)
    assert sock.response().status == 100  # before the body: the client may now send it
    sock.send(CREATE)
    response = sock.response("POST")
    assert (response.status, response.json()) == (201, {"time-entry-id": "81"})


def test_http_1_0_is_answered_then_closed(connect: Any) -> None:
    sock = connect()
    sock.send(b"GET /timeEntries/71 HTTP/1.0\r\n\r\n")
    response = sock.response()
    assert response.status == 200
    assert response.json()["time-entry"]["id"] == "71"
    assert sock.closed_by_server()


def test_connection_close_is_honoured(connect: Any) -> None:
    sock = connect()
    sock.send(get("/timeEntries/71", "Connection: close\r\n"))
    assert sock.response().status == 200
    assert sock.closed_by_server()


def test_every_answer_has_a_date(connect: Any) -> None:
    sock = connect()
    sock.send(get("/timeEntries/71"))
    assert sock.response().headers.get("date", "").endswith(" GMT")


def test_a_refusal_changes_nothing_and_the_server_goes_on(connect: Any, fake: Fake) -> None:
    # Every refusal is compared across servers in test_ways_in.py; here, that it
    # leaves the journal and the data alone, and the next connection is served.
    before = fixtures.dumps(fake.state())
    sock = connect()
    sock.send(b"GET /account HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    assert_json_error(sock.response(), 400)
    assert sock.closed_by_server()
    assert not fake.journal  # the app never saw it
    assert fixtures.dumps(fake.state()) == before
    sock = connect()
    sock.send(get("/timeEntries/71"))
    assert sock.response().status == 200


def test_a_chunked_body_is_read(connect: Any, fake: Fake) -> None:
    sock = connect()
    head = f"POST {PROJECT} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    sock.send(head + b"5\r\n" + CREATE[:5] + b"\r\n%x\r\n" % (len(CREATE) - 5) + CREATE[5:])
    sock.send(b"\r\n0\r\n\r\n")
    response = sock.response("POST")
    assert (response.status, response.json()) == (201, {"time-entry-id": "81"})
    assert not response.will_close  # the body was read to its end: the connection goes on
    sock.send(get("/timeEntries/81"))
    assert sock.response().json()["time-entry"]["seconds"] == "60"


@pytest.mark.parametrize(
    ("size", "sent"),
    [
        pytest.param(b"1" + b"0" * 19, b"{", id="20-hex-digits"),
        pytest.param(b"2000000", b"{" + b" " * server_module.BODY_GUARD, id="32-mib"),
    ],
)
def test_a_chunk_over_the_limit_is_413_once_past_the_guard(
    connect: Any, fake: Fake, size: bytes, sent: bytes
) -> None:
    # A size past what 64 bits hold is refused at once; a chunk of 32 MiB once more
    # than the server's guard of it has come, none of it kept.
    before = fixtures.dumps(fake.state())
    sock = connect()
    head = f"POST {PROJECT} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    with contextlib.suppress(ConnectionError):  # the server may stop reading before the end
        sock.sock.sendall(head + size + b"\r\n" + sent)
    response = sock.response("POST")
    assert_json_error(response, 413)
    assert response.will_close
    assert fixtures.dumps(fake.state()) == before


def test_a_broken_chunked_body_changes_nothing(connect: Any, fake: Fake) -> None:
    before = fixtures.dumps(fake.state())
    sock = connect()
    head = f"POST {PROJECT} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    sock.send(head + b"5\r\n{\"tim\r\nzz\r\n")
    response = sock.response("POST")
    assert_json_error(response, 400)
    assert sock.closed_by_server()
    assert fixtures.dumps(fake.state()) == before


def test_a_client_that_hangs_up_mid_request_harms_nothing(connect: Any, fake: Fake) -> None:
    before = fixtures.dumps(fake.state())
    sock = connect()
    sock.send(post(PROJECT, CREATE)[:-10])  # the body is 10 bytes short
    sock.sock.close()
    sock = connect()
    sock.send(b"GET /timeEntries/7")  # the request line is cut
    sock.sock.close()
    sock = connect()
    sock.send(get("/timeEntries/71"))
    assert sock.response().status == 200
    assert fixtures.dumps(fake.state()) == before


def test_an_unread_body_ends_the_connection_after_the_answer(connect: Any) -> None:
    sock = connect()
    # Declared over the 1 MiB limit and never sent: the answer cannot wait for it.
    sock.send(f"POST {PROJECT} HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n".encode())
    response = sock.response("POST")
    assert_json_error(response, 413)
    assert response.will_close
    assert sock.closed_by_server()


def test_headers_with_underscores_are_not_passed_to_the_app(connect: Any, fake: Fake) -> None:
    # "X_Forwarded" and "X-Forwarded" both become HTTP_X_FORWARDED: a proxy that
    # strips one would let the other through. Werkzeug drops the underscored name too.
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(dict(environ))
        return fake.app(environ, start_response)

    with LiveServer(app) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            sock = Wire(raw)
            sock.send(get("/account", "X_Forwarded: 1\r\nX-Other: 2\r\nX-Other: 3\r\n"))
            assert sock.response().status == 200
    assert "HTTP_X_FORWARDED" not in seen[-1]
    assert seen[-1]["HTTP_X_OTHER"] == "2,3"


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        pytest.param("200 OK", [("X-Bad", "a\r\nb")], b"{}", id="newline-in-header"),
        pytest.param("200 OK", [("Content-Length", "10")], b"{}", id="body-shorter-than-length"),
        pytest.param("99 Odd", [], b"{}", id="status-under-100"),
        pytest.param("OK", [], b"{}", id="status-without-code"),
        pytest.param("200 OK", [("X-Name", "caf\u00e9\u2603")], b"{}", id="header-not-latin-1"),
    ],
)
def test_an_answer_the_protocol_refuses_is_a_json_500_and_the_server_goes_on(
    status: str, headers: list[tuple[str, str]], body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response(status, headers)
        return [body]

    with LiveServer(app) as server:
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
                sock = Wire(raw)
                sock.send(get("/anything"))
                response = sock.response()
                assert_json_error(response, 500)
                assert "Traceback" not in response.body.decode()
                assert sock.closed_by_server()
    assert "bad answer" in caplog.text


def test_a_body_the_app_did_not_read_is_skipped_and_the_connection_kept(connect: Any) -> None:
    sock = connect()
    # A GET's body is never read by the app; it has all arrived, so it is skipped.
    sock.send(get("/timeEntries/71", "Content-Length: 5\r\n") + b"hello")
    first = sock.response()
    assert first.status == 200 and not first.will_close
    sock.send(get("/timeEntries/72"))
    assert sock.response().json()["time-entry"]["id"] == "72"


@pytest.fixture
def short_timeout(
    monkeypatch: pytest.MonkeyPatch, fake: Fake
) -> Iterator[tuple[LiveServer, Fake]]:
    """Yield a live server whose read deadline is a fraction of a second."""
    monkeypatch.setattr(server_module, "READ_TIMEOUT", 0.3)
    with LiveServer(fake.app) as server:
        yield server, fake


def test_a_connection_idle_past_the_read_deadline_is_closed(
    short_timeout: tuple[LiveServer, Fake],
) -> None:
    server, _ = short_timeout
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        sock = Wire(raw)
        sock.send(get("/timeEntries/71"))
        assert sock.response().status == 200
        assert sock.closed_by_server()  # waits for the server, which gives up on it


@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(b"GET /timeEntries/71 HT", id="head-stalled"),
        pytest.param(post(PROJECT, CREATE)[:-10], id="body-stalled"),
        pytest.param(
            f"POST {PROJECT} HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n".encode()
            + b'{"time-en',
            id="100-promised-10-sent",
        ),
    ],
)
def test_a_stalled_request_gets_a_408_or_a_close_and_others_are_served_meanwhile(
    short_timeout: tuple[LiveServer, Fake], partial: bytes
) -> None:
    server, fake = short_timeout
    before = fixtures.dumps(fake.state())
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        stalled = Wire(raw)
        stalled.send(partial)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as other:
            served = Wire(other)
            served.send(get("/timeEntries/72"))
            assert served.response().json()["time-entry"]["id"] == "72"
        try:
            assert_json_error(stalled.response("POST"), 408)
        except ConnectionError:
            pass  # closed without an answer: as good, the contract allows either
        assert stalled.closed_by_server()
    assert fixtures.dumps(fake.state()) == before


def test_a_head_trickled_a_byte_at_a_time_is_cut_off_by_the_read_deadline(
    short_timeout: tuple[LiveServer, Fake],
) -> None:
    # Each byte comes well within the read timeout: only a deadline for the whole
    # head cuts it off; others are served meanwhile.
    server, _ = short_timeout
    head = get("/timeEntries/71", "X-Pad: " + "a" * 400 + "\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        sent = 0
        for byte in head:
            try:
                raw.sendall(bytes([byte]))
            except OSError:
                break  # the server has closed it
            sent += 1
            if sent == 20:  # mid-head: another client is not kept waiting
                with socket.create_connection(("127.0.0.1", server.port), timeout=10) as other:
                    served = Wire(other)
                    served.send(get("/timeEntries/72"))
                    assert served.response().status == 200
            if select.select([raw], [], [], 0.02)[0]:
                break  # the server answered (or closed) before the head was complete
        assert sent < len(head), "the whole head was taken, a byte at a time"
        stalled = Wire(raw)
        try:
            assert_json_error(stalled.response(), 408)
        except ConnectionError:
            pass  # closed without an answer: as good, the contract allows either
        assert stalled.closed_by_server()


def test_a_body_trickled_a_byte_at_a_time_is_cut_off_and_changes_nothing(
    short_timeout: tuple[LiveServer, Fake],
) -> None:
    server, fake = short_timeout
    before = fixtures.dumps(fake.state())
    body = b'{"time-entry": {"seconds": "60", "notes": "' + b"a" * 400 + b'"}}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(post(PROJECT, body)[: -len(body)])  # the head, whole
        sent = 0
        for byte in body:
            try:
                raw.sendall(bytes([byte]))
            except OSError:
                break
            sent += 1
            if select.select([raw], [], [], 0.02)[0]:
                break
        assert sent < len(body), "the whole body was taken, a byte at a time"
        stalled = Wire(raw)
        try:
            assert_json_error(stalled.response("POST"), 408)
        except ConnectionError:
            pass
        assert stalled.closed_by_server()
    assert fixtures.dumps(fake.state()) == before


def test_a_request_framed_by_length_and_chunks_is_400_and_smuggles_nothing(
    connect: Any, fake: Fake
) -> None:
    # RFC 9112 section 6.1: read by its chunks, the body would end early and the
    # rest would run as a second request on the same connection.
    before = fixtures.dumps(fake.state())
    hidden = b"0\r\n\r\n" + get("/timeEntries/71").replace(b"GET", b"DELETE", 1)
    sock = connect()
    sock.send(
        f"POST {PROJECT} HTTP/1.1\r\nHost: a\r\nContent-Length: {len(hidden)}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
        + hidden
    )
    response = sock.response("POST")
    assert_json_error(response, 400)
    assert sock.closed_by_server()  # one answer, and the smuggled DELETE never ran
    assert not fake.journal
    assert fixtures.dumps(fake.state()) == before
    sock = connect()
    sock.send(get("/timeEntries/71"))
    assert sock.response().status == 200


def test_a_chunked_create_with_a_stray_content_length_creates_nothing(
    connect: Any, fake: Fake
) -> None:
    # A well-formed chunked body does not make a request framed two ways acceptable:
    # the contract's 400, the connection closed, nothing created.
    before = fixtures.dumps(fake.state())
    sock = connect()
    chunked = b"%x\r\n" % len(CREATE) + CREATE + b"\r\n0\r\n\r\n"
    sock.send(
        f"POST {PROJECT} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Length: {len(CREATE)}\r\n\r\n".encode()
        + chunked
    )
    assert_json_error(sock.response("POST"), 400)
    assert sock.closed_by_server()
    assert fixtures.dumps(fake.state()) == before


def test_a_transient_accept_error_costs_nothing_once_it_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "Too many open files" from accept(), a few times: afterwards the server serves
    # as many connections at once as it has threads, as before.
    failures = [5]
    accept = socket.socket.accept

    def failing_accept(self: socket.socket) -> Any:
        if failures[0] > 0:  # only a listening socket accepts
            failures[0] -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return accept(self)

    together = 8  # below the default thread count (10)
    barrier = threading.Barrier(together, timeout=10)  # a hang guard, not a threshold
    fake = Fake(small_doc(), today=TODAY)

    gathering = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if gathering.is_set() and environ.get("PATH_INFO") == "/account":
            barrier.wait()  # returns only once `together` requests are in at once
        return fake.app(environ, start_response)

    with LiveServer(app) as server:
        monkeypatch.setattr(socket.socket, "accept", failing_accept)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            first = Wire(raw)
            first.send(get("/timeEntries/71"))  # accepted once the errors have passed
            assert first.response().status == 200
        assert failures == [0]
        gathering.set()
        statuses: list[int] = []

        def request() -> None:
            with socket.create_connection(("127.0.0.1", server.port), timeout=15) as raw:
                wire = Wire(raw)
                wire.send(get("/account"))
                statuses.append(wire.response().status)

        threads = [threading.Thread(target=request) for _ in range(together)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert statuses == [200] * together, "fewer requests were answered at once"


def test_the_installed_httptools_is_in_the_range_pyproject_declares() -> None:
    # The server uses httptools' parser callbacks: the tests hold to the range of
    # releases they were written for, and a release outside it must be tried first.
    tomllib = pytest.importorskip("tomllib")
    from importlib.metadata import version
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    wanted = [Requirement(d) for d in declared]
    (httptools,) = [r for r in wanted if r.name == "httptools"]
    assert httptools.specifier.contains(version("httptools")), (httptools, version("httptools"))
    assert "<" in str(httptools.specifier), "an upper bound: a 0.x release may change the API"
    assert not [r for r in wanted if r.name == "cheroot"], "one server: cheroot is gone"
