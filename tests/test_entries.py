"""Contract tests for one time entry: get, create, update and delete.

Covers the record's fields and their canonical strings, the three creates (status,
body, ``Location``, new ids, defaults, the accepted forms of seconds and ids),
every request-field rule (422 naming the field), malformed bodies (400), unknown
parents and entries (404), partial updates and their timestamps, and deletes.
Every rejected write is checked to change nothing and to consume no id.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api, ApiOf, Result, entries_doc, small_doc

PROJECT = "/projects/51/timeEntries"
NEXT_ID = "81"  # small.json's largest entry id is 80
# The seed's example request, with ids of small.json.
FULL = {
    "category-id": "22",
    "user-id": "12",
    "notes": "Working hard",
    "date": "2012-07-05",
    "billable": "billable",
    "seconds": "3600",
}
CREATES = [
    pytest.param(
        "/projects/51/timeEntries",
        {"project-id": "51", "task-id": None, "contact-id": None},
        id="project",
    ),
    pytest.param(
        "/tasks/61/timeEntries",
        {"project-id": "51", "task-id": "61", "contact-id": None},
        id="task-on-project",
    ),
    pytest.param(
        "/tasks/62/timeEntries",
        {"project-id": None, "task-id": "62", "contact-id": "41"},
        id="task-on-contact",
    ),
    pytest.param(
        "/contacts/41/timeEntries",
        {"project-id": None, "task-id": None, "contact-id": "41"},
        id="contact",
    ),
    pytest.param(
        "/contacts/42/timeEntries",
        {"project-id": None, "task-id": None, "contact-id": "42"},
        id="case",
    ),
    pytest.param(
        "/contacts/43/timeEntries",
        {"project-id": None, "task-id": None, "contact-id": "43"},
        id="deal",
    ),
]


def fixture_wire(entry: dict[str, Any]) -> dict[str, Any]:
    """Return a small.json entry as the API must show it."""
    midnight = entry["date"] + " 00:00:00"
    return {
        **entry,
        "created-at": entry.get("created-at", midnight),
        "updated-at": entry.get("updated-at", midnight),
    }


def get_entry(api: Api, entry_id: str) -> dict[str, Any]:
    r = api.get(f"/timeEntries/{entry_id}")
    assert r.status == 200, r
    assert list(r.json) == ["time-entry"]
    entry: dict[str, Any] = r.json["time-entry"]
    return entry


def create(api: Api, path: str = PROJECT, **fields: Any) -> str:
    r = api.post(path, {"time-entry": {"seconds": "60", **fields}})
    assert r.status == 201, r
    new_id: str = r.json["time-entry-id"]
    return new_id


def assert_rejected(api: Api, before: bytes, r: Result, status: int) -> None:
    """Assert an error of that status that changed nothing and consumed no id."""
    assert r.status == status, r
    assert r.json["error"]["status"] == status
    assert api.dump() == before
    assert create(api) == NEXT_ID


def fields_named(r: Result) -> set[str]:
    return {d["field"] for d in r.json["error"]["details"]}


# --- get -------------------------------------------------------------------


@pytest.mark.parametrize("entry", small_doc()["time-entries"], ids=lambda e: f"entry-{e['id']}")
def test_get_shows_every_field(api: Api, entry: dict[str, Any]) -> None:
    # Timestamps left out of the fixture read as the date at 00:00:00; given ones are kept.
    assert get_entry(api, entry["id"]) == fixture_wire(entry)


def test_get_shows_given_timestamps(api: Api) -> None:
    entry = get_entry(api, "79")
    assert (entry["created-at"], entry["updated-at"]) == (
        "2011-12-15 09:30:00",
        "2011-12-16 10:00:00",
    )


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/timeEntries/999", id="unknown"),
        pytest.param("/timeEntries/0", id="zero"),
        pytest.param("/timeEntries/81", id="next-id-not-yet-created"),
        pytest.param("/timeEntries/51", id="a-project-id"),
        pytest.param("/v1/timeEntries/999", id="v1"),
    ],
)
def test_get_unknown_entry_is_404(api: Api, path: str) -> None:
    r = api.get(path)
    assert r.status == 404
    assert r.json["error"]["status"] == 404


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/timeEntries/071", id="one-zero"),
        pytest.param("/timeEntries/00071", id="three-zeros"),
        pytest.param("/timeEntries/" + "0" * 40 + "71", id="forty-zeros"),
        pytest.param("/v1/timeEntries/071", id="v1"),
    ],
)
def test_leading_zeros_name_the_same_entry(api: Api, path: str) -> None:
    r = api.get(path)
    assert r.status == 200
    assert r.raw == api.get("/timeEntries/71").raw
    assert r.json["time-entry"]["id"] == "71"


def test_leading_zeros_name_the_same_entry_on_update_and_delete(api: Api) -> None:
    assert api.put("/timeEntries/071", {"time-entry": {"notes": "Zeros"}}).status == 200
    assert get_entry(api, "71")["notes"] == "Zeros"
    assert api.delete("/timeEntries/00071").status == 200
    assert api.get("/timeEntries/71").status == 404


def test_leading_zeros_name_the_same_parent_on_create(api: Api) -> None:
    new = create(api, "/projects/0051/timeEntries")
    assert get_entry(api, new)["project-id"] == "51"


# --- create ----------------------------------------------------------------


@pytest.mark.parametrize(("path", "parents"), CREATES)
def test_create_returns_201_id_and_location(
    api: Api, path: str, parents: dict[str, Any]
) -> None:
    api.fake.clock.advance(3723)
    r = api.post(path, {"time-entry": FULL})
    assert r.status == 201
    assert r.json == {"time-entry-id": NEXT_ID}
    assert r.headers["location"] == f"/timeEntries/{NEXT_ID}"
    assert get_entry(api, NEXT_ID) == {
        "id": NEXT_ID,
        "time-category-id": "22",
        "user-id": "12",
        **parents,
        "date": "2012-07-05",
        "seconds": "3600",
        "notes": "Working hard",
        "billable": "billable",
        "created-at": "2012-07-31 01:02:03",
        "updated-at": "2012-07-31 01:02:03",
    }


@pytest.mark.parametrize(("path", "parents"), CREATES)
def test_create_under_v1_gives_a_v1_location(
    api: Api, path: str, parents: dict[str, Any]
) -> None:
    r = api.post("/v1" + path, {"time-entry": FULL})
    assert r.status == 201
    assert r.json == {"time-entry-id": NEXT_ID}
    assert r.headers["location"] == f"/v1/timeEntries/{NEXT_ID}"
    assert api.get(r.headers["location"]).json == api.get(f"/timeEntries/{NEXT_ID}").json


def test_new_ids_continue_above_the_largest_fixture_id(api_of: ApiOf) -> None:
    doc = small_doc()
    doc["time-entries"].append(
        {"id": "5000", "user-id": "11", "date": "2012-01-01", "seconds": "60"}
    )
    api = api_of(doc)
    assert create(api) == "5001"
    assert create(api, "/tasks/61/timeEntries") == "5002"


def test_new_ids_continue_above_generated_ids(api_of: ApiOf) -> None:
    api = api_of(entries_doc(3))
    assert create(api) == "1003"


def test_ids_are_never_reused_after_a_delete(api: Api) -> None:
    assert api.delete("/timeEntries/80").status == 200
    assert create(api) == "81"
    assert api.delete("/timeEntries/81").status == 200
    assert create(api) == "82"
    assert api.get("/timeEntries/81").status == 404


@pytest.mark.parametrize(
    ("advance", "today", "now"),
    [
        pytest.param(0, "2012-07-31", "2012-07-31 00:00:00", id="midnight"),
        pytest.param(86399, "2012-07-31", "2012-07-31 23:59:59", id="last-second"),
        pytest.param(2 * 86400 + 3600, "2012-08-02", "2012-08-02 01:00:00", id="two-days-on"),
    ],
)
def test_create_defaults(api: Api, advance: int, today: str, now: str) -> None:
    api.fake.clock.advance(advance)
    new = create(api, seconds="60")
    assert get_entry(api, new) == {
        "id": new,
        "time-category-id": None,
        "user-id": "11",  # the account's first user
        "project-id": "51",
        "task-id": None,
        "contact-id": None,
        "date": today,
        "seconds": "60",
        "notes": "",
        "billable": "unset",
        "created-at": now,
        "updated-at": now,
    }


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param("3600", "3600", id="digit-string"),
        pytest.param(3600, "3600", id="json-integer"),
        pytest.param("0", "0", id="zero-string"),
        pytest.param(0, "0", id="zero-integer"),
        pytest.param("2147483647", "2147483647", id="largest-string"),
        pytest.param(2147483647, "2147483647", id="largest-integer"),
    ],
)
def test_create_accepts_seconds_as_string_or_integer(api: Api, seconds: Any, shown: str) -> None:
    new = create(api, seconds=seconds)
    assert get_entry(api, new)["seconds"] == shown


@pytest.mark.parametrize(
    ("field", "value", "wire_field", "shown"),
    [
        pytest.param("category-id", "22", "time-category-id", "22", id="category-string"),
        pytest.param("category-id", 22, "time-category-id", "22", id="category-integer"),
        pytest.param("category-id", "022", "time-category-id", "22", id="category-leading-zero"),
        pytest.param(
            "category-id", "0" * 30 + "22", "time-category-id", "22", id="category-many-zeros"
        ),
        pytest.param("category-id", None, "time-category-id", None, id="category-null"),
        pytest.param("user-id", "12", "user-id", "12", id="user-string"),
        pytest.param("user-id", 12, "user-id", "12", id="user-integer"),
        pytest.param("user-id", "0012", "user-id", "12", id="user-leading-zeros"),
    ],
)
def test_create_reads_ids_as_numbers(
    api: Api, field: str, value: Any, wire_field: str, shown: str | None
) -> None:
    new = create(api, **{field: value})
    assert get_entry(api, new)[wire_field] == shown


@pytest.mark.parametrize(
    "notes",
    [
        pytest.param("a" * 65535, id="65535-ascii"),
        pytest.param("\u00e9" * 65535, id="65535-two-byte-characters"),
        pytest.param("", id="empty"),
        pytest.param("Line one\nLine two \u2603 \"quoted\"", id="newline-unicode-quotes"),
    ],
)
def test_create_keeps_notes_exactly(api: Api, notes: str) -> None:
    new = create(api, notes=notes)
    assert get_entry(api, new)["notes"] == notes


# --- field rules (422) -------------------------------------------------------

BAD_FIELDS = [
    pytest.param("billable", "Billable", id="billable-capitalised"),
    pytest.param("billable", "yes", id="billable-yes"),
    pytest.param("billable", "", id="billable-empty"),
    pytest.param("billable", "billable ", id="billable-trailing-space"),
    pytest.param("billable", None, id="billable-null"),
    pytest.param("billable", True, id="billable-true"),
    pytest.param("billable", 1, id="billable-integer"),
    pytest.param("seconds", -1, id="seconds-negative"),
    pytest.param("seconds", "-1", id="seconds-negative-string"),
    pytest.param("seconds", 1.5, id="seconds-fraction"),
    pytest.param("seconds", "1.5", id="seconds-fraction-string"),
    # A JSON number with a fraction part is not a JSON integer, even when it is whole.
    pytest.param("seconds", 60.0, id="seconds-whole-number-with-fraction"),
    pytest.param("category-id", 21.0, id="category-whole-number-with-fraction"),
    pytest.param("user-id", 11.0, id="user-whole-number-with-fraction"),
    pytest.param("seconds", " 3600", id="seconds-leading-space"),
    pytest.param("seconds", "3600 ", id="seconds-trailing-space"),
    pytest.param("seconds", "3600\n", id="seconds-trailing-newline"),
    pytest.param("seconds", 2**31, id="seconds-2-to-31"),
    pytest.param("seconds", str(2**31), id="seconds-2-to-31-string"),
    pytest.param("seconds", 2**64, id="seconds-2-to-64"),
    pytest.param("seconds", True, id="seconds-true"),
    pytest.param("seconds", False, id="seconds-false"),
    pytest.param("seconds", None, id="seconds-null"),
    pytest.param("seconds", "", id="seconds-empty"),
    pytest.param("seconds", "1h", id="seconds-with-unit"),
    pytest.param("seconds", "\u0663\u0666\u0660\u0660", id="seconds-arabic-indic-digits"),
    pytest.param("seconds", [3600], id="seconds-array"),
    pytest.param("date", "2012-02-30", id="date-february-30"),
    pytest.param("date", "2011-02-29", id="date-february-29-not-leap"),
    pytest.param("date", "2012-13-01", id="date-month-13"),
    pytest.param("date", "2012-7-5", id="date-one-digit-month-day"),
    pytest.param("date", "20120705", id="date-compact"),
    pytest.param("date", "2012-07-05T00:00:00", id="date-with-time"),
    pytest.param("date", "2012-07-05\n", id="date-trailing-newline"),
    pytest.param("date", "today", id="date-word"),
    pytest.param("date", "", id="date-empty"),
    pytest.param("date", None, id="date-null"),
    pytest.param("date", 20120705, id="date-integer"),
    pytest.param("notes", "a" * 65536, id="notes-65536"),
    pytest.param("notes", None, id="notes-null"),
    pytest.param("notes", 5, id="notes-integer"),
    pytest.param("category-id", "99", id="category-unknown"),
    pytest.param("category-id", 99, id="category-unknown-integer"),
    pytest.param("category-id", "11", id="category-names-a-user"),
    pytest.param("category-id", "0", id="category-zero"),
    pytest.param("category-id", "9" * 5000, id="category-5000-digits"),
    pytest.param("category-id", "abc", id="category-word"),
    pytest.param("category-id", "", id="category-empty"),
    pytest.param("category-id", -1, id="category-negative"),
    pytest.param("category-id", True, id="category-true"),
    pytest.param("user-id", "99", id="user-unknown"),
    pytest.param("user-id", 21, id="user-names-a-category"),
    pytest.param("user-id", "9" * 5000, id="user-5000-digits"),
    pytest.param("user-id", None, id="user-null"),
    pytest.param("user-id", "abc", id="user-word"),
    pytest.param("user-id", -1, id="user-negative"),
]

UNKNOWN_KEYS = [
    pytest.param("time-category-id", id="time-category-id"),
    pytest.param("project-id", id="project-id"),
    pytest.param("task-id", id="task-id"),
    pytest.param("contact-id", id="contact-id"),
    pytest.param("id", id="id"),
    pytest.param("created-at", id="created-at"),
    pytest.param("Seconds", id="capitalised-seconds"),
    pytest.param("category_id", id="underscore"),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_create_rejects_a_bad_field_with_422(api: Api, field: str, value: Any) -> None:
    before = api.dump()
    r = api.post(PROJECT, {"time-entry": {**FULL, field: value}})
    assert fields_named(r) == {f"time-entry.{field}"}, r
    assert_rejected(api, before, r, 422)


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_update_rejects_a_bad_field_with_422(api: Api, field: str, value: Any) -> None:
    before = api.dump()
    r = api.put("/timeEntries/71", {"time-entry": {field: value}})
    assert fields_named(r) == {f"time-entry.{field}"}, r
    assert_rejected(api, before, r, 422)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="empty"),
        pytest.param({"notes": "No seconds"}, id="other-fields-only"),
    ],
)
def test_create_without_seconds_is_422(api: Api, fields: dict[str, Any]) -> None:
    before = api.dump()
    r = api.post(PROJECT, {"time-entry": fields})
    assert fields_named(r) == {"time-entry.seconds"}, r
    assert_rejected(api, before, r, 422)


@pytest.mark.parametrize("key", UNKNOWN_KEYS)
def test_create_rejects_an_unknown_key_naming_it(api: Api, key: str) -> None:
    before = api.dump()
    r = api.post(PROJECT, {"time-entry": {**FULL, key: "21"}})
    assert fields_named(r) == {f"time-entry.{key}"}, r
    assert_rejected(api, before, r, 422)


@pytest.mark.parametrize("key", UNKNOWN_KEYS)
def test_update_rejects_an_unknown_key_naming_it(api: Api, key: str) -> None:
    before = api.dump()
    r = api.put("/timeEntries/71", {"time-entry": {"notes": "x", key: "21"}})
    assert fields_named(r) == {f"time-entry.{key}"}, r
    assert_rejected(api, before, r, 422)


def test_every_bad_field_is_named(api: Api) -> None:
    before = api.dump()
    body = {"seconds": -1, "billable": "maybe", "date": "2012-02-30", "time-category-id": "21"}
    r = api.post(PROJECT, {"time-entry": body})
    assert fields_named(r) == {f"time-entry.{k}" for k in body}, r
    assert_rejected(api, before, r, 422)


def test_every_unknown_reference_is_named(api: Api) -> None:
    before = api.dump()
    r = api.post(PROJECT, {"time-entry": {**FULL, "category-id": "98", "user-id": "99"}})
    assert fields_named(r) == {"time-entry.category-id", "time-entry.user-id"}, r
    assert_rejected(api, before, r, 422)


# --- malformed bodies (400) --------------------------------------------------

MALFORMED = [
    pytest.param(b"[]", id="array"),
    pytest.param(b'[{"time-entry": {"seconds": "60"}}]', id="array-holding-the-envelope"),
    pytest.param(b'"time-entry"', id="string"),
    pytest.param(b"3600", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b"true", id="boolean"),
    pytest.param(b"{}", id="no-time-entry"),
    pytest.param(b'{"timeEntry": {"seconds": "60"}}', id="misspelt-envelope"),
    pytest.param(b'{"time-entry": null}', id="time-entry-null"),
    pytest.param(b'{"time-entry": []}', id="time-entry-array"),
    pytest.param(b'{"time-entry": "seconds=60"}', id="time-entry-string"),
    pytest.param(b'{"time-entry": 60}', id="time-entry-number"),
    pytest.param(b'{"time-entry": {"seconds": "60"}, "id": "5"}', id="key-beside-envelope"),
    pytest.param(
        b'{"time-entry": {"seconds": "60"}, "time-entries": []}', id="second-envelope-beside"
    ),
    pytest.param(b'{"time-entry": {"seconds": "60"}', id="unclosed"),
    pytest.param(b"{'time-entry': {'seconds': '60'}}", id="single-quotes"),
    pytest.param(b'{"time-entry": {"seconds": "60",}}', id="trailing-comma"),
    pytest.param(b'{"time-entry": {"seconds": "60"}} x', id="trailing-garbage"),
    pytest.param(b'{"time-entry": {"seconds": "60", "notes": "\xff"}}', id="invalid-utf8"),
    pytest.param(b'{"time-entry": {"seconds": "60", "notes": "\xc3\x28"}}', id="bad-utf8-pair"),
    pytest.param('{"time-entry": {"seconds": "60"}}'.encode("utf-16"), id="utf16"),
    pytest.param(b"seconds=60&notes=x", id="form-encoded"),
    pytest.param(b"", id="empty"),
    pytest.param(b"  \r\n", id="whitespace-only"),
]


@pytest.mark.parametrize("body", MALFORMED)
@pytest.mark.parametrize(
    "path", [pytest.param(PROJECT, id="create"), pytest.param("/timeEntries/71", id="update")]
)
def test_malformed_body_is_400(api: Api, path: str, body: bytes) -> None:
    before = api.dump()
    method = "POST" if path == PROJECT else "PUT"
    r = api.request(method, path, data=body)
    assert_rejected(api, before, r, 400)


# --- unknown parents and entries (404) ----------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/projects/999/timeEntries", id="project"),
        pytest.param("/projects/41/timeEntries", id="project-named-by-a-contact-id"),
        pytest.param("/tasks/999/timeEntries", id="task"),
        pytest.param("/tasks/71/timeEntries", id="task-named-by-an-entry-id"),
        pytest.param("/contacts/999/timeEntries", id="contact"),
        pytest.param("/contacts/51/timeEntries", id="contact-named-by-a-project-id"),
        pytest.param("/v1/projects/999/timeEntries", id="v1"),
    ],
)
def test_create_on_unknown_parent_is_404(api: Api, path: str) -> None:
    before = api.dump()
    r = api.post(path, {"time-entry": FULL})
    assert_rejected(api, before, r, 404)


# --- update ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "wire_field", "shown"),
    [
        pytest.param("notes", "Changed", "notes", "Changed", id="notes"),
        pytest.param("notes", "", "notes", "", id="notes-empty"),
        pytest.param("billable", "billed", "billable", "billed", id="billable"),
        pytest.param("date", "2012-07-06", "date", "2012-07-06", id="date"),
        pytest.param("seconds", "60", "seconds", "60", id="seconds-string"),
        pytest.param("seconds", 60, "seconds", "60", id="seconds-integer"),
        pytest.param("category-id", "22", "time-category-id", "22", id="category"),
        pytest.param("category-id", 22, "time-category-id", "22", id="category-integer"),
        pytest.param("category-id", "022", "time-category-id", "22", id="category-zero"),
        pytest.param("category-id", None, "time-category-id", None, id="category-cleared"),
        pytest.param("user-id", "12", "user-id", "12", id="user"),
        pytest.param("user-id", 12, "user-id", "12", id="user-integer"),
    ],
)
def test_update_changes_only_the_given_field(
    api: Api, field: str, value: Any, wire_field: str, shown: Any
) -> None:
    # Entry 79 has its own timestamps, so only updated-at may move beside the field.
    before = get_entry(api, "79")
    api.fake.clock.advance(60)
    r = api.put("/timeEntries/79", {"time-entry": {field: value}})
    assert r.status == 200
    assert r.json == {}
    assert get_entry(api, "79") == {
        **before,
        wire_field: shown,
        "updated-at": "2012-07-31 00:01:00",
    }


def test_update_with_every_field(api: Api) -> None:
    api.fake.clock.advance(60)
    assert api.put("/timeEntries/74", {"time-entry": FULL}).status == 200
    assert get_entry(api, "74") == {
        "id": "74",
        "time-category-id": "22",
        "user-id": "12",
        "project-id": "53",
        "task-id": None,
        "contact-id": None,
        "date": "2012-07-05",
        "seconds": "3600",
        "notes": "Working hard",
        "billable": "billable",
        "created-at": "2012-05-02 00:00:00",
        "updated-at": "2012-07-31 00:01:00",
    }


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"notes": "Later"}, id="notes"),
        pytest.param({"date": "2012-06-01"}, id="date"),
    ],
)
@pytest.mark.parametrize(
    ("entry_id", "created_at"),
    [
        pytest.param("71", "2012-07-05 00:00:00", id="derived-timestamps"),
        pytest.param("79", "2011-12-15 09:30:00", id="given-timestamps"),
    ],
)
def test_update_moves_updated_at_not_created_at(
    api: Api, entry_id: str, created_at: str, change: dict[str, Any]
) -> None:
    api.fake.clock.advance(60)
    assert api.put(f"/timeEntries/{entry_id}", {"time-entry": change}).status == 200
    entry = get_entry(api, entry_id)
    assert (entry["created-at"], entry["updated-at"]) == (created_at, "2012-07-31 00:01:00")
    api.fake.clock.advance(3600)
    assert api.put(f"/timeEntries/{entry_id}", {"time-entry": {"seconds": 1}}).status == 200
    entry = get_entry(api, entry_id)
    assert (entry["created-at"], entry["updated-at"]) == (created_at, "2012-07-31 01:01:00")


def test_update_of_a_created_entry_keeps_its_created_at(api: Api) -> None:
    api.fake.clock.advance(10)
    new = create(api, date="2012-07-01")
    api.fake.clock.advance(50)
    assert api.put(f"/timeEntries/{new}", {"time-entry": {"date": "2012-07-02"}}).status == 200
    entry = get_entry(api, new)
    assert (entry["created-at"], entry["updated-at"]) == (
        "2012-07-31 00:00:10",
        "2012-07-31 00:01:00",
    )


def test_update_category_null_clears_it(api: Api) -> None:
    assert get_entry(api, "71")["time-category-id"] == "21"
    r = api.put("/timeEntries/71", {"time-entry": {"category-id": None}})
    assert (r.status, r.json) == (200, {})
    assert get_entry(api, "71")["time-category-id"] is None


def test_update_with_empty_time_entry_is_422(api: Api) -> None:
    before = api.dump()
    r = api.put("/timeEntries/71", {"time-entry": {}})
    assert fields_named(r) == {"time-entry"}, r
    assert_rejected(api, before, r, 422)


def test_update_partly_bad_changes_nothing(api: Api) -> None:
    before = api.dump()
    r = api.put("/timeEntries/71", {"time-entry": {"notes": "New", "billable": "maybe"}})
    assert fields_named(r) == {"time-entry.billable"}, r
    assert_rejected(api, before, r, 422)
    assert get_entry(api, "71")["notes"] == "Working hard"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/timeEntries/999", id="unknown"),
        pytest.param("/timeEntries/81", id="next-id"),
        pytest.param("/v1/timeEntries/999", id="v1"),
    ],
)
def test_update_unknown_entry_is_404(api: Api, path: str) -> None:
    before = api.dump()
    r = api.put(path, {"time-entry": {"notes": "x"}})
    assert_rejected(api, before, r, 404)


# --- delete ------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_delete_removes_the_entry(api: Api, prefix: str) -> None:
    r = api.delete(f"{prefix}/timeEntries/71")
    assert (r.status, r.json) == (200, {})
    assert api.get("/timeEntries/71").status == 404
    again = api.delete(f"{prefix}/timeEntries/71")
    assert again.status == 404
    assert again.json["error"]["status"] == 404
    assert api.put("/timeEntries/71", {"time-entry": {"notes": "x"}}).status == 404
    # Only that entry is gone.
    assert get_entry(api, "72") == fixture_wire(small_doc()["time-entries"][1])


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/timeEntries/999", id="unknown"),
        pytest.param("/timeEntries/81", id="next-id"),
        pytest.param("/timeEntries/0", id="zero"),
    ],
)
def test_delete_unknown_entry_is_404(api: Api, path: str) -> None:
    before = api.dump()
    r = api.delete(path)
    assert_rejected(api, before, r, 404)


def test_delete_of_a_created_entry(api: Api) -> None:
    new = create(api)
    assert api.delete(f"/timeEntries/{new}").status == 200
    assert api.get(f"/timeEntries/{new}").status == 404
    assert create(api) == str(int(new) + 1)
