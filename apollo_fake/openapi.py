"""The OpenAPI 3.1 document of the fake, served at ``GET /openapi.json``.

Everything a body looks like comes from the JSON Schemas in ``schemas/``: each file,
and each definition under a file's ``$defs``, is a component of its own under
``components/schemas`` (:func:`component_name`; every ``$ref`` rewritten to point at
one), which is what client generators need; the error schema is repeated once per
status, with that status. The paths come from the app's URL map; what the Apollo
calls answer, with which statuses and query parameters, from the contract's table
(``contract.py``). What is written here is only what neither source tells of the
control calls (:data:`CONTROL`). The document is built once per app; its examples
(:func:`examples`) are ids of the data the fake holds when it is fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from flask import Flask, Response, current_app
from werkzeug.routing import Rule

from . import contract, dates, schemas
from .core import Core
from .errors import MAX_BODY, MAX_STATE_BODY, Unauthorized
from .model import ID_SPAN
from .service import PARENTS
from .store import PAGE_SIZE
from .version import __version__

CACHE_KEY = "apollo_fake.openapi"
_LATEST = CACHE_KEY + ".latest"  # the document with the examples of the data now
SUFFIX = ".schema.json"
SCHEMAS = "#/components/schemas/"
RESPONSES = "#/components/responses/"
JSON = "application/json"
V1 = "/v1"
SELF = "openapi"  # the endpoint serving this document; described in info, not in paths
TAGS = {"api": "apollo", "control": "control"}  # blueprint name -> tag
INSPECTOR = "ui."  # the inspector page's endpoints (web/inspector.py)

# Keywords whose value is data, not a schema: copied without looking for $ref inside.
_DATA_WORDS = frozenset(["const", "enum", "default", "examples"])
# Keywords whose value maps names to schemas: the names are not keywords.
_SCHEMA_MAPS = frozenset(["$defs", "properties", "patternProperties", "dependentSchemas"])
# A Werkzeug rule argument: <name>, <converter:name> or <converter(args):name>.
_ARG = re.compile(r"<(?:(?P<conv>\w+)(?:\((?:.*?)\))?:)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Call:
    """What the URL map cannot tell about one endpoint.

    ``answer`` and ``request`` name a schema: a file (``project-page-response``) or a
    definition inside one (``control#fault``).
    """

    answer: str
    errors: tuple[int, ...]
    status: int = 200
    request: str | None = None
    request_required: bool = True
    query: tuple[str, ...] = ()
    summary: str | None = None  # for views without a fitting docstring
    media: str = JSON  # the success answer's media type; other than JSON, it renders ``answer``


# Ids in control paths, read in the view, as digits (else a 404).
CONTROL_IDS = frozenset(["parent_id", "rule_id"])
_CONTROL = (400, 401)  # any control call: an unknown query parameter; a control token
_CONTROL_BODY = (400, 401, 413)


def _stem(file_name: str) -> str:
    return file_name.removesuffix(contract.SCHEMA_SUFFIX)


def _apollo(call: contract.Call, route: contract.Route) -> Call:
    """Describe an Apollo call's route from the contract's table."""
    return Call(
        _stem(call.answer),
        call.errors,
        call.status,
        _stem(call.request) if call.request is not None else None,
        query=(route.query,) if route.query else (),
        summary=route.summary,
    )


CONTROL: dict[str, Call] = {
    "control.health": Call("control#health-response", _CONTROL),
    "control.reset": Call(
        "control#ok-response",
        _CONTROL_BODY,
        request="control#reset-request",
        request_required=False,
    ),
    "control.get_state": Call("fixture", _CONTROL),
    "control.put_state": Call("control#ok-response", _CONTROL_BODY, request="fixture"),
    "control.list_snapshots": Call("control#snapshots-response", _CONTROL),
    "control.save_snapshot": Call("control#ok-response", (400, 401, 422), 201),
    "control.restore_snapshot": Call("control#ok-response", (400, 401, 404)),
    "control.delete_snapshot": Call("control#ok-response", (400, 401, 404)),
    "control.changes": Call("control#changes-response", (400, 401, 404), query=("since",)),
    "control.requests": Call(
        "control#requests-response",
        _CONTROL,
        query=("method", "path", "status", "after", "limit", "violations"),
    ),
    "control.parents": Call("control#parents-response", (400, 401, 404), query=("page",)),
    "control.parent_entries": Call(
        "control#parent-entries-response", (400, 401, 404), query=("page",)
    ),
    "control.clear_requests": Call("control#ok-response", _CONTROL),
    "control.contract_report": Call("contract-report", _CONTROL),
    "control.contract_report_html": Call("contract-report", _CONTROL, media="text/html"),
    "control.add_fault": Call("control#fault", (400, 401, 413, 422), 201, "control#fault-request"),
    "control.list_faults": Call("control#faults-response", _CONTROL),
    "control.clear_faults": Call("control#ok-response", _CONTROL),
    "control.remove_fault": Call("control#ok-response", (400, 401, 404)),
    "control.get_clock": Call("control#clock-response", _CONTROL),
    "control.set_clock": Call(
        "control#clock-response", _CONTROL_BODY, request="control#clock-request"
    ),
    "control.advance_clock": Call(
        "control#clock-response", _CONTROL_BODY, request="control#advance-request"
    ),
}
CALLS: dict[str, Call] = {
    **{f"api.{r.endpoint}": _apollo(c, r) for c in contract.CALLS for r in c.routes},
    **CONTROL,
}

_ID_PATTERN = "^[0-9]+$"
# A page of at least 1 (0 is a 400): an integer in the document, as clients send it.
_PAGE_SCHEMA = {"type": "integer", "minimum": 1}
_DAY_FORMS = (
    "YYYYMMDD, YYYY-MM-DD, or a common form of PHP's strtotime: today, now, yesterday, "
    "tomorrow, +N day|week|month|year (also plural and negative), N days|weeks|months|years "
    "ago, @UNIXTIME, MM/DD/YYYY, DD-MM-YYYY, DD.MM.YYYY, and month names (5 July 2012, "
    "July 5, 2012); words are case-insensitive, spaces around the value are ignored. The "
    "pattern says which forms are read; what it cannot say is said here: the day must exist "
    "(2012-02-30 is a 400), the date must fall in the years 1 to 9999, and the window "
    "[from, to] includes both days and spans at most six calendar months (else a 400)."
)


def _date_pattern() -> str:
    """Spell the report's date forms (apollo_fake.dates) as one ECMA-262 pattern."""
    digits, year = "[0-9]{1,2}", "[0-9]{4}"
    months = "|".join(_any_case(m) for m in sorted(dates.MONTH_NAMES, key=len, reverse=True))
    units = "|".join(_any_case(u) for u in dates.UNITS)
    forms = [
        "[0-9]{8}",
        f"{year}-{digits}-{digits}",
        *(_any_case(k) for k in dates.KEYWORDS),
        f"[+-]? *[0-9]+ *(?:{units})[sS]?(?: +{_any_case('ago')})?",
        "@-?[0-9]+",
        # One separator throughout: no back-reference, which not every tool reads.
        *(f"{digits}{sep}{digits}{sep}{year}" for sep in ("/", "\\.", "-")),
        f"{digits} +(?:{months}) +{year}",
        f"(?:{months}) +{digits}(?: *, *| +){year}",
    ]
    return "^ *(?:" + "|".join(forms) + ") *$"


def _any_case(word: str) -> str:
    # ECMA-262 has no inline (?i): spell each letter as a class of both cases.
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


def _boolean_schema(default: bool) -> dict[str, Any]:
    words = sorted(w for w in contract.TRUE | contract.FALSE if w)
    optional = "?" if "" in contract.FALSE else ""
    alternatives = "|".join(_any_case(w) for w in words)
    return {
        "type": "string",
        "pattern": f"^(?:{alternatives}){optional}$",
        "default": "true" if default else "false",
    }


def _boolean_text(default: bool) -> str:
    true = ", ".join(sorted(contract.TRUE))
    false = ", ".join(sorted(w for w in contract.FALSE if w))
    empty = " or empty" if "" in contract.FALSE else ""
    return (
        f" A boolean, case-insensitive: {true} (true); {false}{empty} (false). "
        f"Default: {'true' if default else 'false'}."
    )


def _single_parameters() -> dict[str, tuple[str, str, dict[str, Any]]]:
    # Groups of one optional query parameter: group -> (name, description, schema).
    return {
        "page": (
            "page",
            "The page, from 1 (default: 1). A page past the end is empty.",
            dict(_PAGE_SCHEMA),
        ),
        "page-ignored": (
            "page",
            "Ignored, whatever its value: this call takes no page parameter.",
            {"type": "string"},
        ),
        "since": (
            "since",
            "Changes since this saved snapshot rather than since loading.",
            _schema_ref("control#name"),
        ),
        "method": (
            "method",
            "Only requests of this HTTP method (case-insensitive).",
            {"type": "string"},
        ),
        "path": (
            "path",
            "Only requests whose path matches this glob (/timeEntries/*).",
            {"type": "string"},
        ),
        "after": (
            "after",
            "Only records numbered (seq) above this: pass the last answer's last to follow "
            "the journal (default: 0, every record).",
            {"type": "integer", "minimum": 0},
        ),
        "limit": (
            "limit",
            "Only the newest this many of the matching records.",
            {"type": "integer", "minimum": 1},
        ),
        "violations": (
            "violations",
            "Only the requests that broke the contract (applied before limit)."
            + _boolean_text(False),
            _boolean_schema(False),
        ),
        "status": (
            "status",
            "Only requests answered with this status (422) or class (4xx).",
            {"type": "string", "pattern": "^[1-5]([0-9]{2}|[xX]{2})$"},
        ),
    }


def _query_parameters(group: str) -> list[dict[str, Any]]:
    """Return the query parameters of a group named in :data:`CALLS`."""
    if group == "report":
        out = []
        for parameter in contract.REPORT_PARAMETERS:
            schema: dict[str, Any]
            text = parameter.description
            if parameter.kind == "flag":
                default = bool(parameter.default)
                schema, text = _boolean_schema(default), text + _boolean_text(default)
            elif parameter.kind == "id":
                schema = {"type": "string", "pattern": _ID_PATTERN}
                text += " An id (digits); one that names nothing gives an empty result."
            else:
                schema = {"type": "string", "pattern": _date_pattern()}
                text += " " + _DAY_FORMS
            out.append(
                {
                    "name": parameter.name,
                    "in": "query",
                    "required": False,
                    "description": text,
                    "schema": schema,
                }
            )
        return out
    single = _single_parameters().get(group)
    if single is not None:
        name, text, schema = single
        given: dict[str, Any] = {"name": name, "in": "query", "required": False}
        given |= {"description": text, "schema": schema}
        if group == "page-ignored":
            given["x-ignored"] = True  # named in the description, not as a parameter
        return [given]
    raise LookupError(f"no query parameter group {group!r}")


# --- the schemas -------------------------------------------------------------


# The file of building blocks shared by the others: its definitions keep their own names.
SHARED = "defs"
# A definition of a file: the only fragment a $ref may name in another file.
_DEFINITION = re.compile(r"^/\$defs/([^/]+)$")


def component_name(owner: str, definition: str | None = None) -> str:
    """Name the component of a schema file (``project-page-response``) or of a definition in one.

    A definition gets a name of its own directly under ``components/schemas``, as client
    generators need: ``defs.schema.json#/$defs/id`` is ``id``, and
    ``report-response.schema.json#/$defs/totals`` is ``report-response-totals``.
    """
    if definition is None:
        return owner
    return definition if owner == SHARED else f"{owner}-{definition}"


def _key(file_name: str) -> str:
    if not file_name.endswith(SUFFIX) or file_name not in schemas.names():
        raise LookupError(f"a $ref names {file_name!r}, which is not a file in schemas/")
    return file_name[: -len(SUFFIX)]


def _rewrite(ref: str, owner: str) -> str:
    """Point a $ref of the schema file ``owner`` at a component of the document."""
    if ref.startswith(schemas.BASE_URI):
        ref = ref[len(schemas.BASE_URI) :]
    target, _, fragment = ref.partition("#")
    file = _key(target) if target else owner
    if not fragment:
        return SCHEMAS + file
    found = _DEFINITION.match(fragment)
    if found is None:
        raise ValueError(
            f"{owner}{SUFFIX}: the $ref {ref!r} names neither a file nor one of its $defs"
        )
    return SCHEMAS + component_name(file, found[1])


def _embed(schema: Any, owner: str) -> Any:
    """Copy a schema with each $ref rewritten (a fresh copy: schemas.load's is shared)."""
    if isinstance(schema, list):
        return [_embed(item, owner) for item in schema]
    if not isinstance(schema, dict):
        return schema  # a keyword's plain value (the files hold no boolean schemas)
    out: dict[str, Any] = {}
    for word, value in schema.items():
        if word == "$ref" and isinstance(value, str):
            out[word] = _rewrite(value, owner)
        elif word in _SCHEMA_MAPS and isinstance(value, dict):
            out[word] = {name: _embed(sub, owner) for name, sub in value.items()}
        elif word in _DATA_WORDS or word.startswith("x-"):
            out[word] = orjson.loads(orjson.dumps(value))
        else:
            out[word] = _embed(value, owner)
    return out


# Words that describe a file but constrain nothing: a file with only these beside its
# $defs is a container of definitions, not a schema of its own.
_ANNOTATIONS = frozenset(["title", "description"])


def _components() -> dict[str, Any]:
    """Return every schema file and every definition in one, each under its own name."""
    found: dict[str, Any] = {}

    def put(name: str, schema: Any, owner: str) -> None:
        if name in found:
            raise ValueError(f"two schemas would be the component {name!r}; rename one")
        found[name] = _embed(schema, owner)

    for file_name in schemas.names():
        owner = _key(file_name)
        doc = schemas.load(file_name)
        body = {k: v for k, v in doc.items() if k not in ("$schema", "$id", "$defs")}
        if set(body) - _ANNOTATIONS:
            put(owner, body, owner)
        for definition, schema in doc.get("$defs", {}).items():
            put(component_name(owner, definition), schema, owner)
    return found


def _schema_ref(name: str) -> dict[str, str]:
    """Refer to a table name: ``project-page-response`` or ``control#fault``."""
    file, _, definition = name.partition("#")
    return {"$ref": SCHEMAS + component_name(file, definition or None)}


def _target(doc: dict[str, Any], ref: str) -> Any:
    found: Any = doc
    for part in ref[2:].split("/"):
        found = found[part.replace("~1", "/").replace("~0", "~")]
    return found


# --- the responses -----------------------------------------------------------


def error_component(status: int) -> str:
    """Name the component of the error answered with this status (``error-404``)."""
    return f"error-{status}"


def _status_errors(components: dict[str, Any]) -> dict[str, Any]:
    """Return the error schema once per documented status, its ``status`` that status."""
    out: dict[str, Any] = {}
    for status in sorted(_ERROR_NAMES):
        schema = orjson.loads(orjson.dumps(components[_stem(contract.ERROR_SCHEMA)]))
        schema["title"] = f"Error {status}"
        schema["properties"]["error"]["properties"]["status"] = {
            "type": "integer",
            "const": status,
            "description": f"Always {status}, the answer's own status.",
        }
        out[error_component(status)] = schema
    return out


def _error(status: int, text: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": text}
    if headers:
        out["headers"] = headers
    out["content"] = {JSON: {"schema": {"$ref": SCHEMAS + error_component(status)}}}
    return out


def _mib(size: int) -> str:
    return f"{size // 1024 // 1024} MiB"


def _error_responses() -> dict[str, Any]:
    return {
        "bad-request": _error(
            400,
            "Malformed request: an unknown or repeated query parameter, a bad parameter value, "
            "or a body that is not JSON or not the call's envelope. Nothing changed.",
        ),
        "unauthorized": _error(
            401,
            "Tokens are configured and the request has no known one (HTTP Basic, the token "
            "as user name). Reads the same whether the token is missing or unknown.",
            {
                "WWW-Authenticate": {
                    "description": f"Always {Unauthorized.CHALLENGE}.",
                    "required": True,
                    "schema": {"type": "string", "const": Unauthorized.CHALLENGE},
                }
            },
        ),
        "control-unauthorized": _error(
            401,
            "A control token is configured and X-Fake-Control-Token is missing or wrong.",
        ),
        "control-forbidden": _error(
            403,
            "No control token is configured, and a browser made the call from a page of "
            "another site, or the call named the host as other than an address or "
            "localhost while the fake listens on loopback (DNS rebinding). Clients and "
            "curl naming the host as they reach it are not concerned. Nothing changed.",
        ),
        "not-found": _error(404, "The parent, entry or snapshot does not exist."),
        "payload-too-large": _error(
            413,
            f"The body is too large: over {_mib(MAX_STATE_BODY)} for a whole state "
            f"(PUT /_fake/state), over {_mib(MAX_BODY)} on any other call. Nothing changed.",
        ),
        "unprocessable": _error(
            422,
            "Well-formed but invalid values; details name each bad field. Nothing changed.",
        ),
        "rate-limited": _error(
            429,
            "Rate limited (only when a rate limit is configured).",
            {
                "Retry-After": {
                    "description": "Whole seconds until the window frees a request, at least 1.",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        ),
    }


_ERROR_NAMES = {
    400: "bad-request",
    401: "unauthorized",
    403: "control-forbidden",
    404: "not-found",
    413: "payload-too-large",
    422: "unprocessable",
    429: "rate-limited",
}


def _responses(call: Call, tag: str, components: dict[str, Any]) -> dict[str, Any]:
    target = _schema_ref(call.answer)["$ref"]
    schema = _target({"components": {"schemas": components}}, target)  # KeyError: a typo
    description = schema.get("title") or HTTPStatus(call.status).phrase
    ok: dict[str, Any] = {"description": description}
    if call.status == 201 and tag == "apollo":
        ok["headers"] = {
            "Location": {
                "description": "The new entry's path under the prefix the request used: "
                "/timeEntries/{id}, or /v1/timeEntries/{id} for a request under /v1.",
                "required": True,
                "schema": {"type": "string", "pattern": "^(/v1)?/timeEntries/[0-9]+$"},
            }
        }
    if call.media == JSON:
        ok["content"] = {JSON: {"schema": _schema_ref(call.answer)}}
    else:  # the answer's document rendered for a person: a page, not data
        ok["description"] = f"{description}, rendered as one self-contained {call.media} page"
        ok["content"] = {call.media: {"schema": {"type": "string"}}}
    out: dict[str, Any] = {str(call.status): ok}
    # Every control call refuses a browser's call from another site (no token set).
    errors = {*call.errors, 403} if tag == "control" else set(call.errors)
    for status in sorted(errors):
        name = _ERROR_NAMES[status]
        if status == 401 and tag == "control":
            name = "control-unauthorized"
        out[str(status)] = {"$ref": RESPONSES + name}
    return out


# --- the paths ---------------------------------------------------------------


def _rules(app: Flask) -> Iterator[tuple[Rule, str]]:
    """Yield each documented (rule, method) in the URL map's order."""
    for rule in app.url_map.iter_rules():
        # The inspector page's files are a page for a person, not calls of an API.
        if rule.endpoint in (SELF, "static") or rule.rule.startswith(V1 + "/"):
            continue
        if rule.endpoint.startswith(INSPECTOR):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method


def _path_schema(app: Flask, converter: str, name: str) -> dict[str, Any]:
    if name == "name":  # a snapshot name: the control schema says what one is
        return _schema_ref("control#name")
    if name == "collection":  # the control API's data views: one of the parents
        return {"type": "string", "enum": sorted(PARENTS)}
    if name in CONTROL_IDS:  # read by the view (after the control token): digits
        return {"type": "string", "pattern": "^[0-9]+$"}
    if name == "path_page":  # digits route here, but page 0 is refused (400)
        return dict(_PAGE_SCHEMA)
    regex = getattr(app.url_map.converters[converter], "regex", "[^/]+")
    return {"type": "string", "pattern": f"^(?:{regex})$" if "|" in regex else f"^{regex}$"}


def _summary(app: Flask, endpoint: str, call: Call) -> str:
    if call.summary:
        return call.summary
    doc = app.view_functions[endpoint].__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else endpoint


# What the body's schema cannot say of an Apollo write.
_WRITE_RULES = (
    " Beyond the schema: category-id and user-id must name an existing time category "
    "(GET /account lists them) and user, and an integer is a JSON integer (60, not 60.0); "
    "otherwise a 422 names the field, and nothing changes."
)


def _description(parameters: list[dict[str, Any]]) -> str:
    """Say which query parameters an operation takes and what any other one gets."""
    ignored = [p["name"] for p in parameters if p.get("x-ignored")]
    names = [p["name"] for p in parameters if p["in"] == "query" and p["name"] not in ignored]
    taken = ", ".join(names) if names else "none"
    return (
        f"Query parameters: {taken}. A query parameter not listed here, or one given "
        "twice, is refused with a 400 (bad-request) and changes nothing."
        + "".join(f" A {name} parameter is ignored, whatever its value." for name in ignored)
    )


def _paths(app: Flask, components: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    paths: dict[str, Any] = {}
    names_of: dict[str, list[str]] = {}  # path shape -> the parameter names it uses
    used: set[str] = set()
    tags: list[str] = []
    for rule, method in _rules(app):
        call = CALLS.get(rule.endpoint)
        if call is None:
            raise LookupError(
                f"the route {method} {rule.rule} ({rule.endpoint}) has no entry in "
                "apollo_fake.openapi.CALLS; add one"
            )
        tag = TAGS[rule.endpoint.partition(".")[0]]
        args = [(m["conv"] or "default", m["name"]) for m in _ARG.finditer(rule.rule)]
        shape = _ARG.sub("{}", rule.rule)
        # /tasks/<id:parent_id> (POST) and /tasks/<id:task_id> (GET) are one path in
        # OpenAPI, which forbids the same template under other names: keep the first names.
        names = names_of.setdefault(shape, [name for _, name in args])
        template = shape.format(*(f"{{{n}}}" for n in names))
        operation_id = rule.endpoint
        while operation_id in used:
            operation_id += "_" + method.lower()
        used.add(operation_id)
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": _path_schema(app, converter, name),
            }
            for (converter, _), name in zip(args, names, strict=True)
        ]
        for group in call.query:
            parameters.extend(_query_parameters(group))
        operation: dict[str, Any] = {
            "operationId": operation_id,
            "tags": [tag],
            "summary": _summary(app, rule.endpoint, call),
            "description": _description(parameters)
            + (_WRITE_RULES if tag == "apollo" and call.request is not None else ""),
        }
        if parameters:
            operation["parameters"] = parameters
        if call.request is not None:
            operation["requestBody"] = {
                "required": call.request_required,
                "content": {JSON: {"schema": _schema_ref(call.request)}},
            }
        operation["responses"] = _responses(call, tag, components)
        operation["security"] = [{f"{tag}-token": []}, {}]
        item = paths.setdefault(template, {})
        if tag == "apollo":
            item.setdefault("servers", [{"url": "/"}, {"url": V1}])
        item[method.lower()] = operation
        if tag not in tags:
            tags.append(tag)
    return paths, tags


_DESCRIPTION = """\
The contract of apollo-fake, a stand-in for the time-tracking calls of the Apollo API \
(https://api.apollohq.com/v1/) in other projects' tests. Every body's shape is one of \
the project's JSON Schemas (draft 2020-12), embedded under components/schemas.

The calls tagged `apollo` are the Apollo time-tracking calls. They are documented once, \
at the root, and every one of their paths is also served under `/v1` with the same \
behaviour (`/v1/projects/{parent_id}/timeEntries`, ...): a client may use either base URL.

The calls tagged `control` are the fake's own control API under `/_fake/`: at the root \
only, never under `/v1`, never rate limited, and served only while the control API is on. \
The inspector page built on them, `GET /_fake/ui`, is a page for a person (HTML), not \
an operation of this document.

Every error answers with the `error` schema: the statuses listed with each call, and \
also 404 for a path that matches no call, 405 (with `Allow`) for a method a path does \
not take, and 500 for a bug in the fake. A fault rule (`POST /_fake/faults`) can make an \
Apollo call answer any status and body it names; such answers are outside this document.

This document is served at `GET /openapi.json` (never under `/v1`, never authenticated)."""

_TAG_TEXT = {
    "apollo": "The Apollo time-tracking calls (also served under /v1).",
    "control": "The fake's control API: reset, state, snapshots, changes, journal, faults, "
    "clock, contract report.",
}


def _refs(value: Any) -> Iterator[str]:
    """Yield every $ref in a part of the document."""
    if isinstance(value, dict):
        for word, sub in value.items():
            if word == "$ref" and isinstance(sub, str):
                yield sub
            else:
                yield from _refs(sub)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _used(components: dict[str, Any], *roots: Any) -> dict[str, Any]:
    """Keep the schemas the roots refer to, directly or through another schema.

    A schema no operation answers or takes (report-with-totals-response, which the
    tests check a with_totals answer against) stays out: generators would make a
    type of it that nothing returns.
    """
    todo = [ref for root in roots for ref in _refs(root)]
    kept: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref.startswith(SCHEMAS) and (name := ref[len(SCHEMAS) :]) not in kept:
            kept.add(name)
            todo.extend(_refs(components[name]))
    return {name: schema for name, schema in components.items() if name in kept}


def _document(app: Flask) -> dict[str, Any]:
    components = _components()
    components.update(_status_errors(components))
    paths, tags = _paths(app, components)
    responses = _error_responses()
    used = {n: r for n, r in responses.items() if RESPONSES + n in set(_refs(paths))}
    security = {
        "apollo-token": {
            "type": "http",
            "scheme": "basic",
            "description": "The API token as user name, any password. Checked only when "
            "the fake has tokens configured; otherwise every request is accepted.",
        },
        "control-token": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Fake-Control-Token",
            "description": "Checked only when the fake has a control token configured.",
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Apollo time-tracking API (apollo-fake)",
            "version": __version__,
            "description": _DESCRIPTION,
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": "/"}],
        "tags": [{"name": t, "description": _TAG_TEXT[t]} for t in tags],
        "paths": paths,
        "components": {
            "schemas": _used(components, paths, used),
            "responses": used,
            "securitySchemes": {f"{t}-token": security[f"{t}-token"] for t in tags},
        },
    }


# --- examples from the data the fake serves -----------------------------------


@dataclass(frozen=True)
class Examples:
    """Ids that exist in a fake's data, for the document's examples (None: there is none).

    A generated client's test or a fuzzer that starts from them reaches past the 404 of
    an unknown id. ``*_pages`` is the page to show: 2 when the listing has a second page.
    """

    project: int | None = None
    project_pages: int = 1
    contact: int | None = None
    contact_pages: int = 1
    task: int | None = None
    entry: int | None = None  # read and updated
    doomed: int | None = None  # deleted: another entry when there is one
    user: int | None = None
    category: int | None = None
    company: int | None = None
    date: str | None = None  # the read entry's day, for a report that finds it


def _fullest(groups: dict[int, Any]) -> tuple[int | None, int]:
    """Return the parent with the most entries (the lowest id among equals), and its pages."""
    best: tuple[int, int] | None = None
    for parent, group in groups.items():
        if group and (best is None or (len(group), -parent) > (best[1], -best[0])):
            best = (parent, len(group))
    if best is None:
        return None, 1
    return best[0], 2 if best[1] > PAGE_SIZE else 1


def examples(fake: Core) -> Examples:
    """Pick the example ids from a fake's data as it is now."""
    store = fake.store
    with store.lock:
        project, project_pages = _fullest(store.index.project)
        contact, contact_pages = _fullest(store.index.contact)
        task, _ = _fullest(store.index.task)
        entry = doomed = None
        everything = store.index.all  # every entry, by date then id: its ends cost nothing
        if project is not None:  # the newest entry of the listing a client reads first
            entry = store.index.project[project][-1] % ID_SPAN
        elif everything:
            entry = everything[-1] % ID_SPAN
        if everything:  # the oldest entry, unless that is the one read
            doomed = everything[0] % ID_SPAN
            if doomed == entry:
                doomed = everything[-1] % ID_SPAN
        return Examples(
            project,
            project_pages,
            contact,
            contact_pages,
            task,
            entry,
            doomed,
            min(store.users, default=None),
            min(store.categories, default=None),
            min(store.companies, default=None),
            store.entries[entry].date if entry is not None else None,
        )


def _param_example(path: str, method: str, name: str, ex: Examples) -> Any:
    """Return the example of a path or query parameter, or None when the data has none."""
    kind = path.strip("/").split("/")[0]
    ids: dict[str, int | None] = {
        "parent_id": {"projects": ex.project, "contacts": ex.contact, "tasks": ex.task}.get(kind),
        "entry_id": ex.doomed if method == "delete" else ex.entry,
        "project_id": ex.project,
        "task_id": ex.task,
        "user_id": ex.user,
        "company_id": ex.company,
    }
    if name in ids:
        found = ids[name]
        return None if found is None else str(found)
    if name in ("path_page", "page") and kind in ("projects", "contacts"):
        return ex.project_pages if kind == "projects" else ex.contact_pages
    if name in ("from", "to"):
        return ex.date
    if name == "with_totals":
        return "true"
    if name == "name":
        return "before-test"
    return None


def _body_example(operation_id: str, ex: Examples) -> Any:
    """Return the example body of a write, its ids from the data; None for other calls."""
    if operation_id.endswith("_create"):
        fields: dict[str, Any] = {"seconds": "3600", "notes": "Written by a generated client"}
        if ex.category is not None:
            fields["category-id"] = str(ex.category)
        if ex.user is not None:
            fields["user-id"] = str(ex.user)
        if ex.date is not None:
            fields["date"] = ex.date
        fields["billable"] = "billable"
        return {"time-entry": fields}
    if operation_id == "api.update_entry":
        return {"time-entry": {"seconds": "1800", "notes": "Updated by a generated client"}}
    return None


def _with_examples(base: dict[str, Any], ex: Examples) -> dict[str, Any]:
    """Return a copy of the document with examples from the fake's data in its Apollo calls."""
    doc: dict[str, Any] = orjson.loads(orjson.dumps(base))
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "servers" or "apollo" not in operation["tags"]:
                continue
            for parameter in operation.get("parameters", ()):
                if parameter.get("x-ignored"):
                    continue
                found = _param_example(path, method, parameter["name"], ex)
                if found is not None:
                    parameter["example"] = found
            body = _body_example(operation["operationId"], ex)
            if body is not None:
                operation["requestBody"]["content"][JSON]["example"] = body
    return doc


def _cached(app: Flask) -> tuple[dict[str, Any], bytes]:
    """Return the document for the fake's data now, and its bytes; the base is built once."""
    base: dict[str, Any] | None = app.extensions.get(CACHE_KEY)
    if base is None:
        base = app.extensions.setdefault(CACHE_KEY, _document(app))
    ex = examples(app.extensions["apollo_fake"])
    # Only the latest examples' document is kept, replaced whole (one assignment), so
    # that concurrent requests each get a complete pair.
    latest: tuple[Examples, dict[str, Any], bytes] | None = app.extensions.get(_LATEST)
    if latest is None or latest[0] != ex:
        doc = _with_examples(base, ex)
        latest = (ex, doc, orjson.dumps(doc))
        app.extensions[_LATEST] = latest
    return latest[1], latest[2]


def build(app: Flask) -> dict[str, Any]:
    """Return the app's OpenAPI document for its fake's data now (callers must not change it)."""
    return _cached(app)[0]


def view() -> Response:
    """Serve the OpenAPI document of the Apollo calls and the control calls."""
    return Response(_cached(current_app)[1], mimetype=JSON)
