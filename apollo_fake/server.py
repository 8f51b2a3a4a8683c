"""The HTTP server: cheroot, in a thread of the caller's process or as ``apollo-fake serve``.

One server for every role (the plugin's ``apollo_url``, ``Fake.serve()``,
``apollo-fake serve`` and ``run``), so that a request gets the same answer
whichever carries it. cheroot is used through its documented API only:
``cheroot.wsgi.Server``, its constructor and its attributes (``ConnectionClass``,
``gateway``, ``max_request_header_size``, ``max_request_body_size``,
``expiration_interval``, ``keep_alive_conn_limit``, ``ssl_adapter``) and
``error_log`` (meant to be overridden); ``cheroot.ssl.Adapter`` (the interface
of a TLS adapter: ``bind``, ``wrap``, ``get_environ``, ``makefile``);
``HTTPConnection`` (its ``RequestHandlerClass``, its ``makefile`` argument,
``communicate``, and its ``socket``, ``rfile`` and ``wfile``, replaced once TLS
is up); ``cheroot.makefile.StreamReader`` (the reader the ``makefile`` argument
returns, over a ``socket.SocketIO``, and its ``has_data``); ``HTTPRequest`` (its
``proxy_mode`` argument, its ``header_reader``, ``read_request_headers`` and
``simple_response``, which is how cheroot refuses a request); and a
``wsgi.Gateway_10`` subclass (how the app is called: ``get_environ``,
``start_response``, ``respond``).

What is added to cheroot here:

- a request's head must arrive whole within the read timeout from its first
  byte, and its body within the read timeout from the app's first read of it
  (the socket's timeout alone bounds each wait, which a client trickling a byte
  at a time never reaches); past the deadline, a 408 and a close;
- every refusal (a bad request line or header, a head over the limit, a read
  timeout) is the contract's JSON error, rendered by :func:`apollo_fake.errors.render`,
  and closes the connection;
- the header reader is strict: a doubled ``Content-Length`` or ``Host``, or a
  ``Content-Length`` beside ``Transfer-Encoding``, is a 400 (RFC 9112 section 6.1:
  a request framed two ways is how requests are smuggled);
- the app's answer is checked before a byte of it is sent (a status, header or
  length the protocol would not carry is a JSON 500 instead);
- the connection's socket is in the environ (``apollo_fake.socket``), so that a
  ``drop`` fault closes it before anything is written, and nothing is written after;
- an answer sent before the request's body was read (a 413) is followed by a
  short drain of what the client still sends, so that it reads the answer
  instead of a reset connection;
- with TLS (``tls=``, ``serve --tls``), the server's ``ssl_adapter`` is an
  implementation of cheroot's ``cheroot.ssl.Adapter`` interface whose ``wrap``
  leaves the handshake to the connection's own thread: cheroot's
  ``BuiltinSSLAdapter`` shakes hands in the thread that accepts connections, so
  one client that connects and says nothing holds up every new connection for
  the read timeout. In its thread, a connection whose first byte is not a TLS
  handshake record is answered with the contract's JSON 400 in plain text,
  saying to use https (cheroot's own answer is plain text, and is reset before
  a client reads it), and one whose handshake fails is closed.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import io
import logging
import re
import secrets
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from cheroot import errors as cheroot_errors
from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.makefile import MakeFile, StreamReader, StreamWriter
from cheroot.ssl import Adapter

from .errors import ApolloError, BadRequest, PayloadTooLarge, RequestTimeout
from .web.wire import CHECKED, HEAD_LIMIT, HeadTooLarge, UriTooLong, not_http, refusal_answer

if TYPE_CHECKING:
    from .tls import Authority

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

log = logging.getLogger("apollo_fake")

SOCKET = "apollo_fake.socket"  # the connection's socket, in the environ
# A client gets this long to send a request's head or body, and a connection
# idle this long between requests is closed; a read past it is a 408.
READ_TIMEOUT = 10
DEFAULT_THREADS = 10  # requests answered at once: a delayed one holds only its own thread
# A declared body larger than this is refused before the app sees it, and a chunk
# larger than this is never read; the app's own limit (1 MiB) is below it.
BODY_GUARD = 16 * 1024 * 1024
DRAIN_S = 1.0  # after an answer sent before the body was read: read the rest this long...
DRAIN_BYTES = BODY_GUARD  # ...or this much, so that the client sees the answer
STOP_S = 3.0  # `serve` waits this long for requests in flight after a stop signal
BUG = "The fake failed unexpectedly; this is a bug in apollo-fake."
PLAIN_ON_TLS = "This port speaks HTTPS only, and the request came as plain HTTP: use https://."
_TLS_HANDSHAKE = b"\x16"  # the first byte of every TLS connection: a handshake record

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_STATUS = re.compile(r"[1-5][0-9][0-9](?: [\t -~\x80-\xff]*)?\Z")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_ONCE = (b"Content-Length", b"Host")
_NO_BODY = (204, 304)


class ServerError(RuntimeError):
    """The live server could not be started."""


def _refusal(status: str, message: str) -> ApolloError:
    """Turn one of cheroot's refusals (status text and reason) into the contract's error."""
    code = int(status[:3]) if status[:3].isdigit() else 500
    err: ApolloError
    if code == 400:
        err = not_http(message or "malformed")
    elif code == 408:
        err = RequestTimeout()
    elif code == 413:
        err = PayloadTooLarge()
    elif code == 414:
        err = UriTooLong()
    elif code == 431:
        err = HeadTooLarge()
    elif code == 500:
        err = ApolloError(BUG)
    else:
        err = ApolloError(message or status[4:] or "The request was refused.")
        err.status = code
    return err


class StrictHeaderReader(cheroot_server.HeaderReader):
    """Read request headers as RFC 9112 asks, refusing what could be read two ways.

    Names with an underscore are dropped, as Werkzeug does: ``X_Token`` would
    otherwise pass for ``X-Token``. A repeated header is joined with commas, as Werkzeug does.
    """

    def __call__(self, rfile: Any, hdict: dict[bytes, bytes] | None = None) -> dict[bytes, bytes]:
        """Read the headers into ``hdict``; raise ValueError (a 400) for a malformed one."""
        headers: dict[bytes, bytes] = {} if hdict is None else hdict
        while True:
            line = rfile.readline()
            if not line:
                raise ValueError("the head ended before its blank line")
            if line == b"\r\n":
                break
            if not line.endswith(b"\r\n"):
                raise ValueError("a header line does not end in CRLF")
            if line[:1] in (b" ", b"\t"):
                raise ValueError("a header line is folded onto the next")
            name, colon, value = line[:-2].partition(b":")
            if not colon or not _TOKEN.match(name):
                raise ValueError("a header line is not a name, a colon and a value")
            value = value.strip(b" \t")
            if b"\r" in value or b"\n" in value or b"\0" in value:
                raise ValueError("a header value holds a control character")
            if b"_" in name:
                continue
            key = name.title()
            if key in headers:
                if key in _ONCE:
                    raise ValueError(f"{key.decode()} is given twice")
                value = headers[key] + b"," + value  # as Werkzeug joins them
            headers[key] = value
        length = headers.get(b"Content-Length")
        if length is not None:
            if not length.isdigit():
                raise ValueError("Content-Length is not a number")
            if b"Transfer-Encoding" in headers:
                raise ValueError(
                    "a request may not have both Content-Length and Transfer-Encoding "
                    "(RFC 9112, section 6.1)"
                )
        return headers


class _Request(cheroot_server.HTTPRequest):
    """cheroot's request, refusing in the contract's JSON shape."""

    header_reader = StrictHeaderReader()

    def __init__(self, server: Any, conn: Any, proxy_mode: bool = True, strict_mode: bool = True):
        # In "proxy mode" cheroot takes a target that starts with "//" (or names a
        # host) as sent, where it would refuse it; the wire layer reads its path.
        super().__init__(server, conn, proxy_mode=proxy_mode, strict_mode=strict_mode)

    def read_request_headers(self) -> bool:
        """Read the headers; a head over the limit is a 431 (cheroot says 413)."""
        try:
            read = bool(super().read_request_headers())  # type: ignore[no-untyped-call]
        except cheroot_errors.MaxSizeExceeded:
            self.simple_response("431 Request Header Fields Too Large")
            return False
        _within(self.conn, None)  # the head is in: its deadline is over
        return read

    def simple_response(self, status: Any, msg: Any = "") -> None:
        """Refuse with the contract's JSON error, and close the connection after it."""
        text = status.decode("latin-1") if isinstance(status, bytes) else str(status)
        message = msg.decode("latin-1") if isinstance(msg, bytes) else str(msg)
        self.close_connection = True
        self.sent_headers = True  # nothing more of this answer may be written
        self.conn.unread = True  # the client may still be sending: drain before closing
        try:
            self.conn.wfile.write(_refusal_bytes(self.server, _refusal(text, message)))
        except OSError:
            pass  # the client has gone: there is no one to tell


