"""Fuzzing every operation of the served OpenAPI document with schemathesis.

Two runs, each over every operation (Apollo calls and control calls), with the
data generated from the document (valid and invalid: schemathesis's positive and
negative modes, plus its coverage phase of boundary values):

- in process: the schema is read from the app's own ``GET /openapi.json`` and
  each case goes through the WSGI app, so many examples fit in the budget;
- over a socket: ``apollo-fake serve`` in a subprocess, as an outside
  fuzzer would meet it; the document it serves must be the one fuzzed.

Each response must pass four checks: no 5xx, a status the operation documents,
a body valid against the documented schema, and the documented content type.
Every example starts from the loaded data: the fake is reset after each one (a
reset also removes fault rules; a fault rule must never be active during a case)
and snapshots are forgotten. Examples are derandomized, so a run is repeatable.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.openapi.checks import UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apollo_fake.fake import Fake, Settings

from conftest import TODAY, small_doc

ROOT = Path(__file__).resolve().parent.parent
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
IN_PROCESS_EXAMPLES = 60
SOCKET_EXAMPLES = 15
GUARDED_EXAMPLES = 10
READY = re.compile(r"apollo-fake listening on (http://127\.0\.0\.1:\d+)")

# Operations the fuzzer fails, by operation id, each with what is wrong: list one here,
# fuzz it on its own and mark it xfail(strict), so that fixing the bug flags the marker.
KNOWN: dict[str, str] = {}  # none today: the five found were fixed in this session


def budget(examples: int) -> Callable[[Any], Any]:
    """Return the hypothesis settings of a fuzz run: repeatable, no deadline."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# --- in process ------------------------------------------------------------------

FAKE = Fake(small_doc(), today=TODAY)
IN_PROCESS = schemathesis.openapi.from_wsgi("/openapi.json", FAKE.app)


def restore(fake: Fake) -> None:
    """Put the fake back to its loaded data, with no fault rule and no snapshot."""
    fake.reset()
    for name in fake.snapshots():
        fake.forget(name)
    assert fake.faults.rules == []


def in_process(schema: Any) -> Any:
    """Build a test fuzzing each operation of ``schema`` through the WSGI app."""

    @schema.parametrize()
    @budget(IN_PROCESS_EXAMPLES)
    def fuzz(case: Any) -> None:
        restore(FAKE)
        try:
            case.call_and_validate(checks=CHECKS)
        finally:
            restore(FAKE)

    return fuzz


def xfail(operation_id: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=KNOWN[operation_id])


test_every_operation_in_process = in_process(IN_PROCESS.exclude(operation_id=list(KNOWN)))


# With tokens configured, every call without them must answer its documented 401.
GUARDED = Fake(
    small_doc(),
    today=TODAY,
    settings=Settings(tokens={"secret": 11}, control_token="control-secret"),
)
GUARDED_SCHEMA = schemathesis.openapi.from_wsgi("/openapi.json", GUARDED.app)


@GUARDED_SCHEMA.parametrize()
@budget(GUARDED_EXAMPLES)
def test_every_operation_with_tokens_configured(case: Any) -> None:
    try:
        response = case.call_and_validate(checks=CHECKS)
    finally:
        restore(GUARDED)
    # No case carries a token, so nothing gets past the guard; only a method the
    # path does not take may be refused first (405 is routing, before the token).
    wrong_method = case.method.upper() != case.operation.method.upper()
    allowed = {401, 405} if wrong_method else {401}
    assert response.status_code in allowed, response.text


def test_the_fuzzed_document_covers_every_route_of_the_app() -> None:
    """Guard the runs above: no operation may be missed, none fuzzed twice."""
    operations = {op.definition.raw.get("operationId") for op in _operations(IN_PROCESS)}
    rules = {
        r.endpoint
        for r in FAKE.app.url_map.iter_rules()
        if r.endpoint != "openapi" and not r.endpoint.startswith(("api_v1.", "ui."))
    }
    assert operations >= rules
    excluded = {op for op in operations if op not in KNOWN}
    assert len(excluded) + len(KNOWN) == len(operations)
    assert set(KNOWN) <= operations


def _operations(schema: Any) -> list[Any]:
    found = []
    for result in schema.get_all_operations():
        found.append(result.ok())
    return found


