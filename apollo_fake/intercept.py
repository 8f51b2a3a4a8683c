"""Unchanged HTTP clients reach a fake in process, as moto does for AWS.

While :func:`mock` is active, a request that ``requests``, ``httpx`` (sync or
async) or ``aiohttp`` sends to the vendor's host (``https://api.apollohq.com/v1/...``
or ``https://api.apollohq.com/...``, HTTP too) is answered by a fake's WSGI app,
with no socket: everything the fake does over a socket (auth, the rate limit,
faults, the journal, the contract report) it does here, because the app does it.
Each library is patched through the well-kept mocking library made for it
(``responses``, httpx's own ``MockTransport``, ``aioresponses``); requests to
any other host go out as usual. ``urllib.request`` is not intercepted: give it
``Fake.url`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import inspect
import io
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast
from unittest.mock import patch
from urllib.parse import unquote_to_bytes, urlsplit

from .fake import Fake

if TYPE_CHECKING:
    import aiohttp
    import httpx
    import requests
    from flask import Flask

__all__ = ["BASE_URL", "CLIENTS", "HOST", "Mock", "mock"]

HOST = "api.apollohq.com"
BASE_URL = f"https://{HOST}/v1"
# The vendor's host, by either scheme, with or without a port: what is intercepted.
_APOLLO_URL = re.compile(rf"https?://{re.escape(HOST)}(?::\d+)?(?=[/?#]|$)", re.IGNORECASE)
# Each client library: the modules it needs, and the extra that installs them.
CLIENTS: dict[str, tuple[str, ...]] = {
    "requests": ("requests", "responses"),
    "httpx": ("httpx",),
    "aiohttp": ("aiohttp", "aioresponses"),
}
F = TypeVar("F", bound=Callable[..., Any])


# --- one request, answered by the app -----------------------------------------------


class Dropped(Exception):
    """The app dropped the connection (a ``drop`` fault rule): no answer at all."""


@dataclass(frozen=True)
class Answer:
    """What the app answered: status, reason phrase, headers and the whole body."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


def call_app(
    app: Flask, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes
) -> Answer:
    """Hand one request to a WSGI app, as a server would; raise Dropped if it drops it."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    secure = parts.scheme.lower() == "https"
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if secure else "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "apollo-fake (in process)",
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
        "QUERY_STRING": parts.query,
        "REQUEST_URI": target,
        "RAW_URI": target,
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": parts.hostname or HOST,
        "SERVER_PORT": str(parts.port or (443 if secure else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    for name, value in headers:
        key = name.upper()
        # The body is whole here: its framing headers are this function's to set.
        if "_" in key or key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue
        key = key.replace("-", "_")
        if key != "CONTENT_TYPE":
            key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ.setdefault("HTTP_HOST", parts.netloc)
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    started: list[Any] = []
    written: list[bytes] = []  # what an app writes through start_response's callable

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        started[:] = [status, response_headers]
        return written.append

    try:
        result = app(environ, start_response)
        try:
            payload = b"".join([*written, *result])
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except ConnectionAbortedError as exc:
        raise Dropped(str(exc)) from exc
    status, _, reason = started[0].partition(" ")
    return Answer(int(status), reason, list(started[1]), payload)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


# --- requests, through responses -----------------------------------------------------


@functools.cache
def _responses_classes() -> tuple[type[Any], type[Any]]:
    """Return the two classes the requests interception uses, made once."""
    import responses
    from requests.adapters import HTTPAdapter

    class Apollo(responses.CallbackResponse):
        """Match every method to the vendor's host."""

        def matches(self, request: requests.PreparedRequest) -> tuple[bool, str]:
            if _APOLLO_URL.match(request.url or ""):
                return True, ""
            return False, "not the Apollo API's host"

    class Mocked(responses.RequestsMock):
        """A RequestsMock whose patch names its target by object, not by a dotted name."""

        def start(self) -> None:
            # responses resolves "requests.adapters.HTTPAdapter.send" at every start:
            # the largest part of what a test paid for the interception.
            if self._patcher is None:
                self._patcher = patch.object(HTTPAdapter, "send", self.unbound_on_send())
                self._patcher.start()

    return Apollo, Mocked


