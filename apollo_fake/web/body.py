"""Reading a request body as JSON, the one way every call does it."""

from __future__ import annotations

from typing import Any

import orjson
from flask import request

from ..errors import BadRequest, PayloadTooLarge


def read_json(*, optional: bool = False) -> Any:
    """Return the body parsed as JSON, whatever its Content-Type (None if optional and empty).

    A chunked body has no Content-Length for Werkzeug to refuse up front, and its
    guarded stream stops quietly at the limit; so such a body is read from the
    server's own (already de-chunked) input, one byte past the limit.
    """
    limit = request.max_content_length
    stream = request.stream
    if request.content_length is None and "wsgi.input_terminated" in request.environ:
        stream = request.environ["wsgi.input"]
    raw = stream.read(limit + 1) if limit is not None else stream.read()
    if limit is not None and len(raw) > limit:
        raise PayloadTooLarge()
    if not raw.strip():
        if optional:
            return None
        raise BadRequest(
            'The body is empty; send a JSON object, such as {"time-entry": {...}}.',
            [{"field": "", "message": "is empty"}],
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            "The body is not valid JSON (UTF-8).", [{"field": "", "message": str(exc)}]
        ) from None
