"""The HTTP server: an event loop and httptools, in a thread of the caller's process or
as ``apollo-fake serve``.

One server for every role (the plugin's ``apollo_url``, ``Fake.serve()``,
``apollo-fake serve`` and ``run``), so that a request gets the same answer
whichever carries it. Connections are held by an event loop, uvloop's (libuv)
where it is built and asyncio's own elsewhere, through asyncio's documented API
(``Protocol``, ``create_server``, ``connect_accepted_socket``, ``add_reader``);
httptools (the binding to llhttp, the parser of Node.js) parses the requests
through its documented ``HttpRequestParser`` callbacks. Neither writes an answer:
every byte sent is the app's answer or the contract's JSON error, rendered by
:func:`apollo_fake.errors.render` (and the 204, no body, of the server's own
readiness probe, a secret path no client names).

Why not a WSGI server off the shelf: each one measured answers from a pool of
threads, handing every request from the thread that reads it to the one that
runs the app and back; for the fake's app, whose answer takes a small part of
that hand-off, the hand-off is most of the cost (see ``make bench``). Here the
fake's app is called on the event loop itself, where the request was parsed.
An answer that would wait (a ``delay_ms`` fault) is marked by the app
(:data:`apollo_fake.web.wire.HELD`) and finished in a pool thread, so that it
holds only its own request. Any other WSGI app (``LiveServer(app)``) may block,
and is called in the pool: the server is a plain threaded WSGI server for it.

What the server does beyond parsing:

- a request's head must arrive whole within the read timeout from its first
  byte, and its body within the read timeout from the end of its head; past the
  deadline, a 408 and a close. A connection idle that long between requests is
  closed;
- every refusal (a bad request line or header, a head or URL over the limit, a
  body over the guard, a read deadline, an HTTP version other than 1.0 and 1.1)
  is the contract's JSON error and closes the connection, after reading what the
  client still sends for a moment, so that it reads the answer instead of a reset;
- the head is read strictly: a doubled ``Content-Length`` or ``Host``, or a
  ``Content-Length`` beside ``Transfer-Encoding``, is a 400 (RFC 9112 section
  6.1: a request framed two ways is how requests are smuggled); header names
  with an underscore are not passed on, and repeated headers are joined with
  commas, as Werkzeug does;
- the app's answer is checked before a byte of it is sent (a status, header or
  length the protocol would not carry is a JSON 500 instead);
- an app that raises :class:`ConnectionAbortedError` (a ``drop`` fault) has its
  connection closed without a byte written;
- with TLS, a connection whose first byte is not a TLS handshake record is
  answered with the contract's JSON 400 in plain text, saying to use https, and
  one whose handshake fails is closed.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import email.utils
import http.client
import logging
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from io import BytesIO
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO, cast

import httptools

from .errors import (
    MAX_BODY,
    ApolloError,
    BadRequest,
    InternalError,
    PayloadTooLarge,
    RequestTimeout,
)
from .web.api import is_apollo_call
from .web.wire import (
    BEGUN,
    CHECKED,
    HEAD_LIMIT,
    HELD,
    LENGTH_AND_CHUNKED,
    QUIET,
    URL_LIMIT,
    HeadTooLarge,
    UriTooLong,
    body_limit,
    not_http,
    path_info,
    refusal_answer,
)

uvloop: Any
try:
    import uvloop
except ImportError:  # not built for Windows: asyncio's own loop there
    uvloop = None

if TYPE_CHECKING:
    from .core import Core
    from .recorder import Recorder
    from .tls import Authority

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

log = logging.getLogger("apollo_fake")

SERVER_NAME = "apollo-fake"
# A client gets this long to send a request's head or body, and a connection
# idle this long between requests is closed; a read past it is a 408.
READ_TIMEOUT: float = 10
DEFAULT_THREADS = 10  # answers made at once off the event loop: delayed ones, or another app's
# A body larger than this is refused before the app sees it; the app's own limit
# (1 MiB; PUT /_fake/state's is larger) is below it.
BODY_GUARD = 16 * 1024 * 1024
DRAIN_S = 1.0  # after a refusal: read what the client still sends this long...
DRAIN_BYTES = BODY_GUARD  # ...or this much, so that the client sees the answer
STOP_S = 3.0  # a stop waits this long for answers in flight
STOP_GRACE_S = 0.5  # ...and this long for the pool's threads once the rest is cut short
BACKLOG = 128
LOG_EVERY_S = 0.05  # a request's log line is written at most this long after its answer
PLAIN_ON_TLS = "This port speaks HTTPS only, and the request came as plain HTTP: use https://."
_TLS_HANDSHAKE = b"\x16"  # the first byte of every TLS connection: a handshake record
_VERSIONS = ("1.0", "1.1")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_STATUS = re.compile(r"[1-5][0-9][0-9](?: [\t -~\x80-\xff]*)?\Z")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NO_BODY = (204, 304)
# What llhttp says, in the contract's words where they differ.
_PARSER_REASONS = {
    "Duplicate Content-Length": "Content-Length is given twice",
    "Transfer-Encoding can't be present with Content-Length": LENGTH_AND_CHUNKED,
    "Content-Length can't be present with Transfer-Encoding": LENGTH_AND_CHUNKED,
    "Invalid character in Content-Length": "Content-Length is not a number",
}
_PARSER_REFUSALS: dict[str, Callable[[], ApolloError]] = {
    "Chunk size overflow": PayloadTooLarge,  # a chunk declared over 2**64 bytes
}
_DROP = None  # what an answer is when the app dropped the connection
_FAILED: list[bytes] = []  # ... and when the app raised (its own object): a JSON 500
_KEPT = 1024  # entries of each memo below
_KEPT_TEXT = 256  # a longer status, header or request target is worked out each time


class _Memo(dict[Any, Any]):
    """What was worked out for a key a client or an app sends again and again.

    Bounded in count (the keys' length is bounded by their callers): full, it starts
    again empty, so that keys that change (a Location naming a new entry) cost one
    miss each and crowd nothing out for long. Read and written from the loop and
    the pool threads, one dict operation at a time.
    """

    def keep(self, key: Any, value: Any) -> None:
        """Remember a value, forgetting everything first if full."""
        if len(self) >= _KEPT:
            self.clear()
        self[key] = value


# Statuses, and headers (with their line, name lower-cased and value), that answers
# gave and HTTP carries; methods llhttp read, as strings.
_GOOD_STATUSES = _Memo()
_GOOD_LINES = _Memo()
_METHOD_NAMES = _Memo()


def _method_name(method: bytes) -> str:
    """Return a method llhttp read as a string, one string per method."""
    name: str | None = _METHOD_NAMES.get(method)
    if name is None:
        name = method.decode("latin-1")
        _METHOD_NAMES.keep(method, name)
    return name


_UNKNOWN_METHOD = "Invalid method encountered"  # llhttp's words
_METHOD = re.compile(rb"[A-Z][A-Z0-9_-]*")  # a method llhttp may not know, upper case
_METHOD_LIMIT = 32


class ServerError(RuntimeError):
    """The live server could not be started."""


class _Refused(Exception):
    """Raised in a parser callback: read no more; refuse with ``err`` (if any) after
    answering what came before."""

    def __init__(self, err: ApolloError | None) -> None:
        super().__init__(err.message if err is not None else "")
        self.err = err


_dates: list[Any] = [0, b""]


def _http_date() -> bytes:
    """Return the Date header's value, made at most once a second."""
    now = int(time.time())
    if _dates[0] != now:
        _dates[:] = [now, email.utils.formatdate(now, usegmt=True).encode("ascii")]
    date: bytes = _dates[1]
    return date


_SERVER_LINE = f"\r\nServer: {SERVER_NAME}\r\n\r\n".encode()


def _wire_bytes(status: str, lines: list[str], body: bytes, protocol: str) -> bytes:
    """Return an answer as it goes on the wire, from its status and its header lines."""
    head = "".join([protocol, " ", status, "\r\n", *lines, "Date: "])
    return b"".join((head.encode("latin-1"), _http_date(), _SERVER_LINE, body))


def _refusal_bytes(err: ApolloError, protocol: str = "HTTP/1.1") -> bytes:
    """Return a whole refusal as it goes on the wire: status line, headers, JSON body."""
    line, headers, body = refusal_answer(err)
    return _wire_bytes(line, [f"{k}: {v}\r\n" for k, v in headers], body, protocol)


class _Answer:
    """What a request's answer is once made: the bytes to send, whether to close after,
    and its status code (for the request log)."""

    __slots__ = ("data", "close", "code")

    def __init__(self, data: bytes, close: bool, code: str) -> None:
        self.data = data
        self.close = close
        self.code = code


def _failed() -> _Answer:
    """Return the answer to a request the app failed on: the contract's JSON 500."""
    return _Answer(_refusal_bytes(InternalError()), True, "500")


def _head_lines(answer: list[Any], body: bytes, method: str) -> tuple[str, list[str], str | None]:
    """Return the app's status, its header lines as sent, and its Connection header
    (lower-cased, None if it gave none), raising ValueError if HTTP cannot carry them.

    Statuses and header lines already found good are remembered (an app answers
    with the same few), so a header is checked once, not on every answer.
    """
    if not answer:
        raise ValueError("the app did not call start_response")
    status, headers = answer[0], answer[1]
    if status not in _GOOD_STATUSES:
        if not isinstance(status, str) or not _STATUS.match(status):
            raise ValueError(f"the status {status!r} is not a code and a reason")
        if len(status) <= _KEPT_TEXT:
            _GOOD_STATUSES.keep(status, True)
    lines = []
    lengths = []
    connection = None
    good = _GOOD_LINES
    for header in headers:
        found = good.get(header) if type(header) is tuple else None
        if found is None:
            name, value = header  # a pair, or ValueError
            found = _header_line(name, value)
            if type(header) is tuple and len(name) + len(value) <= _KEPT_TEXT:
                good.keep(header, found)
        line, lower, value = found
        lines.append(line)
        if lower == "content-length":
            lengths.append(value)
        elif lower == "connection":
            connection = value
    code = int(status[:3])
    if not lengths and code >= 200 and code not in _NO_BODY:
        lines.append(f"Content-Length: {len(body)}\r\n")
    elif lengths and method != "HEAD" and lengths != [str(len(body))]:
        raise ValueError(f"Content-Length {lengths} does not match the body ({len(body)})")
    return status, lines, None if connection is None else connection.lower()


def _header_line(name: Any, value: Any) -> tuple[str, str, str]:
    """Return a header's line as sent, its name lower-cased and its value, or raise
    ValueError."""
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise ValueError(f"the header {name!r} cannot be sent")
    if not isinstance(value, str) or _BAD_VALUE.search(value):
        raise ValueError(f"the header {name!r} cannot be sent")
    line = f"{name}: {value}\r\n"
    try:
        line.encode("latin-1")
    except UnicodeError:
        raise ValueError(f"the header {name!r} cannot be sent") from None
    return line, name.lower(), value


def _make_answer(
    app: WSGIApp, env: dict[str, Any], fake: Core | None
) -> tuple[Iterable[bytes] | None, list[Any]]:
    """Call the app; return its result (None for a drop) and its start_response record.

    A request that arrived for the fake leaves here if the app did not take it (a
    probe, or a wrapper that answered without it).
    """
    answer: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        answer[:] = [status, headers, written]
        return written.append

    try:
        return app(env, start_response), answer
    except ConnectionAbortedError:
        return _DROP, answer
    except Exception:
        log.exception("apollo-fake's server failed on %s", env.get("REQUEST_URI"))
        return _FAILED, answer
    finally:
        begun = env.pop(BEGUN, None)
        if begun is not None and fake is not None:
            fake.leave(begun)


def _finish(
    result: Iterable[bytes] | None, answer: list[Any], env: dict[str, Any], keep: bool
) -> _Answer | None:
    """Read the app's result whole and make the answer's bytes (None: drop the connection)."""
    if result is _DROP:
        return None
    if result is _FAILED:
        return _failed()
    method = env["REQUEST_METHOD"]
    try:
        if type(result) is list:  # the fake's own apps answer a list: nothing to close
            chunks = result
        else:
            try:
                chunks = list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        body = b"".join([*answer[2], *chunks]) if answer and answer[2] else b"".join(chunks)
    except ConnectionAbortedError:
        return None
    except Exception:
        log.exception("apollo-fake's server failed on %s", env.get("REQUEST_URI"))
        return _failed()
    try:
        status, lines, connection = _head_lines(answer, body, method)
    except (ValueError, TypeError, UnicodeError) as exc:
        log.error("apollo-fake's server made a bad answer to %s: %s", env.get("REQUEST_URI"), exc)
        return _failed()
    close = not keep
    if connection == "close":  # the app's own Connection header says so
        close = True
    protocol = "HTTP/1.1"
    if env["SERVER_PROTOCOL"] == "HTTP/1.0":
        protocol = "HTTP/1.0"
        if not close:
            lines.append("Connection: keep-alive\r\n")
    if close and connection is None:
        lines.append("Connection: close\r\n")
    sent = b"" if method == "HEAD" else body
    return _Answer(_wire_bytes(status, lines, sent, protocol), close, status[:3])


def _probe_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer the server's readiness probe: 204, no body."""
    start_response("204 No Content", [])
    return [b""]


def _answer_whole(
    app: WSGIApp, env: dict[str, Any], fake: Core | None, keep: bool
) -> _Answer | None:
    """Call the app and make its answer, all in the calling thread."""
    result, answer = _make_answer(app, env, fake)
    return _finish(result, answer, env, keep)


class _Connection(asyncio.Protocol):
    """One client connection: parse its requests, answer them in order."""

    def __init__(self, server: Server, secure: bool = False) -> None:
        self.server = server
        self.secure = secure
        self.loop = server.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, str] = ("", "0")  # address and port, as the environ has them
        self.base: dict[str, Any] = {}  # the environ's keys shared by its requests
        # Requests parsed and not yet answered, in order; a refusal ends the line.
        self.queue: collections.deque[dict[str, Any] | ApolloError] = collections.deque()
        self.waiting: list[bytes] = []  # bytes that came while an answer was made in the pool
        self.busy = False  # an answer is being made in the pool
        self.closing = False  # nothing more is read as requests
        self.closed = False
        self.timer: asyncio.TimerHandle | None = None  # the end of a drain
        self.due: float | None = None  # the loop's time when ``then`` is called
        self.then: Callable[[], None] = self._idle
        self.in_request = False  # a request has begun and is not complete
        self.draining = False  # closing: what the client still sends is read and dropped
        self.drained = 0
        self.method = ""  # a method llhttp does not know, as sent (see _feed_other_method)
        self.begun: Recorder | None = None  # the fake's, for the request being read
        self.held: Any = None  # a held answer being read in the pool (see _in_pool)
        self.unparsed = b""
        self.completed = 0  # requests completed by the current feed
        self.replay: bytes | None = None  # an upgrade's head, to read again (see _replay_head)
        self.out: list[bytes] | None = None  # answers made by one read, sent together
        self._reset_request()

    def _reset_request(self) -> None:
        self.url = b""
        self.head = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.names: set[bytes] = set()
        self.body: list[bytes] = []
        self.body_size = 0
        self.expect = False
        self.has_body = False
        self.length = 0  # as Content-Length declares it
        self.target = ""  # the request target, decoded once its head is in
        self.path = ""  # its path as the app routes on it (wire.path_info)

    # --- asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start reading requests; the idle deadline runs from now."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = (str(peer[0]), str(peer[1]))
        self.server.connections.add(self)
        self.base = self.server.environ_base(self.peer, self.secure)
        self._deadline(self._idle)

    def data_received(self, data: bytes) -> None:
        """Parse what came; answer each request completed."""
        if self._gone():
            return
        if self.closing:
            self._drained(len(data))
            return
        if self.busy:
            self.waiting.append(data)
            if sum(map(len, self.waiting)) > HEAD_LIMIT:
                self.transport.pause_reading()  # type: ignore[union-attr]
            return
        self.out = []
        try:
            self._feed(data)
            if self.queue:
                self._pump()
        finally:
            self._flush()

    def eof_received(self) -> bool | None:
        """The client sent all it will: answer what is complete, then close.

        But for a delayed answer (a ``delay_ms`` fault): TCP cannot tell a client that
        hung up from one that only finished sending, and a client that gives up on a
        slow answer hangs up. The answer is given up, unmade, and changes nothing.
        """
        if self.held is not None:
            self._close()
            return None
        if not self.busy and not self.queue:
            self._close()
        # Keep the write side open for answers still to come (TLS cannot half-close).
        return None if self.secure else True

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection, and what it still holds of its requests.

        The parser and the connection refer to each other: a cycle, which only the
        cyclic collector frees, with whatever it holds then (a head of 64 KiB).
        """
        self.closed = True
        self.closing = True
        self._cancel_deadline()
        self._abandon()
        self._discard_queue()
        self._cancel_held()
        self.server.connections.discard(self)
        self._reset_request()
        self.waiting, self.unparsed, self.replay, self.out = [], b"", None, None

    # --- httptools' callbacks

    def on_message_begin(self) -> None:
        """A request's first byte: its head is due within the read timeout."""
        self._reset_request()
        self.in_request = True
        self._deadline(self._timed_out)

    def on_url(self, url: bytes) -> None:
        """Collect the request target, refusing one over the limit."""
        self.url += url
        self.head += len(url)
        if len(self.url) > URL_LIMIT:
            raise _Refused(UriTooLong())

    def on_header(self, name: bytes, value: bytes) -> None:
        """Collect a header, refusing what could be read two ways."""
        self.head += len(name) + len(value) + 4
        if self.head > HEAD_LIMIT:
            raise _Refused(HeadTooLarge())
        key = name.lower()
        if key == b"host":
            if key in self.names:
                raise _Refused(not_http("Host is given twice"))
        elif key == b"content-length":  # llhttp refuses a second one, or one not a number
            self.length = int(value) if value.isdigit() else 0
        elif key == b"expect" and value.lower() == b"100-continue":
            self.expect = True
        self.names.add(key)
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        """Check the head as a whole; the body is due within the read timeout."""
        version = self.parser.get_http_version()
        if version == "0.9":  # how llhttp reads a request line without a version
            raise _Refused(not_http("the request line has no HTTP version"))
        if version not in _VERSIONS:
            err = ApolloError(f"HTTP/{version} is not supported: use HTTP/1.1.")
            err.status = 505
            raise _Refused(err)
        if b"#" in self.url:
            raise _Refused(not_http("the request target has a fragment (#)"))
        length = self.length
        if length > BODY_GUARD:
            raise _Refused(self._too_large())
        self.has_body = bool(length) or b"transfer-encoding" in self.names
        upgrade = self.parser.should_upgrade()
        if upgrade and self.has_body and not self.method and self.parser.get_method() == b"CONNECT":
            # llhttp would skip the body and read it as the next request: refused.
            raise _Refused(not_http("a CONNECT request may not have a body"))
        server = self.server
        self.target, path, apollo = server.read_target(self.url)
        self.path = path
        if apollo:
            self.begun = server.fake.arrive()  # type: ignore[union-attr]  # in flight from now
        if length > MAX_BODY and length > body_limit(path):
            # Refused by the app without reading it: answered now, not once it has come
            # (it may never come), and the connection ends after the answer.
            early = self._environ()
            early[_KEEP] = False
            self.queue.append(early)
            raise _Refused(None)
        if self.has_body:  # the body is due within the timeout from here
            self._deadline(self._timed_out)
        if self.expect and self.has_body and not upgrade:
            self._continue_when_free()

    def on_body(self, body: bytes) -> None:
        """Collect the body, refusing one over the guard."""
        self.body_size += len(body)
        if self.body_size > BODY_GUARD:
            raise _Refused(self._too_large())
        self.body.append(body)

    def on_message_complete(self) -> None:
        """Queue the request, and answer it if nothing is before it."""
        if self.has_body and self.parser.should_upgrade():
            # An Upgrade request with a body: llhttp skips the body, and would read it
            # as the next request (a request smuggled in a body). The server upgrades
            # to nothing: its head is read again without Upgrade, body and all.
            self.replay = self._replay_head()
            self._abandon()  # it arrives again with its head
            return
        self.in_request = False
        self.completed += 1
        env = self._environ()
        self.method = ""
        if self.queue or self.busy or self.closing or self._gone():
            self.queue.append(env)  # after those before it
            self._pump()
            return
        self._answer(env)  # the usual case: nothing before it, answered at once
        if not self.busy and not self.closing:
            self._deadline(self._idle)

    # --- requests

    def _too_large(self) -> PayloadTooLarge:
        """Return the 413 for a body over the guard, naming the limit that refused it.

        The guard is above an Apollo call's limit (whose 413 names it) and below the
        state upload's, so that a state over the guard is told of the guard.
        """
        limit = min(body_limit(path_info(self.url.decode("latin-1"))), BODY_GUARD)
        return PayloadTooLarge(f"The request body is larger than {limit // (1024 * 1024)} MiB")

    def _replay_head(self) -> bytes:
        """Return the head being read as sent, without its Upgrade header."""
        method = self.method.encode("ascii") if self.method else self.parser.get_method()
        version = self.parser.get_http_version().encode("ascii")
        lines = [method + b" " + self.url + b" HTTP/" + version]
        kept = [(name, value) for name, value in self.headers if name.lower() != b"upgrade"]
        lines += [name + b": " + value for name, value in kept]
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _environ(self) -> dict[str, Any]:
        parser = self.parser
        target = self.target
        env = self.base.copy()  # what every request on the connection shares
        env["REQUEST_METHOD"] = self.method or _method_name(parser.get_method())
        env["PATH_INFO"] = self.path  # decoded (but for %2F), as WSGI has it
        env["QUERY_STRING"] = target.partition("?")[2]
        env["REQUEST_URI"] = env["RAW_URI"] = target
        env["SERVER_PROTOCOL"] = "HTTP/" + parser.get_http_version()
        env["wsgi.input"] = BytesIO(b"".join(self.body))
        env["wsgi.errors"] = sys.stderr  # as it is now: a test may capture it
        env[_KEEP] = parser.should_keep_alive()
        if self.begun is not None:  # the app ends it from now on
            env[BEGUN], self.begun = self.begun, None
        keys = _ENVIRON_KEYS
        for name, value in self.headers:
            key = keys.get(name)
            if key is None:
                key = _environ_key(name)
            if not key:
                continue  # X_Token would pass for X-Token: dropped, as Werkzeug does
            val = value.decode("latin-1")
            env[key] = f"{env[key]},{val}" if key in env else val
        if b"transfer-encoding" in self.names:
            env["wsgi.input_terminated"] = True
            env.pop("CONTENT_LENGTH", None)
        return env

    def _pump(self) -> None:
        """Answer the queued requests in order, until one must be made in the pool."""
        while self.queue and not self.busy and not self._gone():
            item = self.queue.popleft()
            if isinstance(item, ApolloError):
                self._refuse(item)
                return
            self._answer(item)
        if self._gone():
            self._discard_queue()  # the client is gone: what it sent is not answered
            return
        if self.closing and not self.busy and not self.queue:
            if not self.draining:
                self._drain_then_close()
            return
        if not self.busy and not self.closed:
            if self.waiting:
                waiting, self.waiting = self.waiting, []
                self.transport.resume_reading()  # type: ignore[union-attr]
                for data in waiting:
                    if self.closing or self.busy:
                        self.waiting.append(data)
                    else:
                        self._feed(data)
                if not self.busy and self.queue:
                    self._pump()
                    return
            if self.expect and self.in_request:
                self._continue_when_free()
            if not self.in_request and not self.queue and not self.busy and not self.closing:
                self._deadline(self._idle)

    def _answer(self, env: dict[str, Any]) -> None:
        """Answer a request now, or start its answer in the pool (then ``busy``)."""
        server = self.server
        keep = bool(env.pop(_KEEP))
        if env["PATH_INFO"] == server.probe:  # neither the app's nor logged
            self._send(_answer_whole(_probe_app, env, server.fake, keep))
            return
        began = time.perf_counter() if server.log is not None else 0.0  # for the log only
        if not server.inline:
            self._in_pool(env, began, _answer_whole, server.app, env, server.fake, keep)
            return
        result, answer = _make_answer(server.app, env, server.fake)
        if env.get(HELD):
            self.held = result
            self._in_pool(env, began, _finish, result, answer, env, keep)
            return
        self._send_logged(env, began, _finish(result, answer, env, keep))

    def _in_pool(
        self, env: dict[str, Any], began: float, make: Callable[..., _Answer | None], *args: Any
    ) -> None:
        """Make an answer in a pool thread; send it from the loop, then go on."""
        self.busy = True
        self._cancel_deadline()
        future = self.loop.run_in_executor(self.server.pool, make, *args)
        answering = self.server.answering
        answering.add(future)
        future.add_done_callback(answering.discard)

        def done(fut: asyncio.Future[_Answer | None]) -> None:
            self.busy = False
            self.held = None
            try:
                answer = fut.result()
            except asyncio.CancelledError:  # given up by a stop
                self._close(abort=True)
                return
            except Exception:  # past every guard of _finish: a bug of the server's
                log.exception("apollo-fake's server failed answering a request")
                answer = _failed()
            self.out = []
            try:
                self._send_logged(env, began, answer)
                self._pump()
            finally:
                self._flush()

        future.add_done_callback(done)

    def _gone(self) -> bool:
        """Tell whether nothing more can be sent: closed here, or by the client (a reset).

        A write that fails closes the transport at once, and its connection_lost comes
        later: until then, requests still parsed must not be answered (or run).
        """
        return self.closed or self.transport is None or self.transport.is_closing()

    def _write(self, data: bytes) -> None:
        if self.out is not None:
            self.out.append(data)
        else:
            self.transport.write(data)  # type: ignore[union-attr]

    def _flush(self) -> None:
        """Send the answers made by one read (or one answer from the pool) in one write.

        A write to a client gone fails and closes the transport, but with TLS nothing
        tells the server so before connection_lost: one write per read, not one per
        pipelined request, keeps asyncio from logging each failed one.
        """
        out, self.out = self.out, None
        if out and not self._gone():
            self.transport.write(b"".join(out))  # type: ignore[union-attr]

    def _send_logged(self, env: dict[str, Any], began: float, answer: _Answer | None) -> None:
        """Send an answer the app made, and log it ("-" for a drop: nothing was sent)."""
        self._send(answer)
        if self.server.log is not None:
            self.server.log.add(env, "-" if answer is None else answer.code, began)

    def _send(self, answer: _Answer | None) -> None:
        if self._gone():
            return
        if answer is None:  # a drop: not a byte, the connection just ends
            self._close(abort=True)
            return
        self._write(answer.data)
        if answer.close:
            self._discard_queue()
            if self.closing:  # reading stopped mid-request: the client may still send
                self._drain_then_close()
            else:
                self._close()

    def _continue_when_free(self) -> None:
        """Ask for the body (100 Continue) once every earlier request is answered."""
        if self.busy or self.queue or self._gone():
            return  # asked again by _pump when the line is free
        self.expect = False
        self._write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _feed(self, data: bytes) -> None:
        if self.unparsed:  # the start of a request line with a method llhttp does not know
            data, self.unparsed = self.unparsed + data, b""
            if self._feed_other_method(data):
                return
        at_start = not self.in_request  # at a request's first byte
        self.completed = 0
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            # An Upgrade or CONNECT request: answered as any other (the app refuses it);
            # what follows its head is read as the next request.
            offset = int(exc.args[0]) if exc.args else len(data)
            self.parser = httptools.HttpRequestParser(self)
            replay, self.replay = self.replay, None
            rest = (replay or b"") + data[offset:]
            if self.method and replay is not None:  # read again as GET, as at first
                rest = b"GET" + rest[len(self.method) :]
            if rest:
                self._feed(rest)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if not isinstance(cause, _Refused):
                log.error("apollo-fake's server failed reading a request", exc_info=cause)
            if cause is not None:
                # The parser keeps it, and its traceback the frames that read the data.
                cause.__traceback__ = None
            self._stop_reading(cause.err if isinstance(cause, _Refused) else InternalError())
        except httptools.HttpParserError as exc:
            reason = str(exc.args[0]) if exc.args else "malformed"
            if reason == _UNKNOWN_METHOD and at_start and not self.closing:
                # After the requests this read completed (pipelined before it).
                start = _end_of_requests(data, self.completed) if self.completed else 0
                if start is not None and self._feed_other_method(data[start:]):
                    return
            refusal = _PARSER_REFUSALS.get(reason)
            err = refusal() if refusal else not_http(_PARSER_REASONS.get(reason, reason))
            self._stop_reading(err)

    def _feed_other_method(self, data: bytes) -> bool:
        """Parse a request whose method llhttp does not know (``BREW``): tell if it can be.

        llhttp knows a fixed list of methods and refuses any other as malformed;
        HTTP allows any token, and the contract answers an unknown method with a
        405: an upper-case one (as methods are written) is read so. The request
        line is parsed with a known method in its place, and the app is given the
        method as sent. It is recognised at the start of
        a read, or after the requests a read completed before it; one that starts
        within a read that began in the middle of a request is refused with a 400.
        """
        space = data.find(b" ", 0, _METHOD_LIMIT + 1)
        if space < 0:
            if len(data) <= _METHOD_LIMIT and _METHOD.fullmatch(data):
                self.unparsed = data  # more is to come
                return True
            return False
        if not _METHOD.fullmatch(data[:space]):
            return False
        self.method = data[:space].decode("ascii")
        self.parser = httptools.HttpRequestParser(self)
        self._feed(b"GET" + data[space:])
        return True

    def _discard_queue(self) -> None:
        """Forget the requests not yet answered: none of them will reach the app."""
        fake = self.server.fake
        while self.queue:
            item = self.queue.popleft()
            if fake is not None and isinstance(item, dict) and BEGUN in item:
                fake.leave(item[BEGUN])

    def _abandon(self) -> None:
        """The request being read will not reach the app: it leaves, for the fake."""
        if self.begun is not None:
            begun, self.begun = self.begun, None
            assert self.server.fake is not None
            self.server.fake.leave(begun)

    def _cancel_held(self) -> None:
        """Give up a held answer: its client is gone, or the server stops."""
        held = self.held
        cancel = getattr(held, "cancel", None)
        if cancel is not None:
            cancel()

    def _stop_reading(self, err: ApolloError | None) -> None:
        """Read no more requests: answer those before, refuse with ``err``, then close."""
        self._abandon()
        self.in_request = False
        if err is not None:
            self.queue.append(err)
        self.closing = True
        self._pump()

    # --- ending

    def _timed_out(self) -> None:
        if self.closed:
            return
        if self.in_request or self.closing:
            if self.closing:
                self._close()
                return
            self._stop_reading(RequestTimeout())
        else:
            self._idle()

    def _idle(self) -> None:
        if not self.busy and not self.queue:
            self._close()

    def _deadline(self, then: Callable[[], None]) -> None:
        """Call ``then`` unless something happens within the read timeout (see Server._sweep).

        A time and a callable, not a timer: this is set several times a request, and
        one sweep a fraction of the timeout serves every connection.
        """
        self.due = self.loop.time() + _read_timeout()
        self.then = then

    def _cancel_deadline(self) -> None:
        self.due = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _refuse(self, err: ApolloError) -> None:
        """Send the contract's error, stop reading requests, and close soon."""
        self.closing = True
        self._discard_queue()
        self._write(_refusal_bytes(err))
        self._drain_then_close()

    def _drain_then_close(self) -> None:
        """Close after reading what the client still sends, for a moment.

        Closing a socket with unread data resets the connection, and the client
        may lose the answer it has not read yet (a 413 sent while the body arrives).
        """
        transport = self.transport
        assert transport is not None
        if self.draining:
            return
        self.draining = True
        self._flush()
        if transport.can_write_eof():
            transport.write_eof()  # the client reads the end of the answer at once
        self._cancel_deadline()
        self.timer = self.loop.call_later(DRAIN_S, self._close)

    def _drained(self, size: int) -> None:
        self.drained += size
        if self.drained > DRAIN_BYTES:
            self._close()

    def _close(self, abort: bool = False) -> None:
        self.closing = True
        self._cancel_deadline()
        if self.closed or self.transport is None:
            return
        self._flush()  # the answers before a drop or a close go first
        self.closed = True  # still among the server's connections until it is lost
        self._discard_queue()
        self._cancel_held()
        if abort:
            self.transport.abort()
        else:
            self.transport.close()

    def stop(self) -> None:
        """Close at once if no answer is in the making; else once it is sent.

        A delayed answer is waited for as any other; one the stop's wait cuts short
        is given up (see Server._begin_stop), its thread freed and its request ended.
        """
        if not self.busy:
            self._close()
        else:
            self._discard_queue()
            self.closing = True