# --- over a socket, against `apollo-fake serve` ------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, requests.Session]]:
    """Start ``apollo-fake serve`` on small.json; yield its base URL and a keep-alive session."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "apollo_fake", "serve", "--port", "0", "--quiet"]
        + ["--fixtures", "fixtures/small.json", "--today", TODAY.isoformat()],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = READY.fullmatch(line.strip())
        assert match, f"no ready line: {line!r}"
        with requests.Session() as session:
            yield match.group(1), session
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def restore_served(url: str, session: requests.Session) -> None:
    """Reset the served fake (which also removes fault rules) and forget its snapshots."""
    assert session.post(url + "/_fake/reset", timeout=10).status_code == 200
    for name in session.get(url + "/_fake/snapshots", timeout=10).json()["snapshots"]:
        session.delete(f"{url}/_fake/snapshots/{name}", timeout=10)
    assert session.get(url + "/_fake/faults", timeout=10).json() == {"faults": []}


def over_socket(schema: Any) -> Any:
    """Build a test fuzzing each operation of ``schema`` against ``apollo-fake serve``."""

    @schema.parametrize()
    @budget(SOCKET_EXAMPLES)
    def fuzz(case: Any, served: tuple[str, requests.Session]) -> None:
        url, session = served
        try:
            case.call_and_validate(base_url=url, session=session, checks=CHECKS, timeout=10)
        finally:
            restore_served(url, session)

    return fuzz


test_every_operation_served = over_socket(IN_PROCESS.exclude(operation_id=list(KNOWN)))


def test_serve_serves_the_fuzzed_document(served: tuple[str, requests.Session]) -> None:
    url, session = served
    r = session.get(url + "/openapi.json", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    # The document's examples come from the data a fake holds: the served process holds
    # small.json as loaded, as FAKE did when its document was read for the runs above
    # (the fuzzing may since have loaded other data into FAKE).
    fresh = Fake(small_doc(), today=TODAY)
    assert r.json() == json.loads(fresh.client.get("/openapi.json").get_data())


# --- what the fuzzer found, pinned as plain requests --------------------------------------
# The fuzz runs above find these again only while the generated examples stay the same;
# these requests state each finding directly.


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param(
            "PUT",
            "/_fake/state",
            {"time-entries": None},
            id="state-null-collection",
        ),
        pytest.param("POST", "/_fake/faults", None, id="fault-null"),
        pytest.param("PUT", "/_fake/clock", None, id="clock-null"),
        pytest.param(
            "POST",
            "/_fake/clock/advance",
            None,
            id="advance-null",
        ),
        pytest.param("PUT", "/_fake/state", [], id="state-array"),
        pytest.param("POST", "/_fake/faults", [], id="fault-array"),
        pytest.param("PUT", "/_fake/clock", {}, id="clock-empty-object"),
        pytest.param("POST", "/_fake/clock/advance", {}, id="advance-empty-object"),
    ],
)
def test_a_control_body_that_is_null_or_not_the_calls_object_is_400(
    method: str, path: str, body: Any
) -> None:
    restore(FAKE)
    before = FAKE.state()
    with _quiet_log():
        r = FAKE.client.open(path, method=method, data=json.dumps(body))
    assert r.status_code == 400, r.get_data()
    assert r.get_json()["error"]["status"] == 400
    assert FAKE.state() == before
    assert FAKE.faults.rules == []


def test_every_operation_documents_the_400_of_an_unknown_query_parameter() -> None:
    doc = FAKE.client.get("/openapi.json").get_json()
    undocumented = []
    for template, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "delete"):
                continue
            path = re.sub(r"\{[^}]+\}", "71", template)
            if "snapshots" in path:
                path = path.replace("71", "s1")
            restore(FAKE)
            r = FAKE.client.open(path + "?not_a_parameter=1", method=method.upper())
            if r.status_code == 400 and "400" not in operation["responses"]:
                undocumented.append(f"{method.upper()} {template}")
    assert undocumented == []


# --- the fuzzer sees what the contract forbids -----------------------------------------


def test_the_checks_catch_a_server_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 500 (injected) is reported: the run above could fail."""
    from apollo_fake import service

    def broken(fake: Fake) -> Any:
        raise RuntimeError("injected")

    monkeypatch.setattr(service, "account", broken)
    operation = IN_PROCESS["/account"]["GET"]
    case = operation.Case()
    with _quiet_log(), pytest.raises(FailureGroup) as caught:
        case.call_and_validate(checks=CHECKS)
    kinds = {type(e) for e in caught.value.exceptions}
    assert kinds == {ServerError, UndefinedStatusCode}


@contextlib.contextmanager
def _quiet_log() -> Iterator[None]:
    import logging

    logger = logging.getLogger("apollo_fake")
    old = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = old
