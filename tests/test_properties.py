"""Properties of the domain, checked with hypothesis on a Fake through its test client.

- Paging: the pages of a listing, followed by ``continued-at`` (or asked for with
  ``?page=N``), concatenated, are exactly the full listing in its contract order
  (date descending, then id descending as numbers): no duplicate, no gap.
- The report: for any filters, the entries are exactly those the contract selects,
  in order, and the totals are the sums over the returned entries, typed as the
  vendor's example; a window the contract refuses is a 400.
- A rejected write (any body, any target) leaves the state dump unchanged and uses
  up no id.
"""

from __future__ import annotations

import calendar
import datetime
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from apollo_fake import fixtures
from apollo_fake.fake import Fake

from conftest import TODAY, small_doc

PAGE = 50
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BILLABLE = ("unset", "not billable", "billable", "billed")
# small.json: where each parent puts an entry (project-id, task-id, contact-id).
PARENTS = {
    "project-51": ("51", None, None),
    "project-52": ("52", None, None),
    "project-53": ("53", None, None),
    "task-61": ("51", "61", None),
    "task-62": (None, "62", "41"),
    "contact-41": (None, None, "41"),
    "case-42": (None, None, "42"),
    "deal-43": (None, None, "43"),
    "contact-44": (None, None, "44"),
    "personal": (None, None, None),
}
PROJECT_COMPANY = {"51": "31", "52": "32", "53": None}
CONTACT = {
    "41": ("contact", "31"),
    "42": ("case", "31"),
    "43": ("deal", "32"),
    "44": ("contact", None),
}
FIRST_DAY = datetime.date(2012, 1, 1)
# Ids of 1 to 13 digits, so that an order by text instead of by number shows.
ID_POOL = [
    *range(1, 70),
    *range(90, 130),
    *range(990, 1010),
    *range(99_990, 100_010),
    *range(10**12 - 40, 10**12 + 40),
]


def dates(first: datetime.date = FIRST_DAY, last: datetime.date = TODAY) -> Any:
    return st.integers(first.toordinal(), last.toordinal()).map(datetime.date.fromordinal)


@st.composite
def entries(draw: Any, parents: Any, min_size: int, max_size: int) -> list[dict[str, Any]]:
    """Draw entries with unique ids of mixed digit counts and few distinct dates (many ties)."""
    count = draw(st.integers(min_size, max_size))
    ids = draw(st.permutations(ID_POOL))[:count]
    days = draw(st.lists(dates(), min_size=1, max_size=6, unique=True))
    out = []
    for entry_id in ids:
        project, task, contact = PARENTS[draw(parents)]
        out.append(
            {
                "id": str(entry_id),
                "time-category-id": draw(st.sampled_from(["21", "22", None])),
                "user-id": draw(st.sampled_from(["11", "12"])),
                "project-id": project,
                "task-id": task,
                "contact-id": contact,
                "date": draw(st.sampled_from(days)).isoformat(),
                "seconds": str(draw(st.integers(0, 2**31 - 1))),
                "notes": "",
                "billable": draw(st.sampled_from(BILLABLE)),
            }
        )
    return out


def fake_with(entries: list[dict[str, Any]]) -> Fake:
    doc = small_doc()
    doc["time-entries"] = entries
    return Fake(doc, today=TODAY)


def ordered(entries: list[dict[str, Any]]) -> list[str]:
    """Return the ids in the contract's order: date descending, then id descending."""
    return [e["id"] for e in sorted(entries, key=lambda e: (e["date"], int(e["id"])), reverse=True)]


def get(fake: Fake, path: str) -> tuple[int, Any]:
    r = fake.client.get(path)
    assert r.mimetype == "application/json"
    return r.status_code, r.get_json()


# --- paging ------------------------------------------------------------------------


