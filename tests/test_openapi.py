"""``GET /openapi.json``: the OpenAPI 3.1 document of the Apollo calls and the control calls.

Covers: the document is valid OpenAPI (openapi-spec-validator); it documents exactly
the routes the app serves (the Apollo calls once, at the root, ``/v1`` mirroring them)
and, with the control API off, no control call; every ``$ref`` resolves inside it; its
schemas are the files of ``schemas/`` with their references rewritten; each documented
response schema (and header) fits what the fake really answers, over both transports;
its query parameter schemas agree with what the fake accepts; it is cached, identical
from call to call and from process to process; and ``/openapi.json`` itself is outside
auth, rate limit, journal and fault rules.

``conftest.Api.request`` checks every body against the Apollo schema its path implies,
which does not fit ``/openapi.json`` or ``/_fake/`` answers; those go through ``call``.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from apollo_fake import __version__, openapi, schemas
from apollo_fake.dates import parse_report_date
from apollo_fake.fake import Fake, Settings
from apollo_fake.web import create_app

from conftest import Api, entries_doc, make_api, small_doc

DOC_URI = "urn:apollo-fake:openapi"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SELF = ("GET", "/openapi.json")  # served, and on purpose not in its own paths
TOKEN = "t0ken"
CONTROL_TOKEN = "ctl"

# The calls of the contract and the control API, as (method, path shape).
APOLLO_CALLS = {
    ("GET", "/projects/{}/timeEntries"),
    ("GET", "/projects/{}/timeEntries/{}"),
    ("GET", "/contacts/{}/timeEntries"),
    ("GET", "/contacts/{}/timeEntries/{}"),
    ("GET", "/tasks/{}/timeEntries"),
    ("POST", "/projects/{}/timeEntries"),
    ("POST", "/contacts/{}/timeEntries"),
    ("POST", "/tasks/{}/timeEntries"),
    ("GET", "/timeEntries/{}"),
    ("PUT", "/timeEntries/{}"),
    ("DELETE", "/timeEntries/{}"),
    ("GET", "/report/timeEntries"),
    ("GET", "/account"),
}
# The inspector page (GET /_fake/ui) and its script and stylesheet.
INSPECTOR = {("GET", "/_fake/ui"), ("GET", "/_fake/ui/{}")}
CONTROL_CALLS = {
    ("GET", "/_fake/health"),
    ("POST", "/_fake/reset"),
    ("GET", "/_fake/state"),
    ("PUT", "/_fake/state"),
    ("GET", "/_fake/snapshots"),
    ("POST", "/_fake/snapshots/{}"),
    ("POST", "/_fake/snapshots/{}/restore"),
    ("DELETE", "/_fake/snapshots/{}"),
    ("GET", "/_fake/changes"),
    ("GET", "/_fake/requests"),
    ("DELETE", "/_fake/requests"),
    ("GET", "/_fake/report"),
    ("GET", "/_fake/report.html"),
    ("POST", "/_fake/faults"),
    ("GET", "/_fake/faults"),
    ("DELETE", "/_fake/faults"),
    ("DELETE", "/_fake/faults/{}"),
    ("GET", "/_fake/data/{}"),
    ("GET", "/_fake/data/{}/{}/entries"),
    ("GET", "/_fake/clock"),
    ("PUT", "/_fake/clock"),
    ("POST", "/_fake/clock/advance"),
}
REPORT_PARAMETERS = [  # the vendor's table, in its order
    "include_personal",
    "include_projects",
    "include_contacts",
    "include_cases",
    "include_deals",
    "from",
    "to",
    "user_id",
    "company_id",
    "task_id",
    "project_id",
    "with_totals",
]


# --- helpers -------------------------------------------------------------------


def call(
    api: Api, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send a request through the Api's transport without conftest's Apollo schema check."""
    payload = None if body is None else json.dumps(body).encode()
    if api.client is not None:
        resp = api.client.open(path, method=method, data=payload, headers=headers or {})
        return resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.get_data()
    assert api.url is not None
    host, port = api.url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=payload, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def served_doc(api: Api) -> dict[str, Any]:
    """Fetch the document the way a client does and check how it is served."""
    status, headers, raw = call(api, "GET", "/openapi.json")
    assert status == 200, raw[:300]
    assert headers["content-type"] == "application/json"
    doc: dict[str, Any] = json.loads(raw)
    return doc


def shape(path: str) -> str:
    """Blank out path parameter names: /tasks/{task_id} and /tasks/{parent_id} are one path."""
    return re.sub(r"\{[^}/]*\}", "{}", path)


