"""The live server (apollo_fake/server.py: an event loop and httptools), over raw sockets.

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
import gc
import io
import json
import logging
import re
import select
import socket
import struct
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from apollo_fake import core as core_module
from apollo_fake import fixtures
from apollo_fake import server as server_module
from apollo_fake.fake import Fake
from apollo_fake.server import LiveServer
from apollo_fake.tls import Authority

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


def test_each_request_on_a_connection_gets_an_environ_of_its_own(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The environ starts from what the connection's requests share: what an app writes
    # into one, or a header one sent, is not in the next; wsgi.errors is stderr as it
    # is at each request (a test may have captured it meanwhile).
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(dict(environ))
        environ["apollo_fake.test.written"] = True
        return fake.app(environ, start_response)

    with LiveServer(app) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            sock = Wire(raw)
            sock.send(get("/account", "X-First: 1\r\n"))
            assert sock.response().status == 200
            captured = io.StringIO()
            monkeypatch.setattr(sys, "stderr", captured)
            sock.send(get("/account"))
            assert sock.response().status == 200
    first, second = seen
    assert first["HTTP_X_FIRST"] == "1" and "HTTP_X_FIRST" not in second
    assert "apollo_fake.test.written" not in second
    assert second["wsgi.errors"] is captured and first["wsgi.errors"] is not captured
    assert second["REMOTE_PORT"] == first["REMOTE_PORT"]  # the same connection


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        pytest.param("200 OK", [("X-Bad", "a\r\nb")], b"{}", id="newline-in-header"),
        pytest.param("200 OK", [("Content-Length", "10")], b"{}", id="body-shorter-than-length"),
        pytest.param("99 Odd", [], b"{}", id="status-under-100"),
        pytest.param("OK", [], b"{}", id="status-without-code"),
        pytest.param("200 OK", [("X-Name", "caf\u00e9\u2603")], b"{}", id="header-not-latin-1"),
        # A name that is a status the server has seen: checked as a name all the same.
        pytest.param("200 OK", [("200 OK", "x")], b"{}", id="header-named-like-a-status"),
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


@pytest.mark.parametrize("inline", [True, False], ids=["on-the-loop", "in-the-pool"])
@pytest.mark.parametrize("fails", ["raises", "yields-text", "raises-reading"])
def test_an_app_that_fails_is_a_logged_json_500_and_the_server_goes_on(
    fails: str, inline: bool, caplog: pytest.LogCaptureFixture
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/fine":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        if fails == "raises":
            raise RuntimeError("the app broke")
        start_response("200 OK", [("Content-Type", "application/json")])
        if fails == "yields-text":
            return ["{}"]  # text, not bytes: WSGI carries bytes

        def broken() -> Any:
            raise RuntimeError("the app broke while its answer was read")
            yield b""

        return broken()

    with LiveServer(app, inline=inline) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            sock = Wire(raw)
            sock.send(get("/anything"))
            response = sock.response()
            assert_json_error(response, 500)
            assert "Traceback" not in response.body.decode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            sock = Wire(raw)
            sock.send(get("/fine"))
            assert sock.response().status == 200
    assert "apollo-fake's server failed" in caplog.text


def test_another_app_gets_the_path_decoded_as_wsgi_has_it() -> None:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    with LiveServer(app) as server:
        for target in ("/a%20b", "http://127.0.0.1/abs%C3%A9", "/keep%2Fslash"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
                sock = Wire(raw)
                sock.send(f"GET {target} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
                assert sock.response().status == 200
    # Latin-1 strings of the bytes (PEP 3333); %2F stays, as on every way in.
    assert seen == ["/a b", "/abs\u00c3\u00a9", "/keep%2Fslash"]


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
    # as many connections at once as it has threads, as before. On asyncio's own
    # loop, whose accept() is Python's and can fail here; uvloop accepts in libuv,
    # which keeps a spare descriptor for exactly this.
    monkeypatch.setattr(server_module, "uvloop", None)
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
    (uvloop,) = [r for r in wanted if r.name == "uvloop"]
    assert "<" in str(uvloop.specifier)
    if uvloop.marker is None or uvloop.marker.evaluate():  # built for this platform
        assert uvloop.specifier.contains(version("uvloop")), (uvloop, version("uvloop"))
        assert server_module.uvloop is not None, "the server runs on uvloop where it is built"


# --- what the tests above leave out: pipelined batches cut short, clients gone while
# an answer waits, a reset or a stop while a request waits on the event loop.


def wait_until(done: Any, what: str) -> None:
    """Poll ``done()`` until it is true; fail naming ``what`` if it never is (a hang guard)."""
    for _ in range(1000):
        if done():
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"never: {what}")


def test_a_drop_in_a_pipelined_batch_ends_every_request_after_it(
    connect: Any, fake: Fake
) -> None:
    before = fixtures.dumps(fake.state())
    fake.faults.add("/timeEntries/71", "GET", drop=True)
    sock = connect()
    sock.send(get("/account") + get("/timeEntries/71") + post(PROJECT, CREATE))
    assert sock.response().status == 200
    assert sock.closed_by_server()  # dropped: not a byte of the second answer
    assert fake.wait_idle(5), f"{fake.in_flight} request(s) left in flight"
    assert fixtures.dumps(fake.state()) == before  # the create after the drop never ran


def test_a_client_gone_while_its_answer_is_delayed_leaves_nothing_in_flight_or_written(
    connect: Any, fake: Fake
) -> None:
    before = fixtures.dumps(fake.state())
    fake.faults.add(PROJECT, "POST", delay_ms=60000)
    sock = connect()
    sock.send(post(PROJECT, CREATE))
    wait_until(lambda: fake.in_flight == 1, "the create is held")
    sock.sock.close()
    # The delay is cut short by the hang-up: no answer is made for nobody.
    assert fake.wait_idle(5), "the held request outlived its client"
    assert fixtures.dumps(fake.state()) == before
    assert [r for r in fake.journal if r["method"] == "POST"] == []


def test_a_client_gone_right_after_a_pipelined_batch_logs_nothing(
    connect: Any, fake: Fake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    sock = connect()
    sock.send(get("/timeEntries/71") * 300)
    # A reset, not a close: the server's answers to the batch meet a connection gone.
    sock.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.sock.close()
    assert fake.wait_idle(5), f"{fake.in_flight} request(s) left in flight"
    after = connect()  # the server goes on
    after.send(get("/timeEntries/71"))
    assert after.response().status == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.fixture
def long_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a reset wait long for the requests begun before it, were it to wait for them."""
    monkeypatch.setattr(core_module, "SETTLE_SECONDS", 60.0)


