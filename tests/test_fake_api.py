"""The Fake object's Python face: the arranging helpers, reading entries and requests, reset().

Each ``add_*`` helper is checked for its defaults, for what a client then sees over the
API, and for the ValueError it raises on a reference that names nothing (changing
nothing). ``reset()`` is checked to undo each helper and each kind of state: records,
id counters, the clock, rate windows, the journal.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from apollo_fake import fixtures
from apollo_fake.errors import Superseded
from apollo_fake.fake import Fake, Settings
from apollo_fake.model import Category, Company, Contact, Entry, Project, Task, User
from apollo_fake.recorder import Recorder

from conftest import TODAY, Api, small_doc

MIDNIGHT = "2012-07-31 00:00:00"
ENTRY = {"time-entry": {"seconds": 60}}


@pytest.fixture
def fake() -> Fake:
    """Return a fake over small.json with the clock frozen at TODAY's midnight."""
    return Fake(small_doc(), today=TODAY)


@pytest.fixture
def api(fake: Fake) -> Api:
    """Return a schema-checking client of the same fake."""
    return Api(fake, "client")


def dump(fake: Fake) -> bytes:
    """Return the whole data, to compare before and after."""
    return fixtures.dumps(fake.state())


# --- arranging -------------------------------------------------------------------


def test_add_user(fake: Fake, api: Api) -> None:
    user = fake.add_user("Eve", "Moneypenny", "eve@example.com")
    assert user == User(13, "Eve", "Moneypenny", "eve@example.com")
    assert fake.state()["users"][-1] == {
        "id": "13", "first-name": "Eve", "last-name": "Moneypenny", "email": "eve@example.com"
    }
    r = api.post("/projects/51/timeEntries", {"time-entry": {"seconds": 60, "user-id": "13"}})
    assert r.status == 201
    assert api.get(r.headers["location"]).json["time-entry"]["user-id"] == "13"


def test_add_user_with_an_id(fake: Fake) -> None:
    assert fake.add_user("Zed", id=500) == User(500, "Zed")
    # Later ids continue above it, so they never collide with it.
    assert fake.add_user().id == 501


def test_add_category(fake: Fake, api: Api) -> None:
    assert fake.add_category("Travel") == Category(23, "Travel")
    r = api.get("/account")
    assert r.json["account"]["time-categories"] == [
        {"id": "21", "name": "Development"},
        {"id": "22", "name": "Meetings"},
        {"id": "23", "name": "Travel"},
    ]
    r = api.post("/projects/51/timeEntries", {"time-entry": {"seconds": 60, "category-id": 23}})
    assert r.status == 201


def test_add_company(fake: Fake, api: Api) -> None:
    company = fake.add_company("Umbrella")
    assert company == Company(33, "Umbrella")
    project = fake.add_project("Vaccine", company_id=company.id)
    fake.add_entry(60, project_id=project.id)
    r = api.get("/report/timeEntries", query={"company_id": "33"})
    assert [e["id"] for e in r.json["time-entries"]] == ["81"]


@pytest.mark.parametrize(
    "kind", [pytest.param(k, id=k) for k in ("contact", "case", "deal")]
)
def test_add_contact_of_each_kind(fake: Fake, api: Api, kind: str) -> None:
    contact = fake.add_contact("Wile E.", kind=kind, company_id=32)
    assert contact == Contact(45, kind, "Wile E.", 32)
    r = api.post("/contacts/45/timeEntries", ENTRY)
    assert r.status == 201
    # The kind decides which include_* flag of the report counts the entry.
    flag = {"contact": "include_contacts", "case": "include_cases", "deal": "include_deals"}[kind]
    r = api.get("/report/timeEntries", query={flag: "1", "include_projects": "0"})
    assert r.json["time-entries"][0]["contact-id"] == "45"


def test_add_contact_defaults(fake: Fake) -> None:
    assert fake.add_contact() == Contact(45, "contact", "", None)


def test_add_project(fake: Fake, api: Api) -> None:
    assert fake.add_project("Docs") == Project(54, "Docs", None)
    assert fake.add_project("Sales site", company_id=31) == Project(55, "Sales site", 31)
    r = api.get("/projects/54/timeEntries")
    assert (r.status, r.json) == (200, {"time-entries": []})


def test_add_task_on_a_project_and_on_a_contact(fake: Fake, api: Api) -> None:
    assert fake.add_task("Write", project_id=53) == Task(63, "Write", 53, None)
    assert fake.add_task("Call", contact_id=44) == Task(64, "Call", None, 44)
    r = api.get("/tasks/63/timeEntries")
    assert (r.status, r.json) == (200, {"time-entries": []})
    assert api.post("/tasks/64/timeEntries", ENTRY).status == 201