def served_routes(fake: Fake) -> set[tuple[str, str]]:
    """Every (method, path shape) the app routes, from its URL map, /v1 copies left out."""
    app = create_app(fake)
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/v1/"):
            continue
        path = shape(re.sub(r"<(?:[^>:]+:)?[^>]+>", "{}", rule.rule))
        found |= {(m, path) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    return found


def documented_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (method, path shape) the document has an operation for."""
    return {
        (method.upper(), shape(path))
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (METHOD, path template, operation) of every documented operation."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def pointer(parts: list[str]) -> str:
    """Write a JSON pointer."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    """Follow a local $ref ("#/a/b") inside the document; KeyError when it goes nowhere."""
    assert ref.startswith("#/"), ref
    found: Any = doc
    for part in ref[2:].split("/"):
        found = found[part.replace("~1", "/").replace("~0", "~")]
    return found


def find_operation(doc: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    """Return the template and operation documenting a concrete request."""
    path = path.split("?", 1)[0]
    segments = path.strip("/").split("/")
    matches = []
    tries = [(segments, False)] + ([(segments[1:], True)] if segments[0] == "v1" else [])
    for template, item in doc["paths"].items():
        parts = template.strip("/").split("/")
        for segs, mirrored in tries:
            fits = len(parts) == len(segs) and all(
                p == s or (p.startswith("{") and p.endswith("}") and s)
                for p, s in zip(parts, segs, strict=True)
            )
            if fits and method.lower() in item:
                if mirrored:
                    assert {"url": "/v1"} in item.get("servers", []), template
                matches.append((template, item[method.lower()]))
    assert len(matches) == 1, (method, path, matches)
    return matches[0]


def answer_of(doc: dict[str, Any], method: str, path: str, status: int) -> tuple[list[str], Any]:
    """Return where the documented response for a status lives, and that response."""
    template, op = find_operation(doc, method, path)
    responses = op["responses"]
    assert str(status) in responses, (method, template, status, sorted(responses))
    where = ["paths", template, method.lower(), "responses", str(status)]
    answer = responses[str(status)]
    if "$ref" in answer:
        where = resolve_parts(answer["$ref"])
        answer = resolve(doc, answer["$ref"])
    return where, answer


def resolve_parts(ref: str) -> list[str]:
    """Split a local $ref into its pointer's parts."""
    return [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]


def validator_at(doc: dict[str, Any], where: list[str]) -> Any:
    """Return a validator for the schema at that place in the document, refs and all."""
    registry: Registry[Any] = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))
    return Draft202012Validator(
        {"$ref": DOC_URI + "#" + pointer(where)},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def check_answer(
    doc: dict[str, Any], method: str, path: str, status: int, headers: dict[str, str], raw: bytes
) -> Any:
    """Assert a real answer fits the document's response for it: body and headers."""
    where, answer = answer_of(doc, method, path, status)
    (media,) = answer["content"]
    if media != "application/json":  # a page for a person: its media type, and text
        assert headers["content-type"] == f"{media}; charset=utf-8"
        body = raw.decode()
        validator_at(doc, [*where, "content", media, "schema"]).validate(body)
        return body
    body = json.loads(raw)
    assert headers["content-type"] == "application/json"
    validator_at(doc, [*where, "content", "application/json", "schema"]).validate(body)
    for name, header in answer.get("headers", {}).items():
        value = headers.get(name.lower())
        if header.get("required"):
            assert value is not None, (name, headers)
        if value is not None:
            schema = resolve(doc, "#" + pointer([*where, "headers", name, "schema"]))
            validator_at(doc, [*where, "headers", name, "schema"]).validate(
                int(value) if schema.get("type") == "integer" and value.isdigit() else value
            )
    return body


def pattern_accepts(pattern: str, text: str) -> bool:
    """Match a JSON Schema pattern as ECMA-262 would ($ only at the very end)."""
    return re.search(re.sub(r"(?<!\\)\$", r"\\Z", pattern), text) is not None


def schema_accepts(schema: dict[str, Any], text: str) -> bool:
    """Tell whether a parameter's schema takes a value as sent in a URL (integers read)."""
    if schema.get("type") == "integer":
        if not re.fullmatch(r"-?[0-9]+", text):
            return False
        return Draft202012Validator(schema).is_valid(int(text))
    return pattern_accepts(schema["pattern"], text)


def query_schema(doc: dict[str, Any], template: str, method: str, name: str) -> dict[str, Any]:
    """Return the schema of one query parameter of an operation."""
    op = doc["paths"][template][method]
    found = [p for p in op["parameters"] if p["in"] == "query" and p["name"] == name]
    assert len(found) == 1, (template, name)
    schema: dict[str, Any] = found[0]["schema"]
    return schema


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    """The document of an app over small.json, with the control API on."""
    client = create_app(Fake(small_doc())).test_client()
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    found: dict[str, Any] = json.loads(resp.get_data())
    return found


@pytest.fixture(params=["client", "socket"])
def paged(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An Api over 60 entries on project 51: two pages."""
    yield from make_api(request, entries_doc(60))


@pytest.fixture(params=["client", "socket"])
def guarded(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An Api with a token, a control token and a rate limit of two requests."""
    settings = Settings(tokens={TOKEN: 11}, rate_limit=(2, 300.0), control_token=CONTROL_TOKEN)
    yield from make_api(request, small_doc(), settings=settings)


@pytest.fixture(params=["client", "socket"])
def no_control(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An Api with the control API turned off."""
    yield from make_api(request, small_doc(), settings=Settings(control=False))


# --- the document as a whole --------------------------------------------------


def test_served_document_is_valid_openapi_3_1(api: Api) -> None:
    doc = served_doc(api)
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "Apollo time-tracking API (apollo-fake)"
    assert doc["info"]["version"] == __version__
    assert "/v1" in doc["info"]["description"]
    assert [t["name"] for t in doc["tags"]] == ["apollo", "control"]
    # Control calls exist only at the root: /v1 must not be a server of the whole document.
    assert doc.get("servers", [{"url": "/"}]) == [{"url": "/"}]


def test_validator_rejects_a_broken_document(doc: dict[str, Any]) -> None:
    # Proves the validity test can fail: the same document with a dangling $ref.
    broken = json.loads(json.dumps(doc))
    broken["paths"]["/account"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] = {"$ref": "#/components/schemas/no-such-schema"}
    with pytest.raises(Exception, match="no-such-schema"):
        validate(broken)


def test_every_served_route_is_documented_and_every_documented_one_served(
    doc: dict[str, Any],
) -> None:
    served = served_routes(Fake(small_doc()))
    assert SELF in served  # served, and left out of its own paths on purpose
    assert INSPECTOR <= served  # a page for a person, not calls of the API
    assert served - {SELF} - INSPECTOR == documented_routes(doc)


def test_documented_calls_are_the_contracts_and_the_control_apis(doc: dict[str, Any]) -> None:
    by_tag: dict[str, set[tuple[str, str]]] = {}
    for method, path, op in operations(doc):
        assert len(op["tags"]) == 1, op["operationId"]
        by_tag.setdefault(op["tags"][0], set()).add((method, shape(path)))
    assert by_tag == {"apollo": APOLLO_CALLS, "control": CONTROL_CALLS}


def test_v1_mirrors_every_apollo_route_and_no_control_route(doc: dict[str, Any]) -> None:
    app = create_app(Fake(small_doc()))
    routes: dict[str, set[tuple[str, str]]] = {"root": set(), "v1": set()}
    for rule in app.url_map.iter_rules():
        methods = {m for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
        if rule.rule.startswith("/v1/"):
            routes["v1"] |= {(m, shape(rule.rule[3:])) for m in methods}
        elif not rule.rule.startswith("/_fake/") and rule.rule != "/openapi.json":
            routes["root"] |= {(m, shape(rule.rule)) for m in methods}
    norm = {(m, re.sub(r"<[^>]+>", "{}", p)) for m, p in routes["v1"]}
    assert norm == {(m, re.sub(r"<[^>]+>", "{}", p)) for m, p in routes["root"]} == APOLLO_CALLS
    # The document says so where tools look: per path for the Apollo paths only.
    for path, item in doc["paths"].items():
        expected = None if path.startswith("/_fake/") else [{"url": "/"}, {"url": "/v1"}]
        assert item.get("servers") == expected, path


def test_operation_ids_are_unique_and_summaries_given(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids)) == len(APOLLO_CALLS) + len(CONTROL_CALLS)
    assert "api.get_entry" in ids and "control.health" in ids
    for method, path, op in operations(doc):
        assert op["summary"].strip(), (method, path)
    entry = doc["paths"]["/timeEntries/{entry_id}"]
    assert entry["get"]["summary"] == "Return one entry."  # the view's docstring


def test_every_operation_says_an_unknown_or_repeated_query_parameter_is_a_400(
    doc: dict[str, Any],
) -> None:
    for method, path, op in operations(doc):
        text = op["description"]
        assert "not listed here, or one given twice, is refused with a 400" in text, path
        listed = [p["name"] for p in op.get("parameters", ()) if p["in"] == "query"]
        if not listed:
            assert text.startswith("Query parameters: none."), (method, path)
        if any(p.get("x-ignored") for p in op.get("parameters", ())):
            assert "A page parameter is ignored, whatever its value." in text, (method, path)
        writes = op["tags"] == ["apollo"] and "requestBody" in op
        assert ("60, not 60.0" in text) is writes, (method, path)


def test_path_parameters_are_digit_strings_or_snapshot_names(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        names = re.findall(r"\{([^}]+)\}", path)
        params = [p for p in op.get("parameters", []) if p["in"] == "path"]
        assert [p["name"] for p in params] == names, (method, path)
        for p in params:
            assert p["required"] is True
            if p["name"] == "name":
                assert p["schema"] == {"$ref": "#/components/schemas/control-name"}
            elif p["name"] == "collection":  # the data views of the control API
                assert p["schema"] == {"type": "string", "enum": ["contacts", "projects", "tasks"]}
            elif p["name"] == "path_page":  # page 0 is a 400, not a page
                assert p["schema"] == {"type": "integer", "minimum": 1}, (path, p)
            else:
                assert p["schema"] == {"type": "string", "pattern": "^[0-9]+$"}, (path, p)


def test_every_ref_resolves_inside_the_document(doc: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("$ref"), str):
                refs.append(value["$ref"])
            for sub in value.values():
                walk(sub)
        elif isinstance(value, list):
            for sub in value:
                walk(sub)

    walk(doc)
    assert len(refs) > 100
    for ref in refs:
        assert ref.startswith("#/"), ref
        resolve(doc, ref)  # raises KeyError on a dangling one


def expected_ref(ref: str, key: str) -> str:
    """The document's $ref for a file's: a file, or a definition under its own name."""
    target, _, fragment = ref.partition("#")
    owner = target.removesuffix(".schema.json") if target else key
    if not fragment:
        return "#/components/schemas/" + owner
    definition = fragment.removeprefix("/$defs/")
    assert "/" not in definition, ref
    return "#/components/schemas/" + (definition if owner == "defs" else f"{owner}-{definition}")


def same_but_refs(original: Any, embedded: Any, key: str, where: str) -> None:
    """Assert an embedded schema is the file's, $ref for $ref rewritten."""
    if isinstance(original, dict):
        assert isinstance(embedded, dict) and original.keys() == embedded.keys(), where
        for k, v in original.items():
            if k == "$ref":
                assert embedded[k] == expected_ref(v, key), where
            else:
                same_but_refs(v, embedded[k], key, f"{where}/{k}")
    elif isinstance(original, list):
        assert isinstance(embedded, list) and len(original) == len(embedded), where
        for i, (a, b) in enumerate(zip(original, embedded, strict=True)):
            same_but_refs(a, b, key, f"{where}/{i}")
    else:
        assert embedded == original and type(embedded) is type(original), where


def on_disk_components() -> dict[str, tuple[str, Any]]:
    """Every schema the files hold, by the component name it gets: (its file, the schema)."""
    found: dict[str, tuple[str, Any]] = {}
    for name in schemas.names():
        key = name.removesuffix(".schema.json")
        doc = json.loads((schemas.schema_dir() / name).read_text())
        body = {k: v for k, v in doc.items() if k not in ("$schema", "$id", "$defs")}
        if set(body) - {"title", "description"}:  # not a mere container of definitions
            found[key] = (key, body)
        for definition, schema in doc.get("$defs", {}).items():
            found[expected_ref(f"#/$defs/{definition}", key).rpartition("/")[2]] = (key, schema)
    return found


def test_components_are_the_schema_files_with_refs_rewritten(doc: dict[str, Any]) -> None:
    # Compiling the fast validators rewrites the refs of schemas.load's shared copies to
    # absolute URIs; the document must not depend on whether that has happened yet.
    for name in schemas.names():
        schemas.is_valid(name, {})
    assert openapi.build(create_app(Fake(small_doc()))) == doc
    components = doc["components"]["schemas"]
    files = on_disk_components()
    derived = {f"error-{s}" for s in (400, 401, 403, 404, 413, 422, 429)}
    # Every component is a file or a definition, or the error of one status.
    assert set(components) - set(files) == derived
    # Left out: only what no operation refers to (the tests' report-with-totals-response,
    # the generic error that the per-status ones replace).
    assert set(files) - set(components) == {"report-with-totals-response", "error"}
    for key, (owner, original) in files.items():
        if key in components:
            assert "$id" not in components[key] and "$schema" not in components[key]
            same_but_refs(original, components[key], owner, key)
    # The kinds of reference, spelled out: a shared definition, a file, a file's own.
    assert components["time-entry"]["properties"]["id"] == {"$ref": "#/components/schemas/id"}
    assert components["entry-response"]["properties"]["time-entry"] == {
        "$ref": "#/components/schemas/time-entry"
    }
    assert components["control-health-response"]["properties"]["counts"] == {
        "$ref": "#/components/schemas/control-counts"
    }
    assert components["report-response"]["properties"]["totals"] == {
        "$ref": "#/components/schemas/report-response-totals"
    }
    # Extension keywords stay: the fake's error messages come from them.
    on_disk = json.loads((schemas.schema_dir() / "defs.schema.json").read_text())
    assert components["id"]["x-rule"] == on_disk["$defs"]["id"]["x-rule"]


def schema_places(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Yield every schema in a schema, with its place: subschemas of every keyword."""
    yield where, value
    if not isinstance(value, dict):
        return
    for word in ("items", "not", "propertyNames", "additionalProperties", "if", "then", "else"):
        if word == "additionalProperties" and value.get(word) is False:
            continue  # "no other keys": the one boolean every generator reads
        if word in value:
            yield from schema_places(value[word], f"{where}/{word}")
    for word in ("allOf", "anyOf", "oneOf", "prefixItems"):
        for i, sub in enumerate(value.get(word, ())):
            yield from schema_places(sub, f"{where}/{word}/{i}")
    for word in ("properties", "patternProperties", "$defs", "dependentSchemas"):
        for name, sub in value.get(word, {}).items():
            yield from schema_places(sub, f"{where}/{word}/{name}")


ANNOTATIONS = {"title", "description", "x-rule", "default", "examples"}


def test_every_schema_is_one_a_generator_can_type(doc: dict[str, Any]) -> None:
    # What openapi-python-client, openapi-typescript and @hey-api/openapi-ts need: no
    # boolean schemas, no $defs (every shared schema is a component of its own), no $ref
    # into another schema, and a type on every schema that is not a $ref or a union of
    # typed schemas. A schema that takes any value says so in words (its description).
    components = doc["components"]["schemas"]
    for name, component in components.items():
        for where, schema in schema_places(component, name):
            assert isinstance(schema, dict), where  # no true/false schemas
            assert "$defs" not in schema, where
            if "$ref" in schema:
                assert schema["$ref"].count("/") == 3, where  # #/components/schemas/NAME
                continue
            if where.endswith(("/not", "/if", "/then")) or "/allOf/" in where:
                continue  # constraints beside a typed schema, not shapes of their own
            if "/oneOf/" in where and set(schema) <= {"required", "not", "properties"}:
                continue  # which properties a fault or a task names: a constraint
            if "type" in schema:
                continue
            if "oneOf" in schema or "anyOf" in schema:
                branches = schema.get("oneOf", []) + schema.get("anyOf", [])
                assert all("type" in b or "$ref" in b for b in branches), where
                continue
            if "type" not in schema:
                assert set(schema) <= ANNOTATIONS and schema.get("description"), where
    # The totals: a union generators map to a type (no anyOf with a typeless const).
    sums = components["report-response-string-sum"]
    assert sums["oneOf"] == [
        {"type": "string", "pattern": "^[1-9][0-9]*$"},
        {"type": "integer", "minimum": 0, "maximum": 0},
    ]


def test_operations_refer_to_the_schema_files(doc: dict[str, Any]) -> None:
    def schema_of(path: str, method: str, status: str) -> Any:
        return doc["paths"][path][method]["responses"][status]["content"]["application/json"][
            "schema"
        ]

    def request_of(path: str, method: str) -> Any:
        return doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]

    c = "#/components/schemas/"
    assert schema_of("/projects/{parent_id}/timeEntries", "get", "200") == {
        "$ref": c + "project-page-response"
    }
    assert schema_of("/contacts/{parent_id}/timeEntries/{path_page}", "get", "200") == {
        "$ref": c + "contact-page-response"
    }
    assert request_of("/projects/{parent_id}/timeEntries", "post") == {"$ref": c + "create-request"}
    assert request_of("/timeEntries/{entry_id}", "put") == {"$ref": c + "update-request"}
    assert schema_of("/_fake/faults", "post", "201") == {"$ref": c + "control-fault"}
    assert schema_of("/_fake/state", "get", "200") == {"$ref": c + "fixture"}
    assert request_of("/_fake/state", "put") == {"$ref": c + "fixture"}
    assert request_of("/_fake/faults", "post") == {"$ref": c + "control-fault-request"}
    # A reset takes an optional body; the others need theirs.
    assert doc["paths"]["/_fake/reset"]["post"]["requestBody"]["required"] is False
    assert doc["paths"]["/_fake/clock"]["put"]["requestBody"]["required"] is True


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        pytest.param(
            "GET",
            "/projects/{parent_id}/timeEntries",
            ["200", "400", "401", "404", "429"],
            id="listing",
        ),
        pytest.param(
            "POST",
            "/projects/{parent_id}/timeEntries",
            ["201", "400", "401", "404", "413", "422", "429"],
            id="create",
        ),
        pytest.param(
            "PUT",
            "/timeEntries/{entry_id}",
            ["200", "400", "401", "404", "413", "422", "429"],
            id="update",
        ),
        pytest.param(
            "DELETE", "/timeEntries/{entry_id}", ["200", "400", "401", "404", "429"], id="delete"
        ),
        pytest.param("GET", "/report/timeEntries", ["200", "400", "401", "429"], id="report"),
        pytest.param("GET", "/account", ["200", "400", "401", "429"], id="account"),
        pytest.param("GET", "/_fake/health", ["200", "400", "401", "403"], id="health"),
        pytest.param(
            "POST", "/_fake/faults", ["201", "400", "401", "403", "413", "422"], id="add-fault"
        ),
        pytest.param(
            "POST",
            "/_fake/snapshots/{name}/restore",
            ["200", "400", "401", "403", "404"],
            id="restore",
        ),
    ],
)
def test_documented_statuses(
    doc: dict[str, Any], method: str, path: str, statuses: list[str]
) -> None:
    op = doc["paths"][path][method.lower()]
    assert list(op["responses"]) == statuses
    unauthorized = resolve(doc, op["responses"]["401"]["$ref"])
    if path.startswith("/_fake/"):
        assert "headers" not in unauthorized
    else:
        assert list(unauthorized["headers"]) == ["WWW-Authenticate"]
        rate_limited = resolve(doc, op["responses"]["429"]["$ref"])
        assert list(rate_limited["headers"]) == ["Retry-After"]
    for status in statuses:
        if status >= "400":
            body = resolve(doc, op["responses"][status]["$ref"])["content"]
            ref = f"#/components/schemas/error-{status}"
            assert body == {"application/json": {"schema": {"$ref": ref}}}
            # The error's status is the answer's own: a client can rely on it.
            error = resolve(doc, ref)["properties"]["error"]["properties"]["status"]
            assert error["type"] == "integer" and error["const"] == int(status)


# --- real answers fit the documented responses -------------------------------

ENTRY = {"time-entry": {"seconds": "60", "notes": "documented"}}
APOLLO_CASES = [
    pytest.param("GET", "/projects/51/timeEntries", None, 200, id="project-listing"),
    pytest.param("GET", "/projects/51/timeEntries?page=1", None, 200, id="project-page-query"),
    pytest.param("GET", "/projects/51/timeEntries/1", None, 200, id="project-page-path"),
    pytest.param("GET", "/contacts/41/timeEntries", None, 200, id="contact-listing"),
    pytest.param("GET", "/contacts/41/timeEntries/2", None, 200, id="contact-page-past-end"),
    pytest.param("GET", "/tasks/61/timeEntries", None, 200, id="task-listing"),
    pytest.param("GET", "/timeEntries/71", None, 200, id="entry"),
    pytest.param("POST", "/projects/51/timeEntries", ENTRY, 201, id="create-on-project"),
    pytest.param("POST", "/contacts/41/timeEntries", ENTRY, 201, id="create-on-contact"),
    pytest.param("POST", "/tasks/61/timeEntries", ENTRY, 201, id="create-on-task"),
    pytest.param("POST", "/v1/tasks/61/timeEntries", ENTRY, 201, id="create-under-v1"),
    pytest.param("PUT", "/timeEntries/71", {"time-entry": {"notes": "x"}}, 200, id="update"),
    pytest.param("DELETE", "/timeEntries/71", None, 200, id="delete"),
    pytest.param("GET", "/report/timeEntries", None, 200, id="report"),
    pytest.param(
        "GET",
        "/report/timeEntries?with_totals=1&include_contacts=yes",
        None,
        200,
        id="report-with-totals",
    ),
    pytest.param("GET", "/account", None, 200, id="account"),
    pytest.param("GET", "/v1/account", None, 200, id="account-under-v1"),
    pytest.param("GET", "/timeEntries/999", None, 404, id="unknown-entry"),
    pytest.param("GET", "/projects/999/timeEntries", None, 404, id="unknown-project"),
    pytest.param("GET", "/projects/51/timeEntries?page=0", None, 400, id="page-zero"),
    pytest.param("GET", "/account?x=1", None, 400, id="unknown-parameter"),
    pytest.param("GET", "/report/timeEntries?with_totals=maybe", None, 400, id="bad-boolean"),
    pytest.param(
        "POST", "/projects/51/timeEntries", {"time-entry": {}}, 422, id="create-without-seconds"
    ),
    pytest.param("PUT", "/timeEntries/71", {"time-entry": {}}, 422, id="empty-update"),
    pytest.param("DELETE", "/timeEntries/999", None, 404, id="delete-unknown"),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), APOLLO_CASES)
def test_apollo_answers_fit_the_document(
    api: Api, method: str, path: str, body: Any, status: int
) -> None:
    doc = served_doc(api)
    r = api.request(method, path, body)
    assert r.status == status, r
    got = check_answer(doc, method, path, r.status, r.headers, r.raw)
    if path.startswith("/report/") and "with_totals=1" in path:
        assert got["totals"]["number-of-entries"] == len(got["time-entries"])
        # Left out of the document (no operation answers only it), the schema still
        # states what such an answer is: a report with its totals.
        assert schemas.is_valid("report-with-totals-response.schema.json", got)
        assert not schemas.is_valid("report-with-totals-response.schema.json", {
            "time-entries": got["time-entries"]
        })
    if status == 201:
        prefix = "/v1" if path.startswith("/v1/") else ""
        assert r.headers["location"] == f"{prefix}/timeEntries/{got['time-entry-id']}"


def test_a_page_with_continued_at_fits_the_document(paged: Api) -> None:
    doc = served_doc(paged)
    r = paged.get("/projects/51/timeEntries")
    assert r.status == 200
    got = check_answer(doc, "GET", "/projects/51/timeEntries", 200, r.headers, r.raw)
    assert got["continued-at"] == "/projects/51/timeEntries/2"
    assert len(got["time-entries"]) == 50


def test_a_body_over_the_limit_fits_the_document(api: Api) -> None:
    doc = served_doc(api)
    before = api.dump()
    r = api.post("/projects/51/timeEntries", data=b" " * (1024 * 1024 + 1))
    assert r.status == 413
    check_answer(doc, "POST", "/projects/51/timeEntries", 413, r.headers, r.raw)
    assert api.dump() == before


def test_auth_and_rate_limit_answers_fit_the_document(guarded: Api) -> None:
    doc = served_doc(guarded)  # needs no token and uses no allowance
    r = guarded.get("/account")
    assert r.status == 401
    check_answer(doc, "GET", "/account", 401, r.headers, r.raw)
    assert r.headers["www-authenticate"] == 'Basic realm="Apollo API"'
    auth = {"Authorization": "Basic " + base64.b64encode(f"{TOKEN}:X".encode()).decode()}
    for _ in range(2):
        assert guarded.get("/account", headers=auth).status == 200
    r = guarded.get("/account", headers=auth)
    assert r.status == 429
    check_answer(doc, "GET", "/account", 429, r.headers, r.raw)
    status, headers, raw = call(guarded, "GET", "/_fake/health")
    assert status == 401
    check_answer(doc, "GET", "/_fake/health", 401, headers, raw)
    status, headers, raw = call(
        guarded, "GET", "/_fake/health", headers={"X-Fake-Control-Token": CONTROL_TOKEN}
    )
    assert status == 200
    check_answer(doc, "GET", "/_fake/health", 200, headers, raw)


# Run in order on one fake; the Apollo calls give changes and the journal something to show.
CONTROL_STEPS = [
    ("GET", "/_fake/health", None, 200),
    ("GET", "/_fake/state", None, 200),
    ("PUT", "/_fake/state", small_doc(), 200),
    ("POST", "/_fake/reset", {"to": "loaded"}, 200),
    ("POST", "/_fake/reset", None, 200),
    ("POST", "/_fake/snapshots/s1", None, 201),
    ("GET", "/_fake/snapshots", None, 200),
    ("POST", "/projects/51/timeEntries", ENTRY, 201),
    ("GET", "/account", None, 200),
    ("GET", "/_fake/changes", None, 200),
    ("GET", "/_fake/changes?since=s1", None, 200),
    ("GET", "/_fake/requests?method=get&path=/account", None, 200),
    ("GET", "/_fake/requests?after=1&limit=5", None, 200),
    ("GET", "/_fake/requests?after=soon", None, 400),
    ("GET", "/_fake/data/projects?page=1", None, 200),
    ("GET", "/_fake/data/projects?page=0", None, 400),
    ("GET", "/_fake/data/projects/51/entries?page=1", None, 200),
    ("GET", "/_fake/data/contacts/999/entries", None, 404),
    ("DELETE", "/_fake/requests", None, 200),
    ("GET", "/_fake/report", None, 200),
    ("GET", "/_fake/report.html", None, 200),
    ("PUT", "/_fake/clock", {"now": "2012-08-01 10:00:00"}, 200),
    ("POST", "/_fake/clock/advance", {"seconds": 60}, 200),
    ("GET", "/_fake/clock", None, 200),
    ("POST", "/_fake/snapshots/s1/restore", None, 200),
    ("POST", "/_fake/faults", {"path": "/nothing/*", "status": 503}, 201),
    ("GET", "/_fake/faults", None, 200),
    ("DELETE", "/_fake/faults/1", None, 200),
    ("DELETE", "/_fake/faults/1", None, 404),
    ("DELETE", "/_fake/faults", None, 200),
    ("DELETE", "/_fake/snapshots/s1", None, 200),
    ("POST", "/_fake/snapshots/s1/restore", None, 404),
    ("DELETE", "/_fake/snapshots/s1", None, 404),
    ("POST", "/_fake/snapshots/bad!name", None, 400),
    ("GET", "/_fake/changes?since=nope", None, 404),
    ("POST", "/_fake/faults", {"path": "/x"}, 400),
    ("PUT", "/_fake/clock", {}, 400),
    ("POST", "/_fake/clock/advance", {"seconds": "soon"}, 400),
    ("PUT", "/_fake/state", {"users": "none"}, 400),
]


def test_control_answers_fit_the_document(api: Api) -> None:
    doc = served_doc(api)
    for method, path, body, expected in CONTROL_STEPS:
        status, headers, raw = call(api, method, path, body)
        assert status == expected, (method, path, raw[:300])
        got = check_answer(doc, method, path, status, headers, raw)
        if path.startswith("/_fake/requests?method="):
            assert [(r["method"], r["path"]) for r in got["requests"]] == [("GET", "/account")]
        if path == "/_fake/changes":
            assert len(got["changes"]["time-entries"]["created"]) == 1


def test_control_overflow_answers_fit_the_document(api: Api) -> None:
    doc = served_doc(api)
    for i in range(100):
        api.fake.snapshot(f"s{i}")
        api.fake.faults.add("/nothing", status=500)
    status, headers, raw = call(api, "POST", "/_fake/snapshots/one-more")
    assert status == 422
    check_answer(doc, "POST", "/_fake/snapshots/one-more", 422, headers, raw)
    status, headers, raw = call(api, "POST", "/_fake/faults", {"path": "/x", "status": 500})
    assert status == 422
    check_answer(doc, "POST", "/_fake/faults", 422, headers, raw)


def test_every_success_answer_is_checked_against_the_document(doc: dict[str, Any]) -> None:
    # The cases above must reach each operation's success response at least once.
    tried = {(c.values[0], c.values[1], c.values[3]) for c in APOLLO_CASES}
    tried |= {(m, p, s) for m, p, _, s in CONTROL_STEPS}
    reached = set()
    for method, path, status in tried:
        template, _ = find_operation(doc, method, path)
        if status < 400:
            reached.add((method, template, str(status)))
    wanted = {
        (method, path, next(s for s in op["responses"] if s < "400"))
        for method, path, op in operations(doc)
    }
    assert len(wanted) == len(APOLLO_CALLS) + len(CONTROL_CALLS)
    assert reached == wanted


# --- query parameters agree with what the fake accepts ------------------------


def test_report_parameters_are_the_vendors_table(doc: dict[str, Any]) -> None:
    params = doc["paths"]["/report/timeEntries"]["get"]["parameters"]
    assert [p["name"] for p in params] == REPORT_PARAMETERS
    assert all(p["in"] == "query" and p["required"] is False for p in params)
    assert query_schema(doc, "/report/timeEntries", "get", "include_projects")["default"] == "true"
    assert query_schema(doc, "/report/timeEntries", "get", "include_deals")["default"] == "false"
    assert "strtotime" in next(p for p in params if p["name"] == "from")["description"]


BOOLEANS = {
    "1": 200,
    "TRUE": 200,
    "Yes": 200,
    "oN": 200,
    "0": 200,
    "False": 200,
    "NO": 200,
    "off": 200,
    "": 200,
    "maybe": 400,
    "2": 400,
    "tru": 400,
    "yess": 400,
}
PAGES = {"1": 200, "007": 200, "0": 400, "-1": 400, "one": 400, "": 400}
IDS = {"11": 200, "999": 200, "1a": 400, "": 400, "-1": 400}


def accepted_vs_documented(
    api: Api, path: str, name: str, schema: dict[str, Any], expected: dict[str, int]
) -> list[tuple[str, int, bool]]:
    """Return each value whose answer or whose fit with the documented pattern is wrong."""
    wrong = []
    for value, status in expected.items():
        r = api.get(path, query={name: value})
        fits = schema_accepts(schema, value)
        if r.status != status or fits is not (status == 200):
            wrong.append((value, r.status, fits))
    return wrong


def test_boolean_schema_matches_what_the_report_accepts(api: Api) -> None:
    doc = served_doc(api)
    schema = query_schema(doc, "/report/timeEntries", "get", "with_totals")
    assert accepted_vs_documented(api, "/report/timeEntries", "with_totals", schema, BOOLEANS) == []


def test_page_schema_matches_what_the_listing_accepts(api: Api) -> None:
    doc = served_doc(api)
    schema = query_schema(doc, "/projects/{parent_id}/timeEntries", "get", "page")
    assert accepted_vs_documented(api, "/projects/51/timeEntries", "page", schema, PAGES) == []


# A path page that is not digits matches no route (404); one of digits must be at least 1.
PATH_PAGES = {"1": 200, "007": 200, "2000": 200, "0": 400, "000": 400}


@pytest.mark.parametrize("parent", ["projects/51", "contacts/41"])
def test_path_page_schema_matches_what_the_listing_accepts(api: Api, parent: str) -> None:
    doc = served_doc(api)
    kind = parent.split("/")[0]
    params = doc["paths"][f"/{kind}/{{parent_id}}/timeEntries/{{path_page}}"]["get"]["parameters"]
    schema = next(p["schema"] for p in params if p["name"] == "path_page")
    wrong = []
    for value, status in PATH_PAGES.items():
        r = api.get(f"/{parent}/timeEntries/{value}")
        fits = schema_accepts(schema, value)
        if r.status != status or fits is not (status == 200):
            wrong.append((value, r.status, fits))
    assert wrong == []


def test_id_filter_schema_matches_what_the_report_accepts(api: Api) -> None:
    doc = served_doc(api)
    for name in ("user_id", "company_id", "task_id", "project_id"):
        schema = query_schema(doc, "/report/timeEntries", "get", name)
        assert accepted_vs_documented(api, "/report/timeEntries", name, schema, IDS) == [], name


# --- cached, deterministic, and outside the API's rules -----------------------


def test_document_is_cached_and_identical_between_calls(api: Api) -> None:
    first = call(api, "GET", "/openapi.json")[2]
    second = call(api, "GET", "/openapi.json")[2]
    assert first == second
    app = create_app(api.fake)
    assert openapi.build(app) is openapi.build(app)
    assert openapi.build(app) == json.loads(first)
    # A different app over other data describes the same calls the same way; only the
    # examples, taken from each fake's own data, differ.
    other = openapi.build(create_app(Fake()))
    assert without_examples(other) == without_examples(json.loads(first))
    assert other != json.loads(first)


def without_examples(value: Any) -> Any:
    """Return a copy of a document without its examples."""
    if isinstance(value, dict):
        return {k: without_examples(v) for k, v in value.items() if k != "example"}
    if isinstance(value, list):
        return [without_examples(v) for v in value]
    return value


def examples_of(doc: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    """Map (method, path, parameter name or "body") to each example of the document."""
    found = {}
    for method, path, op in operations(doc):
        for p in op.get("parameters", ()):
            if "example" in p:
                found[(method, path, p["name"])] = p["example"]
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "example" in body:
            found[(method, path, "body")] = body["example"]
    return found


def test_examples_are_ids_of_the_served_data(api: Api) -> None:
    doc = served_doc(api)
    found = examples_of(doc)
    fixture = small_doc()
    ids = {name: {r["id"] for r in fixture.get(name, [])} for name in fixture if name != "account"}
    assert found[("GET", "/projects/{parent_id}/timeEntries", "parent_id")] in ids["projects"]
    assert found[("GET", "/contacts/{parent_id}/timeEntries", "parent_id")] in ids["contacts"]
    assert found[("GET", "/tasks/{parent_id}/timeEntries", "parent_id")] in ids["tasks"]
    read = found[("GET", "/timeEntries/{entry_id}", "entry_id")]
    deleted = found[("DELETE", "/timeEntries/{entry_id}", "entry_id")]
    assert {read, deleted} <= ids["time-entries"] and read != deleted
    assert found[("PUT", "/timeEntries/{entry_id}", "entry_id")] == read
    create = found[("POST", "/projects/{parent_id}/timeEntries", "body")]["time-entry"]
    assert create["user-id"] in ids["users"] and create["category-id"] in ids["time-categories"]
    # Every example request reaches past the 404 of an unknown id.
    for method, path, op in operations(doc):
        if op["tags"] != ["apollo"]:
            continue
        url, query = path, {}
        for p in op.get("parameters", ()):
            if "example" in p and p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", str(p["example"]))
            elif "example" in p:
                query[p["name"]] = str(p["example"])
        assert "{" not in url, (method, path)
        body = found.get((method, path, "body"))
        r = api.request(method, url + ("?" + urlencode(query) if query else ""), body)
        assert 200 <= r.status < 300, (method, url, query, r)
    # The document follows the data: with none, no ids to give.
    api.fake.reset(to="empty")
    left = examples_of(served_doc(api))
    assert [k for k in left if k[2] in ("parent_id", "entry_id", "project_id", "from")] == []


def test_examples_follow_the_data(api: Api) -> None:
    key = ("GET", "/timeEntries/{entry_id}", "entry_id")
    first = examples_of(served_doc(api))[key]
    assert api.delete(f"/timeEntries/{first}").status == 200
    second = examples_of(served_doc(api))[key]
    assert second != first and api.get(f"/timeEntries/{second}").status == 200
    # The document is rebuilt only for new examples: the same data, the same object.
    app = api.fake.app
    assert openapi.build(app) is openapi.build(app)


def test_document_is_the_same_in_every_process(doc: dict[str, Any]) -> None:
    # Set iteration order changes with the hash seed; the document must not.
    script = (
        "import sys\nfrom apollo_fake.web import create_app\n"
        "sys.stdout.buffer.write(create_app().test_client().get('/openapi.json').data)\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, env=env, timeout=60, check=True
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert without_examples(json.loads(outputs[0])) == without_examples(doc)


def test_without_the_control_api_the_document_has_no_control_calls(no_control: Api) -> None:
    doc = served_doc(no_control)
    validate(doc)
    assert not [p for p in doc["paths"] if p.startswith("/_fake")]
    assert [t["name"] for t in doc["tags"]] == ["apollo"]
    assert list(doc["components"]["securitySchemes"]) == ["apollo-token"]
    served = served_routes(no_control.fake)
    assert SELF in served
    assert served - {SELF} == documented_routes(doc)
    assert {(m, shape(p)) for m, p, _ in operations(doc)} == APOLLO_CALLS
    status, _, raw = call(no_control, "GET", "/_fake/health")
    assert status == 404, raw


def test_document_needs_no_token_uses_no_allowance_and_is_not_journaled(guarded: Api) -> None:
    for _ in range(3):  # more than the rate limit of two
        status, _, _ = call(guarded, "GET", "/openapi.json")
        assert status == 200
    guarded.fake.faults.add("*", status=503, times=None)
    status, _, raw = call(guarded, "GET", "/openapi.json")
    assert status == 200, raw[:200]
    assert guarded.fake.requests() == []


def test_document_takes_only_get(api: Api) -> None:
    status, headers, raw = call(api, "POST", "/openapi.json", {})
    assert status == 405
    assert headers["content-type"] == "application/json"
    assert headers["allow"] == "GET, HEAD"
    assert json.loads(raw)["error"]["status"] == 405


# --- the report's date forms as a pattern --------------------------------------

DATES_READ = [
    "20120731", "2012-07-31", "2012-7-3", "today", "NOW", "Yesterday", "tomorrow", "+3 days",
    "-1 week", "2 Months ago", "1 year", "+ 3 day", "@1343692800", "@-86400", "07/31/2012",
    "31-07-2012", "31.07.2012", "5 July 2012", "5 jul 2012", "July 5, 2012", "SEPT 5 2012",
    " today ",
]  # fmt: skip
DATES_REFUSED = [
    "", "x", "2012/07/31", "31/07-2012", "2012-07-31T00:00", "today\n", "next week",
    "5 Jully 2012", "+3 fortnights", "@", "3 days since", "\tnow",
]  # fmt: skip


def report_reads(text: str) -> bool:
    """Tell whether the report reads a from/to value as one of its forms (real date or not)."""
    try:
        parse_report_date(text, datetime.date(2012, 7, 31))
    except ValueError as err:
        return "not a date in a form" not in str(err)
    return True


def test_date_pattern_is_the_forms_the_report_reads(doc: dict[str, Any]) -> None:
    for name in ("from", "to"):
        pattern = query_schema(doc, "/report/timeEntries", "get", name)["pattern"]
        for text in DATES_READ:
            assert report_reads(text) and pattern_accepts(pattern, text), text
        for text in DATES_REFUSED:
            assert not report_reads(text) and not pattern_accepts(pattern, text), repr(text)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_value_the_date_pattern_takes_is_a_form_the_report_reads(data: Any) -> None:
    # A fuzzer draws from/to values from the pattern: each is a form of the grammar, so
    # what it can still get is a 400 for a day that does not exist or a window too long.
    text = data.draw(st.from_regex(openapi._date_pattern(), fullmatch=True))
    assert report_reads(text), text


def test_patterns_are_as_tight_as_the_contract(doc: dict[str, Any]) -> None:
    components = doc["components"]["schemas"]
    stamp = components["timestamp"]["pattern"]
    assert pattern_accepts(stamp, "2012-07-31 23:59:59")
    for wrong in ("2012-07-31 24:00:00", "2012-07-31 99:00:00", "2012-07-31 10:60:00",
                  "2012-13-01 10:00:00", "2012-07-32 10:00:00", "2012-00-10 10:00:00"):  # fmt: skip
        assert not pattern_accepts(stamp, wrong), wrong
    day = components["date"]["pattern"]
    assert pattern_accepts(day, "2012-02-29") and not pattern_accepts(day, "2012-02-40")
    # continued-at names the next page (2 or later) of the same kind of listing.
    for kind, other in (("project", "contacts"), ("contact", "projects")):
        schema = components[f"{kind}-page-response"]["properties"]["continued-at"]["pattern"]
        assert pattern_accepts(schema, f"/{kind}s/51/timeEntries/2")
        assert pattern_accepts(schema, f"/{kind}s/51/timeEntries/10")
        assert not pattern_accepts(schema, f"/{kind}s/51/timeEntries/1")
        assert not pattern_accepts(schema, f"/{kind}s/51/timeEntries/02")
        assert not pattern_accepts(schema, f"/{other}/51/timeEntries/2")
    # A 401 names the one challenge the fake sends; a 429 says when to retry, in seconds.
    unauthorized = doc["components"]["responses"]["unauthorized"]["headers"]
    assert unauthorized["WWW-Authenticate"]["schema"]["const"] == 'Basic realm="Apollo API"'
    retry = doc["components"]["responses"]["rate-limited"]["headers"]["Retry-After"]
    assert retry["schema"] == {"type": "integer", "minimum": 1}
