"""The Apollo time-tracking calls: parse the request, call the domain, write JSON.

Every call's routes are in the Flask app's URL map, built from the contract's
table (``contract.py``), with the views below. :class:`ApiApp` is the Apollo
calls' dispatcher: a plain WSGI layer in front of Flask that matches a request
against that URL map and calls the view the map names, without a request context,
signals or response objects, which would cost more than the whole call. Flask
serves what is not an Apollo call (the control API, the OpenAPI document).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import orjson
from flask import Blueprint
from werkzeug.datastructures import Authorization
from werkzeug.exceptions import MethodNotAllowed as RoutingMethodNotAllowed
from werkzeug.exceptions import NotFound as RoutingNotFound
from werkzeug.routing import Map, MapAdapter

from .. import schemas, service
from ..contract import CALLS, ROUTES, Route
from ..core import Core
from ..errors import (
    JSON,
    MAX_BODY,
    ApolloError,
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NoRoute,
    PayloadTooLarge,
    RateLimited,
    Superseded,
    Unauthorized,
    render,
    status_line,
)
from ..model import Entry
from ..recorder import Recorder
from ..report import broken_rules
from .wire import BEGUN, HELD

bp = Blueprint("api", __name__)
log = logging.getLogger("apollo_fake")
NO_PARAMS: frozenset[str] = frozenset()
PAGE_PARAM = frozenset(["page"])
HUGE_PAGE = 10**18  # any page past the end of any listing
TEXT = "text/plain; charset=utf-8"  # a fault rule's text, unless its headers say otherwise
NO_BODY = (204, 304)  # statuses an answer sends without a body or its length
# The bytes of an answer the journal keeps (as text, beside its whole size): enough to
# read an entry, an error or the start of a listing, bounded however large a page is.
ANSWER_KEPT = 4096
CACHE_BYTES = 64 * 1024 * 1024  # kept answers, all together
CACHE_ONE = 4 * 1024 * 1024  # a larger answer is cheaper to recompute than to hold
# What a kept answer holds beside its body and its query string: the key's tuple
# and its items, the Reply, the dict's slot.
KEPT_OVERHEAD = 512
ROUTES_KEPT = 4096  # matched (path, method) pairs remembered; forgotten all at once

StartResponse = Callable[..., Any]
BLUEPRINTS = ("api", "api_v1")  # the Apollo calls at the root and under /v1
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(slots=True)
class Reply:
    """What a call answers: status, JSON body, extra headers."""

    body: bytes
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    _kept: str | None = field(default=None, repr=False, compare=False)

    def kept(self) -> str:
        """Return what the journal keeps of the body, as text.

        Worked out once: a kept answer to a read is answered, and journaled, many times.
        """
        text = self._kept
        if text is None:
            text = self._kept = kept_text(self.body)
        return text


def kept_text(answer: bytes) -> str:
    """Return what the journal keeps of an answer: its first ANSWER_KEPT bytes, as text."""
    return answer[:ANSWER_KEPT].decode("utf-8", "replace")


ID_ARGS = frozenset(["parent_id", "entry_id"])  # the path arguments that name a record


class Match(NamedTuple):
    """What a request's (path, method) dispatches to, worked out once per path."""

    view: Callable[..., Reply]
    route: Route  # the contract's row
    args: Mapping[str, Any]  # as the view takes them: ids read
    kept: tuple[Any, ...] | None  # a kept answer's key, less the query; None: not kept


