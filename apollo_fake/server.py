"""A live HTTP server around a WSGI app, in a thread, on a port of its own."""

from __future__ import annotations

import errno
import http.client
import json
import os
import queue
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from types import TracebackType
from typing import Any, TextIO

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ServerError(RuntimeError):
    """The live server could not be started."""


class _PooledWSGIServer(BaseWSGIServer):
    """Werkzeug's server, answering each connection on a thread of its own, as its
    threaded server does, but on a thread kept from an earlier connection when one
    is idle: starting a thread per connection cost 0.15-0.3 ms a request.

    There is no bound: a connection never waits for another to end (a client's
    keep-alive connection holds its thread). A thread idle for IDLE_S seconds ends.
    """

    multithread = True
    IDLE_S = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock = threading.Lock()  # before Werkzeug's __init__, which may call server_close
        self._idle = 0  # threads waiting for a connection not yet handed to them
        self._handoff: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._handoff.put((request, client_address))
                return
        threading.Thread(
            target=self._work, args=((request, client_address),), daemon=True
        ).start()

    def _work(self, first: tuple[Any, Any]) -> None:
        item: tuple[Any, Any] | None = first
        while item is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
            with self._lock:
                self._idle += 1
            try:
                item = self._handoff.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._idle:  # nothing was handed to this thread: it may end
                        self._idle -= 1
                        return
                # Every idle thread was handed a connection, this one included.
                item = self._handoff.get()

    def server_close(self) -> None:
        super().server_close()
        with self._lock:
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._handoff.put(None)


class _QuietHandler(WSGIRequestHandler):
    """Keep connections alive, and leave request logging to the app's wrapper."""

    protocol_version = "HTTP/1.1"

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request the HTTP layer could not parse in the contract's JSON shape."""
        try:
            short = HTTPStatus(code).phrase
        except ValueError:
            short = "Error"
        body = json.dumps(
            {"error": {"status": code, "message": message or short, "details": []}}
        ).encode()
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, short)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def make_environ(self) -> dict[str, Any]:
        """Keep the request target as sent: http.server folds a leading "//" into "/"."""
        environ: dict[str, Any] = super().make_environ()
        parts = self.requestline.split(" ")
        if len(parts) == 3:
            environ["RAW_URI"] = environ["REQUEST_URI"] = parts[1]
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        pass


def _with_probe(app: WSGIApp, probe: str) -> WSGIApp:
    """Answer a secret readiness path with 204 before the app sees anything."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == probe:
            start_response("204 No Content", [])
            return [b""]
        return app(environ, start_response)

    return wrapped


def _wait_until_answering(
    host: str, port: int, probe: str, timeout: float, alive: Callable[[], bool] = lambda: True
) -> bool:
    """Poll the probe path until it answers (True), time runs out or ``alive()`` fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            conn = http.client.HTTPConnection(host, port, timeout=1)
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


def _bind(host: str, port: int) -> socket.socket:
    """Bind and listen, turning failure into a ServerError that names the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is already in use"
        raise ServerError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def _check_bindable(host: str, port: int) -> None:
    _bind(host, port).close()


def free_port(host: str) -> int:
    """Return a port nothing listens on now (for servers that cannot report port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def run(
    app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    on_ready: Callable[[int], None] | None = None,
    log: TextIO | None = None,
    threads: int = 1,
    timeout: float = 10.0,
) -> None:
    """Serve a WSGI app from this process with granian until SIGINT or SIGTERM.

    ``on_ready(port)`` is called once a request has been answered. Granian's
    Rust HTTP layer is several times faster than Werkzeug's; one worker, run as
    a thread of this process, keeps the state in one place.
    """
    from granian.constants import Interfaces, RuntimeModes
    from granian.server import MTServer

    class InProcess(MTServer):
        # Granian runs workers as threads only on free-threaded builds; with one
        # worker the GIL costs nothing, and the fake's state must stay here.
        def _check_gil(self) -> None:
            pass

    if port == 0:
        port = free_port(host)
    else:
        _check_bindable(host, port)
    probe = "/_apollo_fake_probe/" + secrets.token_hex(8)
    served = _with_probe(_log_requests(app, log) if log is not None else app, probe)
    failed: list[str] = []

    def announce() -> None:
        if _wait_until_answering(host, port, probe, timeout):
            if on_ready is not None:
                on_ready(port)
        else:
            failed.append(f"the server did not answer on {host}:{port} within {timeout:g} s")
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=announce, name="apollo-fake:ready", daemon=True).start()
    server = InProcess(
        "apollo_fake:app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=1,
        # With one thread running Python, the GIL is never fought over: two gave
        # half the req/s and a p99 of 20-30 ms against 1-2 ms (wrk -t2 -c8).
        blocking_threads=threads,
        # One runtime thread for the sockets: with the GIL, a multi-threaded
        # runtime only adds hand-offs (p99 8 ms against 1.5 ms, same req/s).
        runtime_mode=RuntimeModes.st,
        log_enabled=False,
    )
    try:
        server.serve(target_loader=lambda *args, **kwargs: served, wrap_loader=False)
    except RuntimeError as exc:  # granian's bind errors carry a Rust backtrace
        raise ServerError(f"cannot serve on {host}:{port}: {str(exc).splitlines()[0]}") from None
    if failed:
        raise ServerError(failed[0])


def _log_requests(app: WSGIApp, stream: TextIO) -> WSGIApp:
    """Wrap an app so that it writes one line per request: method, path, status, time."""

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        began = time.perf_counter()
        status = ["-"]

        def capture(code: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, exc_info)

        body = app(environ, capture)
        ms = (time.perf_counter() - began) * 1000
        query = environ.get("QUERY_STRING")
        path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
        print(f"{environ.get('REQUEST_METHOD')} {path} {status[0]} {ms:.1f}ms", file=stream)
        return body

    return logged


class LiveServer:
    """Serve a WSGI app over HTTP from a daemon thread; ``url`` is known once it answers."""

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        log: TextIO | None = None,
    ) -> None:
        self.host = host
        self._probe = "/_apollo_fake_probe/" + secrets.token_hex(8)
        inner = _log_requests(app, log) if log is not None else app
        self._app = _with_probe(inner, self._probe)
        self._requested_port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        if self._server is None:
            raise ServerError("the server is not started")
        return int(self._server.port)

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:43125``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 5.0) -> LiveServer:
        """Bind, serve from a thread, and return once a request is answered."""
        # Bind here rather than in Werkzeug, which prints to stderr and exits the
        # process when the port is taken; a caller wants an exception it can report.
        sock = _bind(self.host, self._requested_port)
        try:
            self._server = _PooledWSGIServer(
                self.host, sock.getsockname()[1], self._app, _QuietHandler, fd=sock.fileno()
            )
        except OSError as exc:
            raise ServerError(
                f"cannot listen on {self.host}:{self._requested_port}: {exc.strerror or exc}"
            ) from None
        finally:
            sock.close()  # Werkzeug works on its own duplicate of the descriptor
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"apollo-fake:{self.port}",
            daemon=True,
        )
        thread = self._thread
        thread.start()
        if _wait_until_answering(self.host, self.port, self._probe, timeout, thread.is_alive):
            return self
        died = not thread.is_alive()
        self.stop()
        if died:
            raise ServerError("the server thread ended before it answered a request")
        raise ServerError(f"the server did not answer within {timeout:g} s")

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        server, thread = self._server, self._thread
        if server is not None:
            # shutdown() waits for the serve loop to notice: only ask a loop that runs.
            if thread is not None and thread.is_alive():
                server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