def test_add_entry_defaults(fake: Fake, api: Api) -> None:
    entry = fake.add_entry(project_id=53)
    assert entry.to_wire() == {
        "id": "81",
        "time-category-id": None,
        "user-id": "11",
        "project-id": "53",
        "task-id": None,
        "contact-id": None,
        "date": "2012-07-31",
        "seconds": "3600",
        "notes": "",
        "billable": "unset",
        "created-at": MIDNIGHT,
        "updated-at": MIDNIGHT,
    }
    assert api.get("/timeEntries/81").json == {"time-entry": entry.to_wire()}


def test_add_entry_with_every_field(fake: Fake, api: Api) -> None:
    fake.clock.advance(3661)
    entry = fake.add_entry(
        900, "2012-07-20", user_id=12, contact_id=43, category_id=22, notes="Lunch",
        billable="billed", id=700,
    )
    assert api.get("/timeEntries/700").json["time-entry"] == {
        "id": "700",
        "time-category-id": "22",
        "user-id": "12",
        "project-id": None,
        "task-id": None,
        "contact-id": "43",
        "date": "2012-07-20",
        "seconds": "900",
        "notes": "Lunch",
        "billable": "billed",
        "created-at": "2012-07-31 01:01:01",
        "updated-at": "2012-07-31 01:01:01",
    }
    assert fake.entry(700) == entry
    listing = api.get("/contacts/43/timeEntries").json["time-entries"]
    assert [e["id"] for e in listing] == ["700", "77"]


def test_add_entry_on_a_project_task_takes_the_tasks_project(fake: Fake, api: Api) -> None:
    entry = fake.add_entry(60, task_id=61)
    assert (entry.task_id, entry.project_id, entry.contact_id) == (61, 51, None)
    assert [e["id"] for e in api.get("/tasks/61/timeEntries").json["time-entries"]] == ["81", "71"]
    assert api.get("/projects/51/timeEntries").json["time-entries"][0]["id"] == "81"


def test_add_entry_on_a_contact_task_takes_the_tasks_contact(fake: Fake, api: Api) -> None:
    entry = fake.add_entry(60, task_id=62)
    assert (entry.task_id, entry.project_id, entry.contact_id) == (62, None, 41)
    assert api.get("/contacts/41/timeEntries").json["time-entries"][0]["id"] == "81"


def test_add_entry_personal(fake: Fake, api: Api) -> None:
    fake.add_entry(60)
    r = api.get("/report/timeEntries", query={"include_personal": "1", "include_projects": "0"})
    assert [e["id"] for e in r.json["time-entries"]] == ["81", "78"]


MISSING: list[Any] = [
    pytest.param(lambda f: f.add_contact(company_id=99), id="contact-company"),
    pytest.param(lambda f: f.add_contact(kind="lead"), id="contact-kind"),
    pytest.param(lambda f: f.add_project(company_id=99), id="project-company"),
    pytest.param(lambda f: f.add_task(project_id=99), id="task-project"),
    pytest.param(lambda f: f.add_task(contact_id=99), id="task-contact"),
    pytest.param(lambda f: f.add_task(), id="task-neither"),
    pytest.param(lambda f: f.add_task(project_id=51, contact_id=41), id="task-both"),
    pytest.param(lambda f: f.add_entry(task_id=99), id="entry-task"),
    pytest.param(lambda f: f.add_entry(project_id=99), id="entry-project"),
    pytest.param(lambda f: f.add_entry(contact_id=99), id="entry-contact"),
    pytest.param(lambda f: f.add_entry(project_id=51, category_id=99), id="entry-category"),
    pytest.param(lambda f: f.add_entry(project_id=51, user_id=99), id="entry-user"),
    pytest.param(lambda f: f.add_entry(project_id=51, contact_id=41), id="entry-both"),
]


@pytest.mark.parametrize("add", MISSING)
def test_bad_reference_is_a_value_error_that_changes_nothing(
    fake: Fake, add: Callable[[Fake], Any]
) -> None:
    before, ids = dump(fake), dict(fake.store.next_ids)
    with pytest.raises(ValueError):
        add(fake)
    assert dump(fake) == before
    assert fake.store.next_ids == ids


def test_add_entry_without_users_is_a_value_error() -> None:
    # An account with no users leaves no user to default to: a missing reference too.
    empty = Fake({"projects": [{"id": "1", "name": "P"}]})
    with pytest.raises(ValueError, match="user"):
        empty.add_entry(project_id=1)
    assert empty.state()["time-entries"] == []


# --- reading ---------------------------------------------------------------------