class Call:
    """One request to an Apollo call, read lazily from the WSGI environ."""

    __slots__ = (
        "environ",
        "fake",
        "recorder",
        "method",
        "path",
        "shown",
        "user_id",
        "body",
        "body_read",
        "body_weight",
        "route",
        "_query",
    )

    def __init__(self, environ: dict[str, Any], fake: Core, recorder: Recorder) -> None:
        self.environ = environ
        self.fake = fake
        # The recorder the request began under: its journal, faults and rate windows,
        # whatever a reset does meanwhile (a reset ends it, and the request with it).
        self.recorder = recorder
        self.method: str = environ.get("REQUEST_METHOD", "GET")
        # As WSGI gives it: the path's bytes as latin-1, what routing matches.
        path: str = environ.get("PATH_INFO", "") or "/"
        self.path = path
        # The path as a person reads it: its bytes decoded as UTF-8 (the journal's,
        # the fault rules', the messages').
        self.shown = path if path.isascii() else path.encode("latin-1").decode("utf-8", "replace")
        self.user_id: int | None = None
        self.body: Any = None
        self.body_read = False
        self.body_weight = 0  # what keeping the body in the journal costs
        self.route: Route | None = None  # the contract's row of the matched route
        self._query: dict[str, list[str]] | None = None

    @property
    def query(self) -> dict[str, list[str]]:
        """Return the query parameters, each with every value given."""
        if self._query is None:
            text = self.environ.get("QUERY_STRING", "")
            self._query = parse_qs(text, keep_blank_values=True) if text else {}
        return self._query

    @property
    def prefix(self) -> str:
        """Return "/v1" when the request used the /v1 base URL, else ""."""
        return "/v1" if self.path.startswith("/v1/") else ""

    def params(self, allowed: frozenset[str], ignored: str | None = None) -> dict[str, str]:
        """Return each allowed parameter's one value; refuse unknown and repeated ones."""
        if not self.environ.get("QUERY_STRING"):
            return {}  # most calls have none: no parsing
        query = self.query
        if ignored is not None and ignored in query:
            query = {k: v for k, v in query.items() if k != ignored}
        return service.single_params(query, allowed) if query else {}

    def read_body(self) -> Any:
        """Parse the body as JSON, whatever its Content-Type, and keep it for the journal."""
        self.body_read = True
        raw = read_raw(self.environ, MAX_BODY)
        self.body = parse_json(raw)
        # What the parsed body holds in the journal: its bytes, and room for each value
        # a container holds (``[1,1,...]`` parses to many times its size).
        self.body_weight = len(raw) + 48 * (raw.count(b",") + raw.count(b"[") + raw.count(b"{"))
        return self.body

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Hold the store for this request's write; Superseded (503) if a reset came first."""
        return self.fake.writing(self.recorder)

    def read_refused_body(self) -> None:
        """Keep the JSON body of a request refused before it was read, for the journal."""
        try:
            self.read_body()
        except ApolloError:  # too large, unreadable or not JSON: nothing to keep
            self.body = None


def read_raw(environ: dict[str, Any], limit: int) -> bytes:
    """Read the request body, refusing one longer than ``limit`` bytes with a 413.

    A chunked body has no Content-Length to refuse up front: the server marks
    its input as terminated, and it is read one byte past the limit.
    """
    stream = environ.get("wsgi.input")
    length_text = environ.get("CONTENT_LENGTH") or ""
    if stream is None:
        return b""
    try:
        if length_text:
            try:
                length = int(length_text)
            except ValueError:
                raise BadRequest("The Content-Length header is not a number.") from None
            if length > limit:
                raise PayloadTooLarge()
            return bytes(stream.read(length)) if length > 0 else b""
        if environ.get("wsgi.input_terminated"):
            raw = bytes(stream.read(limit + 1))
            if len(raw) > limit:
                raise PayloadTooLarge()
            return raw
    except OSError as exc:  # a malformed chunked body, or a client gone mid-body
        raise BadRequest(f"The request body could not be read: {exc}.") from None
    return b""


