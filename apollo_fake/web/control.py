"""The control API under /_fake/: reset, state, snapshots, changes, journal, faults, clock, report.

Never under /v1, never rate limited, never recorded in the journal.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any
from urllib.parse import urlsplit

import orjson
from flask import Blueprint, Response, current_app, request

from .. import htmlreport, openapi, schemas
from ..clock import parse_moment, stamp
from ..core import Core
from ..errors import (
    MAX_BODY,
    ApolloError,
    BadRequest,
    FixtureError,
    NotFound,
    Unprocessable,
)
from ..model import parse_id
from ..service import PARENTS, flag, single_params
from .api import parse_json, read_raw
from .wire import QUIET, STATE_PATH, body_limit

bp = Blueprint("control", __name__, url_prefix="/_fake")
JSON = "application/json"
SCHEMA = "control.schema.json#/$defs/"


class ControlUnauthorized(ApolloError):
    """A control call without the right X-Fake-Control-Token (401)."""

    status = 401
    title = "The control API needs the X-Fake-Control-Token header"
    wrong = "The X-Fake-Control-Token header does not match the fake's control token"


class ControlForbidden(ApolloError):
    """A control call from a page of another site, or through another host name (403)."""

    status = 403
    title = (
        "The control API refuses calls from a page of another site, and calls through a "
        "host name other than an address or localhost: open the page at 127.0.0.1 or "
        "localhost, or give the fake a control token (serve --control-token, or "
        "Settings(control_token=...))"
    )


LOOPBACK_NAMES = frozenset(["localhost"])


def _hostname(url: str) -> str | None:
    """Return the host name of a URL (or of a Host header, as ``//HOST``), lowercased."""
    try:
        return urlsplit(url).hostname
    except ValueError:  # a bracketed name that is no IPv6 address
        return None


def _is_address(name: str | None) -> bool:
    if name is None:
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str | None) -> bool:
    """Tell whether a host name or address reaches only this machine."""
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name or "").is_loopback
    except ValueError:
        return False


def _names_this_host(host: str | None) -> bool:
    """Tell whether a Host names the fake as only its own machine's pages would: an
    address or localhost (a DNS name pointed at 127.0.0.1 is how a web site rebinds
    itself onto this machine)."""
    return _is_address(host) or host in LOOPBACK_NAMES


def _served_on_loopback() -> bool:
    """Tell whether the request came to a fake that only this machine can reach.

    A server names the address it listens on as SERVER_NAME (every server of this
    package does: ``serve``, ``run``, the plugin's and ``Fake.serve()``), Flask's
    test client names localhost. An address for all interfaces (0.0.0.0, ::) or a
    name is not loopback: the fake is then reached by a name of the network's.
    """
    return _is_loopback(str(request.environ.get("SERVER_NAME", "")).strip("[]"))


def _host_allowed() -> bool:
    """Tell whether a control call names this host as only this machine would.

    On a fake served on loopback alone, a Host that is neither an address nor
    localhost can only come from a DNS name pointed at 127.0.0.1: a web site that
    rebound its name to reach the fake from a developer's browser, which sends no
    Origin on its same-origin reads.
    """
    named = request.headers.get("Host")
    if named is None or not _served_on_loopback():
        return True  # a browser always names the host: an HTTP/1.0 client may not
    return _names_this_host(_hostname("//" + named))


def _browser_allowed() -> bool:
    """Tell whether a control call, if a browser made it, came from this fake's own pages.

    Only browsers send Origin or Sec-Fetch-Site; a client library, curl or a test
    sends neither and is not concerned. A browser's call must come through an
    address or localhost (a DNS name pointed at 127.0.0.1 is how a web site would
    rebind itself onto this machine) and, when it names an origin, from a page of a
    loopback name or of this very host: another web site must not reset the data,
    add faults or read the journal of a fake running beside a developer's browser.
    """
    headers = request.headers
    origin = headers.get("Origin")
    if origin is None and "Sec-Fetch-Site" not in headers:
        return True
    host = _hostname("//" + headers.get("Host", ""))
    if not _names_this_host(host):
        return False
    if origin is None:
        return headers.get("Sec-Fetch-Site") != "cross-site"
    page = _hostname(origin)  # None for "null": a sandboxed frame or a file
    return page == host or _is_loopback(page)


def _fake() -> Core:
    found: Core = current_app.extensions["apollo_fake"]
    return found


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status, mimetype=JSON)


# The query parameters each control call takes; any other is refused, as on the API.
# The query parameters each control call takes: the OpenAPI document's table, where a
# control call's parameter groups are the parameters themselves.
QUERY = {
    endpoint: frozenset(call.query)
    for endpoint, call in openapi.CALLS.items()
    if endpoint.startswith("control.")
}


