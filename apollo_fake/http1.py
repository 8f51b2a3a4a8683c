"""The live server's HTTP/1.1 layer: h11 speaks the protocol, a thread serves each connection.

Werkzeug's development server spent about 0.4 ms of a 0.8 ms request on its own
work (http.server's email-based header parser, a selector per connection, a
hand-off from the accepting thread); on this layer the same request takes 0.37 ms.
h11 does everything the protocol asks of a server (framing, chunked bodies,
``Expect: 100-continue``, keep-alive, limits, refusing malformed requests), so
what is here is sockets, threads and the WSGI environ.

Threads wait in ``accept()`` themselves, so no connection is handed from one
thread to another; when the last waiting thread takes a connection it starts
another, so a connection never waits for another one to end.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlsplit

import h11

from .errors import ApolloError, status_line

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

log = logging.getLogger("apollo_fake")

MAX_HEAD = 64 * 1024  # request line and headers: what http.server allows a line
KEEP_ALIVE_S = 60.0  # a connection idle between requests longer than this is closed
SPARE_THREADS = 4  # threads left waiting in accept() after a burst of connections
DRAIN_S = 1.0  # an unread request body is read and dropped for at most this long...
DRAIN_BYTES = 16 * 1024 * 1024  # ...or this much, so that the client sees the answer
_NO_BODY = (204, 304)


class _Body(io.RawIOBase):
    """The request body, read from the connection only as the app asks for it."""

    def __init__(self, exchange: _Connection) -> None:
        super().__init__()
        self._exchange = exchange
        self._pending = memoryview(b"")
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._ended:
                return 0
            chunk = self._exchange.body_chunk()
            if chunk is None:
                self._ended = True
            else:
                self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _Connection:
    """One client connection: its socket, its h11 state, and the requests it sends."""

    def __init__(self, server: ThreadedServer, sock: socket.socket, peer: Any) -> None:
        self.server = server
        self.sock = sock
        self.peer = peer
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)

    def _next_event(self) -> Any:
        """Return h11's next event, reading from the socket as it needs."""
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.h11.receive_data(self.sock.recv(65536))

    def body_chunk(self) -> bytes | None:
        """Return the next piece of the request body, or None at its end."""
        if self.h11.they_are_waiting_for_100_continue:
            self._send(h11.InformationalResponse(status_code=100, headers=[]))
        try:
            event = self._next_event()
        except h11.RemoteProtocolError as exc:
            # The app sees a broken body as a failed read, as from a dropped connection.
            raise ConnectionError(f"the request body is malformed: {exc}") from None
        if isinstance(event, h11.Data):
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            return None
        raise ConnectionError("the connection closed before the request body ended")

    def _send(self, *events: Any) -> None:
        self.sock.sendall(b"".join(self.h11.send(event) or b"" for event in events))

    def serve(self) -> None:
        """Answer requests until the client or the protocol ends the connection."""
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(KEEP_ALIVE_S)
        while True:
            try:
                event = self._next_event()
            except h11.RemoteProtocolError as exc:
                self._refuse(exc.error_status_hint, str(exc))
                break
            if not isinstance(event, h11.Request):  # the client closed, or h11 paused
                return
            if not self._answer(event):
                break
            if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
                break  # Connection: close, HTTP/1.0, or a body left unread
            self.h11.start_next_cycle()
        if self.h11.their_state not in (h11.DONE, h11.MUST_CLOSE):
            # The client may still be sending: close only once it is read.
            self._close_softly()
        # Otherwise the client has said all it will say: the caller closes at once.

    def _answer(self, request: h11.Request) -> bool:
        """Answer one request; say whether the answer went through h11 (False: refused)."""
        environ = self._environ(request)
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            # Nothing is sent before the app returns, so a later call may replace the first.
            if started and exc_info is None:
                raise AssertionError("start_response was called twice without exc_info")
            started[:] = [status, headers]
            return written.append

        try:
            result = self.server.app(environ, start_response)
            try:
                body = b"".join([*written, *result])
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            status, headers = started
        except ConnectionError:
            # The app gave up on the connection (a "drop" fault rule): end it unanswered.
            self.sock.shutdown(socket.SHUT_RDWR)
            raise
        except Exception:
            log.exception("apollo-fake's live server failed on %s", request.target)
            self._refuse(500, "The fake failed unexpectedly; this is a bug in apollo-fake.")
            return False
        try:
            code = int(status[:3])
            head: list[tuple[bytes, bytes]] = [(b"Date", _http_date())]
            head += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            has_body = request.method != b"HEAD" and code >= 200 and code not in _NO_BODY
            if has_body and not any(k.lower() == b"content-length" for k, _ in head):
                head.append((b"Content-Length", str(len(body)).encode()))
            if not self._finish_request():
                # The app did not read the whole body: there is no telling where the
                # next request would start, so this connection ends with this answer.
                head.append((b"Connection", b"close"))
            response = h11.Response(status_code=code, headers=head, reason=status[4:])
            if has_body and body:
                self._send(response, h11.Data(data=body), h11.EndOfMessage())
            else:
                self._send(response, h11.EndOfMessage())
        except (h11.LocalProtocolError, ValueError):  # before anything of it was sent
            log.exception("apollo-fake's live server made a bad answer to %s", request.target)
            self._refuse(500, "The fake failed unexpectedly; this is a bug in apollo-fake.")
            return False
        return True

    def _finish_request(self) -> bool:
        """Skip what is left of the request body if it has all arrived; say if it had."""
        while self.h11.their_state is h11.SEND_BODY:
            try:
                event = self.h11.next_event()  # never reads the socket
            except h11.RemoteProtocolError:
                return False
            if event is h11.NEED_DATA:
                return False
        return self.h11.their_state is h11.DONE

    def _environ(self, request: h11.Request) -> dict[str, Any]:
        """Build the WSGI environ as Werkzeug's development server does."""
        target = request.target.decode("latin-1")
        url = urlsplit(target)
        # A target starting with "//" splits as a host name: put it back in the path.
        path = f"/{url.netloc}{url.path}" if not url.scheme and url.netloc else url.path
        server = self.server
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BufferedReader(_Body(self)),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "SERVER_SOFTWARE": "apollo-fake",
            "REQUEST_METHOD": request.method.decode("ascii"),
            "SCRIPT_NAME": "",
            "PATH_INFO": _wsgi_str(unquote(path)),
            "QUERY_STRING": _wsgi_str(url.query),
            "REQUEST_URI": _wsgi_str(target),  # as sent: the app refuses a leading "//"
            "RAW_URI": _wsgi_str(target),
            "REMOTE_ADDR": self.peer[0],
            "REMOTE_PORT": self.peer[1],
            "SERVER_NAME": server.host,
            "SERVER_PORT": str(server.port),
            "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("ascii"),
        }
        for name, value in request.headers:
            key = name.decode("latin-1").upper()
            if "_" in key:  # "X_Token" could pass for "X-Token": Werkzeug drops these too
                continue
            key = key.replace("-", "_")
            if key == "TRANSFER_ENCODING" and value.lower() == b"chunked":
                environ["wsgi.input_terminated"] = True
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            text = value.decode("latin-1")
            environ[key] = f"{environ[key]},{text}" if key in environ else text
        if url.scheme and url.netloc:  # an absolute target names the host
            environ["HTTP_HOST"] = url.netloc
        return environ

    def _refuse(self, status: int, message: str) -> None:
        """Answer in the contract's JSON error shape; the connection ends after it."""
        line = status_line(status)
        error = ApolloError(message or line)
        error.status = status
        body = json.dumps(error.to_dict()).encode()
        # Written by hand, not through h11: this must work in any state h11 is in,
        # after a request it refused or an answer it would not send.
        head = (
            f"HTTP/1.1 {line}\r\nDate: {_http_date().decode()}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        try:
            self.sock.sendall(head.encode("latin-1") + body)
        except OSError:
            pass  # the client has gone: there is no one to tell

    def _close_softly(self) -> None:
        """Close without losing the answer: read what the client still sends, then close.

        Closing a socket with unread data resets the connection, and the client may
        lose the answer it has not read yet (a 413 sent while the body arrives).
        """
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + DRAIN_S
            drained = 0
            while drained < DRAIN_BYTES:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                data = self.sock.recv(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass


class ThreadedServer:
    """Serve a WSGI app on a listening socket, a thread per open connection."""

    def __init__(self, app: WSGIApp, sock: socket.socket) -> None:
        self.app = app
        self._listener = sock
        self.host, self.port = sock.getsockname()[:2]
        self._lock = threading.Lock()
        self._waiting = 0  # threads in accept(), or about to be
        self._threads: set[threading.Thread] = set()
        self._open: set[socket.socket] = set()
        self._closing = False

    def start(self) -> None:
        """Start the first thread waiting for a connection."""
        with self._lock:
            self._start_thread()

    def _start_thread(self) -> None:
        # The caller holds the lock.
        self._waiting += 1
        thread = threading.Thread(
            target=self._accept_loop, name=f"apollo-fake:{self.port}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

    def threads(self) -> int:
        """Return how many threads serve or wait for connections."""
        with self._lock:
            return sum(thread.is_alive() for thread in self._threads)

    def _accept_loop(self) -> None:
        try:
            while True:
                try:
                    sock, peer = self._listener.accept()
                except OSError:  # the listener was closed: the server stops
                    return
                with self._lock:
                    self._waiting -= 1
                    if self._closing:
                        sock.close()
                        return
                    if self._waiting == 0:
                        self._start_thread()  # someone must still wait in accept()
                    self._open.add(sock)
                try:
                    _Connection(self, sock, peer).serve()
                except OSError:
                    pass  # the client went away, or stayed idle past KEEP_ALIVE_S
                except Exception:
                    log.exception("apollo-fake's live server failed on a connection")
                finally:
                    with self._lock:
                        self._open.discard(sock)
                    sock.close()
                with self._lock:
                    if self._closing or self._waiting >= SPARE_THREADS:
                        return
                    self._waiting += 1
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, end idle connections, and wait for every thread to end."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            threads = list(self._threads)
            # SHUT_RD ends a connection waiting for its next request, and lets one
            # being answered finish its answer.
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
            waiting = self._waiting
        # Wake each thread waiting in accept(): it sees the server closing and ends.
        # (Shutting the listener down wakes them on Linux, not everywhere.)
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        for _ in range(waiting):
            try:
                socket.create_connection((host, self.port), timeout=1).close()
            except OSError:
                break
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def _wsgi_str(text: str) -> str:
    """Turn text into a WSGI "bytes as latin-1" string, as Werkzeug does."""
    return text.encode("utf-8").decode("latin-1")


_date_cache: tuple[int, bytes] = (0, b"")


def _http_date() -> bytes:
    """Return the Date header's value, formatted once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode("ascii"))
    return _date_cache[1]
