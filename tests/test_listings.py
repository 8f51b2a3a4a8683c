"""Contract tests for the listings: a project's, a contact's and a task's time entries.

Covers the order (date descending, then id descending, numerically), pages of 50
with ``continued-at`` in path form, the page from the path or the ``page`` query
parameter, unknown parents, the task listing without pages, and that creates,
updates and deletes show up at their place in the listings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conftest import Api, ApiOf, Result, entries_doc, make_api, small_doc

Shared = Callable[[str, Callable[[], dict[str, Any]]], Api]

PROJECT = "/projects/51/timeEntries"
CONTACT = "/contacts/41/timeEntries"
PARENTS = [
    pytest.param("project", PROJECT, id="project"),
    pytest.param("contact", CONTACT, id="contact"),
]
EMPTY = {"time-entries": []}


@pytest.fixture(scope="module", params=["client", "socket"])
def shared(request: pytest.FixtureRequest) -> Iterator[Shared]:
    """Yield a getter of Apis built once per module and transport, for tests that only read.

    A live server costs a tenth of a second to stop; sharing one per document keeps
    this file fast. Tests that write use ``api`` or ``api_of`` instead.
    """
    with contextlib.ExitStack() as stack:
        cache: dict[str, Api] = {}

        def get(name: str, build: Callable[[], dict[str, Any]]) -> Api:
            if name not in cache:
                cache[name] = stack.enter_context(
                    contextlib.contextmanager(make_api)(request, build())
                )
            return cache[name]

        yield get


def small(shared: Shared) -> Api:
    """Return the shared Api over small.json."""
    return shared("small", small_doc)


def paged(shared: Shared, count: int, kind: str = "project", same_date: bool = False) -> Api:
    """Return a shared Api over ``entries_doc(count, kind, same_date)``."""
    return shared(
        f"entries-{count}-{kind}-{same_date}",
        lambda: entries_doc(count, parent=kind, same_date=same_date),
    )


def ids(result: Result) -> list[str]:
    """Return the ids of a listing response, in the order given."""
    return [e["id"] for e in result.json["time-entries"]]


def ordered(doc: dict[str, Any], **where: str) -> list[str]:
    """Return the ids of a document's entries matching ``where``, in the contract's order."""
    key = {"project": "project-id", "contact": "contact-id", "task": "task-id"}
    chosen = [
        e for e in doc["time-entries"] if all(e.get(key[k]) == v for k, v in where.items())
    ]
    chosen.sort(key=lambda e: (e["date"], int(e["id"])), reverse=True)
    return [e["id"] for e in chosen]


def parent_of(kind: str) -> dict[str, str]:
    return {"project": "51"} if kind == "project" else {"contact": "41"}


def create(api: Api, path: str, **fields: Any) -> str:
    r = api.post(path, {"time-entry": {"seconds": "60", **fields}})
    assert r.status == 201, r
    new_id: str = r.json["time-entry-id"]
    return new_id


# --- order -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # 80 and 71 share 2012-07-05: the larger id comes first.
        pytest.param(PROJECT, ["80", "71", "72", "79"], id="project-51"),
        pytest.param("/projects/52/timeEntries", ["73"], id="project-52"),
        pytest.param(CONTACT, ["75"], id="contact-41-via-its-task"),
        pytest.param("/contacts/42/timeEntries", ["76"], id="case-42"),
        pytest.param("/contacts/43/timeEntries", ["77"], id="deal-43"),
        pytest.param("/contacts/44/timeEntries", [], id="contact-without-entries"),
        pytest.param("/tasks/61/timeEntries", ["71"], id="task-61"),
        pytest.param("/tasks/62/timeEntries", ["75"], id="task-62"),
    ],
)
def test_listing_holds_the_parents_entries_newest_first(
    shared: Shared, path: str, expected: list[str]
) -> None:
    api = small(shared)
    r = api.get(path)
    assert r.status == 200
    assert list(r.json) == ["time-entries"]
    assert ids(r) == expected
    # A listing shows whole records, the same as the single-entry call.
    for entry in r.json["time-entries"]:
        assert entry == api.get(f"/timeEntries/{entry['id']}").json["time-entry"]


@pytest.mark.parametrize(("kind", "base"), PARENTS)
def test_same_date_orders_ids_numerically_not_as_text(
    shared: Shared, kind: str, base: str
) -> None:
    doc = small_doc()
    field = "project-id" if kind == "project" else "contact-id"
    parent = parent_of(kind)[kind]

    def entry(id: str, date: str) -> dict[str, Any]:
        return {"id": id, "user-id": "11", "date": date, "seconds": "60", field: parent}

    doc["time-entries"] = [
        entry("999", "2012-07-05"),
        entry("1000", "2012-07-05"),
        entry("99", "2012-07-05"),
        entry("100000", "2012-07-05"),
        entry("9", "2012-07-05"),
        entry("5", "2012-07-06"),
        entry("2000000", "2012-07-04"),
    ]
    r = shared(f"numeric-ids-{kind}", lambda: doc).get(base)
    assert r.status == 200
    assert ids(r) == ["5", "100000", "1000", "999", "99", "9", "2000000"]


# --- pages -----------------------------------------------------------------


@pytest.mark.parametrize(("kind", "base"), PARENTS)
def test_pages_hold_50_and_continued_at_names_the_next(
    shared: Shared, kind: str, base: str
) -> None:
    doc = entries_doc(120, parent=kind)
    api = paged(shared, 120, kind)
    expected = ordered(doc, **parent_of(kind))
    first, second, third = (api.get(f"{base}/{n}") for n in (1, 2, 3))
    assert [first.status, second.status, third.status] == [200, 200, 200]
    assert first.json["continued-at"] == f"{base}/2"
    assert second.json["continued-at"] == f"{base}/3"
    assert list(third.json) == ["time-entries"]
    assert ids(first) == expected[:50]
    assert ids(second) == expected[50:100]
    assert ids(third) == expected[100:]


@pytest.mark.parametrize(
    ("how", "same_date"),
    [
        pytest.param("follow-continued-at", False, id="follow-continued-at-spread-dates"),
        pytest.param("follow-continued-at", True, id="follow-continued-at-same-date"),
        pytest.param("page-query", True, id="page-query-same-date"),
    ],
)
@pytest.mark.parametrize(("kind", "base"), PARENTS)
def test_all_pages_together_give_the_whole_ordered_listing(
    shared: Shared, kind: str, base: str, how: str, same_date: bool
) -> None:
    doc = entries_doc(120, parent=kind, same_date=same_date)
    api = paged(shared, 120, kind, same_date)
    seen: list[str] = []
    path: str | None = base
    number = 1
    while path is not None:
        r = api.get(path) if how == "follow-continued-at" else api.get(base, query={"page": number})
        assert r.status == 200
        seen += ids(r)
        path = r.json.get("continued-at")
        number += 1
        if path is not None:
            assert path == f"{base}/{number}"
        assert number <= 4, "more pages than 120 entries need"
    assert seen == ordered(doc, **parent_of(kind))
    assert len(set(seen)) == 120


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/v1" + PROJECT, PROJECT + "/2", id="v1-first-page"),
        pytest.param("/v1" + PROJECT + "/2", PROJECT + "/3", id="v1-path-page"),
        pytest.param("/v1" + PROJECT + "?page=2", PROJECT + "/3", id="v1-query-page"),
        pytest.param("/v1" + CONTACT, CONTACT + "/2", id="v1-contact"),
        pytest.param(PROJECT + "?page=2", PROJECT + "/3", id="query-page-gives-path-form"),
        # Decision: the continued-at path names the parent and page canonically.
        pytest.param("/projects/051/timeEntries", PROJECT + "/2", id="parent-leading-zero"),
        pytest.param(PROJECT + "/01", PROJECT + "/2", id="page-leading-zero"),
    ],
)
def test_continued_at_is_root_relative_path_form(
    shared: Shared, path: str, expected: str
) -> None:
    kind = "contact" if "/contacts/" in path else "project"
    r = paged(shared, 120, kind).get(path)
    assert r.status == 200
    assert r.json["continued-at"] == expected


@pytest.mark.parametrize(("kind", "base"), PARENTS)
@pytest.mark.parametrize("count", [50, 100], ids=["50-entries", "100-entries"])
def test_a_full_last_page_has_no_continued_at(
    shared: Shared, kind: str, base: str, count: int
) -> None:
    doc = entries_doc(count, parent=kind)
    api = paged(shared, count, kind)
    last = count // 50
    r = api.get(f"{base}/{last}")
    assert r.status == 200
    assert list(r.json) == ["time-entries"]
    assert ids(r) == ordered(doc, **parent_of(kind))[-50:]
    assert api.get(f"{base}/{last + 1}").json == EMPTY


@pytest.mark.parametrize(("kind", "base"), PARENTS)
def test_51_entries_make_two_pages(shared: Shared, kind: str, base: str) -> None:
    doc = entries_doc(51, parent=kind)
    api = paged(shared, 51, kind)
    first, second = api.get(base), api.get(f"{base}/2")
    assert first.json["continued-at"] == f"{base}/2"
    assert len(ids(first)) == 50
    assert list(second.json) == ["time-entries"]
    assert ids(second) == ordered(doc, **parent_of(kind))[50:]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(PROJECT + "/2", id="project-page-2"),
        pytest.param(PROJECT + "/999", id="project-page-999"),
        pytest.param(PROJECT + "?page=2", id="project-query-page-2"),
        pytest.param(CONTACT + "/2", id="contact-page-2"),
        pytest.param("/contacts/44/timeEntries", id="contact-without-entries"),
        pytest.param("/contacts/44/timeEntries/3", id="contact-without-entries-page-3"),
    ],
)
def test_page_past_the_end_is_empty(shared: Shared, path: str) -> None:
    r = small(shared).get(path)
    assert r.status == 200
    assert r.json == EMPTY


def test_no_entries_at_all_is_one_empty_page(shared: Shared) -> None:
    r = paged(shared, 0).get(PROJECT)
    assert r.status == 200
    assert r.json == EMPTY


@pytest.mark.parametrize(("kind", "base"), PARENTS)
def test_page_query_parameter_matches_path_page(shared: Shared, kind: str, base: str) -> None:
    # Pages of 50, 10 and none: each page number gives a different answer.
    api = paged(shared, 60, kind)
    assert api.get(base).raw == api.get(f"{base}/1").raw
    for number in ("2", "3", "002"):
        by_query = api.get(base, query={"page": number})
        by_path = api.get(f"{base}/{int(number)}")
        assert by_query.status == by_path.status == 200
        assert by_query.raw == by_path.raw, number


@pytest.mark.parametrize(
    "query",
    [
        pytest.param([("page", "1")], id="page-1"),
        pytest.param([("page", "3")], id="page-3"),
        pytest.param([("page", "0")], id="page-0"),
        pytest.param([("page", "-1")], id="page-negative"),
        pytest.param([("page", "abc")], id="page-abc"),
        pytest.param([("page", "1.5")], id="page-fraction"),
        pytest.param([("page", "")], id="page-empty"),
        # Decision: a repeated page parameter is ignored too when the path gives the page.
        pytest.param([("page", "1"), ("page", "3")], id="page-repeated"),
    ],
)
@pytest.mark.parametrize(("kind", "base"), PARENTS)
def test_path_page_wins_over_page_query(
    shared: Shared, kind: str, base: str, query: list[tuple[str, str]]
) -> None:
    # Pages of 50, 5 and none, so that reading the query's page would show.
    doc = entries_doc(55, parent=kind)
    api = paged(shared, 55, kind)
    r = api.get(f"{base}/2", query=query)
    assert r.status == 200
    assert ids(r) == ordered(doc, **parent_of(kind))[50:]
    assert r.raw == api.get(f"{base}/2").raw


def assert_bad_page(r: Result) -> None:
    assert r.status == 400, r
    assert r.json["error"]["status"] == 400
    assert [d["field"] for d in r.json["error"]["details"]] == ["page"]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(PROJECT + "/0", id="project"),
        pytest.param(PROJECT + "/000", id="project-zeros"),
        pytest.param(CONTACT + "/0", id="contact"),
        pytest.param("/v1" + PROJECT + "/0", id="v1"),
        pytest.param(PROJECT + "/0?page=2", id="with-valid-query-page"),
    ],
)
def test_path_page_zero_is_400(shared: Shared, path: str) -> None:
    assert_bad_page(small(shared).get(path))


@pytest.mark.parametrize(
    "page",
    [
        pytest.param("0", id="zero"),
        pytest.param("000", id="zeros"),
        pytest.param("-1", id="negative"),
        pytest.param("abc", id="word"),
        pytest.param("1.5", id="fraction"),
        pytest.param("2.0", id="float-form"),
        pytest.param("", id="empty"),
        pytest.param(" 1", id="leading-space"),
        pytest.param("1 ", id="trailing-space"),
        pytest.param("+1", id="plus-sign"),
        pytest.param("1e2", id="exponent"),
        pytest.param("\u0662", id="arabic-indic-two"),
        pytest.param("\uff12", id="fullwidth-two"),
    ],
)
@pytest.mark.parametrize(("kind", "base"), PARENTS)
def test_query_page_not_a_positive_integer_is_400(
    shared: Shared, kind: str, base: str, page: str
) -> None:
    assert_bad_page(small(shared).get(base, query={"page": page}))


@pytest.mark.parametrize("how", ["path", "query"])
def test_huge_page_number_is_an_empty_page(shared: Shared, how: str) -> None:
    api = paged(shared, 120)
    huge = "1" + "0" * 29
    r = api.get(f"{PROJECT}/{huge}") if how == "path" else api.get(PROJECT, query={"page": huge})
    assert r.status == 200
    assert r.json == EMPTY
    # Thirty digits that are mostly leading zeros still name page 2.
    padded = "0" * 29 + "2"
    if how == "path":
        r = api.get(f"{PROJECT}/{padded}")
    else:
        r = api.get(PROJECT, query={"page": padded})
    assert r.status == 200
    assert r.raw == api.get(PROJECT + "/2").raw


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/projects/999/timeEntries", id="project"),
        pytest.param("/projects/999/timeEntries/2", id="project-path-page"),
        pytest.param("/projects/999/timeEntries?page=2", id="project-query-page"),
        pytest.param("/projects/0/timeEntries", id="project-0"),
        pytest.param("/projects/41/timeEntries", id="project-named-by-a-contact-id"),
        pytest.param("/contacts/999/timeEntries", id="contact"),
        pytest.param("/contacts/999/timeEntries/1", id="contact-path-page"),
        pytest.param("/contacts/51/timeEntries", id="contact-named-by-a-project-id"),
        pytest.param("/tasks/999/timeEntries", id="task"),
        pytest.param("/tasks/51/timeEntries", id="task-named-by-a-project-id"),
        pytest.param("/v1/tasks/999/timeEntries", id="v1-task"),
    ],
)
def test_unknown_parent_is_404(shared: Shared, path: str) -> None:
    r = small(shared).get(path)
    assert r.status == 404
    assert r.json["error"]["status"] == 404


# --- what the listings include ---------------------------------------------


def test_project_listing_includes_time_on_its_tasks(api: Api) -> None:
    new = create(api, "/tasks/61/timeEntries", date="2012-07-06")
    assert new == "81"
    listed = api.get(PROJECT)
    assert ids(listed) == ["81", "80", "71", "72", "79"]
    first = listed.json["time-entries"][0]
    assert (first["project-id"], first["task-id"], first["contact-id"]) == ("51", "61", None)
    assert ids(api.get("/tasks/61/timeEntries")) == ["81", "71"]


def test_contact_listing_includes_time_on_its_tasks(api: Api) -> None:
    new = create(api, "/tasks/62/timeEntries", date="2012-06-30")
    assert new == "81"
    listed = api.get(CONTACT)
    assert ids(listed) == ["75", "81"]
    last = listed.json["time-entries"][1]
    assert (last["project-id"], last["task-id"], last["contact-id"]) == (None, "62", "41")
    assert ids(api.get(PROJECT)) == ["80", "71", "72", "79"]


def task_doc(count: int) -> dict[str, Any]:
    """Return a document with ``count`` entries on task 61 (and so on project 51)."""
    doc = entries_doc(count)
    for entry in doc["time-entries"]:
        entry["task-id"] = "61"
    return doc


def test_task_listing_has_no_pages(shared: Shared) -> None:
    doc = task_doc(120)
    api = shared("task-120", lambda: doc)
    r = api.get("/tasks/61/timeEntries")
    assert r.status == 200
    assert list(r.json) == ["time-entries"]
    assert ids(r) == ordered(doc, task="61")
    assert len(ids(r)) == 120
    # The same entries are paged in their project's listing.
    assert api.get(PROJECT).json["continued-at"] == PROJECT + "/2"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param([("page", "2")], id="page-2"),
        pytest.param([("page", "3")], id="page-3"),
        pytest.param([("page", "0")], id="page-0"),
        pytest.param([("page", "abc")], id="page-abc"),
        # Judgement call, see the report: "a page query parameter is ignored" is read
        # as covering a repeated one, as where a path page is given.
        pytest.param([("page", "1"), ("page", "2")], id="page-repeated"),
    ],
)
def test_task_listing_ignores_page_query(
    shared: Shared, query: list[tuple[str, str]]
) -> None:
    api = shared("task-55", lambda: task_doc(55))
    plain = api.get("/tasks/61/timeEntries")
    r = api.get("/tasks/61/timeEntries", query=query)
    assert r.status == 200
    assert r.raw == plain.raw


@pytest.mark.parametrize("page", ["1", "2", "0"])
def test_task_listing_has_no_page_route(shared: Shared, page: str) -> None:
    r = small(shared).get(f"/tasks/61/timeEntries/{page}")
    assert r.status == 404
    assert r.json["error"]["status"] == 404


# --- listings follow the writes ---------------------------------------------


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        pytest.param("2012-07-05", ["81", "80", "71", "72", "79"], id="same-date-larger-id"),
        pytest.param("2012-07-04", ["80", "71", "81", "72", "79"], id="between"),
        pytest.param("2011-01-01", ["80", "71", "72", "79", "81"], id="oldest"),
    ],
)
def test_created_entry_takes_its_place(api: Api, date: str, expected: list[str]) -> None:
    assert create(api, PROJECT, date=date) == "81"
    assert ids(api.get(PROJECT)) == expected


def test_deleted_entry_disappears(api: Api) -> None:
    assert api.delete("/timeEntries/71").status == 200
    assert ids(api.get(PROJECT)) == ["80", "72", "79"]
    assert ids(api.get("/tasks/61/timeEntries")) == []
    assert api.delete("/timeEntries/75").status == 200
    assert ids(api.get(CONTACT)) == []
    assert ids(api.get("/tasks/62/timeEntries")) == []


def test_date_update_moves_the_entry(api: Api) -> None:
    assert api.put("/timeEntries/79", {"time-entry": {"date": "2012-07-05"}}).status == 200
    assert ids(api.get(PROJECT)) == ["80", "79", "71", "72"]
    assert api.put("/timeEntries/80", {"time-entry": {"date": "2011-01-01"}}).status == 200
    assert ids(api.get(PROJECT)) == ["79", "71", "72", "80"]


def test_writes_move_the_page_boundaries(api_of: ApiOf) -> None:
    doc = entries_doc(100)
    api = api_of(doc)
    before = [api.get(f"{PROJECT}/{n}").raw for n in (1, 2, 3)]
    expected = ordered(doc, project="51")

    new = create(api, PROJECT, date="2012-07-31")
    assert new == "1100"
    first, second, third = (api.get(f"{PROJECT}/{n}") for n in (1, 2, 3))
    assert ids(first) == [new, *expected[:49]]
    assert ids(second) == expected[49:99]
    assert second.json["continued-at"] == PROJECT + "/3"
    assert ids(third) == expected[99:]
    assert list(third.json) == ["time-entries"]

    # Moved to the oldest date, the new entry ends the listing instead.
    assert api.put(f"/timeEntries/{new}", {"time-entry": {"date": "2000-01-01"}}).status == 200
    assert ids(api.get(PROJECT)) == expected[:50]
    assert ids(api.get(f"{PROJECT}/3")) == [new]

    assert api.delete(f"/timeEntries/{new}").status == 200
    assert [api.get(f"{PROJECT}/{n}").raw for n in (1, 2, 3)] == before