@bp.before_request
def _check() -> None:
    if request.method in ("GET", "HEAD"):
        request.environ[QUIET] = True  # a read: the server's log may leave it out
    token = _fake().settings.control_token
    if token is not None:
        given = request.headers.get("X-Fake-Control-Token")
        if not hmac.compare_digest(token.encode(), (given or "").encode()):
            raise ControlUnauthorized(None if given is None else ControlUnauthorized.wrong)
    elif not (_host_allowed() and _browser_allowed()):  # a token: another site cannot know it
        raise ControlForbidden()
    allowed = QUERY.get(request.endpoint or "", frozenset())
    single_params(request.args.to_dict(flat=False), allowed)


def _body(definition: str, *, optional: bool = False, limit: int = MAX_BODY) -> Any:
    # The limit of an Apollo call, but for a whole state: what a fault rule or a
    # clock setting holds stays small, whoever sends it.
    raw = read_raw(request.environ, limit)
    if optional and not raw.strip():
        return {}
    body = parse_json(raw)  # JSON null is a body, and the schema refuses it
    if definition and not schemas.is_valid(SCHEMA + definition, body):
        details = schemas.details(schemas.errors(SCHEMA + definition, body))
        raise BadRequest("The body does not fit this call.", details)
    return body


def _name(name: str) -> str:
    if not schemas.is_valid(SCHEMA + "name", name):
        raise BadRequest(
            "Bad snapshot name.",
            [{"field": "name", "message": "a name is 1 to 64 letters, digits, '_', '.' or '-'"}],
        )
    return name


def _ok() -> Response:
    return _json({"ok": True})


@bp.get("/health")
def health() -> Response:
    """Answer once the fake serves: a readiness probe, with entity counts."""
    return _json({"status": "ok", "counts": _fake().store.counts()})


@bp.post("/reset")
def reset() -> Response:
    """Go back to the loaded data, or empty it with {"to": "empty"}."""
    body = _body("reset-request", optional=True)
    _fake().reset(body.get("to", "loaded"))
    return _ok()


@bp.get("/state")
def get_state() -> Response:
    """Return the whole state in the fixture-file format."""
    return _json(_fake().state())


@bp.put("/state")
def put_state() -> Response:
    """Replace the state with a fixture document (checked first; an invalid one changes nothing)."""
    doc = _body("", limit=body_limit(STATE_PATH))
    try:
        _fake().load(doc)
    except FixtureError as exc:
        message = "The fixture document is invalid; nothing was changed."
        if exc.more:
            shown = len(exc.problems)
            message += f" The first {shown} of {shown + exc.more} problems are listed."
        raise BadRequest(message, exc.problems) from None
    return _ok()


@bp.get("/snapshots")
def list_snapshots() -> Response:
    """List the saved snapshots."""
    return _json({"snapshots": _fake().snapshots()})


@bp.post("/snapshots/<name>")
def save_snapshot(name: str) -> Response:
    """Save the current state under a name."""
    try:
        _fake().snapshot(_name(name))
    except OverflowError as exc:
        raise Unprocessable(str(exc)) from None
    return _json({"ok": True}, 201)


def _known(name: str) -> str:
    if name not in _fake().snapshots():
        raise NotFound(f"There is no snapshot named {name!r}.")
    return name


@bp.post("/snapshots/<name>/restore")
def restore_snapshot(name: str) -> Response:
    """Return to a saved snapshot."""
    _fake().restore(_known(_name(name)))
    return _ok()


@bp.delete("/snapshots/<name>")
def delete_snapshot(name: str) -> Response:
    """Delete a saved snapshot."""
    _fake().forget(_known(_name(name)))
    return _ok()


@bp.get("/changes")
def changes() -> Response:
    """Tell what was created, updated and deleted since loading (or ?since=snapshot)."""
    since = request.args.get("since")
    if since is not None:
        _known(_name(since))
    return _json({"since": since, "changes": _fake().changes(since)})


def _count(name: str, default: int | None, least: int) -> int | None:
    """Read a query parameter that counts (digits, at least ``least``), or refuse it."""
    given = request.args.get(name)
    if given is None:
        return default
    digits = given.isascii() and given.isdigit()
    if not digits or len(given) > 18 or int(given) < least:
        rule = f"{name} is a whole number of at least {least}"
        if digits and len(given) > 18:
            rule += ", with at most 18 digits"
        raise BadRequest(
            f"The {name} parameter is not a count.", [{"field": name, "message": rule}]
        )
    return int(given)


@bp.get("/requests")
def requests() -> Response:
    """Return the request journal, oldest first, filtered by method, path glob and status.

    ``after`` follows the journal: only records numbered (``seq``) above it, with
    ``last`` the number to pass on the following call; ``limit`` keeps the newest.
    """
    fake = _fake()
    args = request.args
    after = _count("after", 0, 0) or 0
    limit = _count("limit", None, 1)
    violations = flag("violations", request.args.get("violations", "false"))
    try:
        found, last = fake.follow(
            args.get("method"), args.get("path"), args.get("status"), after, limit, violations
        )
    except ValueError as exc:
        raise BadRequest(
            "The status filter is not a status.", [{"field": "status", "message": str(exc)}]
        ) from None
    return _json({"requests": found, "dropped": fake.journal_dropped, "last": last})