def test_entry_reads_one_entry(fake: Fake, api: Api) -> None:
    found = fake.entry(79)
    assert isinstance(found, Entry)
    assert (found.seconds, found.notes) == (5400, "Old work")
    assert (found.created_at, found.updated_at) == ("2011-12-15 09:30:00", "2011-12-16 10:00:00")
    assert fake.entry(999) is None
    api.delete("/timeEntries/79")
    assert fake.entry(79) is None


def test_requests_filter_by_method_and_path_glob(fake: Fake, api: Api) -> None:
    api.get("/account")
    api.post("/projects/51/timeEntries", ENTRY)
    api.post("/v1/contacts/41/timeEntries", ENTRY)
    api.get("/projects/51/timeEntries", query={"page": "1"})
    api.delete("/timeEntries/71")
    everything = fake.requests()
    assert [(r["method"], r["path"]) for r in everything] == [
        ("GET", "/account"),
        ("POST", "/projects/51/timeEntries"),
        ("POST", "/v1/contacts/41/timeEntries"),
        ("GET", "/projects/51/timeEntries"),
        ("DELETE", "/timeEntries/71"),
    ]
    assert [r["path"] for r in fake.requests("post")] == [
        "/projects/51/timeEntries",
        "/v1/contacts/41/timeEntries",
    ]
    assert [r["method"] for r in fake.requests(path="/projects/*/timeEntries")] == ["POST", "GET"]
    assert [r["path"] for r in fake.requests("GET", "/projects/*")] == ["/projects/51/timeEntries"]
    assert [r["path"] for r in fake.requests(path="*/timeEntries")] == [
        "/projects/51/timeEntries",
        "/v1/contacts/41/timeEntries",
        "/projects/51/timeEntries",
    ]
    assert fake.requests("PUT") == []
    assert fake.requests(path="/tasks/*") == []


def test_a_recorded_request_tells_what_happened(fake: Fake, api: Api) -> None:
    api.get("/projects/51/timeEntries", query={"page": "2"})
    api.post("/projects/51/timeEntries", {"time-entry": {"seconds": 60, "time-category-id": "21"}})
    listing, create = fake.requests()
    assert (listing["path"], listing["query"], listing["status"]) == (
        "/projects/51/timeEntries", "page=2", 200
    )
    assert listing["violations"] == []
    assert create["status"] == 422
    assert create["body"] == {"time-entry": {"seconds": 60, "time-category-id": "21"}}
    assert create["time"] == MIDNIGHT
    assert [v["field"] for v in create["violations"]] == ["time-entry.time-category-id"]
    assert fake.violations() == [create]


# --- reset -----------------------------------------------------------------------

ADDS: list[Any] = [
    pytest.param(lambda f: f.add_user("Eve"), id="user"),
    pytest.param(lambda f: f.add_category("Travel"), id="category"),
    pytest.param(lambda f: f.add_company("Umbrella"), id="company"),
    pytest.param(lambda f: f.add_contact("Wile", kind="deal"), id="contact"),
    pytest.param(lambda f: f.add_project("Docs"), id="project"),
    pytest.param(lambda f: f.add_task("Write", project_id=51), id="task"),
    pytest.param(lambda f: f.add_entry(60, project_id=51), id="entry"),
    pytest.param(lambda f: f.add_entry(60, task_id=62), id="entry-on-task"),
    pytest.param(lambda f: f.add_project("Replaced", id=51), id="replace-project"),
    pytest.param(lambda f: f.add_entry(1, project_id=53, id=71), id="replace-entry"),
    pytest.param(lambda f: f.add_user("Far", id=10_000), id="user-high-id"),
]


@pytest.mark.parametrize("add", ADDS)
def test_reset_undoes_an_add(fake: Fake, add: Callable[[Fake], Any]) -> None:
    before, ids = dump(fake), dict(fake.store.next_ids)
    first = add(fake)
    assert dump(fake) != before
    fake.reset()
    assert dump(fake) == before
    assert fake.store.next_ids == ids
    # The same add after a reset hands out the same id again.
    assert add(fake).id == first.id


def test_reset_undoes_api_writes(fake: Fake, api: Api) -> None:
    before, ids = dump(fake), dict(fake.store.next_ids)
    assert api.post("/projects/51/timeEntries", ENTRY).json == {"time-entry-id": "81"}
    assert api.put("/timeEntries/72", {"time-entry": {"notes": "new"}}).status == 200
    assert api.delete("/timeEntries/73").status == 200
    fake.reset()
    assert dump(fake) == before
    assert fake.store.next_ids == ids
    assert api.post("/projects/51/timeEntries", ENTRY).json == {"time-entry-id": "81"}


def test_reset_restores_a_frozen_clock(fake: Fake) -> None:
    fake.clock.advance(86400)
    fake.clock.unfreeze()
    fake.reset()
    assert fake.clock.frozen
    assert fake.clock.now() == datetime.datetime(2012, 7, 31)


