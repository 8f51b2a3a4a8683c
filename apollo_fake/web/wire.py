"""One way in: what every request goes through, whatever server (or test client) carries it.

Servers disagree on what they hand an app: one decodes ``%2F`` into a separator,
another keeps it; one refuses an HTTP/1.1 request without ``Host``, another
answers it. This layer sits in front of the app on every way in and settles it
once, in the project's code:

- the path the app routes on (``PATH_INFO``) is read from the request target as
  sent (``REQUEST_URI``/``RAW_URI``), with ``%2F`` kept as part of its segment,
  never a separator, so ``/timeEntries%2F71`` matches no route anywhere;
- a request that is not one (no ``Host`` in HTTP/1.1, both ``Content-Length``
  and ``Transfer-Encoding``, a URL or a head over the limit) is refused with the
  contract's JSON error and a closed connection.

The server refuses what never reaches an app (a bad request line or header)
with the same messages and the same renderer (see :mod:`apollo_fake.server`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from ..errors import MAX_BODY, MAX_STATE_BODY, ApolloError, BadRequest, render

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

HEAD_LIMIT = 64 * 1024  # bytes of request line and headers together
URL_LIMIT = HEAD_LIMIT  # bytes of the request target
CHECKED = "apollo_fake.wire_checked"  # set by a server that enforced the limits itself
# Set by the app on a request a server's log may leave out when it succeeds: a read of
# the control API, which an open inspector page makes several times a second.
QUIET = "apollo_fake.quiet"
# Set by the app on a request whose answer waits before it is made (a ``delay_ms``
# fault): its result blocks when read, and a server reads it off its event loop.
HELD = "apollo_fake.held"
# Set by a server that reads a request's body before it calls the app: the recorder
# of the request's arrival (``Core.arrive``) when its head came, so that it counts as
# in flight meanwhile, and one whose test ended (a reset) before it reached the app is
# answered as superseded. The app takes it up (``Core.begin``) and ends it.
BEGUN = "apollo_fake.begun"
_ENCODED_SLASH = re.compile("%2[fF]")
STATE_PATH = "/_fake/state"  # the one call whose body may be a whole state


def body_limit(path: str) -> int:
    """Return the largest body the call at ``path`` takes (a larger one is a 413)."""
    return MAX_STATE_BODY if path == STATE_PATH else MAX_BODY


class UriTooLong(ApolloError):
    """A request target over the limit (414)."""

    status = 414
    title = f"The URL is longer than {URL_LIMIT} bytes."


class HeadTooLarge(ApolloError):
    """A request line and headers over the limit (431)."""

    status = 431
    title = f"The request line and headers are larger than {HEAD_LIMIT} bytes."


def not_http(reason: str) -> BadRequest:
    """Return the 400 for a request that is not well-formed HTTP, saying why."""
    reason = reason.rstrip(".")
    return BadRequest(f"The request is not well-formed HTTP: {reason}.")


NO_HOST = "an HTTP/1.1 request must have a Host header"
LENGTH_AND_CHUNKED = (
    "a request may not have both Content-Length and Transfer-Encoding (RFC 9112, section 6.1)"
)


def refusal_answer(err: ApolloError) -> tuple[str, list[tuple[str, str]], bytes]:
    """Render a refusal: the contract's JSON error, and the connection closed after it."""
    err.headers.setdefault("Connection", "close")
    return render(err)


def path_info(target: str) -> str:
    """Return the path the app routes on: the target's path, %-decoded except ``%2F``.

    Both are WSGI strings (bytes as latin-1). A decoded ``%2F`` would become a
    separator, and ``/timeEntries%2F71`` the entry 71: it stays as sent instead.
    """
    path = target.partition("?")[0]
    if path[:1] != "/" and "://" in path:  # an absolute target: http://host/path
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    if "%" not in path:
        return path
    parts = _ENCODED_SLASH.split(path)
    raw = b"%2F".join(unquote_to_bytes(part.encode("latin-1")) for part in parts)
    return raw.decode("latin-1")


def _refusal(environ: dict[str, Any], target: str) -> ApolloError | None:
    if not environ.get(CHECKED):
        # A server that does not enforce the limits itself (Flask's test client).
        if len(target) > URL_LIMIT:
            return UriTooLong()
        head = len(target) + sum(
            len(key) + len(value) for key, value in environ.items() if key.startswith("HTTP_")
        )
        if head > HEAD_LIMIT:
            return HeadTooLarge()
    if environ.get("SERVER_PROTOCOL") == "HTTP/1.1" and not environ.get("HTTP_HOST"):
        return not_http(NO_HOST)
    if environ.get("CONTENT_LENGTH") and environ.get("HTTP_TRANSFER_ENCODING"):
        return not_http(LENGTH_AND_CHUNKED)
    return None


class Wire:
    """Give every way in one meaning: refuse what is not a request, route on the raw path."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        if target is None:  # a server that gives no raw target: rebuild one
            query = environ.get("QUERY_STRING")
            target = quote(environ.get("PATH_INFO", ""), safe="/;:@&=+$,%")
            target += f"?{query}" if query else ""
        err = _refusal(environ, target)
        if err is not None:
            status, headers, body = refusal_answer(err)
            start_response(status, headers)
            return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]
        if not environ.get(CHECKED):  # a server of the project's has set it already
            environ["PATH_INFO"] = path_info(target)
        return self.app(environ, start_response)