# Path segments are read in the views, not by converters: a segment no converter takes
# would be a routing 404 before the control token is checked, and the token comes first.
def _collection(name: str) -> str:
    if name not in PARENTS:
        raise NotFound(f"There is no data view {name[:30]!r}: projects, tasks or contacts.")
    return name


def _id(given: str, noun: str) -> int:
    """Read an id from a path segment: digits that name something, or a 404."""
    number = parse_id(given) if given.isascii() and given.isdigit() else -1
    if number < 0:
        raise NotFound(f"There is no {noun} {given[:30]}.")
    return number


@bp.get("/data/<collection>")
def parents(collection: str) -> Response:
    """List projects, tasks or contacts by id, 50 a page, each with its count of entries."""
    name = _collection(collection)  # an unknown collection is a 404, whatever the page
    page = _count("page", 1, 1) or 1
    found, total = _fake().parents(name, page)
    return _json({"collection": collection, "page": page, "total": total, "records": found})


@bp.get("/data/<collection>/<parent_id>/entries")
def parent_entries(collection: str, parent_id: str) -> Response:
    """List one parent's entries, date descending, 50 a page as the API pages them."""
    noun = PARENTS[_collection(collection)]
    number = _id(parent_id, noun)
    page = _count("page", 1, 1) or 1
    try:
        found, total = _fake().entries_of(collection, number, page)
    except KeyError:
        raise NotFound(f"There is no {noun} {parent_id[:30]}.") from None
    return _json({"page": page, "total": total, "time-entries": found})


@bp.delete("/requests")
def clear_requests() -> Response:
    """Forget the recorded requests."""
    _fake().clear_journal()
    return _ok()


@bp.get("/report")
def contract_report() -> Response:
    """Return the contract report: the client's violations and its coverage of the calls."""
    return _json(_fake().contract_report())


@bp.get("/report.html")
def contract_report_html() -> Response:
    """Return the contract report as one self-contained HTML page, for a person to look at."""
    answer = Response(htmlreport.render(_fake().contract_report()), mimetype="text/html")
    # The page's own meta tag says the same; the header also covers a browser opening it here.
    answer.headers["Content-Security-Policy"] = htmlreport.CSP
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer


@bp.post("/faults")
def add_fault() -> Response:
    """Add a fault rule."""
    body = _body("fault-request")
    try:
        rule = _fake().faults.add(**body)
    except OverflowError as exc:
        raise Unprocessable(str(exc)) from None
    return _json(rule.describe(), 201)


@bp.get("/faults")
def list_faults() -> Response:
    """List the fault rules with what remains of each."""
    return _json({"faults": _fake().faults.listing()})


@bp.delete("/faults")
def clear_faults() -> Response:
    """Remove every fault rule."""
    _fake().faults.clear()
    return _ok()


@bp.delete("/faults/<rule_id>")
def remove_fault(rule_id: str) -> Response:
    """Remove one fault rule by its id."""
    try:
        _fake().faults.remove(_id(rule_id, "fault rule"))
    except KeyError:
        raise NotFound(f"There is no fault rule {rule_id[:30]}.") from None
    return _ok()


def _clock() -> Response:
    clock = _fake().clock
    now = clock.now()
    return _json(
        {
            "now": stamp(now),
            "today": now.date().isoformat(),
            "frozen": clock.frozen,
        }
    )


@bp.get("/clock")
def get_clock() -> Response:
    """Tell the fake clock's time."""
    return _clock()


@bp.put("/clock")
def set_clock() -> Response:
    """Freeze the clock at a time ({"now": ...}), or freeze/unfreeze it ({"frozen": bool})."""
    body = _body("clock-request")
    clock = _fake().clock
    if "now" in body:
        try:
            moment = parse_moment(body["now"])
        except ValueError as exc:
            raise BadRequest(
                "Bad clock setting.", [{"field": "now", "message": str(exc)}]
            ) from None
        clock.freeze(moment)  # parse_moment kept it in the clock's range
        if body.get("frozen") is False:
            clock.unfreeze()
    elif body["frozen"]:
        clock.freeze()
    else:
        clock.unfreeze()
    return _clock()


@bp.post("/clock/advance")
def advance_clock() -> Response:
    """Move the clock forward by some seconds."""
    body = _body("advance-request")
    try:
        _fake().clock.advance(body["seconds"])
    except ValueError as exc:
        raise BadRequest(
            "The clock cannot go that far; it was not moved.",
            [{"field": "seconds", "message": str(exc)}],
        ) from None
    return _clock()
