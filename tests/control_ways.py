"""One driver of the fake's controls, for each way in: the Python API and the control API.

A behaviour of the controls (reset, state, snapshots, changes, the journal, fault
rules, the clock) is one test that takes a ``way`` (see conftest.py): the same
steps run through ``Fake``'s methods, through ``/_fake/`` on Flask's test client
and through ``/_fake/`` over a live server's socket. A refusal is one exception,
``Refused``, whose ``kind`` names what each way says in its own terms:

=========== ===================================== ==========
kind        Python                                HTTP
=========== ===================================== ==========
``bad``     ValueError (FixtureError included)    400
``unknown`` KeyError                              404
``full``    OverflowError                         422
=========== ===================================== ==========

What only one way says (an HTTP error body with its ``details``, a Python
exception's type and message) stays on the ``Refused``, for the test to check on
that way. Every control answer is checked against ``control.schema.json`` (errors
against ``error.schema.json``) on its way through ``call``.
"""

from __future__ import annotations

import datetime
import http.client
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from apollo_fake import fixtures, htmlreport, schemas

if TYPE_CHECKING:
    from apollo_fake.fake import Fake

    from conftest import Api

CONTROL = "control.schema.json#/$defs/"
NOTHING: Any = object()
WAYS = ["python", "client", "socket"]

_RESPONSES = {
    ("GET", "/_fake/health"): "health-response",
    ("POST", "/_fake/reset"): "ok-response",
    ("PUT", "/_fake/state"): "ok-response",
    ("GET", "/_fake/snapshots"): "snapshots-response",
    ("GET", "/_fake/changes"): "changes-response",
    ("GET", "/_fake/requests"): "requests-response",
    ("DELETE", "/_fake/requests"): "ok-response",
    ("POST", "/_fake/faults"): "fault",
    ("GET", "/_fake/faults"): "faults-response",
    ("DELETE", "/_fake/faults"): "ok-response",
    ("GET", "/_fake/clock"): "clock-response",
    ("PUT", "/_fake/clock"): "clock-response",
    ("POST", "/_fake/clock/advance"): "clock-response",
}
_KINDS = {400: "bad", 404: "unknown", 422: "full"}

# What the contract says of a bad fault rule, in whichever way it is refused.
FAULT_RULE = "a fault does exactly one of: status, delay_ms, drop"
STATUS_RULE = (
    "status is an HTTP status code the server can answer with (200 to 599; a 1xx is not an "
    "answer)"
)
HEADERS_RULE = (
    "headers maps at most 50 header names (HTTP tokens; not Content-Length, Transfer-Encoding "
    "or Connection, which the server sets) to values of at most 8,192 characters without "
    "control characters"
)
HEADER_NAME_RULE = (
    "a header name is an HTTP token of 1 to 64 characters (letters, digits, -, and "
    "!#$%&'*+.^_`|~), not Content-Length, Transfer-Encoding or Connection, which the server sets"
)
HEADER_VALUE_RULE = (
    "a header value is at most 8,192 characters of Latin-1 without control characters "
    "(no CR or LF)"
)
TO_RULE = 'to is "loaded" (the default) or "empty"'


def rule_of(field: str, rule: str) -> list[dict[str, str]]:
    """Return the details of one bad field."""
    return [{"field": field, "message": rule}]


def control_schema(method: str, path: str) -> str:
    """Name the schema a successful control answer must match."""
    path = path.split("?", 1)[0]
    if (method, path) == ("GET", "/_fake/state"):
        return "fixture.schema.json"
    if (method, path) == ("GET", "/_fake/report"):
        return "contract-report.schema.json"
    if (method, path) in _RESPONSES:
        return CONTROL + _RESPONSES[(method, path)]
    if path.startswith("/_fake/snapshots/") and method in ("POST", "DELETE"):
        return CONTROL + "ok-response"
    if path.startswith("/_fake/faults/") and method == "DELETE":
        return CONTROL + "ok-response"
    if path.startswith("/_fake/data/") and method == "GET":
        entries = path.split("?", 1)[0].endswith("/entries")
        return CONTROL + ("parent-entries-response" if entries else "parents-response")
    raise AssertionError(f"no schema is known for {method} {path}")