def parse_json(raw: bytes) -> Any:
    """Parse a body as JSON, whatever its Content-Type; 400 when it is empty or not JSON."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # An empty body is not JSON either; looked for only now, so a good body
        # is not copied by strip() on every write.
        if not raw.strip():
            raise BadRequest(
                'The body is empty; send a JSON object, such as {"time-entry": {...}}.',
                [{"field": "", "message": "is empty"}],
            ) from None
        raise BadRequest(
            "The body is not valid JSON (UTF-8).", [{"field": "", "message": str(exc)}]
        ) from None
    if schemas.too_deep(value, raw):
        raise BadRequest(
            f"The body nests arrays and objects deeper than {schemas.MAX_DEPTH} levels.",
            [{"field": "", "message": f"is nested deeper than {schemas.MAX_DEPTH} levels"}],
        )
    return value


class PathId(int):
    """A path id read exactly, as the vendor's PHP reads numbers (leading zeros and all),
    that a message quotes as it was sent: ``/timeEntries/0071`` is entry 71, and a 404
    says "0071"."""

    text: str

    def __new__(cls, text: str) -> PathId:
        """Read the digits of a path segment."""
        digits = text.lstrip("0") or "0"
        # Longer than any id can be (ids stay below 10^18): a number that names nothing,
        # without converting thousands of digits.
        value = int(digits) if len(digits) <= 30 else -1
        made = int.__new__(cls, value)
        made.text = text
        return made

    def __str__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        return self.text if not spec else int(self).__format__(spec)


def _number(text: str) -> int:
    """Read a page as the vendor's PHP does: a number, leading zeros and all."""
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else HUGE_PAGE


def _entries_body(entries: Iterable[Entry], prefix: bytes = b"{") -> bytes:
    return prefix + b'"time-entries":[' + b",".join(e.wire_bytes() for e in entries) + b"]"


def _page_number(call: Call, path_page: str | None) -> int:
    if path_page is not None:
        # A path page wins; a page query parameter beside it is ignored, valid or not.
        call.params(NO_PARAMS, ignored="page")
        number = _number(path_page)
        if number < 1:
            raise BadRequest(
                "Pages are numbered from 1.",
                [{"field": "page", "message": "the page in the path must be at least 1"}],
            )
        return number
    text = call.params(PAGE_PARAM).get("page")
    if text is None:
        return 1
    number = _number(text) if text.isascii() and text.isdigit() else 0
    if number < 1:
        raise BadRequest(
            "The page query parameter must be a positive integer.",
            [{"field": "page", "message": f"{text!r} is not a positive integer"}],
        )
    return number


# --- the calls ---------------------------------------------------------------


def listing(
    call: Call, collection: str, parent_id: PathId, path_page: str | None = None
) -> Reply:
    """List a project's or contact's entries, 50 a page, newest first."""
    number = _page_number(call, path_page)
    page = service.page(call.fake, collection, parent_id, number)
    prefix = b"{"
    if page.more:
        prefix = b'{"continued-at":"/%s/%d/timeEntries/%d",' % (
            collection.encode(),
            int(parent_id),  # the canonical id, whatever zeros the request had
            number + 1,
        )
    return Reply(_entries_body(page.entries, prefix) + b"}")


def create(call: Call, collection: str, parent_id: PathId) -> Reply:
    """Create an entry on a project, task or contact."""
    call.params(NO_PARAMS)
    body = call.read_body()
    with call.writing():
        new = service.create(call.fake, collection, parent_id, body, call.user_id)
    return Reply(
        b'{"time-entry-id":"%d"}' % new.id,
        201,
        [("Location", f"{call.prefix}/timeEntries/{new.id}")],
    )


def task_listing(call: Call, parent_id: PathId) -> Reply:
    """List every entry of a task (no pages: a page parameter is ignored, valid or not)."""
    call.params(NO_PARAMS, ignored="page")
    entries = service.task_entries(call.fake, parent_id)
    return Reply(_entries_body(entries) + b"}")


def get_entry(call: Call, entry_id: PathId) -> Reply:
    """Return one entry."""
    call.params(NO_PARAMS)
    found = service.entry(call.fake, entry_id)
    return Reply(b'{"time-entry":' + found.wire_bytes() + b"}")


def update_entry(call: Call, entry_id: PathId) -> Reply:
    """Change the given fields of an entry."""
    call.params(NO_PARAMS)
    body = call.read_body()
    with call.writing():
        service.update(call.fake, entry_id, body)
    return Reply(b"{}")


def delete_entry(call: Call, entry_id: PathId) -> Reply:
    """Delete an entry."""
    call.params(NO_PARAMS)
    with call.writing():
        service.delete(call.fake, entry_id)
    return Reply(b"{}")


def report(call: Call) -> Reply:
    """Return the entries matching the report's criteria, with totals when asked."""
    entries, totals = service.report(call.fake, call.query)
    body = _entries_body(entries)
    if totals is not None:
        body += b',"totals":' + orjson.dumps(totals)
    return Reply(body + b"}")


