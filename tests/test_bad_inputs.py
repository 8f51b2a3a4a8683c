"""A table of bad inputs: each is answered with its status and a JSON error, and changes nothing.

Every row runs over Flask's test client and over a real socket (the ``api``
fixture), and checks the same four things: the status; the contract's error
shape ``{"error": {"status", "message", "details"}}`` (a HEAD gets the status and
the JSON content type without a body); extra headers where the contract names
them (``Allow`` on 405, ``Connection: close`` on 413); and that the state dump is
byte-identical afterwards and no entry id was used up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from conftest import Api, Result

PROJECT = "/projects/51/timeEntries"
ENTRY = "/timeEntries/71"
NEXT_ID = "81"  # small.json's largest entry id is 80
MIB = 1024 * 1024
LONG = "9" * 5000
ENTRY_ALLOW = {"DELETE", "GET", "HEAD", "PUT"}
READ_ALLOW = {"GET", "HEAD"}


def entry(**fields: Any) -> bytes:
    """Return a request body ``{"time-entry": fields}``."""
    return json.dumps({"time-entry": fields}).encode()


def with_seconds(**fields: Any) -> bytes:
    """Return a create body with valid seconds and the given other fields."""
    return entry(seconds="60", **fields)


@dataclass(frozen=True)
class Bad:
    """One bad request and what it must get."""

    method: str
    path: str
    body: bytes | None
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    allow: frozenset[str] | None = None


def case(
    id: str,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    *,
    allow: set[str] | None = None,
    headers: dict[str, str] | None = None,
    marks: Any = (),
) -> Any:
    return pytest.param(
        Bad(method, path, body, status, headers or {}, frozenset(allow) if allow else None),
        id=id,
        marks=marks,
    )


CASES = [
    # --- bodies that are not the call's JSON envelope: 400 ----------------------
    case("malformed-json", "POST", PROJECT, b'{"time-entry": {"seconds": "60"', 400),
    case("trailing-garbage", "POST", PROJECT, with_seconds() + b" x", 400),
    case("empty-body", "POST", PROJECT, b"", 400),
    case("whitespace-body", "PUT", ENTRY, b" \r\n\t ", 400),
    case("json-array-body", "POST", PROJECT, b'[{"time-entry": {"seconds": "60"}}]', 400),
    case("json-string-body", "POST", PROJECT, b'"time-entry"', 400),
    case("json-number-body", "PUT", ENTRY, b"3600", 400),
    case("json-null-body", "POST", PROJECT, b"null", 400),
    case("missing-envelope", "POST", PROJECT, b'{"seconds": "60"}', 400),
    case("misspelt-envelope", "POST", PROJECT, b'{"time_entry": {"seconds": "60"}}', 400),
    case("envelope-is-array", "POST", PROJECT, b'{"time-entry": [{"seconds": "60"}]}', 400),
    case("envelope-is-string", "PUT", ENTRY, b'{"time-entry": "notes"}', 400),
    case("envelope-is-null", "PUT", ENTRY, b'{"time-entry": null}', 400),
    case("key-beside-envelope", "POST", PROJECT, b'{"time-entry": {"seconds": "60"}, "x": 1}', 400),
    # --- nested deeper than any reader of JSON should walk: 400 ----------------
    case("nested-1000-deep", "POST", PROJECT,
         b'{"time-entry": ' + b"[" * 1000 + b"]" * 1000 + b"}", 400),
    case("nested-255-deep-notes", "PUT", ENTRY,
         b'{"time-entry": {"notes": ' + b"[" * 255 + b"]" * 255 + b"}}", 400),
    case("nested-65-deep", "POST", PROJECT, b'{"a": ' + b"[" * 64 + b"]" * 64 + b"}", 400),
    # --- wrong values inside the envelope: 422 ---------------------------------
    case("seconds-missing", "POST", PROJECT, entry(notes="no seconds"), 422),
    case("seconds-boolean", "POST", PROJECT, entry(seconds=True), 422),
    case("seconds-null", "POST", PROJECT, entry(seconds=None), 422),
    case("seconds-array", "POST", PROJECT, entry(seconds=[60]), 422),
    case("seconds-word", "POST", PROJECT, entry(seconds="sixty"), 422),
    case("seconds-negative-string", "POST", PROJECT, entry(seconds="-1"), 422),
    case("seconds-negative-integer", "PUT", ENTRY, entry(seconds=-1), 422),
    case("seconds-fraction-string", "POST", PROJECT, entry(seconds="1.5"), 422),
    case("seconds-fraction-number", "PUT", ENTRY, entry(seconds=1.5), 422),
    case("seconds-exponent-string", "POST", PROJECT, entry(seconds="1e3"), 422),
    case("seconds-exponent-number", "POST", PROJECT, b'{"time-entry": {"seconds": 6e1}}', 422),
    case("user-id-fraction-zero", "PUT", ENTRY, b'{"time-entry": {"user-id": 11.0}}', 422),
    case("seconds-2-to-the-31", "POST", PROJECT, entry(seconds=2**31), 422),
    case("seconds-huge-string", "POST", PROJECT, entry(seconds="9" * 40), 422),
    case("seconds-leading-space", "POST", PROJECT, entry(seconds=" 60"), 422),
    case("seconds-inner-space", "PUT", ENTRY, entry(seconds="6 0"), 422),
    case("seconds-arabic-digits", "POST", PROJECT, entry(seconds="\u0666\u0660"), 422),
    case("date-february-30", "POST", PROJECT, with_seconds(date="2012-02-30"), 422),
    case("date-month-13", "PUT", ENTRY, entry(date="2012-13-01"), 422),
    case("date-not-padded", "POST", PROJECT, with_seconds(date="2012-7-5"), 422),
    case("date-compact", "POST", PROJECT, with_seconds(date="20120705"), 422),
    case("date-trailing-space", "PUT", ENTRY, entry(date="2012-07-05 "), 422),
    case("date-integer", "PUT", ENTRY, entry(date=20120705), 422),
    case("billable-wrong-case", "PUT", ENTRY, entry(billable="Billable"), 422),
    case("billable-boolean", "POST", PROJECT, with_seconds(billable=True), 422),
    case("notes-integer", "PUT", ENTRY, entry(notes=5), 422),
    case("notes-over-the-limit", "POST", PROJECT, with_seconds(notes="x" * 65536), 422),
    case(
        "notes-over-the-limit-astral",
        "PUT",
        ENTRY,
        entry(notes="\U0001f600" * 65536),
        422,
    ),
    case(
        "unknown-key-response-name",
        "POST",
        PROJECT,
        with_seconds(**{"time-category-id": "21"}),
        422,
    ),
    case("unknown-key", "PUT", ENTRY, entry(notes="x", colour="red"), 422),
    case("empty-update", "PUT", ENTRY, b'{"time-entry": {}}', 422),
    case("category-names-nothing", "POST", PROJECT, with_seconds(**{"category-id": "99"}), 422),
    case("user-names-nothing-leading-zeros", "PUT", ENTRY, entry(**{"user-id": "00099"}), 422),
    case("user-id-word", "PUT", ENTRY, entry(**{"user-id": "ada"}), 422),
    case("category-id-5000-digits", "PUT", ENTRY, entry(**{"category-id": "2" + LONG}), 422),
    # --- unicode and control characters ----------------------------------------
    case(
        "raw-control-char-in-string",
        "POST",
        PROJECT,
        b'{"time-entry": {"seconds": "60", "notes": "a\x01b"}}',
        400,
    ),
    case("raw-newline-in-string", "PUT", ENTRY, b'{"time-entry": {"notes": "a\nb"}}', 400),
    case("lone-surrogate-escape", "PUT", ENTRY, b'{"time-entry": {"notes": "\\ud800"}}', 400),
    case(
        "invalid-utf8",
        "POST",
        PROJECT,
        b'{"time-entry": {"seconds": "60", "notes": "\xff\xfe"}}',
        400,
    ),
    case("overlong-utf8", "PUT", ENTRY, b'{"time-entry": {"notes": "\xc0\xaf"}}', 400),
    case("utf8-bom", "POST", PROJECT, b"\xef\xbb\xbf" + with_seconds(), 400),
    case("utf16-body", "PUT", ENTRY, entry(notes="x").decode().encode("utf-16"), 400),
    # --- bodies over 1 MiB: 413 ------------------------------------------------
    case(
        "body-over-1-mib-notes",
        "POST",
        PROJECT,
        with_seconds(notes="x" * MIB),
        413,
        headers={"connection": "close"},
    ),
    case(
        "body-over-1-mib-padding",
        "PUT",
        ENTRY,
        entry(notes="x") + b" " * MIB,
        413,
        headers={"connection": "close"},
    ),
    # --- ids: leading zeros, very long digit strings, no such id ---------------
    case("leading-zeros-entry-zero", "GET", "/timeEntries/0000", None, 404),
    case("leading-zeros-delete-unknown", "DELETE", "/timeEntries/0000999", None, 404),
    case("leading-zeros-still-validated", "PUT", "/timeEntries/000071", b'{"time-entry": {}}', 422),
    case("long-digit-entry-get", "GET", "/timeEntries/" + LONG, None, 404),
    case("long-digit-entry-delete", "DELETE", "/timeEntries/" + LONG, None, 404),
    case("long-digit-entry-update", "PUT", "/timeEntries/1" + "0" * 40, entry(notes="x"), 404),
    case("long-digit-parent", "POST", f"/projects/{LONG}/timeEntries", with_seconds(), 404),
    case("long-zeros-path-page", "GET", PROJECT + "/" + "0" * 5000, None, 400),
    case("unknown-task-parent", "POST", "/tasks/999/timeEntries", with_seconds(), 404),
    # --- paths: dot segments, encoded dots and slashes -------------------------
    case("dot-dot-segment", "DELETE", "/timeEntries/../timeEntries/71", None, 404),
    case("dot-dot-to-account", "GET", "/timeEntries/../account", None, 404),
    case("encoded-dot-dot", "DELETE", "/timeEntries/%2e%2e/timeEntries/71", None, 404),
    case("encoded-dot-dot-upper", "GET", "/projects/51/%2E%2E/%2E%2E/account", None, 404),
    case(
        "encoded-slash",
        "DELETE",
        "/timeEntries%2F71",
        None,
        404,
    ),
    case("encoded-slash-in-id", "PUT", "/timeEntries/71%2f72", entry(notes="x"), 404),
    case("encoded-slash-trailing", "DELETE", "/timeEntries/71%2F", None, 404),
    case("semicolon-in-id", "DELETE", "/timeEntries/71;72", None, 404),
    case("arabic-indic-digit-id", "GET", "/timeEntries/%D9%A3", None, 404),
    # --- query parameters ------------------------------------------------------
    case("page-zero", "GET", PROJECT + "?page=0", None, 400),
    case("page-negative", "GET", PROJECT + "?page=-1", None, 400),
    case("page-word", "GET", "/contacts/41/timeEntries?page=two", None, 400),
    case("page-empty", "GET", PROJECT + "?page=", None, 400),
    case("page-arabic-indic", "GET", PROJECT + "?page=%D9%A1", None, 400),
    case("page-repeated", "GET", PROJECT + "?page=1&page=1", None, 400),
    case("unknown-parameter-on-create", "POST", PROJECT + "?notify=1", with_seconds(), 400),
    case("unknown-parameter-on-delete", "DELETE", ENTRY + "?force=1", None, 400),
    case("report-boolean-word", "GET", "/report/timeEntries?with_totals=maybe", None, 400),
    case("report-repeated", "GET", "/report/timeEntries?project_id=51&project_id=52", None, 400),
    case("report-misspelt-filter", "GET", "/report/timeEntries?projectid=51", None, 400),
    case("report-id-not-digits", "GET", "/report/timeEntries?user_id=-11", None, 400),
    case("report-impossible-date", "GET", "/report/timeEntries?from=20120230", None, 400),
    case("report-impossible-iso-date", "GET", "/report/timeEntries?to=2012-02-30", None, 400),
    case("report-empty-from", "GET", "/report/timeEntries?from=", None, 400),
    case("report-from-after-to", "GET", "/report/timeEntries?from=20120731&to=20120701", None, 400),
    case(
        "report-over-six-months", "GET", "/report/timeEntries?from=20120130&to=20120731", None, 400
    ),
    case("report-long-digit-date", "GET", "/report/timeEntries?from=" + LONG, None, 400),
    # --- methods ---------------------------------------------------------------
    case("patch-entry", "PATCH", ENTRY, entry(notes="patched"), 405, allow=ENTRY_ALLOW),
    case("options-entry", "OPTIONS", ENTRY, None, 405, allow=ENTRY_ALLOW),
    case("options-account", "OPTIONS", "/account", None, 405, allow=READ_ALLOW),
    case("trace-account", "TRACE", "/account", None, 405, allow=READ_ALLOW),
    case("made-up-method", "BREW", "/account", None, 405, allow=READ_ALLOW),
    case("post-to-entry", "POST", ENTRY, with_seconds(), 405, allow=ENTRY_ALLOW),
    case("delete-report", "DELETE", "/report/timeEntries", None, 405, allow=READ_ALLOW),
    case("head-unknown-entry", "HEAD", "/timeEntries/999", None, 404),
    case("head-bad-page", "HEAD", PROJECT + "?page=0", None, 400),
    case("head-unknown-route", "HEAD", "/nothing", None, 404),
]


def assert_error(r: Result, bad: Bad) -> None:
    """Assert the status, the JSON error shape (no body for HEAD) and the named headers."""
    assert r.status == bad.status, r
    assert r.headers.get("content-type", "").split(";")[0].strip() == "application/json"
    if bad.method == "HEAD":
        assert r.raw == b""
    else:
        assert list(r.json) == ["error"], r
        error = r.json["error"]
        assert list(error) == ["status", "message", "details"], r
        assert error["status"] == bad.status
        assert isinstance(error["message"], str) and error["message"].strip()
        assert isinstance(error["details"], list)
        for detail in error["details"]:
            assert set(detail) == {"field", "message"}, r
            assert isinstance(detail["field"], str) and isinstance(detail["message"], str)
        assert "Traceback" not in r.raw.decode("utf-8", "replace")
    for name, value in bad.headers.items():
        assert r.headers.get(name, "").lower() == value, r.headers
    if bad.allow is not None:
        assert {m.strip() for m in r.headers["allow"].split(",")} == bad.allow


def test_the_table_has_at_least_40_distinct_cases() -> None:
    ids = [p.id for p in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)
    requests = {(p.values[0].method, p.values[0].path, p.values[0].body) for p in CASES}
    assert len(requests) == len(ids)


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_refused_and_changes_nothing(api: Api, bad: Bad) -> None:
    before = api.dump()
    r = api.request(bad.method, bad.path, data=bad.body)
    assert_error(r, bad)
    assert api.dump() == before
    # Nothing was used up either: the next create still gets the next free id.
    created = api.post(PROJECT, {"time-entry": {"seconds": "60"}})
    assert (created.status, created.json) == (201, {"time-entry-id": NEXT_ID}), created


@pytest.mark.parametrize(
    ("notes", "shown"),
    [
        pytest.param("x" * 65535, "x" * 65535, id="ascii"),
        pytest.param("\U0001f600" * 65535, "\U0001f600" * 65535, id="astral"),
        pytest.param("a\u0000b\u001fc\u2028d", "a\u0000b\u001fc\u2028d", id="escaped-controls"),
    ],
)
def test_notes_at_the_limit_and_escaped_controls_are_kept(api: Api, notes: str, shown: str) -> None:
    r = api.post(PROJECT, {"time-entry": {"seconds": "60", "notes": notes}})
    assert (r.status, r.json) == (201, {"time-entry-id": NEXT_ID}), r
    got = api.get(f"/timeEntries/{NEXT_ID}")
    assert got.status == 200
    assert got.json["time-entry"]["notes"] == shown


# --- the one renderer of error answers ----------------------------------------------------


def test_every_error_answer_is_rendered_by_one_function() -> None:
    from apollo_fake import errors

    line, headers, body = errors.render(errors.MethodNotAllowed("no", ["GET", "HEAD"]))
    assert line == "405 Method Not Allowed"
    assert headers == [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Allow", "GET, HEAD"),
    ]
    assert json.loads(body) == {"error": {"status": 405, "message": "no", "details": []}}
    # A body over the limit is left unread on the connection: it cannot be reused.
    line, headers, body = errors.render(errors.PayloadTooLarge())
    assert line.startswith("413 ")
    assert ("Connection", "close") in headers
    assert json.loads(body)["error"]["message"] == "The request body is larger than 1 MiB"
    assert errors.MAX_BODY == MIB