def _environ_key(name: bytes) -> str:
    """Return the environ key of a header name ("" for one not passed on), remembered."""
    text = name.decode("latin-1")
    key = "" if "_" in text else text.upper().replace("-", "_")
    if key and key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    if len(_ENVIRON_KEYS) < _ENVIRON_KEYS_KEPT:
        _ENVIRON_KEYS[name] = key
    return key


# Header names as sent -> environ keys: clients send the same few names again and again.
_ENVIRON_KEYS: dict[bytes, str] = {}
_ENVIRON_KEYS_KEPT = 1024

_KEEP = "apollo_fake.server.keep_alive"  # in the environ until the app is called


class _Count:
    """Parser callbacks that count the requests completed."""

    def __init__(self) -> None:
        self.completed = 0

    def on_message_complete(self) -> None:
        """Count one more."""
        self.completed += 1


def _end_of_requests(data: bytes, count: int) -> int | None:
    """Return where the first ``count`` requests in ``data`` end (None if it cannot tell).

    httptools does not say where in the data it stopped; a fresh parser tells how many
    requests a prefix completes, and the shortest prefix that completes them all (or
    fails, past their end) is found by halving.
    """
    low, high = 0, len(data)
    while low < high:
        middle = (low + high) // 2
        counted = _Count()
        try:
            httptools.HttpRequestParser(counted).feed_data(data[:middle])
        except httptools.HttpParserUpgrade:
            return None
        except httptools.HttpParserError:
            high = middle  # past the requests: at the one the server could not read
            continue
        if counted.completed >= count:
            high = middle
        else:
            low = middle + 1
    return low