def test_reset_restores_a_running_clock() -> None:
    running = Fake(small_doc())
    running.clock.freeze(datetime.datetime(2030, 1, 1))
    running.reset()
    assert not running.clock.frozen
    real = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((running.clock.now() - real).total_seconds()) < 60


def test_reset_restores_a_clock_started_at_a_day() -> None:
    started = Fake(small_doc(), start=datetime.date(2012, 7, 31))
    started.clock.advance(40 * 86400)
    started.reset()
    assert not started.clock.frozen
    # Runs from that day at the real time of day: a run across midnight UTC sees the next.
    assert started.clock.today() in (datetime.date(2012, 7, 31), datetime.date(2012, 8, 1))


def test_reset_restores_rate_windows() -> None:
    limited = Fake(small_doc(), today=TODAY, settings=Settings(rate_limit=(2, 300)))
    api = Api(limited, "client")
    assert [api.get("/account").status for _ in range(3)] == [200, 200, 429]
    limited.reset()
    assert limited.windows == {}
    # A full allowance again, not what was left of the old window.
    assert [api.get("/account").status for _ in range(3)] == [200, 200, 429]


def test_reset_restores_rate_windows_of_each_token() -> None:
    settings = Settings(tokens={"tok-ada": 11, "tok-grace": 12}, rate_limit=(1, 300))
    limited = Fake(small_doc(), today=TODAY, settings=settings)
    client = limited.client
    for token in ("tok-ada", "tok-grace"):
        assert client.get("/account", auth=(token, "X")).status_code == 200
        assert client.get("/account", auth=(token, "X")).status_code == 429
    limited.reset()
    for token in ("tok-ada", "tok-grace"):
        assert client.get("/account", auth=(token, "X")).status_code == 200


def test_reset_clears_the_journal(fake: Fake, api: Api) -> None:
    api.get("/account")
    api.get("/nope")
    assert len(fake.requests()) == 2
    assert len(fake.violations()) == 1
    fake.reset()
    assert fake.requests() == []
    assert list(fake.journal) == []
    assert fake.violations() == []


def test_reset_inside_expect_errors_keeps_later_violations(fake: Fake, api: Api) -> None:
    with fake.expect_errors():
        api.get("/nope")
        fake.reset()
    api.get("/nope/after")
    assert [r["path"] for r in fake.violations()] == ["/nope/after"]


def test_reset_rebuilds_what_was_recorded_whole() -> None:
    settings = Settings(tokens={"tok-ada": 11}, rate_limit=(5, 300), journal_size=3)
    used = Fake(small_doc(), today=TODAY, settings=settings)
    client = used.client
    used.faults.add("/nowhere", status=503)
    for _ in range(5):
        client.get("/account", auth=("tok-ada", "X"))
    client.get("/nope", auth=("tok-ada", "X"))
    old = used.recorder
    assert old.log.dropped and old.windows and not old.coverage.empty
    with used.expect_errors():
        used.reset()
    # A new recorder, whatever fields it has: none of the old one's is carried over
    # but the earlier coverage, which the run's report keeps.
    fresh = Recorder(settings)
    assert used.recorder is not old
    assert set(vars(used.recorder)) == set(vars(fresh))
    assert list(used.journal) == [] and used.journal_dropped == 0
    assert used.faults.listing() == [] and used.windows == {} and used.recorder.expecting == 0
    assert used.coverage.empty and used.recorder.earlier.requests == 6
    assert used.contract_report()["requests"] == 6



def test_a_write_begun_before_a_reset_is_refused_after_it() -> None:
    # The check and the write are one step under the store's lock: a request begun
    # under the old recorder writes before the restore or not at all.
    used = Fake(small_doc(), today=TODAY)
    begun = used.begin()
    assert used.in_flight == 1
    with used.writing(begun):  # before the reset: written (and then undone by it)
        used.add_entry(60, project_id=51)
    used.end(begun)
    assert used.wait_idle(10)
    late = used.begin()
    used.reset()  # waits a bounded moment for `late`, which stays in flight
    assert late.ended.is_set() and not used.recorder.ended.is_set()
    with pytest.raises(Superseded), used.writing(late):
        used.add_entry(60, project_id=51)
    used.end(late)
    assert used.in_flight == 0 and used.entry(81) is None
    assert used.changes() == {}


def test_expect_errors_marks_only_its_block(fake: Fake, api: Api) -> None:
    with fake.expect_errors():
        api.get("/nope")
        with fake.expect_errors():
            api.delete("/account")
        api.get("/nope/still-inside")
    api.get("/nope/after")
    assert [r["path"] for r in fake.requests()] == [
        "/nope", "/account", "/nope/still-inside", "/nope/after"
    ]
    assert [r["path"] for r in fake.violations()] == ["/nope/after"]
