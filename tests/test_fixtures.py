"""The fixture file's rules, through the Python API.

Covers what a fixture document may hold (every top-level key optional, no
unknown keys, unique ids, references that name something, tasks and entries
that agree), that each problem is reported with the JSON pointer of its culprit
and all of them at once, the defaults of the timestamps, where new ids start,
and that a fake's state loads back as is, also after changes and after reset.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from apollo_fake import fixtures
from apollo_fake.errors import FixtureError
from apollo_fake.fake import Fake
from apollo_fake.web import create_app

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "fixtures" / "small.json"
DEMO = ROOT / "fixtures" / "demo.json"
COLLECTIONS = [
    "users",
    "time-categories",
    "companies",
    "contacts",
    "projects",
    "tasks",
    "time-entries",
]

Doc = dict[str, Any]


def small() -> Doc:
    """Return a fresh copy of the hand-made fixture document."""
    return json.loads(SMALL.read_text())


def changed(edit: Callable[[Doc], None]) -> Doc:
    """Return small.json with one edit applied."""
    doc = small()
    edit(doc)
    return doc


def problems_of(doc: Any) -> list[dict[str, str]]:
    """Load a document that must be rejected; return its problems."""
    with pytest.raises(FixtureError) as info:
        fixtures.records(doc)
    problems = info.value.problems
    for problem in problems:
        assert set(problem) == {"field", "message"}
        assert isinstance(problem["message"], str) and problem["message"]
    return problems


def fields_of(doc: Any) -> list[str]:
    """Return the JSON pointers of a rejected document's problems, in order."""
    return [p["field"] for p in problems_of(doc)]


# --- what a document may hold ----------------------------------------------------


def test_an_empty_document_loads_an_empty_store() -> None:
    records = fixtures.records({})
    assert all(not records[name] for name in COLLECTIONS)
    state = Fake({}).state()
    assert all(state[name] == [] for name in COLLECTIONS)


@pytest.mark.parametrize("key", ["account", *COLLECTIONS])
def test_every_top_level_key_is_optional(key: str) -> None:
    # Only one key, with what it needs to stand alone.
    doc = small()
    alone = {key: doc[key]}
    if key == "time-entries":
        alone["time-entries"] = [e for e in doc["time-entries"] if e["id"] == "78"]
        alone["users"] = doc["users"]
    elif key == "tasks":
        alone["projects"] = doc["projects"]
        alone["companies"] = doc["companies"]
        alone["contacts"] = doc["contacts"]
    elif key in ("contacts", "projects"):
        alone["companies"] = doc["companies"]
    records = fixtures.records(alone)
    if key != "account":
        assert len(records[key]) == len(alone[key])


def test_the_document_must_be_an_object() -> None:
    assert fields_of([]) == [""]


def test_unknown_top_level_key() -> None:
    assert fields_of(changed(lambda d: d.update({"people": []}))) == ["/people"]


@pytest.mark.parametrize(
    ("collection", "pointer"),
    [pytest.param("account", "/account/nick", id="account")]
    + [pytest.param(name, f"/{name}/1/nick", id=name) for name in COLLECTIONS],
)
def test_unknown_key_inside_a_record(collection: str, pointer: str) -> None:
    def edit(doc: Doc) -> None:
        target = doc[collection] if collection == "account" else doc[collection][1]
        target["nick"] = "x"

    assert fields_of(changed(edit)) == [pointer]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_duplicate_id_within_a_collection(collection: str) -> None:
    doc = small()
    count = len(doc[collection])
    doc[collection].append(copy.deepcopy(doc[collection][0]))
    problems = problems_of(doc)
    assert [p["field"] for p in problems] == [f"/{collection}/{count}/id"]
    assert doc[collection][0]["id"] in problems[0]["message"]