def _new_loop() -> asyncio.AbstractEventLoop:
    """Return a new event loop: uvloop's where it is installed, else asyncio's.

    uvloop (libuv, by the makers of httptools) runs the same protocol with its
    loop and transports in C, where asyncio's own loop costs a large part of each
    request (`make bench`). Both are used through asyncio's documented loop API.
    """
    if uvloop is not None:
        return cast(asyncio.AbstractEventLoop, uvloop.new_event_loop())
    return asyncio.SelectorEventLoop()  # on Windows too: the TLS port's peek needs add_reader


def _read_timeout() -> float:
    return READ_TIMEOUT  # read at each use: a test may shorten it


class _PlainOnTLS(asyncio.Protocol):
    """A plain-HTTP client on the HTTPS port: the contract's 400, in plain text, then close."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        plain = self.transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass
        self.server.refused.add(self)
        plain.write(_refusal_bytes(BadRequest(PLAIN_ON_TLS)))
        plain.write_eof()
        self.timer = self.server.loop.call_later(DRAIN_S, plain.close)

    def data_received(self, data: bytes) -> None:
        pass  # drained: the client may still be sending its request

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.cancel()
        self.server.refused.discard(self)


class Server:
    """An HTTP/1.1 server for a WSGI app, on an asyncio event loop of its own thread."""

    def __init__(
        self,
        app: WSGIApp,
        host: str,
        port: int,
        threads: int = DEFAULT_THREADS,
        tls: ssl.SSLContext | None = None,
        inline: bool = False,
        fake: Core | None = None,
        log: TextIO | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.tls = tls
        self.inline = inline  # the app never blocks: call it on the event loop
        self.fake = fake  # the fake whose app this is: its calls begin as their head arrives
        self.pool = concurrent.futures.ThreadPoolExecutor(threads, "apollo-fake:answer")
        self.loop = _new_loop()
        self.loop.set_exception_handler(_log_loop_errors)
        self.log = _RequestLog(log, self.loop) if log is not None else None
        # A secret path the server answers itself (204), to tell when it answers.
        self.probe = "/_apollo_fake_probe/" + secrets.token_hex(8)
        self.connections: set[_Connection] = set()  # from connection_made to connection_lost
        self._targets = _Memo()  # see read_target
        self.answering: set[asyncio.Future[Any]] = set()  # answers being made in the pool
        self.refused: set[_PlainOnTLS] = set()  # plain HTTP on the HTTPS port, being answered
        self.sock: socket.socket | None = None
        self.port_text = str(port)
        self._listener: asyncio.AbstractServer | None = None
        self._stopped = threading.Event()
        # With TLS: connections accepted, their first byte awaited (and the deadline
        # that closes them), and those whose handshake is under way.
        self._waiting: dict[socket.socket, asyncio.TimerHandle] = {}
        self._handshakes: set[asyncio.Task[Any]] = set()

    def read_target(self, url: bytes) -> tuple[str, str, bool]:
        """Return a request target decoded, the path the app routes on, and whether it
        is a call for the fake's app (counted in flight from its head).

        Remembered: a client asks for the same few targets, and the journal then
        keeps one string of each.
        """
        found: tuple[str, str, bool] | None = self._targets.get(url)
        if found is None:
            target = url.decode("latin-1")
            path = path_info(target)
            found = (target, path, self.fake is not None and is_apollo_call(path))
            if len(url) <= _KEPT_TEXT:
                self._targets.keep(url, found)
        return found

    def environ_base(self, peer: tuple[str, str], secure: bool) -> dict[str, Any]:
        """Return the environ's keys that are the same for every request of a connection."""
        env: dict[str, Any] = {
            "SCRIPT_NAME": "",
            "SERVER_NAME": self.host,
            "SERVER_PORT": self.port_text,
            "SERVER_SOFTWARE": SERVER_NAME,
            "REMOTE_ADDR": peer[0],
            "REMOTE_PORT": peer[1],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if secure else "http",
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            CHECKED: True,  # the head's limits were enforced while it was read
        }
        if secure:
            env["HTTPS"] = "on"
        return env

    @property
    def port(self) -> int:
        """Return the port bound (the real one when 0 was asked for), once prepared."""
        if self.sock is None:
            return self.requested_port
        return int(self.sock.getsockname()[1])

    def prepare(self) -> None:
        """Bind and listen, raising ServerError naming the address if that is refused."""
        host, port = self.host, self.requested_port
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host or "0.0.0.0", port))
                sock.listen(BACKLOG)
                sock.setblocking(False)
            except BaseException:
                sock.close()
                raise
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if "Address already in use" in str(exc) or "[Errno 98]" in str(exc):
                reason = "the port is already in use"
            self.close()
            raise ServerError(f"cannot listen on {host}:{port}: {reason}") from None
        self.sock = sock
        self.port_text = str(self.port)  # the environ's SERVER_PORT, made once

    def serve(self) -> None:
        """Serve until :meth:`stop`; the calling thread runs the event loop."""
        loop = self.loop
        sock = self.sock
        assert sock is not None, "prepare() first"
        asyncio.set_event_loop(loop)
        try:
            if self.tls is None:
                self._listener = loop.run_until_complete(
                    loop.create_server(lambda: _Connection(self), sock=sock, backlog=BACKLOG)
                )
            else:
                loop.add_reader(sock.fileno(), self._accept_tls)
            self._sweep_every = min(1.0, _read_timeout() / 4)
            loop.call_soon(self._sweep)
            loop.run_forever()
        finally:
            if self.log is not None:
                self.log.write()
            self._stopped.set()

    def stop(self) -> None:
        """Stop serving: close the connections, wait a little for answers in flight."""
        loop = self.loop
        if loop.is_closed():
            return
        if loop.is_running():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                loop.call_soon_threadsafe(self._begin_stop)
            self._stopped.wait(STOP_S + STOP_GRACE_S + 1)
        self.close()

    def close(self) -> None:
        """Free the loop, the pool and the socket (the loop must not be running)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()

    def _sweep(self) -> None:
        """Call each connection's deadline that has passed; come back in a moment."""
        now = self.loop.time()
        try:
            for conn in list(self.connections):
                if conn.due is not None and conn.due <= now:
                    conn.due = None
                    try:
                        conn.then()
                    except Exception:  # one connection's failure stops no other's deadline
                        log.exception("apollo-fake's server failed ending a connection")
        finally:
            self.loop.call_later(self._sweep_every, self._sweep)

    def _begin_stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        elif self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
        for waiting in list(self._waiting):
            self._forget(waiting)
        for task in self._handshakes:
            task.cancel()  # its transport is closed as the handshake is given up
        for conn in list(self.connections):
            conn.stop()
        deadline = [time.monotonic() + STOP_S]
        cut = [False]

        def check() -> None:
            # A connection closed here whose answer is all sent is not kept for its
            # goodbye (a TLS close_notify the client may never send).
            transports = [c.transport for c in self.connections if c.closed]
            transports += [r.transport for r in self.refused]
            for transport in transports:
                if transport is not None and not transport.get_write_buffer_size():
                    transport.abort()
            now = time.monotonic()
            if now >= deadline[0] and not cut[0]:
                # Past the wait: what is left is cut short. A delayed answer given up
                # frees its thread at once; a moment more lets it return.
                cut[0], deadline[0] = True, now + STOP_GRACE_S
                for conn in list(self.connections):
                    conn._close(abort=True)
                    if conn.transport is not None:
                        conn.transport.abort()
                for refused in list(self.refused):
                    refused.transport.abort()
            busy = self.connections or self._handshakes or self.refused or self.answering
            if not busy or (cut[0] and now >= deadline[0]):
                # After the transports' own callbacks, queued by their close.
                self.loop.call_soon(self.loop.stop)
            else:
                self.loop.call_later(0.02, check)

        check()

    # --- TLS

    def _accept_tls(self) -> None:
        """Accept connections on the HTTPS port; each is read by its first byte."""
        assert self.sock is not None
        for _ in range(BACKLOG):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("apollo-fake could not accept a connection: %s", exc)
                return
            conn.setblocking(False)
            self._waiting[conn] = self.loop.call_later(_read_timeout(), self._forget, conn)
            self.loop.add_reader(conn.fileno(), self._first_byte, conn)

    def _forget(self, conn: socket.socket) -> None:
        """Close a connection whose first byte is awaited (past the deadline, or a stop).

        Its reader goes first: a closed descriptor left in the selector would be
        taken for the next connection given the same number, and that one lost.
        """
        self._stop_waiting(conn)
        conn.close()

    def _stop_waiting(self, conn: socket.socket) -> None:
        timer = self._waiting.pop(conn, None)
        if timer is not None:
            timer.cancel()
            self.loop.remove_reader(conn.fileno())

    def _first_byte(self, conn: socket.socket) -> None:
        """Peek at a connection's first byte: a TLS handshake, or plain HTTP sent by mistake."""
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            first = b""
        if not first:
            self._forget(conn)
            return
        self._stop_waiting(conn)
        factory: Callable[[], asyncio.Protocol]
        if first == _TLS_HANDSHAKE:
            factory, context = (lambda: _Connection(self, secure=True)), self.tls
        else:
            factory, context = (lambda: _PlainOnTLS(self)), None
        made = self.loop.connect_accepted_socket(
            factory,
            conn,
            ssl=context,
            ssl_handshake_timeout=_read_timeout() if context is not None else None,
        )
        task = self.loop.create_task(made)
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)
        task.add_done_callback(_handshake_done)