def account(call: Call) -> Reply:
    """Return the account and its time categories."""
    call.params(NO_PARAMS)
    return Reply(orjson.dumps(service.account(call.fake)))


# The views of the contract's calls, by the name its table gives them.
VIEWS: dict[str, Callable[..., Reply]] = {
    "listing": listing,
    "create": create,
    "task_listing": task_listing,
    "get_entry": get_entry,
    "update_entry": update_entry,
    "delete_entry": delete_entry,
    "report": report,
    "account": account,
}

# Every route of every call, from the contract's table, into the URL map.
for _call in CALLS:
    for _row in _call.routes:
        view_func: Any = VIEWS[_call.view]
        bp.add_url_rule(
            _row.rule,
            _row.endpoint,
            view_func,
            methods=[_call.method],
            provide_automatic_options=False,
            **({"defaults": dict(_row.defaults)} if _row.defaults else {}),
        )

# Answers that depend on nothing but the data (and, for the report, today's
# date) are kept until the data changes: the store's version says when.
CACHED = {
    "listing": listing,
    "task_listing": task_listing,
    "report": report,
}


# --- the dispatcher ------------------------------------------------------------


class _Kept:
    """Answers to reads, all of one store version; the first answer kept after a
    write replaces them all, since none of them can be served again."""

    __slots__ = ("version", "replies", "size")

    def __init__(self, version: int) -> None:
        self.version = version
        self.replies: dict[tuple[Any, ...], Reply] = {}
        self.size = 0  # what they weigh: bodies, keys and all


def is_apollo_call(path: str) -> bool:
    """Tell whether a request to ``path`` is for the Apollo calls (not the fake's own)."""
    return not (path.startswith("/_fake") or path == "/openapi.json")