def test_the_same_id_in_different_collections_is_fine() -> None:
    doc = small()
    # User 11's id, reused by one record of every other collection.
    doc["time-categories"].append({"id": "11", "name": "Travel"})
    doc["companies"].append({"id": "11", "name": "Hooli"})
    doc["contacts"].append({"id": "11", "kind": "deal", "company-id": "11"})
    doc["projects"].append({"id": "11", "name": "Eleven", "company-id": "11"})
    doc["tasks"].append({"id": "11", "subject": "Eleven", "project-id": "11"})
    doc["time-entries"].append(
        {"id": "11", "user-id": "11", "task-id": "11", "project-id": "11", "date": "2012-07-11",
         "seconds": "60", "time-category-id": "11"}
    )
    records = fixtures.records(doc)
    assert all(11 in records[name] for name in COLLECTIONS)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param({"id": "41", "kind": "deal", "name": "Same id"}, id="contact-and-deal"),
        pytest.param({"id": "42", "kind": "contact", "name": "Same id"}, id="case-and-contact"),
        pytest.param({"id": "43", "kind": "case", "name": "Same id"}, id="deal-and-case"),
    ],
)
def test_contacts_cases_and_deals_share_one_id_space(second: Doc) -> None:
    doc = changed(lambda d: d["contacts"].append(second))
    assert fields_of(doc) == ["/contacts/4/id"]


# Each reference field naming an id that exists nowhere. New records are added
# where a changed one would also break other rules (an entry on a task must agree
# with it), so that each case has exactly one culprit.
MISSING = [
    pytest.param(
        lambda d: d["contacts"].append({"id": "45", "kind": "contact", "company-id": "39"}),
        "/contacts/4/company-id",
        "39",
        id="contact-company-id",
    ),
    pytest.param(
        lambda d: d["projects"].append({"id": "54", "company-id": "39"}),
        "/projects/3/company-id",
        "39",
        id="project-company-id",
    ),
    pytest.param(
        lambda d: d["tasks"].append({"id": "63", "project-id": "59"}),
        "/tasks/2/project-id",
        "59",
        id="task-project-id",
    ),
    pytest.param(
        lambda d: d["tasks"].append({"id": "63", "contact-id": "49"}),
        "/tasks/2/contact-id",
        "49",
        id="task-contact-id",
    ),
    pytest.param(
        lambda d: d["time-entries"][1].update({"user-id": "19"}),
        "/time-entries/1/user-id",
        "19",
        id="entry-user-id",
    ),
    pytest.param(
        lambda d: d["time-entries"][1].update({"time-category-id": "29"}),
        "/time-entries/1/time-category-id",
        "29",
        id="entry-time-category-id",
    ),
    pytest.param(
        lambda d: d["time-entries"][1].update({"project-id": "59"}),
        "/time-entries/1/project-id",
        "59",
        id="entry-project-id",
    ),
    pytest.param(
        lambda d: d["time-entries"][2].update({"task-id": "69"}),
        "/time-entries/2/task-id",
        "69",
        id="entry-task-id",
    ),
    pytest.param(
        lambda d: d["time-entries"][5].update({"contact-id": "49"}),
        "/time-entries/5/contact-id",
        "49",
        id="entry-contact-id",
    ),
]


@pytest.mark.parametrize(("edit", "pointer", "missing"), MISSING)
def test_a_reference_to_a_missing_id(
    edit: Callable[[Doc], None], pointer: str, missing: str
) -> None:
    problems = problems_of(changed(edit))
    assert [p["field"] for p in problems] == [pointer]
    assert missing in problems[0]["message"]


def test_a_reference_may_be_null_or_absent() -> None:
    doc = small()
    doc["contacts"].append({"id": "45", "kind": "case"})
    doc["projects"].append({"id": "54", "company-id": None})
    doc["time-entries"].append({"id": "81", "user-id": "12", "date": "2012-07-20", "seconds": "0"})
    records = fixtures.records(doc)
    assert records["contacts"][45].company_id is None
    assert records["time-entries"][81].project_id is None


@pytest.mark.parametrize("kind", ["lead", "Contact", "", None])
def test_kind_must_be_contact_case_or_deal(kind: Any) -> None:
    assert fields_of(changed(lambda d: d["contacts"][2].update({"kind": kind}))) == [
        "/contacts/2/kind"
    ]