def _handshake_done(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("a TLS handshake failed: %s", task.exception())


def _log_loop_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Log what the loop reports: a client gone mid-handshake as debug, else as an error."""
    exc = context.get("exception")
    level = logging.DEBUG if exc is None or isinstance(exc, OSError) else logging.ERROR
    log.log(level, "event loop: %s", context.get("message"), exc_info=exc)


def _wait_until_answering(
    host: str,
    port: int,
    probe: str,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    tls: bool = False,
) -> bool:
    """Poll the probe path until it answers (True), time runs out or ``alive()`` fails."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    deadline = time.monotonic() + timeout
    # The probe asks whether the server answers; clients check its certificate.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    while time.monotonic() < deadline and alive():
        try:
            conn = (
                http.client.HTTPSConnection(host, port, timeout=1, context=context)
                if tls
                else http.client.HTTPConnection(host, port, timeout=1)
            )
            try:
                conn.request("GET", probe)
                if conn.getresponse().status == 204:
                    return True
            finally:
                conn.close()
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.005)
    return False


class _RequestLog:
    """The request log: a line per answered request (method, path, status, time), written
    in batches from the event loop.

    A write of its own per request would cost a request a good part of its time: a
    line waits at most ``LOG_EVERY_S``, and the server writes what is left as it stops.
    Requests the app marks quiet (reads of the control API) are left out when they
    succeed: the log is there for the client's requests, and an open inspector page
    polls the journal several times a second. A refused one is logged.
    """

    def __init__(self, stream: TextIO, loop: asyncio.AbstractEventLoop) -> None:
        self.stream = stream
        self.loop = loop
        self.lines: list[str] = []

    def add(self, env: dict[str, Any], code: str, began: float) -> None:
        """Log an answered request, unless it is a quiet one that succeeded."""
        if env.get(QUIET) and code[:1] in ("2", "3"):
            return
        ms = (time.perf_counter() - began) * 1000
        path = env.get("PATH_INFO", "")
        query = env.get("QUERY_STRING")
        if query:
            path += "?" + query
        if not self.lines:
            self.loop.call_later(LOG_EVERY_S, self.write)
        self.lines.append(f"{env.get('REQUEST_METHOD')} {path} {code} {ms:.1f}ms\n")

    def write(self) -> None:
        """Write the lines logged since the last write."""
        lines, self.lines = self.lines, []
        if lines:
            with contextlib.suppress(OSError, ValueError):  # a log closed or gone
                self.stream.write("".join(lines))
                self.stream.flush()


