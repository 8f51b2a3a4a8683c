"""One exception class per kind of failure, each carrying its HTTP status, and its rendering.

:func:`render` turns any :class:`ApolloError` into the contract's JSON error answer;
the Apollo calls, the control API, Flask's error handlers, fault answers and the
servers' refusals all answer through it, and nothing else builds error bodies.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson

Detail = dict[str, str]
MAX_PROBLEMS = 100  # problems a FixtureError lists; the rest are counted
JSON = "application/json"
MAX_BODY = 1024 * 1024  # the largest body of an Apollo call
MAX_STATE_BODY = 512 * 1024 * 1024  # of PUT /_fake/state: a whole state may be far larger


@functools.cache  # a few dozen statuses at most: 100 to 599
def status_line(status: int) -> str:
    """Return an HTTP status line's text, e.g. ``404 Not Found``."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Status"


class ApolloError(Exception):
    """Fail a request with the contract's JSON error."""

    status = 500
    title = "Internal error"

    def __init__(
        self,
        message: str | None = None,
        details: Sequence[Detail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.title
        self.details = list(details)
        self.headers = dict(headers or {})
        super().__init__(self.message)

    @property
    def violation(self) -> bool:
        """Tell whether the client broke the contract (as opposed to, say, a 404 for data)."""
        return self.status in (400, 405, 413, 422)

    def to_dict(self) -> dict[str, Any]:
        """Return the contract's error body."""
        return {"error": {"status": self.status, "message": self.message, "details": self.details}}

    def answered(self) -> ApolloError:
        """Return the error as an outcome kept after its ``except``: without the
        traceback and the exceptions it was raised in.

        A caught exception's traceback holds the frames it passed through, and they
        hold the request (its body too) and, through their callers, whatever kept
        the exception: a cycle that only the cyclic collector frees. An answered
        request's error needs none of it.
        """
        self.__traceback__ = None
        self.__context__ = None
        self.__cause__ = None
        return self


class InternalError(ApolloError):
    """A bug in the fake (500): answered in the contract's shape, never as a traceback."""

    title = "The fake failed unexpectedly; this is a bug in apollo-fake."


class BadRequest(ApolloError):
    """A malformed request or parameter (400)."""

    status = 400
    title = "The request is malformed"


class Unauthorized(ApolloError):
    """A missing or unknown token (401); reads the same either way."""

    status = 401
    title = "Authentication required: HTTP Basic with an API token as the user name"
    CHALLENGE = 'Basic realm="Apollo API"'  # the WWW-Authenticate header, always

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": self.CHALLENGE})


class NotFound(ApolloError):
    """An unknown resource (404)."""

    status = 404
    title = "Not found"


class NoRoute(NotFound):
    """A path that matches no call of the API (404, and a contract violation)."""

    @property
    def violation(self) -> bool:
        """Tell that a client calling an undocumented route broke the contract."""
        return True


class MethodNotAllowed(ApolloError):
    """A method the route does not accept (405, with Allow)."""

    status = 405
    title = "Method not allowed"

    def __init__(self, message: str, allowed: Sequence[str]) -> None:
        super().__init__(message, headers={"Allow": ", ".join(allowed)})


class PayloadTooLarge(ApolloError):
    """A body over the limit (413)."""

    status = 413
    title = f"The request body is larger than {MAX_BODY // 1024 // 1024} MiB"


class RequestTimeout(ApolloError):
    """A request whose head or body did not arrive in time (408)."""

    status = 408
    title = "The request did not arrive in time"


class Superseded(ApolloError):
    """A request still in flight when a reset replaced its state (503): it changed nothing.

    Only a request that outlived its test gets it (a delayed one, or one whose
    client gave up), so no test's client is expected to read it.
    """

    status = 503
    title = "The fake was reset while this request was in flight; it changed nothing"


class Unprocessable(ApolloError):
    """A well-formed request with invalid values (422)."""

    status = 422
    title = "The request has invalid values"


class RateLimited(ApolloError):
    """Too many requests in the window (429, with Retry-After)."""

    status = 429
    title = "Rate limit exceeded"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


def render(err: ApolloError) -> tuple[str, list[tuple[str, str]], bytes]:
    """Render an error as the contract's JSON answer: status line, headers and body."""
    body = orjson.dumps(err.to_dict())
    headers = [("Content-Type", JSON), ("Content-Length", str(len(body))), *err.headers.items()]
    if err.status == 413 and "Connection" not in err.headers:
        # The unread rest of the body is still on the connection: do not reuse it.
        headers.append(("Connection", "close"))
    return status_line(err.status), headers, body


class FixtureError(ValueError):
    """A fixture document that breaks its schema or its reference rules.

    ``problems`` lists at most MAX_PROBLEMS of them, in document order; ``more``
    counts those left out, so that a huge broken document is answered quickly.
    """

    def __init__(self, problems: Sequence[Detail], more: int = 0) -> None:
        self.problems = list(problems)
        self.more = more
        lines = [f"{p['field'] or '(document)'}: {p['message']}" for p in self.problems]
        if more:
            lines.append(f"... and {more} more problem{'s' * (more != 1)}")
        super().__init__("invalid fixture data:\n  " + "\n  ".join(lines))

    def summary(self) -> str:
        """Say what is wrong in one line: the first problem, and how many more."""
        first = self.problems[0] if self.problems else {"field": "", "message": "invalid"}
        more = len(self.problems) - 1 + self.more
        tail = f" (and {more} more problem{'s' * (more != 1)})" if more > 0 else ""
        return f"{first['field'] or '(document)'}: {first['message']}{tail}"