# Counts of entries on the listed parent around the page boundaries, and any other.
ON_PARENT = st.one_of(
    st.sampled_from([0, 1, 49, 50, 51, 99, 100, 101, 150, 151]), st.integers(0, 160)
)
LISTED = {
    # listing -> entries on it (directly or through its task), entries elsewhere
    "projects/51": (["project-51", "task-61"], ["project-52", "contact-41", "task-62", "personal"]),
    "contacts/41": (["contact-41", "task-62"], ["contact-44", "case-42", "project-51", "personal"]),
}


@st.composite
def listing_data(draw: Any) -> tuple[str, list[dict[str, Any]]]:
    """Draw a listing and entries: some number on it, a few elsewhere, ids all distinct."""
    listing = draw(st.sampled_from(sorted(LISTED)))
    on, off = LISTED[listing]
    count = draw(ON_PARENT)
    data = draw(entries(st.sampled_from(on), count, count))
    others = draw(entries(st.sampled_from(off), 0, 20))
    used = {e["id"] for e in data}
    return listing, data + [e for e in others if e["id"] not in used]


@SETTINGS
@given(drawn=listing_data())
def test_pages_concatenated_are_the_whole_listing(drawn: tuple[str, list[dict[str, Any]]]) -> None:
    listing, data = drawn
    fake = fake_with(data)
    field = "project-id" if listing.startswith("projects") else "contact-id"
    parent = listing.split("/")[1]
    want = ordered([e for e in data if e[field] == parent])
    event(f"{-(-len(want) // PAGE)} pages")
    base = f"/{listing}/timeEntries"

    seen: list[str] = []
    path: str | None = base
    number = 1
    while path is not None:
        status, body = get(fake, path)
        assert status == 200
        page = [e["id"] for e in body["time-entries"]]
        # Every way of naming the page gives the same page.
        for other in (f"{base}?page={number}", f"{base}/{number}", f"/v1{base}/{number}"):
            assert get(fake, other) == (200, body)
        path = body.get("continued-at")
        if path is not None:
            assert path == f"{base}/{number + 1}"
            assert len(page) == PAGE
        else:
            assert len(page) <= PAGE
        seen += page
        number += 1
    assert seen == want
    assert len(set(seen)) == len(seen)
    # Past the end: an empty page, and nothing to continue at.
    assert get(fake, f"{base}/{number}") == (200, {"time-entries": []})
    assert number == max(1, -(-len(want) // PAGE)) + 1


@SETTINGS
@given(data=entries(st.sampled_from(["task-61", "task-62", "project-51"]), 0, 120))
def test_a_task_listing_is_every_entry_of_the_task_in_order(data: list[dict[str, Any]]) -> None:
    fake = fake_with(data)
    for task in ("61", "62"):
        status, body = get(fake, f"/tasks/{task}/timeEntries")
        assert status == 200
        assert list(body) == ["time-entries"]
        assert [e["id"] for e in body["time-entries"]] == ordered(
            [e for e in data if e["task-id"] == task]
        )


# --- the report --------------------------------------------------------------------

TRUE = ["1", "true", "TRUE", "yes", "On"]
FALSE = ["0", "false", "No", "off", ""]


def six_months_before(day: datetime.date) -> datetime.date:
    """Return the same day six calendar months before, clamped to the month's end."""
    year, month = (day.year, day.month - 6) if day.month > 6 else (day.year - 1, day.month + 6)
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@st.composite
def report_queries(draw: Any) -> dict[str, str]:
    query: dict[str, str] = {}
    for flag in (
        "include_personal",
        "include_projects",
        "include_contacts",
        "include_cases",
        "include_deals",
        "with_totals",
    ):
        choice = draw(st.sampled_from(["absent", "true", "false"]))
        if choice != "absent":
            query[flag] = draw(st.sampled_from(TRUE if choice == "true" else FALSE))
    for name, values in (
        ("user_id", ["11", "12", "011", "99"]),
        ("project_id", ["51", "52", "53", "99"]),
        ("task_id", ["61", "62", "99"]),
        ("company_id", ["31", "32", "99"]),
    ):
        if draw(st.integers(0, 3)) == 0:
            query[name] = draw(st.sampled_from(values))
    for name in ("from", "to"):
        if draw(st.booleans()):
            day = draw(dates(datetime.date(2011, 10, 1), datetime.date(2012, 9, 30)))
            form = draw(st.sampled_from(["%Y%m%d", "%Y-%m-%d"]))
            query[name] = day.strftime(form)
    return query


def flag(query: dict[str, str], name: str, default: bool) -> bool:
    return query[name].lower() in ("1", "true", "yes", "on") if name in query else default


def day(text: str) -> datetime.date:
    return datetime.datetime.strptime(text.replace("-", ""), "%Y%m%d").date()


def selected(data: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    """Select the report's entries as the contract says, independently of the fake."""
    kinds = {
        "project": flag(query, "include_projects", True),
        "contact": flag(query, "include_contacts", False),
        "case": flag(query, "include_cases", False),
        "deal": flag(query, "include_deals", False),
        "personal": flag(query, "include_personal", False),
    }
    last = day(query["to"]) if "to" in query else TODAY
    first = day(query["from"]) if "from" in query else six_months_before(last)
    out = []
    for e in data:
        if e["project-id"] is not None:
            kind, company = "project", PROJECT_COMPANY[e["project-id"]]
        elif e["contact-id"] is not None:
            kind, company = CONTACT[e["contact-id"]]
        else:
            kind, company = "personal", None
        if not kinds[kind] or not first.isoformat() <= e["date"] <= last.isoformat():
            continue
        wanted = {
            "user_id": e["user-id"],
            "project_id": e["project-id"],
            "task_id": e["task-id"],
            "company_id": company,
        }
        if all(str(int(query[k])) == v for k, v in wanted.items() if k in query):
            out.append(e)
    return out


@SETTINGS
@given(data=entries(st.sampled_from(sorted(PARENTS)), 0, 80), query=report_queries())
def test_report_selects_as_the_contract_says_and_totals_are_its_sums(
    data: list[dict[str, Any]], query: dict[str, str]
) -> None:
    from urllib.parse import urlencode

    fake = fake_with(data)
    status, body = get(fake, "/report/timeEntries?" + urlencode(query))
    last = day(query["to"]) if "to" in query else TODAY
    first = day(query["from"]) if "from" in query else six_months_before(last)
    event(f"report -> {status}")
    if first > last or first < six_months_before(last):
        assert status == 400
        assert body["error"]["status"] == 400
        assert body["error"]["details"][0]["field"] == "from"
        return
    assert status == 200, body
    returned = body["time-entries"]
    event("entries returned" if returned else "nothing returned")
    assert [e["id"] for e in returned] == ordered(selected(data, query))
    by_id = {e["id"]: e for e in data}
    for e in returned:
        assert e == {**by_id[e["id"]], "created-at": e["created-at"], "updated-at": e["updated-at"]}
    if not flag(query, "with_totals", False):
        assert "totals" not in body
        return
    sums = dict.fromkeys(BILLABLE, 0)
    for e in returned:
        sums[e["billable"]] += int(e["seconds"])

    def documented(value: int) -> int | str:
        return str(value) if value else 0

    assert body["totals"] == {
        "number-of-entries": len(returned),
        "sum-of-seconds": sum(sums.values()),
        "sum-of-unset-seconds": documented(sums["unset"]),
        "sum-of-billable-seconds": documented(sums["billable"]),
        "sum-of-non-billable-seconds": documented(sums["not billable"]),
        "sum-of-billed-seconds": documented(sums["billed"]),
    }


# --- a rejected write changes nothing --------------------------------------------------

WRITE_FAKE = Fake(small_doc(), today=TODAY)
LOADED = fixtures.dumps(WRITE_FAKE.state())
FIELDS = ["seconds", "date", "category-id", "user-id", "notes", "billable", "time-category-id"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["60", "-1", "2012-02-30", "2012-07-05", "21", "011", "billable", "0"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
time_entry = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=5)
VALID = {
    "seconds": st.sampled_from(["0", "60", 3600, 2**31 - 1]),
    "date": st.sampled_from(["2012-07-05", "2012-02-29", "2000-01-01"]),
    "category-id": st.sampled_from(["21", "022", 22, None]),
    "user-id": st.sampled_from(["11", "012", 12]),
    "notes": st.text(max_size=20),
    "billable": st.sampled_from(BILLABLE),
}
BAD = {
    "seconds": st.sampled_from(["-1", "1.5", " 60", 2**31, True, None, "", "0x10"]),
    "date": st.sampled_from(["2012-02-30", "2011-02-29", "2012-7-5", "", None, 20120705]),
    "category-id": st.sampled_from(["99", "abc", "", True, -21, 21.5]),
    "user-id": st.sampled_from(["99", None, "", "1e1", [11]]),
    "notes": st.sampled_from([None, 5, ["x"], "x" * 65536]),
    "billable": st.sampled_from(["Billable", "yes", "", None, 1]),
    "time-category-id": st.sampled_from(["21"]),
    "task-id": st.sampled_from(["61"]),
}


@st.composite
def nearly_valid(draw: Any) -> dict[str, Any]:
    """Draw a valid time-entry request, then spoil one field of it, or none."""
    fields = {k: draw(v) for k, v in VALID.items() if k == "seconds" or draw(st.booleans())}
    spoiled = draw(st.sampled_from([None, *BAD]))
    if spoiled is not None:
        fields[spoiled] = draw(BAD[spoiled])
    return {"time-entry": fields}


bodies = st.one_of(
    nearly_valid(),
    st.builds(lambda fields: {"time-entry": fields}, time_entry),
    st.builds(
        lambda fields, extra: {"time-entry": fields, **extra},
        time_entry,
        st.dictionaries(st.text(max_size=6), json_values, max_size=2),
    ),
    json_values,
)
targets = st.sampled_from(
    [
        ("POST", "/projects/51/timeEntries"),
        ("POST", "/tasks/62/timeEntries"),
        ("POST", "/contacts/43/timeEntries"),
        ("POST", "/projects/99/timeEntries"),
        ("PUT", "/timeEntries/71"),
        ("PUT", "/timeEntries/0071"),
        ("PUT", "/timeEntries/999"),
        ("DELETE", "/timeEntries/999"),
        ("PATCH", "/timeEntries/71"),
    ]
)


@settings(SETTINGS, max_examples=300)
@given(target=targets, body=bodies, raw=st.booleans())
def test_a_rejected_write_leaves_the_state_unchanged(
    target: tuple[str, str], body: Any, raw: bool
) -> None:
    import json

    fake = WRITE_FAKE
    fake.reset()
    method, path = target
    payload = json.dumps(body).encode()
    if raw:  # the same body, cut short: no longer JSON
        payload = payload[: max(0, len(payload) - 1)]
    with fake.expect_errors():
        r = fake.client.open(path, method=method, data=payload)
    assert r.mimetype == "application/json"
    event(f"{method} -> {r.status_code}")
    if r.status_code < 400:
        assert r.status_code in (200, 201)
        return
    assert r.status_code in (400, 404, 405, 422), r.get_data()
    error = r.get_json()["error"]
    assert list(error) == ["status", "message", "details"]
    assert error["status"] == r.status_code
    assert fixtures.dumps(fake.state()) == LOADED
    # And no id was used up: the next create gets the next id.
    created = fake.client.post("/projects/51/timeEntries", json={"time-entry": {"seconds": 1}})
    assert created.get_json() == {"time-entry-id": "81"}