class Reply:
    """An answer: status, headers (lower-case names), decoded JSON body and raw bytes."""

    def __init__(self, status: int, headers: dict[str, str], body: Any, raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.json = body
        self.raw = raw

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.raw[:300]!r}>"


def send(
    api: Api, method: str, path: str, payload: bytes | None, headers: dict[str, str] | None
) -> tuple[int, dict[str, str], bytes]:
    """Send one request through the Api's transport, without any schema check."""
    hdrs = dict(headers or {})
    if api.client is not None:
        resp = api.client.open(path, method=method, data=payload, headers=hdrs)
        return resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.get_data()
    assert api.url is not None
    host, port = api.url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=payload, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def call(
    api: Api,
    method: str,
    path: str,
    body: Any = NOTHING,
    *,
    data: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    check: bool = True,
) -> Reply:
    """Send a request and check its answer: JSON always; errors against error.schema.json,
    control answers against their control.schema.json definition (``check=False``: only
    JSON, for injected answers whose body is the test's own)."""
    if body is not NOTHING:
        payload: bytes | None = json.dumps(body).encode()
    elif isinstance(data, str):
        payload = data.encode()
    else:
        payload = data
    status, got, raw = send(api, method, path, payload, headers)
    assert got.get("content-type", "").startswith("application/json"), (status, got, raw)
    parsed = json.loads(raw)
    if check:
        name = None
        if status >= 400:
            name = "error.schema.json"
        elif path.startswith("/_fake/"):
            name = control_schema(method, path)
        # The compiled validator is fast on a whole state; the full one explains a failure.
        if name is not None and not schemas.is_valid(name, parsed):
            schemas.full_validator(name).validate(parsed)
            raise AssertionError(f"{method} {path}: the body does not match {name}")
    return Reply(status, got, parsed, raw)


def error(status: int, message: str, details: list[dict[str, str]] | None = None) -> Any:
    """Return the contract's error body."""
    return {"error": {"status": status, "message": message, "details": details or []}}


class Refused(Exception):
    """A control call refused, by either way: ``kind`` is bad, unknown or full.

    ``reply`` is the HTTP answer (None in Python), ``exc`` the Python exception
    (None over HTTP); ``fields`` the fields the refusal names, where the way names any.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        fields: list[str],
        reply: Reply | None = None,
        exc: Exception | None = None,
    ) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.fields = fields
        self.reply = reply
        self.exc = exc


class Way:
    """The controls of one fake through one way in, plus its Apollo API as ``api``."""

    name = ""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.fake: Fake = api.fake

    def __repr__(self) -> str:
        return f"<Way {self.name}>"

    def dump(self) -> bytes:
        """Return the fake's whole data as the fixture file writes it (read in Python)."""
        return fixtures.dumps(self.fake.state())

    # The operations, each implemented by both subclasses.

    def reset(self, to: str | None = None) -> None:
        """Go back to the loaded data, or to ``to`` ("loaded" or "empty")."""
        raise NotImplementedError

    def state(self) -> Any:
        """Return the whole data as a fixture document."""
        raise NotImplementedError

    def load(self, doc: Any) -> None:
        """Replace the data with a fixture document."""
        raise NotImplementedError

    def snapshot(self, name: str) -> None:
        """Save the state under a name."""
        raise NotImplementedError

    def restore(self, name: str) -> None:
        """Return to a named snapshot."""
        raise NotImplementedError

    def snapshots(self) -> list[str]:
        """List the snapshot names."""
        raise NotImplementedError

    def forget(self, name: str) -> None:
        """Delete a named snapshot."""
        raise NotImplementedError

    def changes(self, since: str | None = None) -> Any:
        """Return what changed since loading (or since a snapshot)."""
        raise NotImplementedError

    def requests(
        self, method: str | None = None, path: str | None = None, status: Any = None
    ) -> list[Any]:
        """Return the journal's records, filtered."""
        raise NotImplementedError

    def follow(
        self, after: int = 0, limit: int | None = None, violations: bool = False
    ) -> tuple[list[Any], int]:
        """Return the journal's records numbered above ``after`` and the last number."""
        raise NotImplementedError

    def parents(self, collection: str, page: int = 1) -> tuple[list[Any], int]:
        """Return a page of projects, tasks or contacts and how many there are."""
        raise NotImplementedError

    def entries_of(self, collection: str, id: int, page: int = 1) -> tuple[list[Any], int]:
        """Return a page of one parent's entries and how many it has."""
        raise NotImplementedError

    def remove_fault(self, id: int) -> None:
        """Remove one fault rule."""
        raise NotImplementedError

    def dropped(self) -> int:
        """Tell how many records the journal dropped."""
        raise NotImplementedError

    def clear_requests(self) -> None:
        """Empty the journal."""
        raise NotImplementedError

    def add_fault(self, **rule: Any) -> Any:
        """Add a fault rule; return its description."""
        raise NotImplementedError

    def faults(self) -> list[Any]:
        """Describe the fault rules."""
        raise NotImplementedError

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        raise NotImplementedError

    def clock(self) -> Any:
        """Return the clock as the control API shows it: now, today, frozen."""
        raise NotImplementedError

    def set_clock(self, now: str | None = None, frozen: bool | None = None) -> Any:
        """Freeze the clock at ``now``, or freeze/unfreeze it; return the clock."""
        raise NotImplementedError

    def advance(self, seconds: float) -> Any:
        """Move the clock by some seconds; return the clock."""
        raise NotImplementedError

    def report(self) -> Any:
        """Return the contract report document."""
        raise NotImplementedError

    def report_html(self) -> bytes:
        """Return the contract report as its HTML page."""
        raise NotImplementedError