def _refusal_bytes(server: Any, err: ApolloError) -> bytes:
    """Return a whole refusal as it goes on the wire: status line, headers, JSON body."""
    line, headers, body = refusal_answer(err)
    head = f"{server.protocol} {line}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    head += f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
    head += f"Server: {server.server_name}\r\n\r\n"
    return head.encode("latin-1") + body


class _Writer(StreamWriter):
    """cheroot's socket writer, able to hold writes and send them in one call.

    cheroot writes an answer's head and body in two calls, each a system call:
    held, they go out in one.
    """

    _held: list[bytes] | None = None

    def hold(self) -> None:
        """Keep what is written until :meth:`release`."""
        self._held = []

    def release(self) -> None:
        """Send what was kept, in one write."""
        held, self._held = self._held, None
        if held:
            super().write(b"".join(held))  # type: ignore[no-untyped-call]

    def write(self, b: Any) -> Any:
        """Write to the socket, or keep it while held."""
        if self._held is not None:
            self._held.append(bytes(b))
            return len(b)
        return super().write(b)  # type: ignore[no-untyped-call]


class _DeadlineIO(socket.SocketIO):
    """A connection's socket as its reader sees it, with a deadline for a whole read.

    The socket's timeout bounds each wait for bytes; a client trickling a byte at a
    time would never reach it. While ``deadline`` is set, each wait is cut to what
    is left of it, and a read past it times out as an idle one does (cheroot's 408).
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock, "rb")
        self.conn_sock = sock
        self.idle = sock.gettimeout()  # the server's read timeout, set at accept
        self.deadline: float | None = None

    def readinto(self, b: Any) -> int | None:
        """Read into ``b``, waiting at most until the deadline."""
        if self.deadline is None:
            return super().readinto(b)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self.conn_sock.settimeout(left if self.idle is None else min(self.idle, left))
        try:
            return super().readinto(b)
        finally:
            # The socket is the writer's too: an answer is written with the usual timeout.
            with contextlib.suppress(OSError):  # a socket closed meanwhile has none
                self.conn_sock.settimeout(self.idle)


class _Reader(StreamReader):
    """cheroot's socket reader, over a socket whose reads can have a deadline."""

    def __init__(self, sock: socket.socket, mode: str = "r", bufsize: int = -1) -> None:
        self.deadline_io = _DeadlineIO(sock)
        # The buffered reader's own constructor, with the raw stream given here
        # (StreamReader's would make a plain SocketIO).
        super(StreamReader, self).__init__(self.deadline_io, bufsize)
        self.bytes_read = 0

    def within(self, seconds: float | None) -> None:
        """Give the reads from now on ``seconds`` in all (None: no deadline)."""
        self.deadline_io.deadline = None if seconds is None else time.monotonic() + seconds

    def has_data(self) -> bool:
        """Tell whether a request's bytes are already read, here or in the TLS layer.

        cheroot waits in select() for an idle connection that has none: bytes the
        TLS layer decrypted but nobody read yet would never wake it.
        """
        if super().has_data():  # type: ignore[no-untyped-call]
            return True
        sock = self.deadline_io.conn_sock
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