def test_a_contact_needs_a_kind() -> None:
    assert fields_of(changed(lambda d: d["contacts"][2].pop("kind"))) == ["/contacts/2/kind"]


@pytest.mark.parametrize(
    "task",
    [
        pytest.param({"id": "63", "project-id": "51", "contact-id": "41"}, id="both"),
        pytest.param({"id": "63", "project-id": None, "contact-id": None}, id="neither-null"),
        pytest.param({"id": "63", "subject": "Orphan"}, id="neither-absent"),
    ],
)
def test_a_task_names_a_project_or_a_contact(task: Doc) -> None:
    assert fields_of(changed(lambda d: d["tasks"].append(task))) == ["/tasks/2"]


def test_an_entry_names_a_project_or_a_contact_not_both() -> None:
    doc = changed(lambda d: d["time-entries"][1].update({"contact-id": "41"}))
    # Named at the contact-id, with the rule that says why it must be null.
    assert fields_of(doc) == ["/time-entries/1/contact-id"]
    with pytest.raises(FixtureError) as caught:
        fixtures.records(doc)
    assert "not both" in caught.value.problems[0]["message"]


@pytest.mark.parametrize(
    ("index", "change"),
    [
        # Entry 71 is on task 61 (project 51); entry 75 on task 62 (contact 41).
        pytest.param(0, {"project-id": "52"}, id="other-project"),
        pytest.param(0, {"project-id": None}, id="project-left-out"),
        pytest.param(0, {"project-id": None, "contact-id": "41"}, id="contact-for-project"),
        pytest.param(4, {"contact-id": "44"}, id="other-contact"),
        pytest.param(4, {"contact-id": None}, id="contact-left-out"),
        pytest.param(4, {"contact-id": None, "project-id": "51"}, id="project-for-contact"),
    ],
)
def test_an_entry_on_a_task_agrees_with_the_task(index: int, change: Doc) -> None:
    doc = changed(lambda d: d["time-entries"][index].update(change))
    assert fields_of(doc) == [f"/time-entries/{index}"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("011", id="leading-zero"),
        pytest.param("00", id="zeros"),
        pytest.param("x1", id="letter"),
        pytest.param("", id="empty"),
        pytest.param("-1", id="negative"),
        pytest.param("1.5", id="decimal"),
        pytest.param(" 11", id="space"),
        pytest.param("١١", id="non-ascii-digits"),
        pytest.param(11, id="integer"),
        pytest.param(None, id="null"),
        # Below 10^15, so that ids handed out by creates stay below 10^18.
        pytest.param("1" + "0" * 15, id="10-to-15"),
        pytest.param("9" * 18, id="18-nines"),
    ],
)
@pytest.mark.parametrize(
    ("collection", "field"),
    [
        pytest.param("users", "id", id="user-id"),
        pytest.param("time-entries", "id", id="entry-id"),
        pytest.param("time-entries", "user-id", id="entry-user-ref"),
    ],
)
def test_ids_are_canonical_digit_strings(collection: str, field: str, bad: Any) -> None:
    doc = changed(lambda d: d[collection][1].update({field: bad}))
    expected = [f"/{collection}/1/{field}"]
    if collection == "users":
        # Found in the same pass: the entries still naming the user's old id.
        old = small()["users"][1]["id"]
        expected += [
            f"/time-entries/{i}/user-id"
            for i, e in enumerate(doc["time-entries"])
            if e["user-id"] == old
        ]
    assert fields_of(doc) == expected


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        pytest.param("seconds", 3600, id="seconds-integer"),
        pytest.param("seconds", "-1", id="seconds-negative"),
        pytest.param("seconds", "2147483648", id="seconds-2-31"),
        pytest.param("date", "2012-7-5", id="date-short"),
        pytest.param("date", "2012-02-30", id="date-impossible"),
        pytest.param("billable", "yes", id="billable-unknown"),
        pytest.param("notes", None, id="notes-null"),
        pytest.param("created-at", "2012-07-04T10:00:00", id="created-at-iso-t"),
        pytest.param("created-at", "2012-07-04", id="created-at-date-only"),
        pytest.param("created-at", "2012-07-04 10:00", id="created-at-no-seconds"),
        pytest.param("created-at", "2012-07-04 10:00:00Z", id="created-at-zone"),
        pytest.param("updated-at", "04.07.2012 10:00:00", id="updated-at-european"),
        pytest.param("created-at", "2012-02-30 10:00:00", id="created-at-impossible-day"),
        pytest.param("updated-at", "2012-07-04 25:61:00", id="updated-at-impossible-time"),
    ],
)
def test_entry_values_are_written_as_on_the_wire(field: str, bad: Any) -> None:
    doc = changed(lambda d: d["time-entries"][1].update({field: bad}))
    assert set(fields_of(doc)) == {f"/time-entries/1/{field}"}