class PythonWay(Way):
    """The controls as ``Fake``'s methods; Apollo calls on Flask's test client."""

    name = "python"

    def _run(self, action: Any, *args: Any, **kw: Any) -> Any:
        try:
            return action(*args, **kw)
        except KeyError as exc:
            raise Refused("unknown", str(exc), [], exc=exc) from exc
        except OverflowError as exc:
            raise Refused("full", str(exc), [], exc=exc) from exc
        except ValueError as exc:
            problems = getattr(exc, "problems", [])
            raise Refused("bad", str(exc), [p["field"] for p in problems], exc=exc) from exc

    def reset(self, to: str | None = None) -> None:
        """Call ``fake.reset``."""
        self._run(self.fake.reset) if to is None else self._run(self.fake.reset, to=to)

    def state(self) -> Any:
        """Call ``fake.state``."""
        return self.fake.state()

    def load(self, doc: Any) -> None:
        """Call ``fake.load``."""
        self._run(self.fake.load, doc)

    def snapshot(self, name: str) -> None:
        """Call ``fake.snapshot``."""
        self._run(self.fake.snapshot, name)

    def restore(self, name: str) -> None:
        """Call ``fake.restore``."""
        self._run(self.fake.restore, name)

    def snapshots(self) -> list[str]:
        """Call ``fake.snapshots``."""
        return self.fake.snapshots()

    def forget(self, name: str) -> None:
        """Call ``fake.forget``."""
        self._run(self.fake.forget, name)

    def changes(self, since: str | None = None) -> Any:
        """Call ``fake.changes``."""
        return self._run(self.fake.changes, since)

    def requests(
        self, method: str | None = None, path: str | None = None, status: Any = None
    ) -> list[Any]:
        """Call ``fake.requests``."""
        found: list[Any] = self._run(self.fake.requests, method, path, status=status)
        return found

    def follow(
        self, after: int = 0, limit: int | None = None, violations: bool = False
    ) -> tuple[list[Any], int]:
        """Call ``fake.follow``."""
        found: tuple[list[Any], int] = self._run(
            self.fake.follow, after=after, limit=limit, violations=violations
        )
        return found

    def parents(self, collection: str, page: int = 1) -> tuple[list[Any], int]:
        """Call ``fake.parents``."""
        found: tuple[list[Any], int] = self._run(self.fake.parents, collection, page)
        return found

    def entries_of(self, collection: str, id: int, page: int = 1) -> tuple[list[Any], int]:
        """Call ``fake.entries_of``."""
        found: tuple[list[Any], int] = self._run(self.fake.entries_of, collection, id, page)
        return found

    def remove_fault(self, id: int) -> None:
        """Call ``fake.faults.remove``."""
        self._run(self.fake.faults.remove, id)

    def dropped(self) -> int:
        """Read ``fake.journal_dropped``."""
        return self.fake.journal_dropped

    def clear_requests(self) -> None:
        """Call ``fake.clear_journal``."""
        self.fake.clear_journal()

    def add_fault(self, **rule: Any) -> Any:
        """Call ``fake.faults.add`` and describe the rule it returns."""
        rule = dict(rule)
        path = rule.pop("path")
        return self._run(self.fake.faults.add, path, **rule).describe()

    def faults(self) -> list[Any]:
        """Call ``fake.faults.listing``."""
        return self.fake.faults.listing()

    def clear_faults(self) -> None:
        """Call ``fake.faults.clear``."""
        self.fake.faults.clear()

    def clock(self) -> Any:
        """Read ``fake.clock``."""
        clock = self.fake.clock
        now = clock.now()
        return {"now": clock.timestamp(), "today": now.date().isoformat(), "frozen": clock.frozen}

    def set_clock(self, now: str | None = None, frozen: bool | None = None) -> Any:
        """Call ``fake.clock.freeze`` (at a time) and ``unfreeze``."""
        clock = self.fake.clock
        if now is not None:
            self._run(clock.freeze, datetime.datetime.fromisoformat(now))
            if frozen is False:
                clock.unfreeze()
        elif frozen:
            clock.freeze()
        else:
            clock.unfreeze()
        return self.clock()

    def advance(self, seconds: float) -> Any:
        """Call ``fake.clock.advance``."""
        self._run(self.fake.clock.advance, seconds)
        return self.clock()

    def report(self) -> Any:
        """Call ``fake.contract_report``."""
        return self.fake.contract_report()

    def report_html(self) -> bytes:
        """Render ``fake.contract_report()`` with ``htmlreport.render``."""
        return htmlreport.render(self.fake.contract_report())