def _fake_of(app: WSGIApp) -> Core | None:
    """Return the fake whose app ``app`` is (None for any other WSGI app).

    The fake's app answers at once, or marks its answer held: it is called on the
    event loop. Its calls count as in flight from the moment their head arrives.
    """
    extensions = getattr(app, "extensions", None)
    fake = extensions.get("apollo_fake") if isinstance(extensions, dict) else None
    return fake if fake is not None and hasattr(fake, "recorder") else None


def run(
    app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    on_ready: Callable[[int], None] | None = None,
    log: TextIO | None = None,
    threads: int = DEFAULT_THREADS,
    timeout: float = 10.0,
    tls: Authority | None = None,
    inline: bool | None = None,
) -> None:
    """Serve a WSGI app from this process until SIGINT or SIGTERM.

    ``on_ready(port)`` is called once a request has been answered. With ``tls``,
    the server speaks HTTPS only, with a certificate that CA signed. ``inline``
    (by default, for the fake's own app) calls the app on the event loop: say it
    only of an app that never blocks. A stop waits at most a few seconds for
    requests in flight: a stalled client or a long ``delay_ms`` cannot keep the
    process alive.
    """
    fake = _fake_of(app)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        context = tls.server_context() if tls is not None else None
        server, _ = _launch(app, host, port, threads, context, fake, inline, log)
        try:
            if not _wait_until_answering(
                host, server.port, server.probe, timeout, lambda: not stop.is_set(), tls is not None
            ):
                if not stop.is_set():
                    raise ServerError(
                        f"the server did not answer on {host}:{server.port} within {timeout:g} s"
                    )
            elif on_ready is not None:
                on_ready(server.port)
            while not stop.wait(0.5):  # a timed wait lets the signal handler run
                pass
        finally:
            server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _launch(
    app: WSGIApp,
    host: str,
    port: int,
    threads: int,
    tls: ssl.SSLContext | None,
    fake: Core | None,
    inline: bool | None,
    log: TextIO | None = None,
) -> tuple[Server, threading.Thread]:
    """Bind, then serve from a daemon thread; raise ServerError if the address is refused.

    ``fake`` is the fake whose app is served, if it is: its app
    is called on the event loop unless ``inline`` says otherwise, and its requests
    begin as their head arrives. A daemon thread cannot keep a process alive that
    forgot to stop its server, or one stopping while a client stalls.
    """
    at_once = (fake is not None) if inline is None else inline
    server = Server(app, host, port, threads, tls, at_once, fake, log)
    server.prepare()
    thread = threading.Thread(target=server.serve, name="apollo-fake:server", daemon=True)
    thread.start()
    return server, thread


