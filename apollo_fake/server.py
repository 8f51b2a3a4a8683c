"""A live HTTP server around a WSGI app, in a thread, on a port of its own."""

from __future__ import annotations

import errno
import http.client
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .http1 import ThreadedServer

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ServerError(RuntimeError):
    """The live server could not be started."""


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
        self._server: ThreadedServer | None = None

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
        from .http1 import ThreadedServer  # not needed by `apollo-fake serve`: not at start-up

        server = self._server = ThreadedServer(self._app, _bind(self.host, self._requested_port))
        server.start()

        def alive() -> bool:
            return server.threads() > 0

        if _wait_until_answering(self.host, self.port, self._probe, timeout, alive):
            return self
        died = not alive()
        self.stop()
        if died:
            raise ServerError("the server thread ended before it answered a request")
        raise ServerError(f"the server did not answer within {timeout:g} s")

    def stop(self) -> None:
        """Stop serving and wait for the server's threads to end."""
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