class HttpWay(Way):
    """The controls as ``/_fake/`` calls, through the Api's transport."""

    def __init__(self, api: Api) -> None:
        super().__init__(api)
        self.name = api.transport

    def call(self, method: str, path: str, body: Any = NOTHING, **kw: Any) -> Reply:
        """Send one control call; raise Refused on an error answer."""
        reply = call(self.api, method, path, body, **kw)
        if reply.status >= 400:
            err = reply.json["error"]
            assert reply.status in _KINDS, reply
            fields = [d["field"] for d in err["details"]]
            raise Refused(_KINDS[reply.status], err["message"], fields, reply=reply)
        return reply

    def _ok(self, method: str, path: str, body: Any = NOTHING, status: int = 200) -> None:
        reply = self.call(method, path, body)
        assert (reply.status, reply.json) == (status, {"ok": True}), reply

    def reset(self, to: str | None = None) -> None:
        """POST /_fake/reset."""
        self._ok("POST", "/_fake/reset", NOTHING if to is None else {"to": to})

    def state(self) -> Any:
        """GET /_fake/state."""
        return self.call("GET", "/_fake/state").json

    def load(self, doc: Any) -> None:
        """PUT /_fake/state."""
        self._ok("PUT", "/_fake/state", doc)

    def snapshot(self, name: str) -> None:
        """POST /_fake/snapshots/<name>."""
        self._ok("POST", f"/_fake/snapshots/{name}", status=201)

    def restore(self, name: str) -> None:
        """POST /_fake/snapshots/<name>/restore."""
        self._ok("POST", f"/_fake/snapshots/{name}/restore")

    def snapshots(self) -> list[str]:
        """GET /_fake/snapshots."""
        names: list[str] = self.call("GET", "/_fake/snapshots").json["snapshots"]
        return names

    def forget(self, name: str) -> None:
        """DELETE /_fake/snapshots/<name>."""
        self._ok("DELETE", f"/_fake/snapshots/{name}")

    def changes(self, since: str | None = None) -> Any:
        """GET /_fake/changes."""
        query = "" if since is None else "?" + urlencode({"since": since})
        found = self.call("GET", "/_fake/changes" + query).json
        assert found["since"] == since, found
        return found["changes"]

    def _journal(
        self, method: str | None = None, path: str | None = None, status: Any = None
    ) -> Any:
        given = {"method": method, "path": path, "status": status}
        query = urlencode({k: v for k, v in given.items() if v is not None})
        return self.call("GET", "/_fake/requests" + ("?" + query if query else "")).json

    def requests(
        self, method: str | None = None, path: str | None = None, status: Any = None
    ) -> list[Any]:
        """GET /_fake/requests."""
        found: list[Any] = self._journal(method, path, status)["requests"]
        return found

    def follow(
        self, after: int = 0, limit: int | None = None, violations: bool = False
    ) -> tuple[list[Any], int]:
        """GET /_fake/requests?after=...: the records and ``last``."""
        given = {"after": after, "limit": limit, "violations": "true" if violations else None}
        query = urlencode({k: v for k, v in given.items() if v is not None})
        answer = self.call("GET", "/_fake/requests?" + query).json
        return answer["requests"], answer["last"]

    def parents(self, collection: str, page: int = 1) -> tuple[list[Any], int]:
        """GET /_fake/data/{collection}?page=..."""
        answer = self.call("GET", f"/_fake/data/{collection}?page={page}").json
        assert (answer["collection"], answer["page"]) == (collection, page), answer
        return answer["records"], answer["total"]

    def entries_of(self, collection: str, id: int, page: int = 1) -> tuple[list[Any], int]:
        """GET /_fake/data/{collection}/{id}/entries?page=..."""
        answer = self.call("GET", f"/_fake/data/{collection}/{id}/entries?page={page}").json
        assert answer["page"] == page, answer
        return answer["time-entries"], answer["total"]

    def remove_fault(self, id: int) -> None:
        """DELETE /_fake/faults/{id}."""
        self._ok("DELETE", f"/_fake/faults/{id}")

    def dropped(self) -> int:
        """GET /_fake/requests, its ``dropped`` count."""
        count: int = self._journal()["dropped"]
        return count

    def clear_requests(self) -> None:
        """DELETE /_fake/requests."""
        self._ok("DELETE", "/_fake/requests")

    def add_fault(self, **rule: Any) -> Any:
        """POST /_fake/faults."""
        reply = self.call("POST", "/_fake/faults", rule)
        assert reply.status == 201, reply
        return reply.json

    def faults(self) -> list[Any]:
        """GET /_fake/faults."""
        listed: list[Any] = self.call("GET", "/_fake/faults").json["faults"]
        return listed

    def clear_faults(self) -> None:
        """DELETE /_fake/faults."""
        self._ok("DELETE", "/_fake/faults")

    def clock(self) -> Any:
        """GET /_fake/clock."""
        return self.call("GET", "/_fake/clock").json

    def set_clock(self, now: str | None = None, frozen: bool | None = None) -> Any:
        """PUT /_fake/clock."""
        given = {"now": now, "frozen": frozen}
        body = {k: v for k, v in given.items() if v is not None}
        return self.call("PUT", "/_fake/clock", body).json

    def advance(self, seconds: float) -> Any:
        """POST /_fake/clock/advance."""
        return self.call("POST", "/_fake/clock/advance", {"seconds": seconds}).json

    def report(self) -> Any:
        """GET /_fake/report."""
        return self.call("GET", "/_fake/report").json

    def report_html(self) -> bytes:
        """GET /_fake/report.html, checked to be a page that fetches nothing."""
        status, headers, raw = send(self.api, "GET", "/_fake/report.html", None, None)
        assert status == 200, (status, raw[:300])
        assert headers["content-type"] == "text/html; charset=utf-8", headers
        assert headers["content-security-policy"] == htmlreport.CSP, headers
        assert headers["x-content-type-options"] == "nosniff", headers
        return raw


def make_way(name: str, api: Api) -> Way:
    """Return the driver of one way in over an Api (the Python way uses its fake)."""
    return PythonWay(api) if name == "python" else HttpWay(api)