class LiveServer:
    """Serve a WSGI app over HTTP from a daemon thread; ``url`` is known once it answers.

    With ``tls`` (an :class:`apollo_fake.tls.Authority`), over HTTPS only, with a
    certificate that CA signed; clients trust ``tls.ca_pem``. The fake's own app is
    answered on the server's event loop; any other app in a pool of ``threads``.
    """

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        log: TextIO | None = None,
        threads: int = DEFAULT_THREADS,
        tls: Authority | None = None,
        inline: bool | None = None,
    ) -> None:
        self.host = host
        self.tls = tls
        self._fake = _fake_of(app)
        self._inline = inline
        self._log = log
        self._app = app
        self._requested_port = port
        self._threads = threads
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        if self._server is None:
            raise ServerError("the server is not started")
        return self._server.port

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:43125`` (``https://`` with TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls is not None else 'http'}://{host}:{self.port}"

    def start(self, timeout: float = 5.0) -> LiveServer:
        """Bind, serve from a thread, and return once a request is answered."""
        context = self.tls.server_context() if self.tls is not None else None
        server, thread = _launch(
            self._app,
            self.host,
            self._requested_port,
            self._threads,
            context,
            self._fake,
            self._inline,
            self._log,
        )
        self._server, self._thread = server, thread
        tls = self.tls is not None
        if _wait_until_answering(self.host, self.port, server.probe, timeout, thread.is_alive, tls):
            return self
        died = not thread.is_alive()
        self.stop()
        if died:
            raise ServerError("the server thread ended before it answered a request")
        raise ServerError(f"the server did not answer within {timeout:g} s")

    def stop(self) -> None:
        """Stop serving and wait for the server's thread to end."""
        if self._server is not None:
            self._server.stop()
        if self._thread is not None:
            self._thread.join(STOP_S)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