def test_one_bad_value_is_one_problem() -> None:
    # A short date breaks both the shape and the calendar rule of `date`; a user
    # fixing the file needs to read it once, as `validate` prints one line a problem.
    doc = changed(lambda d: d["time-entries"][1].update({"date": "2012-7-5"}))
    assert fields_of(doc) == ["/time-entries/1/date"]


@pytest.mark.parametrize("field", ["id", "user-id", "date", "seconds"])
def test_an_entry_needs_its_required_fields(field: str) -> None:
    doc = changed(lambda d: d["time-entries"][1].pop(field))
    assert fields_of(doc) == [f"/time-entries/1/{field}"]


def test_several_shape_problems_are_reported_at_once() -> None:
    doc = small()
    doc["people"] = []
    doc["users"][0]["nick"] = "Ada"
    doc["time-entries"][2]["seconds"] = 7200
    doc["time-entries"][6]["date"] = "2012-02-30"
    assert sorted(fields_of(doc)) == sorted(
        ["/people", "/users/0/nick", "/time-entries/2/seconds", "/time-entries/6/date"]
    )


def test_several_reference_problems_are_reported_at_once() -> None:
    doc = small()
    doc["users"].append({"id": "11"})
    doc["projects"][0]["company-id"] = "39"
    doc["time-entries"][3]["user-id"] = "19"
    doc["time-entries"][4]["contact-id"] = "44"
    assert sorted(fields_of(doc)) == sorted(
        ["/users/2/id", "/projects/0/company-id", "/time-entries/3/user-id", "/time-entries/4"]
    )


def test_shape_and_reference_problems_are_reported_in_one_pass() -> None:
    # Five schema problems, a duplicate id and four dangling references: all ten at
    # once, so a file is fixed after reading one report.
    doc = small()
    doc["people"] = []
    doc["users"][0]["nick"] = "Ada"
    doc["time-entries"][2]["seconds"] = 7200
    doc["time-entries"][6]["date"] = "2012-02-30"
    doc["time-entries"][7]["billable"] = "sometimes"
    doc["users"].append({"id": "11"})
    doc["projects"][0]["company-id"] = "39"
    doc["time-entries"][3]["user-id"] = "19"
    doc["time-entries"][4]["contact-id"] = "44"
    doc["time-entries"][5]["time-category-id"] = "29"
    assert sorted(fields_of(doc)) == sorted(
        [
            "/people",
            "/users/0/nick",
            "/time-entries/2/seconds",
            "/time-entries/6/date",
            "/time-entries/7/billable",
            "/users/2/id",
            "/projects/0/company-id",
            "/time-entries/3/user-id",
            "/time-entries/4",
            "/time-entries/5/time-category-id",
        ]
    )


