"""The Apollo time-tracking calls: parse the request, call the domain, write JSON."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, g, request

from .. import service
from ..errors import BadRequest
from ..fake import Fake
from ..model import Entry
from .body import read_json

bp = Blueprint("api", __name__)
JSON = "application/json"
NO_PARAMS: frozenset[str] = frozenset()
PAGE_PARAM = frozenset(["page"])
HUGE_PAGE = 10**18  # any page past the end of any listing


def _fake() -> Fake:
    found: Fake = current_app.extensions["apollo_fake"]
    return found


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, headers, mimetype=JSON)


def _entries_body(entries: Iterable[Entry], prefix: bytes = b"{") -> bytes:
    return prefix + b'"time-entries":[' + b",".join(e.wire_bytes() for e in entries) + b"]"


def _params(allowed: frozenset[str]) -> dict[str, str]:
    return service.single_params(request.args.to_dict(flat=False), allowed)


def _params_besides_page() -> None:
    service.single_params({k: v for k, v in request.args.lists() if k != "page"}, NO_PARAMS)


def _number(text: str) -> int:
    """Read a path id or page as the vendor's PHP does: a number, leading zeros and all."""
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else HUGE_PAGE


def _page_number(path_page: str | None) -> int:
    if path_page is not None:
        # A path page wins; a page query parameter beside it is ignored, valid or not.
        _params_besides_page()
        number = _number(path_page)
        if number < 1:
            raise BadRequest(
                "Pages are numbered from 1.",
                [{"field": "page", "message": "the page in the path must be at least 1"}],
            )
        return number
    text = _params(PAGE_PARAM).get("page")
    if text is None:
        return 1
    number = _number(text) if text.isascii() and text.isdigit() else 0
    if number < 1:
        raise BadRequest(
            "The page query parameter must be a positive integer.",
            [{"field": "page", "message": f"{text!r} is not a positive integer"}],
        )
    return number


def _listing(collection: str, parent_id: str, path_page: str | None = None) -> Response:
    number = _page_number(path_page)
    pid = _number(parent_id)
    page = service.page(_fake(), collection, pid, number)
    prefix = b"{"
    if page.more:
        prefix = b'{"continued-at":"/%s/%d/timeEntries/%d",' % (
            collection.encode(),
            pid,
            number + 1,
        )
    return _json(_entries_body(page.entries, prefix) + b"}")


def _body() -> Any:
    body = read_json()
    g.body = body
    return body


def _create(collection: str, parent_id: str) -> Response:
    _params(NO_PARAMS)
    body = _body()
    new = service.create(_fake(), collection, _number(parent_id), body, g.get("user_id"))
    prefix = "/v1" if request.blueprint == "api_v1" else ""
    return _json(
        b'{"time-entry-id":"%d"}' % new.id,
        201,
        {"Location": f"{prefix}/timeEntries/{new.id}"},
    )


for _collection in ("projects", "contacts"):
    bp.add_url_rule(
        f"/{_collection}/<id:parent_id>/timeEntries",
        f"{_collection}_listing",
        _listing,
        methods=["GET"],
        defaults={"collection": _collection},
        provide_automatic_options=False,
    )
    bp.add_url_rule(
        f"/{_collection}/<id:parent_id>/timeEntries/<id:path_page>",
        f"{_collection}_page",
        _listing,
        methods=["GET"],
        defaults={"collection": _collection},
        provide_automatic_options=False,
    )
for _collection in ("projects", "contacts", "tasks"):
    bp.add_url_rule(
        f"/{_collection}/<id:parent_id>/timeEntries",
        f"{_collection}_create",
        _create,
        methods=["POST"],
        defaults={"collection": _collection},
        provide_automatic_options=False,
    )


@bp.get("/tasks/<id:task_id>/timeEntries", provide_automatic_options=False)
def task_listing(task_id: str) -> Response:
    """List every entry of a task (no pages: a page parameter is ignored, valid or not)."""
    _params_besides_page()
    entries = service.task_entries(_fake(), _number(task_id))
    return _json(_entries_body(entries) + b"}")


@bp.get("/timeEntries/<id:entry_id>", provide_automatic_options=False)
def get_entry(entry_id: str) -> Response:
    """Return one entry."""
    _params(NO_PARAMS)
    found = service.entry(_fake(), _number(entry_id))
    return _json(b'{"time-entry":' + found.wire_bytes() + b"}")


@bp.put("/timeEntries/<id:entry_id>", provide_automatic_options=False)
def update_entry(entry_id: str) -> Response:
    """Change the given fields of an entry."""
    _params(NO_PARAMS)
    body = _body()
    service.update(_fake(), _number(entry_id), body)
    return _json(b"{}")


@bp.delete("/timeEntries/<id:entry_id>", provide_automatic_options=False)
def delete_entry(entry_id: str) -> Response:
    """Delete an entry."""
    _params(NO_PARAMS)
    service.delete(_fake(), _number(entry_id))
    return _json(b"{}")


@bp.get("/report/timeEntries", provide_automatic_options=False)
def report() -> Response:
    """Return the entries matching the report's criteria, with totals when asked."""
    entries, totals = service.report(_fake(), request.args.to_dict(flat=False))
    body = _entries_body(entries)
    if totals is not None:
        body += b',"totals":' + orjson.dumps(totals)
    return _json(body + b"}")


@bp.get("/account", provide_automatic_options=False)
def account() -> Response:
    """Return the account and its time categories."""
    _params(NO_PARAMS)
    return _json(orjson.dumps(service.account(_fake())))