@contextlib.contextmanager
def _requests(current: Callable[[], Flask]) -> Iterator[None]:
    import requests
    import responses
    from requests.adapters import HTTPAdapter

    def answer(request: requests.PreparedRequest) -> Any:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):  # an iterable of chunks: sent chunked
            chunks = cast(Iterable[bytes | str], body)  # responses has read a file already
            body = b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in chunks)
        headers = [(k, _text(v)) for k, v in request.headers.items()]
        try:
            got = call_app(current(), request.method or "GET", request.url or "", headers, body)
        except Dropped:
            # What requests raises when a server closes the connection unanswered.
            return requests.ConnectionError(
                "('Connection aborted.', RemoteDisconnected('Remote end closed connection "
                "without response'))",
                request=request,
            )
        return got.status, got.headers, got.body

    apollo, mocked = _responses_classes()
    # Passthrough goes to what HTTPAdapter.send is now: another active `responses`
    # mock of the test's own keeps its say over the other hosts.
    rsps = mocked(assert_all_requests_are_fired=False, real_adapter_send=HTTPAdapter.send)
    rsps.add(apollo("GET", _APOLLO_URL, callback=answer, content_type=None))
    rsps.add_passthru(_ANYTHING)  # tried only when the fake did not match
    on_request = responses.RequestsMock._on_request

    def route(self: Any, adapter: Any, request: Any, **kwargs: Any) -> Any:
        # A `responses` mock the test starts itself sits above this one and would
        # refuse the vendor's host as unmatched: hand those requests to the fake.
        if self is not rsps and _APOLLO_URL.match(request.url or ""):
            return on_request(rsps, adapter, request, **kwargs)
        return on_request(self, adapter, request, **kwargs)

    rsps.start()
    try:
        with patch.object(responses.RequestsMock, "_on_request", route):
            yield
    finally:
        rsps.stop(allow_assert=False)


_ANYTHING = re.compile(r"(?s:.)")


# --- httpx, through its own mock transport -------------------------------------------


@functools.cache
def _httpx_dropped() -> type[httpx.TransportError]:
    import httpx

    class ConnectionDropped(httpx.RemoteProtocolError, httpx.ConnectError):
        """The server closed the connection unanswered (a ``drop`` fault).

        Over a socket httpx raises RemoteProtocolError; this is that, and a
        ConnectError too, so that either ``except`` clause catches it.
        """

    return ConnectionDropped


def _httpx_answer(current: Callable[[], Flask], request: httpx.Request) -> httpx.Response:
    import httpx

    headers = [(_text(k), _text(v)) for k, v in request.headers.raw]
    try:
        got = call_app(current(), request.method, str(request.url), headers, request.content)
    except Dropped:
        raise _httpx_dropped()(
            "Server disconnected without sending a response.", request=request
        ) from None
    extensions = {"http_version": b"HTTP/1.1", "reason_phrase": got.reason.encode("latin-1")}
    return httpx.Response(
        got.status,
        headers=got.headers,
        stream=httpx.ByteStream(got.body),
        request=request,
        extensions=extensions,
    )


