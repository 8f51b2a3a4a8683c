"""The app factory: one Flask app around one :class:`~apollo_fake.core.Core`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import BaseConverter

from .. import openapi
from ..core import Core
from ..errors import (
    ApolloError,
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NoRoute,
    PayloadTooLarge,
    render,
)
from . import api, control, inspector, wire

log = logging.getLogger("apollo_fake")


class IdConverter(BaseConverter):
    """Match an all-digit path segment, as the API's ids and page numbers are.

    Only ASCII digits: Werkzeug's default would accept other scripts' digits.
    The value stays a string; the handler reads it as a number.
    """

    regex = "[0-9]+"


def create_app(fake: Core | None = None, config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app serving a fake (a new empty one when none is given)."""
    app = Flask("apollo_fake", static_folder=None)
    app.config.update(JSON_SORT_KEYS=False)
    app.config.update(config or {})
    app.extensions["apollo_fake"] = fake if fake is not None else Core()
    app.url_map.converters["id"] = IdConverter
    # Werkzeug would answer "//projects" with an HTML redirect; the API has no such route.
    app.url_map.merge_slashes = False
    fake = fake_of(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.bp, url_prefix="/v1", name="api_v1")
    if fake.settings.control:
        app.register_blueprint(control.bp)
        app.register_blueprint(inspector.bp)
    app.add_url_rule("/openapi.json", openapi.SELF, openapi.view, provide_automatic_options=False)
    # The Apollo calls are dispatched in front of Flask over its URL map, to the
    # views registered there (see web/api.py); the error handlers below serve what
    # reaches Flask: the control API and /openapi.json.
    apollo = api.ApiApp(app.wsgi_app, app.url_map, fake)
    apollo.bind(app.view_functions)
    # Every way in (each server, the test client) goes through the wire layer first.
    app.wsgi_app = wire.Wire(apollo)  # type: ignore[method-assign]
    app.register_error_handler(ApolloError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def fake_of(app: Flask | None = None) -> Core:
    """Return the fake an app serves."""
    target = app if app is not None else current_app
    found: Core = target.extensions["apollo_fake"]
    return found


def error_response(err: ApolloError) -> Response:
    """Turn an ApolloError into the contract's JSON error response."""
    line, headers, body = render(err)
    return Response(body, line, headers)


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
    return error_response(err)


def _unexpected(exc: BaseException) -> Response:
    """Answer an unexpected failure with a JSON 500 and no traceback, and log it."""
    log.error("apollo-fake failed on %s %s", request.method, request.path, exc_info=exc)
    return error_response(InternalError())
