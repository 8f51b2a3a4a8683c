"""The app factory: one Flask app around one :class:`~apollo_fake.fake.Fake`."""

from __future__ import annotations

import hmac
import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import BaseConverter

from .. import openapi
from ..errors import (
    ApolloError,
    BadRequest,
    MethodNotAllowed,
    NoRoute,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
)
from ..fake import Fake
from . import api, control

MAX_BODY = 1024 * 1024
JSON = "application/json"
log = logging.getLogger("apollo_fake")


class IdConverter(BaseConverter):
    """Match an all-digit path segment, as the API's ids and page numbers are.

    Only ASCII digits: Werkzeug's default would accept other scripts' digits.
    The value stays a string; the handler reads it as a number.
    """

    regex = "[0-9]+"


def create_app(fake: Fake | None = None, config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app serving a fake (a new empty one when none is given)."""
    app = Flask("apollo_fake", static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, JSON_SORT_KEYS=False)
    app.config.update(config or {})
    app.extensions["apollo_fake"] = fake if fake is not None else Fake()
    app.url_map.converters["id"] = IdConverter
    # Werkzeug would answer "//projects" with an HTML redirect; the API has no such route.
    app.url_map.merge_slashes = False
    fake = fake_of(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.bp, url_prefix="/v1", name="api_v1")
    if fake.settings.control:
        app.register_blueprint(control.bp)
    app.add_url_rule("/openapi.json", openapi.SELF, openapi.view, provide_automatic_options=False)
    app.wsgi_app = FaultInjector(app.wsgi_app, fake)  # type: ignore[method-assign]
    app.before_request(_guard)
    app.after_request(_journal)
    app.register_error_handler(ApolloError, _apollo_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


class FaultInjector:
    """Apply the fake's fault rules before a request reaches the app.

    WSGI middleware rather than a Flask hook, because dropping a connection
    must bypass Flask's error handling entirely.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], fake: Fake) -> None:
        self.app = app
        self.fake = fake

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        faults = self.fake.faults
        path: str = environ.get("PATH_INFO", "")
        if not faults.rules or path.startswith("/_fake") or path == "/openapi.json":
            return self.app(environ, start_response)
        method: str = environ.get("REQUEST_METHOD", "GET")
        rule = faults.match(method, path[3:] if path.startswith("/v1/") else path)
        if rule is None:
            return self.app(environ, start_response)
        if rule.delay_ms is not None:
            time.sleep(rule.delay_ms / 1000)
            return self.app(environ, start_response)
        status = 0 if rule.drop else rule.status or 500
        self.fake.record(
            {
                "time": self.fake.clock.timestamp(),
                "method": method,
                "path": path,
                "query": environ.get("QUERY_STRING", ""),
                "user": None,
                "body": None,
                "status": status,
                "message": f"injected by fault rule {rule.id}",
                "violations": [],
                "fault": rule.id,
            }
        )
        if rule.drop:
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            # The server treats this as a client that went away: no answer at all.
            raise ConnectionAbortedError(
                f"apollo-fake dropped the connection (fault rule {rule.id})"
            )
        body = rule.body
        if body is None:
            body = ApolloError(f"Injected fault (rule {rule.id}).").to_dict()
            body["error"]["status"] = status
        headers = [("Content-Type", JSON), *rule.headers.items()]
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Injected"
        payload = orjson.dumps(body)
        headers.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {reason}", headers)
        return [payload]


def fake_of(app: Flask | None = None) -> Fake:
    """Return the fake an app serves."""
    target = app if app is not None else current_app
    found: Fake = target.extensions["apollo_fake"]
    return found


def _is_api_request() -> bool:
    path = request.path
    return not (path.startswith("/_fake/") or path == "/_fake" or path == "/openapi.json")


def _guard() -> None:
    """Check the path as sent, the token and the rate limit of an API request."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if raw.startswith("//"):
        # A server may read "//account" as a URL with a host; the API has no such route.
        raise NoRoute(f"No call of the API matches {request.method} {raw.split('?', 1)[0]}.")
    if not _is_api_request():
        return
    fake = fake_of()
    tokens = fake.settings.tokens
    token = ""
    if tokens:
        auth = request.authorization
        given = (auth.username or "") if auth is not None and auth.type == "basic" else ""
        user = None
        # Compare with every token, in constant time each, so timing tells nothing.
        for known, user_id in tokens.items():
            if hmac.compare_digest(known.encode(), given.encode()):
                user = user_id
        if user is None:
            raise Unauthorized()
        g.user_id = user
        token = given
    wait = fake.take_request(token)
    if wait is not None:
        raise RateLimited(
            f"Too many requests: the limit is {fake.settings.rate_limit[0]} "  # type: ignore[index]
            f"per {fake.settings.rate_limit[1]:g} seconds. Retry in {wait} s.",  # type: ignore[index]
            wait,
        )


def _journal(response: Response) -> Response:
    """Record an API request in the fake's journal."""
    if _is_api_request():
        err: ApolloError | None = g.get("error")
        user = g.get("user_id")
        violations: list[dict[str, str]] = []
        if err is not None and err.violation:
            violations = err.details or [{"field": "", "message": err.message}]
        fake = fake_of()
        body = g.get("body")
        if "body" not in g and err is not None:
            body = _unread_body()
        fake.record(
            {
                "time": fake.clock.timestamp(),
                "method": request.method,
                "path": request.path,
                "query": request.query_string.decode("latin-1"),
                "user": str(user) if user is not None else None,
                "body": body,
                "status": response.status_code,
                "message": err.message if err is not None else None,
                "violations": violations,
            }
        )
    return response


def _unread_body() -> Any:
    """Return the JSON body of a request refused before its body was read, for the journal."""
    length = request.content_length
    if not length or length > MAX_BODY:
        return None
    try:
        return orjson.loads(request.get_data(cache=False))
    except (orjson.JSONDecodeError, HTTPException):
        return None


def error_response(err: ApolloError) -> Response:
    """Turn an ApolloError into the contract's JSON error response."""
    response = Response(orjson.dumps(err.to_dict()), err.status, err.headers, mimetype=JSON)
    if err.status == 413:
        # The unread rest of the body is still on the connection: do not reuse it.
        response.headers["Connection"] = "close"
    return response


def _apollo_error(err: ApolloError) -> Response:
    g.error = err
    return error_response(err)


def _http_error(exc: HTTPException) -> Response:
    """Answer Werkzeug's routing and protocol errors in the contract's shape."""
    err: ApolloError
    call = f"{request.method} {request.path}"
    if isinstance(exc, WerkzeugMethodNotAllowed):
        allowed = sorted(set(exc.valid_methods or ()) - {"OPTIONS"})
        err = MethodNotAllowed(
            f"{call} is not allowed; this path takes {', '.join(allowed)}.", allowed
        )
    elif isinstance(exc, WerkzeugNotFound):
        err = NoRoute(f"No call of the API matches {call}.")
    elif isinstance(exc, RequestEntityTooLarge):
        err = PayloadTooLarge()
    elif exc.code is not None and 400 <= exc.code < 500:
        err = BadRequest(exc.description or "The request is malformed.")
        err.status = exc.code
    else:
        return _unexpected(exc)
    return _apollo_error(err)


def _unexpected(exc: BaseException) -> Response:
    """Answer an unexpected failure with a JSON 500 and no traceback, and log it."""
    log.error("apollo-fake failed on %s %s", request.method, request.path, exc_info=exc)
    err = ApolloError("The fake failed unexpectedly; this is a bug in apollo-fake.")
    return _apollo_error(err)