class ApiApp:
    """Dispatch the Apollo calls over the app's URL map; hand the rest to Flask behind it."""

    def __init__(self, flask_wsgi: WSGIApp, url_map: Map, fake: Core) -> None:
        self.flask_wsgi = flask_wsgi
        self.url_map = url_map
        self.fake = fake
        self._adapter: MapAdapter | None = None
        # (path, method) -> what the URL map matched: matching is a good part of a
        # read's cost, and a client asks for the same paths again and again.
        self._routes: dict[tuple[str, str], Match] = {}
        # Flask endpoint (api.report, api_v1.report, ...) -> its view and the contract's row.
        self._targets: dict[str, tuple[Callable[..., Reply], Route]] = {}
        self._kept = _Kept(-1)

    def bind(self, views: Mapping[str, Callable[..., Any]]) -> None:
        """Match against the finished URL map, once every route is registered.

        ``views`` are the app's view functions: the ones this calls are the ones the
        URL map names, each with its row of the contract's table, resolved here once.
        """
        self._adapter = self.url_map.bind("apollo-fake")
        self._targets = {}
        for name, view in views.items():
            blueprint, _, endpoint = name.rpartition(".")
            if blueprint in BLUEPRINTS and endpoint in ROUTES:
                self._targets[name] = (view, ROUTES[endpoint])

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not is_apollo_call(environ.get("PATH_INFO", "")):
            return self.flask_wsgi(environ, start_response)
        fake = self.fake
        # The recorder of this request, whatever a reset does meanwhile: begun here,
        # or by the server as the request's head arrived.
        recorder = fake.begin(environ.pop(BEGUN, None))
        answer: Iterable[bytes] | None = None
        try:
            call = Call(environ, fake, recorder)
            if recorder.ended.is_set():  # arrived before a reset: its test is over
                return self._superseded(call, start_response)
            answer = self._serve(environ, start_response, call)
            return answer
        finally:
            if not isinstance(answer, Held):  # a held answer ends its request itself
                fake.end(recorder)

    def _serve(
        self, environ: dict[str, Any], start_response: StartResponse, call: Call
    ) -> Iterable[bytes]:
        recorder = call.recorder
        method = call.method
        # Auth and the rate limit come before the fault rules: a request that would be
        # a 401 or a 429 is one, and uses no rule (the contract's order).
        settings = self.fake.settings
        guarded = settings.tokens or settings.rate_limit is not None
        denied = self._denied(call) if guarded else None
        if denied is None:
            shown = call.shown
            fault = recorder.faults.match(method, shown[3:] if shown.startswith("/v1/") else shown)
            if fault is not None:
                if fault.delay_ms is None:
                    return self._fault(call, fault, start_response)
                environ[HELD] = True
                return Held(fault.delay_ms / 1000, call, start_response, self)
        return self._reply(call, start_response, denied)

    def _reply(
        self, call: Call, start_response: StartResponse, denied: ApolloError | None = None
    ) -> Iterable[bytes]:
        """Answer the call (or refuse it with ``denied``): journal it, count it, send it."""
        environ, recorder, method = call.environ, call.recorder, call.method
        outcome: Reply | ApolloError = denied if denied is not None else self._answer(call)
        if isinstance(outcome, Superseded):
            return self._superseded(call, start_response)
        route = call.route
        err = None
        if isinstance(outcome, Reply):
            status, body = outcome.status, outcome.body
            line = status_line(status)
            headers = [("Content-Type", JSON), ("Content-Length", str(len(body))), *outcome.headers]
            if method == "HEAD":
                record = self._journal(call, status, None, [], b"")
            else:
                record = self._journal(call, status, None, [], body, kept=outcome.kept())
        else:
            err = outcome
            line, headers, body = render(err)
            status = err.status
            violations: list[dict[str, str]] = []
            if err.violation:
                violations = [
                    {"field": field, "message": message, "rule": rule}
                    for field, rule, message in broken_rules(err)
                ]
            if not call.body_read and method in ("POST", "PUT"):
                call.read_refused_body()
            sent = b"" if method == "HEAD" else body
            record = self._journal(call, status, err.message, violations, sent)
            if route is None and not err.violation:
                route = self._route_of(call)  # a 401 or 429 answered before routing
        recorder.coverage.note(
            route,
            method,
            call.shown,
            environ.get("QUERY_STRING", ""),
            status,
            err,
            call.body,
            body,
            "expected" in record,
        )
        start_response(line, headers)
        return [b"" if method == "HEAD" else body]

    @staticmethod
    def _superseded(call: Call, start_response: StartResponse) -> Iterable[bytes]:
        """Answer a request that outlived its test: recorded nowhere, counted nowhere."""
        line, headers, body = render(Superseded())
        start_response(line, headers)
        return [b"" if call.method == "HEAD" else body]

    def _denied(self, call: Call) -> ApolloError | None:
        """Return the 401 or 429 a request gets before anything else, or None."""
        try:
            self._guard(call)
        except ApolloError as err:
            return err.answered()
        return None

    def _answer(self, call: Call) -> Reply | ApolloError:
        """Return the call's reply, or the error it fails with."""
        try:
            return self._dispatch(call)
        except ApolloError as err:
            return err.answered()
        except Exception as exc:  # a bug: answer JSON, never a traceback, and log it
            log.error("apollo-fake failed on %s %s", call.method, call.path, exc_info=exc)
            return InternalError()

    def _dispatch(self, call: Call) -> Reply:
        # The wire layer routes on the raw path, so "%2F" stays in its segment and matches
        # no route; Werkzeug's matching strips leading slashes, so "//account" is refused
        # here (the API has no route with an empty first segment).
        if call.path.startswith("//"):
            raise NoRoute(f"No call of the API matches {call.method} {call.shown}.")
        try:
            view, route, args, kept_key = self._route(call.path, call.method)
        except RoutingMethodNotAllowed as exc:
            allowed = sorted(set(exc.valid_methods or ()) - {"OPTIONS"})
            raise MethodNotAllowed(
                f"{call.method} {call.shown} is not allowed; this path takes "
                f"{', '.join(allowed)}.",
                allowed,
            ) from None
        except RoutingNotFound:
            raise NoRoute(f"No call of the API matches {call.method} {call.shown}.") from None
        call.route = route
        if kept_key is None:
            return view(call, **args)
        store = self.fake.store
        version = store.version
        query = call.environ.get("QUERY_STRING", "")
        key = (*kept_key, query)
        if view is report:
            key += (self.fake.clock.today(),)
        kept = self._kept
        if kept.version == version:
            hit = kept.replies.get(key)
            if hit is not None:
                return hit
        reply = view(call, **args)
        # The key weighs as much as its query string, which a client may make long; the
        # journal's text of the answer is kept with it.
        size = len(reply.body) + len(query) + KEPT_OVERHEAD + sys.getsizeof(reply.kept())
        # Kept only when it answers the data as it still is (a write during the view
        # moved the version on), and only beside answers of the same version.
        if size <= CACHE_ONE and version == store.version:
            kept = self._kept
            if kept.version != version or kept.size + size > CACHE_BYTES:
                kept = self._kept = _Kept(version)
            kept.replies[key] = reply
            kept.size += size
        return reply

    def _route_of(self, call: Call) -> Route | None:
        """Return the contract's row of the route a request matches, or None."""
        try:
            return self._route(call.path, call.method).route
        except (RoutingMethodNotAllowed, RoutingNotFound):
            return None

    def _route(self, path: str, method: str) -> Match:
        """Match a path and method to a view, its contract row and its arguments, remembering.

        The ids among the arguments are read, and the key of a kept answer begun, once
        here, not on every request for the path. Misses (404, 405) are not remembered:
        a client makes few, a fuzzer many.
        """
        key = (path, method)
        found = self._routes.get(key)
        if found is None:
            assert self._adapter is not None, "ApiApp.bind() was not called"
            endpoint, args = self._adapter.match(path, method)
            target = self._targets.get(str(endpoint))
            if target is None:  # a route of Flask's own (none today): no call of the API
                raise RoutingNotFound()
            view, route = target
            given = {k: PathId(v) if k in ID_ARGS else v for k, v in args.items()}
            # Answers kept by the arguments as sent: /0071 and /71 keep apart.
            kept = (route.endpoint, *sorted(args.items())) if view.__name__ in CACHED else None
            found = Match(view, route, given, kept)
            if len(self._routes) >= ROUTES_KEPT:
                self._routes.clear()
            self._routes[key] = found
        return found

    def _guard(self, call: Call) -> None:
        """Check the token and the rate limit."""
        fake = self.fake
        settings = fake.settings
        tokens = settings.tokens
        token = ""
        if tokens:
            auth = Authorization.from_header(call.environ.get("HTTP_AUTHORIZATION"))
            given = (auth.username or "") if auth is not None and auth.type == "basic" else ""
            user = None
            # Compare with every token, in constant time each, so timing tells nothing.
            for known, user_id in tokens.items():
                if hmac.compare_digest(known.encode(), given.encode()):
                    user = user_id
            if user is None:
                raise Unauthorized()
            call.user_id = user
            token = given
        if settings.rate_limit is None:
            return  # nothing to count
        wait = call.recorder.take_request(token, fake.clock.now())
        if wait is not None:
            allowed, period = settings.rate_limit
            raise RateLimited(
                f"Too many requests: the limit is {allowed} per {period:g} seconds. "
                f"Retry in {wait} s.",
                wait,
            )

    def _journal(
        self,
        call: Call,
        status: int,
        message: str | None,
        violations: list[dict[str, str]],
        answer: bytes,
        fault: int | None = None,
        kept: str | None = None,
    ) -> dict[str, Any]:
        """Record a request in the journal, with the fault rule that answered it; return it.

        The answer's first ANSWER_KEPT bytes are kept as text, with its whole size: what
        a person looking at one request needs, at a bounded cost per record.
        """
        user = call.user_id
        fake = self.fake
        record = {
            "time": fake.clock.timestamp(),
            "method": call.method,
            "path": call.shown,
            "query": call.environ.get("QUERY_STRING", ""),
            "user": str(user) if user is not None else None,
            "body": call.body,
            "status": status,
            "message": message,
            "violations": violations,
            "answer": kept_text(answer) if kept is None else kept,
            "answer_size": len(answer),
        }
        if fault is not None:
            record["fault"] = fault
        call.recorder.record(record, call.body_weight)
        return record

    def _fault(self, call: Call, rule: Any, start_response: StartResponse) -> Iterable[bytes]:
        """Answer as a fault rule states: its status, its headers over the defaults, its body."""
        status = 0 if rule.drop else rule.status or 500
        query = call.environ.get("QUERY_STRING", "")
        message = f"injected by fault rule {rule.id}"
        if rule.drop:
            self._journal(call, status, message, [], b"", fault=rule.id)
            self._note_injected(call, query, status)
            return self._drop(call, rule)
        content_type = JSON
        if rule.text is not None:  # sent as those characters exactly, e.g. a proxy's page
            payload = rule.text.encode()
            content_type = TEXT
        elif rule.body is not None:
            payload = orjson.dumps(rule.body)
        else:
            injected = ApolloError(f"Injected fault (rule {rule.id}).")
            injected.status = status
            payload = render(injected)[2]
        # The rule's headers replace the defaults of the same name.
        given = {name.lower() for name in rule.headers}
        headers = [("Content-Type", content_type)] if "content-type" not in given else []
        headers += rule.headers.items()
        if status in NO_BODY:  # RFC 9110: neither a body nor its length
            payload = b""
        else:
            headers.append(("Content-Length", str(len(payload))))
        sent = b"" if call.method == "HEAD" else payload
        self._journal(call, status, message, [], sent, fault=rule.id)
        self._note_injected(call, query, status)
        start_response(status_line(status), headers)
        return [b"" if call.method == "HEAD" else payload]

    def _note_injected(self, call: Call, query: str, status: int) -> None:
        # An injected answer counts as an outcome the client saw, never as a violation.
        call.recorder.coverage.note(
            self._route_of(call), call.method, call.shown, query, status, injected=True
        )

    @staticmethod
    def _drop(call: Call, rule: Any) -> Iterable[bytes]:
        environ = call.environ
        sock = environ.get("apollo_fake.socket") or environ.get("werkzeug.socket")
        message = f"apollo-fake dropped the connection (fault rule {rule.id})"
        if sock is not None:
            # A server that gives the app its socket (apollo-fake's, Werkzeug's): close
            # it before anything is written, and raise what the server takes for a
            # connection that is gone, so that it writes nothing after.
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            raise ConnectionAbortedError(message)

        def broken() -> Iterable[bytes]:
            # No socket (Flask's test client): the answer's body fails as it is read,
            # which a test sees as an exception.
            raise ConnectionAbortedError(message)
            yield b""  # pragma: no cover

        return broken()