@contextlib.contextmanager
def _httpx(current: Callable[[], Flask]) -> Iterator[None]:
    import httpx

    # httpx's own mock transport answers for the vendor's host; every other request
    # goes on through the transport the client has. Two attributes patched, where
    # respx patches twelve at each start: that cost far more per test than the rest.
    answer = httpx.MockTransport(functools.partial(_httpx_answer, current))

    async def in_thread(request: httpx.Request) -> httpx.Response:
        # A delay fault sleeps in the app: an async client's event loop must not.
        return await asyncio.to_thread(_httpx_answer, current, request)

    answer_async = httpx.MockTransport(in_thread)
    send = httpx.HTTPTransport.handle_request
    send_async = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if request.url.host == HOST:
            return answer.handle_request(request)
        return send(self, request)

    async def handle_async_request(
        self: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        if request.url.host == HOST:
            return await answer_async.handle_async_request(request)
        return await send_async(self, request)

    with (
        patch.object(httpx.HTTPTransport, "handle_request", handle_request),
        patch.object(
            httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request
        ),
    ):
        yield


# --- aiohttp, through aioresponses -----------------------------------------------------

# The session of the request being answered: its default auth and JSON serializer.
_SESSION: ContextVar[aiohttp.ClientSession] = ContextVar("apollo_fake_session")


async def _aiohttp_body(session: aiohttp.ClientSession, kwargs: dict[str, Any]) -> Any:
    """Return the request's body as aiohttp would send it: a Payload, or None."""
    from aiohttp import FormData, payload

    if kwargs.get("json") is not None:
        dumps_bytes = getattr(session, "_json_serialize_bytes", None)
        if dumps_bytes is not None:
            return payload.JsonBytesPayload(kwargs["json"], dumps=dumps_bytes)
        return payload.JsonPayload(kwargs["json"], dumps=session._json_serialize)
    data = kwargs.get("data")
    if data is None:
        return None
    if isinstance(data, FormData):
        return data()
    try:
        return payload.get_payload(data, disposition=None)
    except payload.LookupError:  # aiohttp's own: a dict or pairs, sent as a form
        return FormData(data)()


class _NoWriter:
    """Stand for the writer of a request already sent: nothing was written."""

    output_size = 0


@functools.cache
def _aiohttp_response_class() -> type[aiohttp.ClientResponse]:
    """Return ClientResponse, able to be built by aioresponses on this aiohttp.

    aiohttp 3.14 added the argument ``stream_writer``, which aioresponses does
    not pass yet.
    """
    import aiohttp

    if "stream_writer" not in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        return aiohttp.ClientResponse

    class Response(aiohttp.ClientResponse):
        """A ClientResponse that aioresponses can build."""

        def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", _NoWriter())
            super().__init__(method, url, **kwargs)

    return Response


@functools.cache
def _aioresponses_classes() -> tuple[type[Any], type[Any]]:
    """Return the two classes the aiohttp interception uses, made once."""
    import aiohttp
    from aioresponses import aioresponses
    from aioresponses.core import RequestMatch

    class AnyMethod(RequestMatch):
        """Match every method to the vendor's host."""

        def match(self, method: str, url: Any) -> bool:
            return bool(_APOLLO_URL.match(str(url)))

    class Mocked(aioresponses):
        """Hand the callback the session and the URL as aiohttp would send it."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            mocked = self

            async def request(session: aiohttp.ClientSession, *args: Any, **kw: Any) -> Any:
                return await mocked._request_mock(session, *args, **kw)

            # The same patch as aioresponses' own, without its autospec: that one
            # builds a spec of ClientSession._request at every start, which cost
            # far more per test than everything else here.
            self.patcher = cast(Any, patch.object(aiohttp.ClientSession, "_request", request))

        async def _request_mock(
            self, orig_self: aiohttp.ClientSession, method: str, url: Any, *args: Any, **kw: Any
        ) -> Any:
            full = orig_self._build_url(url)
            if not _APOLLO_URL.match(str(full)):
                return await self.patcher.temp_original(orig_self, method, url, *args, **kw)
            if kw.get("params"):
                full = full.extend_query(kw["params"])
            token = _SESSION.set(orig_self)
            try:
                # The callback reads these; aioresponses sorts and re-encodes the query.
                kw.update(apollo_url=full, apollo_method=method.upper())
                return await super()._request_mock(orig_self, method, url, *args, **kw)
            finally:
                _SESSION.reset(token)

    return AnyMethod, Mocked


@contextlib.contextmanager
def _aiohttp(current: Callable[[], Flask]) -> Iterator[None]:
    import aiohttp
    from aioresponses import CallbackResult
    from multidict import CIMultiDict
    from yarl import URL

    response_class = _aiohttp_response_class()

    async def answer(url: URL, **kwargs: Any) -> CallbackResult:
        session = _SESSION.get()
        headers: CIMultiDict[str] = CIMultiDict(kwargs.get("headers") or {})
        body = await _aiohttp_body(session, kwargs)
        raw = b""
        if body is not None:
            raw = await body.as_bytes()
            if body.content_type and "Content-Type" not in headers:
                headers["Content-Type"] = body.content_type
        auth = kwargs.get("auth") or session._default_auth
        if auth is not None and "Authorization" not in headers:
            headers["Authorization"] = auth.encode()
        headers.setdefault("Host", url.raw_authority)
        target = kwargs["apollo_url"]
        method = kwargs["apollo_method"]
        items = list(headers.items())
        try:
            got = await asyncio.to_thread(call_app, current(), method, str(target), items, raw)
        except Dropped:
            raise aiohttp.ServerDisconnectedError() from None
        response_headers: CIMultiDict[str] = CIMultiDict(got.headers)
        return CallbackResult(
            method=method,
            status=got.status,
            body=got.body,
            content_type=response_headers.get("Content-Type", "application/json"),
            headers=cast(Any, response_headers),  # a multidict keeps repeated headers
            response_class=response_class,
            reason=got.reason,
        )

    any_method, mocked_class = _aioresponses_classes()
    mocked = mocked_class(passthrough_unmatched=True)
    mocked.start()
    try:
        # One matcher for every method, where aioresponses' add() takes one method.
        mocked._matches["apollo"] = any_method(_APOLLO_URL, callback=answer, repeat=True)
        yield
    finally:
        mocked.stop()


_ADAPTERS: dict[str, Callable[[Callable[[], Flask]], contextlib.AbstractContextManager[None]]] = {
    "requests": _requests,
    "httpx": _httpx,
    "aiohttp": _aiohttp,
}


class _Patched:
    """One library's patch, started once for any number of active mocks.

    Mocks nest: the innermost active one answers; the patch ends with the last.
    (aioresponses cannot patch over itself, and one patch is cheaper anyway.)
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.apps: list[Flask] = []
        self.patch: contextlib.ExitStack | None = None

    def current(self) -> Flask:
        return self.apps[-1]

    def push(self, app: Flask) -> None:
        with _LOCK:
            if not self.apps:
                started = contextlib.ExitStack()
                started.enter_context(_ADAPTERS[self.name](self.current))
                self.patch = started
            self.apps.append(app)

    def pop(self, app: Flask) -> None:
        with _LOCK:
            for i in range(len(self.apps) - 1, -1, -1):
                if self.apps[i] is app:
                    del self.apps[i]
                    break
            if not self.apps and self.patch is not None:
                started, self.patch = self.patch, None
                started.close()


_LOCK = threading.RLock()
_PATCHED = {name: _Patched(name) for name in _ADAPTERS}


# --- the public face ----------------------------------------------------------------


_FOUND: set[str] = set()  # libraries found installed: an install does not go away


def _installed(name: str) -> bool:
    if name not in _FOUND:
        if not all(importlib.util.find_spec(module) is not None for module in CLIENTS[name]):
            return False
        _FOUND.add(name)
    return True


def _chosen(clients: str | Iterable[str] | None) -> tuple[str, ...]:
    """Name the client libraries to intercept, raising ImportError for a missing extra."""
    if clients is None:
        found = tuple(name for name in CLIENTS if _installed(name))
        if not found:
            raise ImportError(
                "apollo_fake.mock() intercepts requests, httpx or aiohttp, and none is "
                "installed with its mocking library: pip install 'apollo-fake[requests]' "
                "(or [httpx], [aiohttp])"
            )
        return found
    names = (clients,) if isinstance(clients, str) else tuple(clients)
    for name in names:
        if name not in CLIENTS:
            raise ValueError(f"clients: {name!r} is not one of {', '.join(CLIENTS)}")
        if not _installed(name):
            modules = " and ".join(CLIENTS[name])
            raise ImportError(
                f"apollo_fake.mock(clients={name!r}) needs {modules}: "
                f"pip install 'apollo-fake[{name}]'"
            )
    return names


class Mock:
    """Route unchanged clients' requests to the Apollo API to a fake, in process.

    A context manager yielding the fake, and a decorator of sync and async
    functions. Made by :func:`mock`.
    """

    def __init__(self, fake: Fake | None, build: Callable[[], Fake], clients: tuple[str, ...]):
        """Hold a fake (or how to build one) and the client libraries to intercept."""
        self._given = fake
        self._build = build
        self._own: Fake | None = None
        self.clients = clients
        self._active: list[contextlib.ExitStack] = []

    @property
    def fake(self) -> Fake:
        """Return the fake the requests reach (built on first use when none was given)."""
        if self._given is not None:
            return self._given
        if self._own is None:
            self._own = self._build()
        return self._own

    def __enter__(self) -> Fake:
        """Start intercepting; return the fake."""
        fake = self.fake
        app = fake.app
        stack = contextlib.ExitStack()
        try:
            for name in self.clients:
                _PATCHED[name].push(app)
                stack.callback(_PATCHED[name].pop, app)
        except BaseException:
            stack.close()
            raise
        self._active.append(stack)
        return fake

    def __exit__(self, *exc: object) -> None:
        """Stop intercepting: the libraries are as they were."""
        self._active.pop().close()

    def __call__(self, func: F) -> F:
        """Decorate a function: each call runs intercepted, on a fake restored to its start.

        A fake passed to :func:`mock` is left as it is between calls.
        """
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._fresh():
                    return await func(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return cast(F, run)

    def _fresh(self) -> Mock:
        if self._given is None and self._own is not None and not self._active:
            self._own.reset()
        return self


def mock(
    fake: Any = None,
    *,
    today: Any = None,
    start: Any = None,
    settings: Any = None,
    clients: str | Iterable[str] | None = None,
) -> Mock:
    """Intercept requests to https://api.apollohq.com from unchanged clients, for a fake.

    ``fake`` is a :class:`~apollo_fake.Fake` to use as it is, or what ``Fake()``
    takes as data (a fixture document or a path to one), with ``today``, ``start``
    and ``settings`` as ``Fake()`` takes them. Without data: the packaged demo,
    with its clock, as ``apollo-fake serve`` starts. ``clients`` names the client
    libraries to intercept (``"requests"``, ``"httpx"``, ``"aiohttp"``); by default,
    each one installed with its mocking library.
    """
    chosen = _chosen(clients)
    if isinstance(fake, Fake):
        if today is not None or start is not None or settings is not None:
            raise TypeError("mock(): today, start and settings are for a fake mock() builds")
        return Mock(fake, lambda: fake, chosen)

    def build() -> Fake:
        if fake is None:
            from . import fixtures

            store, begins = fixtures.starting_store(today=today)
            return Fake(store, today=today, start=start or begins, settings=settings)
        return Fake(fake, today=today, start=start, settings=settings)

    return Mock(None, build, chosen)