def _makefile(sock: socket.socket, mode: str = "r", bufsize: int = -1) -> Any:
    """Make cheroot's file objects for a connection: a writer that can hold writes,
    a reader whose reads can have a deadline."""
    if "w" in mode:
        return _Writer(sock, mode, bufsize)
    return _Reader(sock, mode, bufsize if bufsize > 0 else io.DEFAULT_BUFFER_SIZE)


class _Connection(cheroot_server.HTTPConnection):
    """cheroot's connection, closing softly when the client may still be sending."""

    RequestHandlerClass = _Request
    unread = False  # an answer went out before the whole request was read
    dropped = False  # a drop fault closed the connection: nothing more to do
    secured = False  # on a TLS server: the handshake is done

    def __init__(self, server: Any, sock: socket.socket, makefile: Any = MakeFile) -> None:
        # `makefile` is the documented way to give a connection its file objects.
        super().__init__(server, sock, _makefile if makefile is MakeFile else makefile)

    def communicate(self) -> bool:
        """Answer a request; before a close, drain what the client still sends."""
        self.unread = False
        if self.server.ssl_adapter is not None and not self.secured and not self._secure():
            return False
        # The whole head, from its first byte, within the read timeout: a client
        # trickling it a byte at a time is cut off as a silent one is.
        _within(self, self.server.timeout)
        keep = bool(super().communicate())  # type: ignore[no-untyped-call]
        if not keep and self.unread and not self.dropped:
            self._drain()
        return keep

    def _secure(self) -> bool:
        """Shake hands in this connection's thread; tell whether TLS is up.

        Each wait is bounded by the socket's timeout (the server's read timeout),
        and the handshake as a whole by the same time.
        """
        raw = self.socket
        try:
            first = raw.recv(1, socket.MSG_PEEK)
        except OSError:
            return False  # silent until the timeout, or gone
        if first != _TLS_HANDSHAKE:
            if first:  # plain HTTP, most likely: say so in the contract's shape
                with contextlib.suppress(OSError):
                    self.wfile.write(_refusal_bytes(self.server, BadRequest(PLAIN_ON_TLS)))
                    self.wfile.flush()
                self._drain()
            return False
        context: ssl.SSLContext = self.server.ssl_adapter.context
        try:
            self.socket = context.wrap_socket(
                raw, server_side=True, do_handshake_on_connect=False
            )
            self.socket.do_handshake()
        except (OSError, ValueError) as exc:
            log.debug("TLS handshake with %s failed: %s", self.remote_addr, exc)
            return False
        self.rfile = _makefile(self.socket, "rb", self.rbufsize)
        self.wfile = _makefile(self.socket, "wb", self.wbufsize)
        self.secured = True
        return True

    def _drain(self) -> None:
        """Read and drop what the client still sends, for a bounded time, then let it close.

        Closing a socket with unread data resets the connection, and the client
        may lose the answer it has not read yet (a 413 sent while the body arrives).
        """
        sock = self.socket
        try:
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + DRAIN_S
            drained = 0
            while drained < DRAIN_BYTES:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                data = sock.recv(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass


def _within(conn: Any, seconds: float | None) -> None:
    """Give a connection's reads from now on ``seconds`` in all (None: no deadline)."""
    rfile = getattr(conn, "rfile", None)
    if isinstance(rfile, _Reader):
        rfile.within(seconds)


class _Input:
    """The request body as the app reads it: a failed read is the contract's error."""

    def __init__(self, req: _Request, stream: Any) -> None:
        self._req = req
        self._stream = stream
        self._started = False

    def _start(self) -> None:
        # The whole body within the read timeout, from the app's first read of it
        # (a delay fault waits before that, and is not counted).
        if not self._started:
            self._started = True
            _within(self._req.conn, self._req.server.timeout)

    def read(self, size: int | None = None) -> bytes:
        """Read up to ``size`` bytes of the body (all of it without)."""
        self._start()
        try:
            return bytes(self._stream.read(size))
        except TimeoutError:
            raise self._broken(RequestTimeout()) from None
        except cheroot_errors.MaxSizeExceeded:
            raise self._broken(PayloadTooLarge()) from None
        except (OSError, ValueError) as exc:
            if "Too Large" in str(exc):  # cheroot's refusal of an oversized chunk
                raise self._broken(PayloadTooLarge()) from None
            raise self._broken(not_http(f"the request body could not be read ({exc})")) from None

    def readline(self, size: int | None = None) -> bytes:
        """Read one line of the body (Werkzeug's form parser asks for lines)."""
        self._start()
        try:
            return bytes(self._stream.readline(size))
        except (OSError, ValueError, cheroot_errors.MaxSizeExceeded):
            raise self._broken(not_http("the request body could not be read")) from None

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def _broken(self, err: ApolloError) -> ApolloError:
        # The framing of what follows is lost: this connection ends with the answer.
        self._req.close_connection = True
        self._req.conn.unread = True
        err.headers.setdefault("Connection", "close")
        return err


class _Gateway(wsgi.Gateway_10):
    """Call the app, check its answer whole, then send it (or nothing, for a drop)."""

    # cheroot's stubs leave Gateway_10 untyped, and type the base class's as None.
    _answer: tuple[str, list[tuple[str, str]]] | None = None
    _chunks: list[bytes]

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]
        """Return cheroot's environ, with the socket and a body that fails as JSON."""
        env: dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
        env[SOCKET] = self.req.conn.socket
        env[CHECKED] = True  # the head's limits were enforced while it was read
        env["wsgi.input"] = _Input(self.req, env["wsgi.input"])
        return env

    def start_response(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        """Keep the status and headers: nothing is sent before the app has returned."""
        self._answer = (status, list(headers))
        return self._chunks.append

    def respond(self) -> None:
        """Run the app and send its answer, or close at once if it dropped the connection."""
        req = self.req
        self._answer = None
        self._chunks = []
        try:
            result = req.server.wsgi_app(self.env, self.start_response)
            try:
                self._chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except ConnectionAbortedError:
            self._drop()
            return
        except Exception:
            log.exception("apollo-fake's server failed on %s", self.env.get("REQUEST_URI"))
            req.simple_response("500 Internal Server Error")
            return
        body = b"".join(self._chunks)
        try:
            status, headers = self._checked(body)
            super().start_response(status, headers)
        except (ValueError, TypeError, UnicodeError) as exc:
            log.error(
                "apollo-fake's server made a bad answer to %s: %s", self.env.get("REQUEST_URI"), exc
            )
            req.outheaders = []
            req.simple_response("500 Internal Server Error")
            return
        if req.chunked_read and not getattr(req.rfile, "closed", True):
            req.close_connection = True  # no telling where the next request would start
        if any(k.lower() == "connection" and v.lower() == "close" for k, v in headers):
            req.close_connection = True
            req.conn.unread = bool(getattr(req.rfile, "remaining", 0)) or req.conn.unread
        wfile = req.conn.wfile
        held = isinstance(wfile, _Writer)
        if held:
            wfile.hold()
        req.ensure_headers_sent()
        if body and req.method != b"HEAD":
            req.write(body)
        if held:
            wfile.release()

    def _checked(self, body: bytes) -> tuple[str, list[tuple[str, str]]]:
        """Return the app's status and headers, raising ValueError if HTTP cannot carry them."""
        if self._answer is None:
            raise ValueError("the app did not call start_response")
        status, headers = self._answer
        if not _STATUS.match(status):
            raise ValueError(f"the status {status!r} is not a code and a reason")
        for name, value in headers:
            if not _TOKEN.match(name.encode("latin-1")) or _BAD_VALUE.search(value):
                raise ValueError(f"the header {name!r} cannot be sent")
            value.encode("latin-1")
        code = int(status[:3])
        has_body = code >= 200 and code not in _NO_BODY
        lengths = [v for k, v in headers if k.lower() == "content-length"]
        if has_body and not lengths:
            headers = [*headers, ("Content-Length", str(len(body)))]
        elif lengths and self.req.method != b"HEAD" and lengths != [str(len(body))]:
            raise ValueError(f"Content-Length {lengths} does not match the body ({len(body)})")
        return status, headers

    def _drop(self) -> None:
        """End the connection without a byte written: the app asked for a drop."""
        req = self.req
        try:
            req.conn.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        req.close_connection = True
        req.sent_headers = True
        req.ready = False
        req.conn.dropped = True


class _TLS(Adapter):
    """cheroot's TLS adapter interface, leaving the handshake to the connection's thread.

    ``wrap`` is called where connections are accepted, one at a time: it hands the
    socket on as it is, and :meth:`_Connection._secure` shakes hands in the thread
    that then serves the connection.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(None, None)
        self.context = context

    def bind(self, sock: socket.socket) -> socket.socket:
        """Return the listening socket unchanged."""
        return sock

    def wrap(self, sock: socket.socket) -> tuple[socket.socket, dict[str, str]]:
        """Return the accepted socket unchanged, and the environ entries of HTTPS."""
        return sock, self.get_environ()

    def get_environ(self) -> dict[str, str]:
        """Return the WSGI environ entries of a request that came over TLS."""
        return {"HTTPS": "on"}

    def makefile(self, sock: socket.socket, mode: str = "r", bufsize: int = -1) -> Any:
        """Make the connection's file objects, as for plain HTTP."""
        return _makefile(sock, mode, bufsize)


class Server(wsgi.Server):
    """cheroot's WSGI server with the contract's refusals, limits and read deadlines."""

    ConnectionClass = _Connection
    max_request_header_size = HEAD_LIMIT
    max_request_body_size = BODY_GUARD
    # How often the connection loop looks up from select(): a stop waits for it.
    expiration_interval = 0.05

    def __init__(
        self,
        app: WSGIApp,
        host: str,
        port: int,
        threads: int = DEFAULT_THREADS,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(
            (host, port),
            app,
            numthreads=threads,
            max=threads,
            request_queue_size=128,
            timeout=READ_TIMEOUT,
            shutdown_timeout=1,
            server_name="apollo-fake",
        )
        self.gateway = _Gateway
        # Idle keep-alive connections wait in cheroot's selector, not in a thread.
        self.keep_alive_conn_limit = 1000
        if tls is not None:
            self.ssl_adapter = _TLS(tls)

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        """Log cheroot's messages through the package's logger instead of stderr."""
        log.log(level, "cheroot: %s", msg, exc_info=traceback)

    @property
    def port(self) -> int:
        """Return the port bound (the real one when 0 was asked for), once prepared."""
        return int(self.bind_addr[1])


def _with_probe(app: WSGIApp, probe: str) -> WSGIApp:
    """Answer a secret readiness path with 204 before the app sees anything."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == probe:
            start_response("204 No Content", [])
            return [b""]
        return app(environ, start_response)

    return wrapped


def _wait_until_answering(
    host: str,
    port: int,
    probe: str,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    tls: bool = False,
) -> bool:
    """Poll the probe path until it answers (True), time runs out or ``alive()`` fails."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
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
        time.sleep(0.01)
    return False


def _prepared(
    app: WSGIApp, host: str, port: int, threads: int, tls: ssl.SSLContext | None
) -> Server:
    """Build the server and bind it, turning failure into a ServerError naming the address."""
    server = Server(app, host, port, threads, tls)
    try:
        server.prepare()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if "Address already in use" in str(exc) or "[Errno 98]" in str(exc):
            reason = "the port is already in use"
        raise ServerError(f"cannot listen on {host}:{port}: {reason}") from None
    return server


def _log_requests(app: WSGIApp, stream: TextIO) -> WSGIApp:
    """Wrap an app so that it writes one line per request: method, path, status, time.

    Reads of the control API that succeed are left out: the log is there for the
    client's requests, and an open inspector page polls the journal several times a
    second. A refused control call, and every call that changes something, is logged.
    """

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        began = time.perf_counter()
        status = ["-"]

        def capture(code: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, exc_info)

        body = app(environ, capture)
        ms = (time.perf_counter() - began) * 1000
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        if method in ("GET", "HEAD") and path.startswith("/_fake/") and status[0][0] in "23":
            return body
        query = environ.get("QUERY_STRING")
        path += f"?{query}" if query else ""
        print(f"{method} {path} {status[0]} {ms:.1f}ms", file=stream)
        return body

    return logged


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
) -> None:
    """Serve a WSGI app from this process until SIGINT or SIGTERM.

    ``on_ready(port)`` is called once a request has been answered. With ``tls``,
    the server speaks HTTPS only, with a certificate that CA signed. The server's
    threads are daemons, and a stop waits at most a few seconds for requests in
    flight: a stalled client or a long ``delay_ms`` cannot keep the process alive.
    """
    probe = "/_apollo_fake_probe/" + secrets.token_hex(8)
    served = _with_probe(_log_requests(app, log) if log is not None else app, probe)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        context = tls.server_context() if tls is not None else None
        server, _ = _launch(served, host, port, threads, context)
        if not _wait_until_answering(
            host, server.port, probe, timeout, lambda: not stop.is_set(), tls is not None
        ):
            if not stop.is_set():
                _stop_within(server, STOP_S)
                raise ServerError(
                    f"the server did not answer on {host}:{server.port} within {timeout:g} s"
                )
        elif on_ready is not None:
            on_ready(server.port)
        while not stop.wait(0.5):  # a timed wait lets the signal handler run
            pass
        _stop_within(server, STOP_S)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _launch(
    app: WSGIApp, host: str, port: int, threads: int, tls: ssl.SSLContext | None = None
) -> tuple[Server, threading.Thread]:
    """Bind, then serve from a daemon thread; raise ServerError if the address is refused.

    cheroot's worker threads are started by the thread that binds, and take its
    daemon flag: started here, they cannot keep a process alive that forgot to
    stop its server, or one stopping while a client stalls.
    """
    box: list[Server | ServerError] = []
    bound = threading.Event()

    def serve() -> None:
        try:
            server = _prepared(app, host, port, threads, tls)
            box.append(server)
        except ServerError as exc:
            box.append(exc)
            return
        finally:
            bound.set()
        server.serve()

    thread = threading.Thread(target=serve, name="apollo-fake:server", daemon=True)
    thread.start()
    bound.wait()
    found = box[0]
    if isinstance(found, ServerError):
        raise found
    return found, thread


def _stop_within(server: Server, seconds: float) -> None:
    """Stop a server, waiting at most ``seconds`` for requests in flight."""
    stopper = threading.Thread(target=server.stop, name="apollo-fake:stop", daemon=True)
    stopper.start()
    stopper.join(seconds)


class LiveServer:
    """Serve a WSGI app over HTTP from a daemon thread; ``url`` is known once it answers.

    With ``tls`` (an :class:`apollo_fake.tls.Authority`), over HTTPS only, with a
    certificate that CA signed; clients trust ``tls.ca_pem``.
    """

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        log: TextIO | None = None,
        threads: int = DEFAULT_THREADS,
        tls: Authority | None = None,
    ) -> None:
        self.host = host
        self.tls = tls
        self._probe = "/_apollo_fake_probe/" + secrets.token_hex(8)
        inner = _log_requests(app, log) if log is not None else app
        self._app = _with_probe(inner, self._probe)
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
        server, thread = _launch(self._app, self.host, self._requested_port, self._threads, context)
        self._server, self._thread = server, thread
        tls = self.tls is not None
        if _wait_until_answering(self.host, self.port, self._probe, timeout, thread.is_alive, tls):
            return self
        died = not thread.is_alive()
        self.stop()
        if died:
            raise ServerError("the server thread ended before it answered a request")
        raise ServerError(f"the server did not answer within {timeout:g} s")

    def stop(self) -> None:
        """Stop serving and wait for the server's threads to end."""
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
