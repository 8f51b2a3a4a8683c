"""What makes a create cheap must not change what a create does.

A write's path takes shortcuts: entries are filled in as a draft and then become
immutable, the clock's last time stamp is remembered, a plain body is accepted
by a few type checks before any validator, the schemas' quick validators are
compiled without error details, fault rules are not looked at (nor locked) when
there are none, and a body is parsed before it is checked for emptiness. Each
test here fails if its shortcut gives a different answer.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apollo_fake import clock, schemas, service
from apollo_fake.faults import Faults
from apollo_fake.model import Entry

from conftest import Api

DT = datetime.datetime
BODY = {"time-entry": {"seconds": "3600", "notes": "fast"}}


def test_an_entry_is_built_whole_and_then_immutable() -> None:
    e = Entry(7, 11, "2012-07-05", 3600, 21, 51, 61, None, "notes", "billable", "a", "b")
    assert type(e) is Entry and isinstance(e, Entry)
    values = [7, 21, 11, 51, 61, None, "2012-07-05", 3600, "notes", "billable", "a", "b"]
    assert [getattr(e, f) for f in Entry.FIELDS] == values
    assert e.key == datetime.date(2012, 7, 5).toordinal() * 10**18 + 7
    for name in (*Entry.FIELDS, "key", "_wire", "other"):
        with pytest.raises(AttributeError):
            setattr(e, name, 1)
    assert e.id == 7
    changed = e.replace(notes="other")
    assert type(changed) is Entry and changed.notes == "other" and e.notes == "notes"
    # Defaults, as the keyword form gives them.
    plain = Entry(id=8, user_id=11, date="2012-07-05", seconds=60)
    assert plain.to_wire() == {
        "id": "8",
        "time-category-id": None,
        "user-id": "11",
        "project-id": None,
        "task-id": None,
        "contact-id": None,
        "date": "2012-07-05",
        "seconds": "60",
        "notes": "",
        "billable": "unset",
        "created-at": "2012-07-05 00:00:00",
        "updated-at": "2012-07-05 00:00:00",
    }


def test_a_bad_date_still_refuses_to_make_an_entry() -> None:
    with pytest.raises(ValueError):
        Entry(1, 11, "2012-02-30", 60)


def test_the_remembered_stamp_follows_every_change_of_time() -> None:
    first, second = DT(2012, 5, 24, 15, 30, 34), DT(2012, 5, 24, 15, 30, 35)
    assert clock.stamp(first) == "2012-05-24 15:30:34"
    assert clock.stamp(first) == "2012-05-24 15:30:34"
    assert clock.stamp(second) == "2012-05-24 15:30:35"
    assert clock.stamp(first) == "2012-05-24 15:30:34"
    # Under a second apart: a different moment, the same written second.
    assert clock.stamp(first.replace(microsecond=500_000)) == "2012-05-24 15:30:34"


def test_a_create_takes_its_date_and_stamps_from_the_same_moment(api: Api) -> None:
    api.fake.clock.freeze(DT(2012, 8, 15, 23, 59, 59))
    before = api.post("/projects/51/timeEntries", BODY)
    api.fake.clock.advance(1)
    after = api.post("/projects/51/timeEntries", BODY)
    got = [
        api.get(f"/timeEntries/{r.json['time-entry-id']}").json["time-entry"]
        for r in (before, after)
    ]
    assert [(e["date"], e["created-at"], e["updated-at"]) for e in got] == [
        ("2012-08-15", "2012-08-15 23:59:59", "2012-08-15 23:59:59"),
        ("2012-08-16", "2012-08-16 00:00:00", "2012-08-16 00:00:00"),
    ]
    times = [r["time"] for r in api.fake.requests("POST")]
    assert times == ["2012-08-15 23:59:59", "2012-08-16 00:00:00"]


BODIES: list[Any] = [
    BODY,
    {"time-entry": {"seconds": 0}},
    {"time-entry": {"seconds": "2147483647", "billable": "billed", "date": "2012-02-29"}},
    {"time-entry": {"seconds": "2147483648"}},
    {"time-entry": {"seconds": "3600\n"}},
    {"time-entry": {"seconds": True}},
    {"time-entry": {"seconds": "60", "date": "2011-02-29"}},
    {"time-entry": {"seconds": "60", "time-category-id": "21"}},
    {"time-entry": {"notes": "no seconds"}},
    {"time-entry": {"seconds": "60", "category-id": None, "user-id": 11}},
    {"time-entry": {"seconds": "60", "user-id": None}},
    {"time-entry": []},
    {"time-entry": BODY["time-entry"], "other": 1},
    [],
    "text",
]


@pytest.mark.parametrize("body", BODIES)
def test_the_quick_validator_agrees_with_the_full_one(body: Any) -> None:
    name = "create-request.schema.json"
    assert schemas.is_valid(name, body) is (not schemas.errors(name, body))


# Values at and around every edge of the fields' rules, and of the quick check's own.
VALUES: list[Any] = [
    *["3600", "0", "000000000", "999999999", "0999999999", "1000000000", "2147483647"],
    *["2147483648", "", " 1", "1 ", "3600\n", "\u0663", "\u00b2", "-1", "+1", "1e3", "1.5"],
    *[0, 1, -1, 2**31 - 1, 2**31, 2**63, -(2**63), 60.0, 1.5, -0.0, float("inf"), True, False],
    *[None, [], {}, ["1"], {"a": 1}],
    *["2012-02-29", "2011-02-29", "2012-2-29", "20120229", "2012-13-01", "0000-01-01"],
    *["9999-12-31", "2012-02-29\n", "2012-02-29 ", "\uff12012-02-29", "2012-W09-3"],
    *["unset", "not billable", "billable", "billed", "Billed", "billed "],
    *["notes", "x" * 65535, "x" * 65536, "\u00e9" * 65535, "\ud83d\ude00"],
]
FIELD_NAMES = ["seconds", "notes", "date", "billable", "category-id", "user-id"]
NAMES = [*FIELD_NAMES, "time-category-id", "id", "Seconds", ""]


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    fields=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VALUES), max_size=7),
    schema=st.sampled_from([service.CREATE_SCHEMA, service.UPDATE_SCHEMA]),
)
def test_the_plain_check_accepts_only_what_the_schema_accepts(
    fields: dict[str, Any], schema: str
) -> None:
    body = {"time-entry": fields}
    valid = not schemas.errors(schema, body)
    if service._plain(fields, service._REQUIRED[schema]):
        assert valid
    # Whichever way it is decided, the write's answer is the validators' answer.
    if valid:
        assert service._fields(schema, body) is fields
    else:
        with pytest.raises((service.BadRequest, service.Unprocessable)):
            service._fields(schema, body)


def test_each_field_value_passes_the_plain_check_only_when_valid() -> None:
    accepted = 0
    for name in FIELD_NAMES:
        for value in VALUES:
            fields = {"seconds": "60", name: value}
            for schema in (service.CREATE_SCHEMA, service.UPDATE_SCHEMA):
                if service._plain(fields, service._REQUIRED[schema]):
                    assert not schemas.errors(schema, {"time-entry": fields}), (schema, fields)
                    accepted += 1
    assert accepted > 100  # the check is not one that refuses everything


def test_the_bodies_clients_send_take_the_plain_check() -> None:
    create, update = (service._REQUIRED[s] for s in (service.CREATE_SCHEMA, service.UPDATE_SCHEMA))
    every = {
        "seconds": 3600,
        "notes": "n",
        "date": "2012-02-29",
        "billable": "billed",
        "category-id": None,
        "user-id": "11",
    }
    assert service._plain(BODY["time-entry"], create)
    assert service._plain(every, create) and service._plain(every, update)
    assert service._plain({"notes": "changed"}, update)
    assert not service._plain({"notes": "no seconds"}, create)


def test_every_schema_has_a_quick_validator_that_answers() -> None:
    # Some schemas (those with `const`) cannot be compiled without error details.
    for name in schemas.names():
        assert schemas.is_valid(name, None) is (not schemas.errors(name, None))


def test_a_fault_rule_added_after_requests_without_one_applies() -> None:
    faults = Faults()
    assert faults.match("POST", "/projects/51/timeEntries") is None
    rule = faults.add("/projects/*", "POST", status=503)
    assert faults.match("POST", "/projects/51/timeEntries") is rule
    assert faults.match("POST", "/projects/51/timeEntries") is None  # used up
    faults.clear()
    assert faults.match("POST", "/projects/51/timeEntries") is None


def test_a_fault_rule_applies_from_the_next_request(api: Api) -> None:
    assert api.post("/projects/51/timeEntries", BODY).status == 201
    api.fake.faults.add("/projects/51/timeEntries", "POST", status=503)
    assert api.post("/projects/51/timeEntries", BODY).status == 503
    assert api.post("/projects/51/timeEntries", BODY).status == 201
    assert [r.get("fault") for r in api.fake.requests("POST")] == [None, 1, None]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The body is empty"),
        (b" \r\n\t ", "The body is empty"),
        (b"{", "The body is not valid JSON"),
        (b'  {"time-entry": ', "The body is not valid JSON"),
        (b"\xff", "The body is not valid JSON"),
    ],
)
def test_a_body_is_refused_as_empty_or_as_not_json(api: Api, data: bytes, message: str) -> None:
    before = api.dump()
    got = api.post("/projects/51/timeEntries", data=data)
    assert got.status == 400
    assert got.json["error"]["message"].startswith(message)
    assert api.dump() == before


def test_a_created_then_deleted_entry_leaves_no_change(api: Api) -> None:
    new = api.post("/projects/51/timeEntries", BODY).json["time-entry-id"]
    assert api.fake.changes()["time-entries"]["created"][0]["id"] == new
    assert api.delete(f"/timeEntries/{new}").status == 200
    assert api.fake.changes() == {}
    assert api.fake.store.get("time-entries", int(new)) is None