@pytest.mark.parametrize("layout", ["dict", "file", "streamed-file"])
def test_a_document_nested_too_deep_is_one_problem(tmp_path: Path, layout: str) -> None:
    deep: Any = []
    for _ in range(200):  # deeper than the limit, within what json.dumps writes
        deep = [deep]
    doc = {**small(), "users": deep} if layout != "streamed-file" else small()
    if layout == "streamed-file":
        doc["time-entries"][3]["notes"] = deep
    with pytest.raises(FixtureError) as caught:
        if layout == "dict":
            fixtures.records(doc)
        else:
            path = tmp_path / "deep.json"
            path.write_bytes(fixtures.dumps(doc) if layout == "streamed-file" else
                             json.dumps(doc).encode())
            fixtures.load_file(path)
    assert [p["field"] for p in caught.value.problems] == [""]
    assert "deeper than 64" in caught.value.problems[0]["message"]


def test_the_largest_fixture_id_still_leaves_creates_below_10_to_18() -> None:
    largest = "9" * 15
    doc = changed(lambda d: d["time-entries"][0].update({"id": largest}))
    fake = Fake(doc)
    response = create_app(fake).test_client().post(
        "/projects/51/timeEntries", json={"time-entry": {"seconds": "60"}}
    )
    assert response.get_json() == {"time-entry-id": str(int(largest) + 1)}


def test_a_record_that_breaks_the_schema_still_exists_for_references() -> None:
    # The user's name is wrong, not its id: entries naming it are not also reported.
    doc = changed(lambda d: d["users"][1].update({"first-name": 7}))
    assert fields_of(doc) == ["/users/1/first-name"]


def test_messages_are_sentences_without_python_reprs() -> None:
    doc = changed(lambda d: d["time-entries"][0].update({"project-id": None}))
    task = next(t for t in doc["tasks"] if t["id"] == doc["time-entries"][0]["task-id"])
    message = problems_of(doc)[0]["message"]
    assert "None" not in message and "(" not in message
    assert f'project-id "{task["project-id"]}"' in message and "contact-id null" in message


def test_a_document_with_thousands_of_problems_lists_the_first_hundred_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    doc = {"time-entries": [{"id": "1"}] * 2000}
    with pytest.raises(FixtureError) as caught:
        fixtures.records(doc)
    err = caught.value
    assert len(err.problems) == 100
    # Each entry lacks user-id, date and seconds, and all but the first repeat id 1.
    assert len(err.problems) + err.more == 2000 * 3
    assert err.problems[0]["field"] == "/time-entries/0/user-id"
    assert "(and 5999 more problems)" in err.summary()
    assert str(err).endswith("... and 5900 more problems")


def test_fake_rejects_an_invalid_document_and_an_invalid_file(tmp_path: Path) -> None:
    doc = changed(lambda d: d["time-entries"][0].update({"user-id": "19"}))
    with pytest.raises(FixtureError) as info:
        Fake(doc)
    assert [p["field"] for p in info.value.problems] == ["/time-entries/0/user-id"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FixtureError) as info:
        Fake(path)
    assert [p["field"] for p in info.value.problems] == ["/time-entries/0/user-id"]


# --- defaults and ids ---------------------------------------------------------------


def _entry(fake: Fake, entry_id: str) -> Doc:
    response = create_app(fake).test_client().get(f"/timeEntries/{entry_id}")
    assert response.status_code == 200
    entry: Doc = response.get_json()["time-entry"]
    return entry


def test_timestamps_default_to_the_entry_date_at_midnight() -> None:
    fake = Fake(small())
    entry = _entry(fake, "71")
    assert entry["created-at"] == "2012-07-05 00:00:00"
    assert entry["updated-at"] == "2012-07-05 00:00:00"
    # Given timestamps are kept as written.
    entry = _entry(fake, "79")
    assert entry["created-at"] == "2011-12-15 09:30:00"
    assert entry["updated-at"] == "2011-12-16 10:00:00"


def test_updated_at_left_out_follows_a_given_created_at() -> None:
    # Never updated before created: a left-out updated-at is the given created-at.
    doc = changed(lambda d: d["time-entries"][0].update({"created-at": "2012-07-06 08:00:00"}))
    entry = _entry(Fake(doc), "71")
    assert entry["created-at"] == "2012-07-06 08:00:00"
    assert entry["updated-at"] == "2012-07-06 08:00:00"