RESET = b"POST /_fake/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"


def test_a_reset_answers_at_once_while_a_body_is_still_arriving(
    connect: Any, fake: Fake, long_settle: None
) -> None:
    before = fixtures.dumps(fake.state())
    sock = connect()
    sock.send(post(PROJECT, CREATE)[:-5])  # begun: its head is in, its body is not
    wait_until(lambda: fake.in_flight == 1, "the create is begun")
    control = connect()
    control.send(RESET)
    # The reset runs on the event loop that would read the body: it cannot wait for it
    # (the socket's timeout is the hang guard).
    assert control.response("POST").status in (200, 204)
    sock.send(CREATE[-5:])
    assert_json_error(sock.response("POST"), 503)  # its test is over: superseded
    assert fake.wait_idle(5)
    assert fixtures.dumps(fake.state()) == before


def test_a_reset_answers_at_once_while_a_delayed_request_holds_a_pipelined_one(
    connect: Any, fake: Fake, long_settle: None
) -> None:
    before = fixtures.dumps(fake.state())
    fake.faults.add("/timeEntries/71", "GET", delay_ms=60000)
    sock = connect()
    sock.send(get("/timeEntries/71") + post(PROJECT, CREATE))
    wait_until(lambda: fake.in_flight == 2, "both requests are begun")
    control = connect()
    control.send(RESET)
    assert control.response("POST").status in (200, 204)
    assert_json_error(sock.response(), 503)  # the delay is cut short by the reset
    assert_json_error(sock.response("POST"), 503)  # begun before it: superseded
    assert fake.wait_idle(5)
    assert fixtures.dumps(fake.state()) == before