class Held:
    """The answer to a request held by a ``delay_ms`` fault: made once the delay is over.

    Reading it waits (a reset, the test being over, cuts the wait short), then
    answers the request as if it had just come. A server that answers on an event
    loop sees :data:`~apollo_fake.web.wire.HELD` in the environ and reads this in a
    thread of its own, so that the delay holds only this request.
    """

    def __init__(
        self, seconds: float, call: Call, start_response: StartResponse, api: ApiApp
    ) -> None:
        self.seconds = seconds
        self.call = call
        self.start_response = start_response
        self.api = api
        self.closed = False
        self.cancelled = False
        self._wake = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        call = self.call
        recorder = call.recorder
        try:
            recorder.hold(self._wake)
            try:
                woke = self._wake.wait(self.seconds)
            finally:
                recorder.release(self._wake)
            if self.cancelled:
                raise ConnectionAbortedError("the request was cancelled while it was held")
            if woke:
                answer = self.api._superseded(call, self.start_response)
            else:
                answer = self.api._reply(call, self.start_response)
            yield from answer
        finally:
            self.close()

    def cancel(self) -> None:
        """Give up the answer: its client is gone, or the server stops.

        A wait not over yet ends at once, and the request is answered nowhere and
        changes nothing; reading the answer raises ConnectionAbortedError.
        """
        self.cancelled = True
        self._wake.set()

    def close(self) -> None:
        """End the request (once), whether or not its answer was read."""
        if not self.closed:
            self.closed = True
            self.api.fake.end(self.call.recorder)