def _create(fake: Fake, parent: str = "/projects/51") -> str:
    client = create_app(fake).test_client()
    response = client.post(f"{parent}/timeEntries", json={"time-entry": {"seconds": "60"}})
    assert response.status_code == 201, response.get_data()
    new_id: str = response.get_json()["time-entry-id"]
    return new_id


def test_new_ids_continue_above_the_largest_id_in_the_file() -> None:
    doc = small()
    # Put the largest id first, so "the last one plus one" would be wrong.
    doc["time-entries"].insert(
        0, {"id": "900", "user-id": "11", "project-id": "53", "date": "2012-01-02", "seconds": "1"}
    )
    fake = Fake(doc)
    assert _create(fake) == "901"
    assert _create(fake, "/contacts/41") == "902"


def test_a_deleted_id_is_not_handed_out_again() -> None:
    fake = Fake(small())
    client = create_app(fake).test_client()
    assert client.delete("/timeEntries/80").status_code == 200
    assert _create(fake) == "81"


# --- round trips --------------------------------------------------------------------


def test_loaded_state_is_the_document() -> None:
    assert Fake(small()).state() == small()
    # The packaged demo was written by fixtures.dumps: it comes back byte for byte.
    assert fixtures.dumps(Fake(json.loads(DEMO.read_bytes())).state()) == DEMO.read_bytes()


def test_the_packaged_demo_passes_the_schema_its_loading_skips() -> None:
    # load_demo skips compiling the fixture schema's validator at each start,
    # because this test holds the demo to it.
    fixtures.check_schema(json.loads(DEMO.read_bytes()))
    assert fixtures.load_demo() == fixtures.load_file(DEMO)


def _change_everything(fake: Fake, project: str, entries: list[str]) -> None:
    """Create, update and delete entries, fixture ones and new ones alike."""
    client = create_app(fake).test_client()
    created = [_create(fake, f"/projects/{project}") for _ in range(3)]
    updates = [
        (entries[0], {"notes": "changed", "billable": "billed"}),
        (entries[1], {"seconds": 1, "date": "2012-01-01", "category-id": None}),
        (created[0], {"notes": "new and changed"}),
    ]
    for entry_id, fields in updates:
        response = client.put(f"/timeEntries/{entry_id}", json={"time-entry": fields})
        assert response.status_code == 200, response.get_data()
    for entry_id in (entries[2], created[1]):
        assert client.delete(f"/timeEntries/{entry_id}").status_code == 200


def _demo() -> Doc:
    return json.loads(DEMO.read_bytes())


def test_the_demo_lets_a_user_try_every_call_and_outcome() -> None:
    # `make serve` is where a new user meets the API: every listing kind has a second
    # page, every sort of entry and billable value exists, and some entries lie outside
    # the report's default window, so each outcome of the contract can be seen.
    doc = _demo()
    fake = Fake(doc, today=fixtures.DEMO_TODAY)
    client = create_app(fake).test_client()
    entries = doc["time-entries"]
    kinds = {c["id"]: c["kind"] for c in doc["contacts"]}
    first_of = {
        kind: next(c for c in doc["contacts"] if c["kind"] == kind)["id"]
        for kind in ("contact", "case", "deal")
    }
    for path in [
        f"/projects/{doc['projects'][0]['id']}/timeEntries",
        *(f"/contacts/{cid}/timeEntries" for cid in first_of.values()),
    ]:
        page = client.get(path).get_json()
        assert page["continued-at"] == f"{path}/2", path
        assert client.get(page["continued-at"]).get_json()["time-entries"], path
    tasks = {t["id"]: t for t in doc["tasks"]}
    on_tasks = [tasks[e["task-id"]] for e in entries if e["task-id"]]
    assert any(t["project-id"] for t in on_tasks) and any(t["contact-id"] for t in on_tasks)
    assert any(e["project-id"] is None and e["contact-id"] is None for e in entries)
    assert {kinds[e["contact-id"]] for e in entries if e["contact-id"]} == set(first_of)
    assert {e["billable"] for e in entries} == {"unset", "not billable", "billable", "billed"}
    window = client.get("/report/timeEntries?include_personal=1&include_contacts=1").get_json()
    assert window["time-entries"]
    assert min(e["date"] for e in entries) < min(e["date"] for e in window["time-entries"])