def test_fake_reset_from_python_cuts_a_delay_short_and_the_pipeline_is_superseded(
    connect: Any, fake: Fake
) -> None:
    fake.faults.add("/timeEntries/71", "GET", delay_ms=60000)
    sock = connect()
    sock.send(get("/timeEntries/71") + get("/timeEntries/81"))
    wait_until(lambda: fake.in_flight == 2, "both requests are begun")
    fake.reset()
    assert_json_error(sock.response(), 503)
    # Arrived before the reset, answered after it: its test is over, read or write.
    assert_json_error(sock.response(), 503)
    assert fake.wait_idle(5)
    assert not fake.requests()  # journaled nowhere the new test sees


def answer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("apollo-fake:")]


def test_a_stop_cuts_long_delays_short_at_its_deadline_and_leaves_no_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stop waits STOP_S for answers in flight, delayed ones too (test_shutdown_security
    # holds that); a delay longer than that is given up, its thread freed, its request ended.
    monkeypatch.setattr(server_module, "STOP_S", 0.3)
    before = set(answer_threads())
    fake = Fake(small_doc(), today=TODAY)
    fake.faults.add("/account", "GET", delay_ms=60000, times=None)
    socks = []
    with LiveServer(fake.app) as server:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            socks.append(sock)
            sock.send(get("/account"))
        wait_until(lambda: fake.in_flight == 3, "the three requests are held")
    try:
        assert fake.wait_idle(5), f"{fake.in_flight} delayed request(s) outlived the stop"
        wait_until(lambda: set(answer_threads()) <= before, "the server's threads end")
        for sock in socks:
            assert Wire(sock).closed_by_server()
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_upgrade_request_with_a_body_is_answered_with_it_and_smuggles_nothing(
    connect: Any, fake: Fake, framing: str
) -> None:
    # llhttp skips the body of a request that asks to upgrade, and would read it as
    # the next request: a DELETE hidden in a create's body would run.
    smuggled = b"DELETE /timeEntries/71 HTTP/1.1\r\nHost: a\r\n\r\n"
    body = json.dumps({"time-entry": {"seconds": "60", "notes": smuggled.decode()}}).encode()
    head = f"POST {PROJECT} HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
    if framing == "length":
        sent = f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    else:
        sent = f"{head}Transfer-Encoding: chunked\r\n\r\n{len(body):x}\r\n".encode()
        sent += body + b"\r\n0\r\n\r\n"
    sock = connect()
    sock.send(sent + get("/timeEntries/71"))
    created = sock.response("POST")
    assert (created.status, created.json()) == (201, {"time-entry-id": "81"})
    assert sock.response().status == 200  # 71 is still there: nothing was smuggled
    entry = fake.entry(81)
    assert entry is not None and entry.notes == smuggled.decode()
    assert [r["method"] for r in fake.journal] == ["POST", "GET"]
    assert fake.wait_idle(5)


def test_a_connect_request_with_a_body_is_refused_and_smuggles_nothing(
    connect: Any, fake: Fake
) -> None:
    before = fixtures.dumps(fake.state())
    smuggled = post(PROJECT, CREATE)
    sock = connect()
    head = f"CONNECT a:1 HTTP/1.1\r\nHost: a\r\nContent-Length: {len(smuggled)}\r\n\r\n"
    sock.send(head.encode())
    sock.send(smuggled)
    assert_json_error(sock.response(), 400)
    assert sock.closed_by_server()
    assert fixtures.dumps(fake.state()) == before
    assert fake.wait_idle(5)


# --- over TLS: the HTTPS port reads a connection's first byte before its handshake.


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority()


def test_a_silent_connection_on_the_https_port_costs_the_next_ones_nothing(
    monkeypatch: pytest.MonkeyPatch, authority: Authority
) -> None:
    # Closed at the read deadline while its first byte was awaited: its descriptor was
    # left in the event loop's selector, and the next connection given the same
    # number was never read.
    monkeypatch.setattr(server_module, "READ_TIMEOUT", 0.3)
    context = authority.client_context()
    with LiveServer(Fake(small_doc(), today=TODAY).app, tls=authority) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as silent:
            assert Wire(silent).closed_by_server()  # past the deadline
        for _ in range(3):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                wire = Wire(sock)
                wire.send(get("/timeEntries/71"))
                assert wire.response().status == 200


def test_a_stop_over_tls_leaves_no_socket_behind(authority: Authority) -> None:
    # Connections awaiting their first byte, handshakes half done, a plain-HTTP client
    # being refused and one closed after its answer (its TLS goodbye never comes):
    # each is closed by the stop, none left for the garbage collector to find open.
    context = authority.client_context()
    with contextlib.ExitStack() as clients:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            live = LiveServer(Fake(small_doc(), today=TODAY).app, tls=authority).start()
            try:

                def connect() -> socket.socket:
                    raw = socket.create_connection(("127.0.0.1", live.port), timeout=10)
                    return clients.enter_context(raw)

                for _ in range(3):
                    connect()  # sends nothing
                for _ in range(3):
                    connect().send(b"\x16\x03\x01\x00\x50")  # a ClientHello, cut short
                plain = Wire(connect())
                plain.send(get("/account"))
                assert_json_error(plain.response(), 400)
                closing = Wire(clients.enter_context(
                    context.wrap_socket(connect(), server_hostname="127.0.0.1")
                ))
                closing.send(get("/account", "Connection: close\r\n"))
                assert closing.response().status == 200
                server = live._server
                assert server is not None
                wait_until(
                    lambda: len(server._waiting) == 3 and len(server._handshakes) == 3,
                    "the server holds every connection",
                )
            finally:
                live.stop()
            gc.collect()
        assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


def test_a_tls_client_gone_right_after_a_pipelined_batch_logs_nothing(
    authority: Authority, caplog: pytest.LogCaptureFixture
) -> None:
    # Over TLS nothing tells the server that a write failed before connection_lost:
    # the answers to one read must go in one write, or asyncio logs each one after.
    caplog.set_level(logging.DEBUG, logger="asyncio")
    fake = Fake(small_doc(), today=TODAY)
    context = authority.client_context()
    with LiveServer(fake.app, tls=authority) as server:
        for _ in range(3):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                sock.sendall(get("/timeEntries/71") * 300)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert fake.wait_idle(5), f"{fake.in_flight} request(s) left in flight"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_an_unknown_method_pipelined_after_others_is_a_405_and_the_line_goes_on(
    connect: Any, fake: Fake
) -> None:
    # llhttp refuses a method outside its list; after the requests before it in the
    # same read, it is found and read as the method it is, as at a read's start.
    brew = b"BREW /account HTTP/1.1\r\nHost: a\r\n\r\n"
    sock = connect()
    sock.send(get("/account") + post(PROJECT, CREATE) + brew + get("/timeEntries/81"))
    assert sock.response().status == 200
    assert sock.response("POST").status == 201
    refused = sock.response()
    assert_json_error(refused, 405)
    assert refused.headers["allow"] == "GET, HEAD"
    assert not refused.will_close
    assert sock.response().json()["time-entry"]["seconds"] == "60"
    assert fake.wait_idle(5)


def test_a_logged_server_gives_up_a_delayed_answer_when_its_client_is_gone() -> None:
    # A hang-up reaches the held answer with the log on too, and the log says that
    # nothing was sent ("-"), as for a drop.
    fake = Fake(small_doc(), today=TODAY)
    before = fixtures.dumps(fake.state())
    fake.faults.add(PROJECT, "POST", delay_ms=60000)
    log = io.StringIO()
    with LiveServer(fake.app, log=log) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(post(PROJECT, CREATE))
            wait_until(lambda: fake.in_flight == 1, "the create is held")
        assert fake.wait_idle(5), "the held request outlived its client"
    assert fixtures.dumps(fake.state()) == before
    assert re.fullmatch(rf"POST {PROJECT} - \d+\.\dms\n", log.getvalue()), log.getvalue()


def test_nothing_pipelined_after_connection_close_is_begun_or_answered(
    connect: Any, fake: Fake
) -> None:
    before = fixtures.dumps(fake.state())
    fake.faults.add("/timeEntries/71", "GET", delay_ms=200)
    sock = connect()
    closing = get("/timeEntries/71", "Connection: close\r\n")
    sock.send(get("/account") + closing + post(PROJECT, CREATE) + post(PROJECT, CREATE)[:-3])
    assert sock.response().status == 200
    answer = sock.response()  # the delayed one, then the end
    assert (answer.status, answer.will_close) == (200, True)
    assert sock.closed_by_server()
    assert fake.wait_idle(5)
    assert fixtures.dumps(fake.state()) == before
    assert [r["path"] for r in fake.journal] == ["/account", "/timeEntries/71"]


def test_a_pipelined_line_with_a_delay_a_head_and_an_expect_is_answered_in_order(
    connect: Any, fake: Fake
) -> None:
    fake.faults.add("/timeEntries/71", "GET", delay_ms=200)
    expecting = post(PROJECT, CREATE, "Expect: 100-continue\r\n")[: -len(CREATE)]
    head = get("/timeEntries/71").replace(b"GET", b"HEAD", 1)
    sock = connect()
    sock.send(get("/timeEntries/71") + head + expecting)
    assert sock.response().json()["time-entry"]["id"] == "71"  # the delayed one first
    headed = sock.response("HEAD")
    assert headed.status == 200 and int(headed.headers["content-length"]) > 0
    assert sock.response().status == 100  # asked once the line before it is answered
    sock.send(CREATE)
    created = sock.response("POST")  # read right after the HEAD: no body bytes between
    assert (created.status, created.json()) == (201, {"time-entry-id": "81"})
    assert fake.wait_idle(5)


def test_a_malformed_request_after_good_ones_is_refused_once_they_are_answered(
    connect: Any, fake: Fake
) -> None:
    fake.faults.add("/timeEntries/71", "GET", delay_ms=200)
    sock = connect()
    bad = b"GET /account HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n"
    sock.send(get("/account") + get("/timeEntries/71") + bad + post(PROJECT, CREATE))
    assert [sock.response().status for _ in range(2)] == [200, 200]
    refused = sock.response()
    assert_json_error(refused, 400)
    assert refused.will_close
    assert sock.closed_by_server()
    assert fake.wait_idle(5)
    assert [r["path"] for r in fake.journal] == ["/account", "/timeEntries/71"]


@pytest.mark.parametrize("extra", [0, 1], ids=["at-the-guard", "one-byte-over"])
def test_a_chunked_state_upload_is_read_up_to_the_guard_and_refused_past_it_naming_it(
    connect: Any, fake: Fake, extra: int
) -> None:
    # PUT /_fake/state takes far more than the server's guard, so the guard is what a
    # larger upload meets: its 413 names the guard, not an Apollo call's 1 MiB.
    doc = fixtures.dumps(fake.state())
    body = doc + b" " * (server_module.BODY_GUARD - len(doc) + extra)
    sock = connect()
    head = b"PUT /_fake/state HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    step = 1024 * 1024
    chunks = [b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
              for i in range(0, len(body), step)]
    with contextlib.suppress(ConnectionError):  # the server may stop reading past the guard
        sock.sock.sendall(head + b"".join(chunks) + b"0\r\nX-Trailer: 1\r\n\r\n")
    response = sock.response("PUT")
    if extra:
        assert_json_error(response, 413)
        guard = server_module.BODY_GUARD // (1024 * 1024)
        assert response.json()["error"]["message"] == (
            f"The request body is larger than {guard} MiB"
        )
    else:
        assert response.status == 200, response.body
    assert fixtures.dumps(fake.state()) == doc


def test_hundreds_of_idle_connections_neither_stop_an_answer_nor_the_stop() -> None:
    fake = Fake(small_doc(), today=TODAY)
    with contextlib.ExitStack() as clients:
        with LiveServer(fake.app) as server:
            idle = [
                clients.enter_context(
                    socket.create_connection(("127.0.0.1", server.port), timeout=10)
                )
                for _ in range(500)
            ]
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
                wire = Wire(raw)
                wire.send(get("/timeEntries/71"))
                assert wire.response().status == 200
        assert all(Wire(sock).closed_by_server() for sock in idle)


def test_a_100_mib_body_streamed_to_a_call_is_refused_at_once_and_changes_nothing(
    connect: Any, fake: Fake
) -> None:
    before = fixtures.dumps(fake.state())
    sock = connect()
    size = 100 * 1024 * 1024
    sock.send(f"POST {PROJECT} HTTP/1.1\r\nHost: a\r\nContent-Length: {size}\r\n\r\n".encode())

    def stream() -> None:
        with contextlib.suppress(OSError):  # the server stops reading after a while
            for _ in range(100):
                sock.sock.sendall(b"x" * (1024 * 1024))

    streaming = threading.Thread(target=stream)
    streaming.start()
    response = sock.response("POST")
    streaming.join(timeout=30)
    assert_json_error(response, 413)
    assert response.will_close
    assert fake.wait_idle(5)
    assert fixtures.dumps(fake.state()) == before