@pytest.mark.parametrize(
    ("load", "project"),
    [pytest.param(small, "51", id="small"), pytest.param(_demo, "500001", id="demo")],
)
@pytest.mark.parametrize("after_changes", [False, True], ids=["as-loaded", "after-changes"])
def test_state_loads_back_byte_identical(
    load: Callable[[], Doc], project: str, after_changes: bool
) -> None:
    doc = load()
    fake = Fake(doc)
    if after_changes:
        ids = [e["id"] for e in doc["time-entries"][:3]]
        _change_everything(fake, project, ids)
    state = fake.state()
    dumped = fixtures.dumps(state)
    again = Fake(state)
    assert fixtures.dumps(again.state()) == dumped
    # And a third time through the bytes, as a user saving the state to a file would.
    assert fixtures.dumps(Fake(json.loads(dumped)).state()) == dumped


@pytest.mark.parametrize(
    ("load", "project"),
    [pytest.param(small, "51", id="small"), pytest.param(_demo, "500001", id="demo")],
)
def test_reset_returns_to_the_loaded_state(load: Callable[[], Doc], project: str) -> None:
    doc = load()
    fake = Fake(doc)
    loaded = fixtures.dumps(fake.state())
    first_id = _create(Fake(load()), f"/projects/{project}")
    ids = [e["id"] for e in doc["time-entries"][:3]]
    _change_everything(fake, project, ids)
    assert fixtures.dumps(fake.state()) != loaded
    fake.reset()
    assert fixtures.dumps(fake.state()) == loaded
    assert _create(fake, f"/projects/{project}") == first_id


# --- streaming a large file ------------------------------------------------------


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_a_file_in_the_dump_layout_loads_the_same_streamed_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 3 entries: small.json's ten entries cross several chunk boundaries.
    monkeypatch.setattr(fixtures, "CHUNK", 3)
    doc = json.loads(SMALL.read_text())
    dumped = _write(tmp_path / "dumped.json", fixtures.dumps(doc))
    with dumped.open("rb") as lines:
        assert fixtures._stream(lines, fixtures.Loader()) is not None  # the streamed path was taken
    streamed = fixtures.load_file(dumped)
    assert streamed == fixtures.records(doc)
    assert fixtures.dumps(Fake(dumped).state()) == fixtures.dumps(Fake(doc).state())


def test_a_problem_in_a_later_chunk_names_its_index_in_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fixtures, "CHUNK", 3)
    doc = json.loads(SMALL.read_text())
    doc["time-entries"][7]["billable"] = "sometimes"
    doc["time-entries"][8]["user-id"] = "99"
    path = _write(tmp_path / "bad.json", fixtures.dumps(doc))
    with pytest.raises(FixtureError) as caught:
        fixtures.load_file(path)
    assert [p["field"] for p in caught.value.problems] == [
        "/time-entries/7/billable",
        "/time-entries/8/user-id",
    ]


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(lambda d: json.dumps(d, indent=2), id="indented"),
        pytest.param(lambda d: json.dumps(d), id="one-line"),
        pytest.param(
            lambda d: fixtures.dumps(d).decode().replace("\n}\n", ',\n  "extra": 1\n}\n'),
            id="key-after-entries",
        ),
    ],
)
def test_other_layouts_are_read_whole_with_the_same_rules(
    tmp_path: Path, layout: Callable[[Any], str]
) -> None:
    doc = json.loads(SMALL.read_text())
    path = _write(tmp_path / "other.json", layout(doc))
    if "extra" in path.read_text():
        with pytest.raises(FixtureError) as caught:
            fixtures.load_file(path)
        assert [p["field"] for p in caught.value.problems] == ["/extra"]
    else:
        assert fixtures.load_file(path) == fixtures.records(doc)
