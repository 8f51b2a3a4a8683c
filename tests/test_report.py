"""Contract tests for the report, ``GET /report/timeEntries``.

Covers every parameter of the seed's table (the ``include_*`` kinds, the id
filters, ``from``/``to`` in every accepted form, ``with_totals``), the window's
defaults and six-month limit, the order of the entries, the exact types of the
totals, and the 400s for bad, unknown and repeated parameters.

Expected results are stated by hand from ``fixtures/small.json`` with the clock at
2012-07-31. Its entries, newest first (kind, user, company, seconds, billable):

    78  2012-07-10  personal        user 11  -             300  unset
    80  2012-07-05  project 51      user 12  company 31    600  unset
    71  2012-07-05  project 51/61   user 11  company 31   3600  billable
    72  2012-07-04  project 51      user 12  company 31   1800  billed
    75  2012-07-01  contact 41/62   user 11  company 31    600  billable
    73  2012-06-20  project 52      user 11  company 32   7200  unset
    76  2012-06-01  case 42         user 12  company 31   1200  unset
    74  2012-05-02  project 53      user 12  -             900  not billable
    77  2012-03-15  deal 43         user 11  company 32   2400  billed
    79  2011-12-15  project 51      user 11  company 31   5400  billable
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Api, Result, make_api, small_doc

REPORT = "/report/timeEntries"
# Every kind switched on, so that date tests see all ten entries.
ALL_KINDS = {
    "include_personal": "1",
    "include_contacts": "1",
    "include_cases": "1",
    "include_deals": "1",
}
# The default report: project entries of 2012-01-31..2012-07-31 (79 is too old).
DEFAULT_IDS = ["80", "71", "72", "73", "74"]
# All kinds in the default window.
ALL_IDS = ["78", "80", "71", "72", "75", "73", "76", "74", "77"]
DEFAULT_TOTALS = {
    "number-of-entries": 5,
    "sum-of-seconds": 14100,
    "sum-of-unset-seconds": "7800",
    "sum-of-billable-seconds": "3600",
    "sum-of-non-billable-seconds": "900",
    "sum-of-billed-seconds": "1800",
}
FLAGS = [
    "include_personal",
    "include_projects",
    "include_contacts",
    "include_cases",
    "include_deals",
    "with_totals",
]


def report(api: Api, query: Any = None) -> Result:
    """Ask for the report with the given query parameters."""
    return api.get(REPORT, query=query)


def ids(result: Result) -> list[str]:
    """Return the ids of a successful report, in the order given."""
    assert result.status == 200, result
    return [e["id"] for e in result.json["time-entries"]]


def assert_bad_param(result: Result, field: str) -> None:
    """Assert a 400 in the contract's error shape whose details name ``field``."""
    assert result.status == 400, result
    error = result.json["error"]
    assert error["status"] == 400
    assert field in [d["field"] for d in error["details"]], error


def freeze(api: Api, day: datetime.date) -> None:
    api.fake.clock.freeze(day)


# --- the default report and totals ------------------------------------------


def test_default_report_is_project_entries_of_the_last_six_months(api: Api) -> None:
    r = report(api)
    assert ids(r) == DEFAULT_IDS
    assert "totals" not in r.json
    assert set(r.json) == {"time-entries"}


def test_default_report_returns_full_records(api: Api) -> None:
    # The report shows entries exactly as GET /timeEntries/{id} does.
    r = report(api)
    first = r.json["time-entries"][0]
    assert first == api.get("/timeEntries/80").json["time-entry"]
    assert first["project-id"] == "51"
    assert first["seconds"] == "600"


def test_report_answers_under_v1_too(api: Api) -> None:
    r = api.get("/v1" + REPORT, query={"with_totals": "1"})
    assert ids(r) == DEFAULT_IDS
    assert r.json["totals"] == DEFAULT_TOTALS


def test_default_totals_are_exact_and_typed_as_documented(api: Api) -> None:
    r = report(api, {"with_totals": "1"})
    assert ids(r) == DEFAULT_IDS
    totals = r.json["totals"]
    assert totals == DEFAULT_TOTALS
    assert list(totals) == list(DEFAULT_TOTALS)
    assert type(totals["number-of-entries"]) is int
    assert type(totals["sum-of-seconds"]) is int
    for key in (
        "sum-of-unset-seconds",
        "sum-of-billable-seconds",
        "sum-of-non-billable-seconds",
        "sum-of-billed-seconds",
    ):
        assert type(totals[key]) is str


def test_zero_sums_are_the_integer_zero(api: Api) -> None:
    # Only the personal entry 78 (300 s, unset): three of the four sums are zero.
    r = report(api, {"include_projects": "0", "include_personal": "1", "with_totals": "1"})
    assert ids(r) == ["78"]
    totals = r.json["totals"]
    assert totals == {
        "number-of-entries": 1,
        "sum-of-seconds": 300,
        "sum-of-unset-seconds": "300",
        "sum-of-billable-seconds": 0,
        "sum-of-non-billable-seconds": 0,
        "sum-of-billed-seconds": 0,
    }
    for key in ("sum-of-billable-seconds", "sum-of-non-billable-seconds", "sum-of-billed-seconds"):
        assert type(totals[key]) is int, key
    assert b'"sum-of-billed-seconds":0' in r.raw.replace(b" ", b"")


def test_totals_of_an_empty_report_are_all_zero_integers(api: Api) -> None:
    r = report(api, {"user_id": "99", "with_totals": "1"})
    assert ids(r) == []
    totals = r.json["totals"]
    assert totals == dict.fromkeys(DEFAULT_TOTALS, 0)
    assert all(type(v) is int for v in totals.values())


def _summed(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum returned entries the way the contract types the totals."""
    by_kind = dict.fromkeys(("unset", "billable", "not billable", "billed"), 0)
    for e in entries:
        by_kind[e["billable"]] += int(e["seconds"])

    def typed(n: int) -> int | str:
        return str(n) if n else 0

    return {
        "number-of-entries": len(entries),
        "sum-of-seconds": sum(by_kind.values()),
        "sum-of-unset-seconds": typed(by_kind["unset"]),
        "sum-of-billable-seconds": typed(by_kind["billable"]),
        "sum-of-non-billable-seconds": typed(by_kind["not billable"]),
        "sum-of-billed-seconds": typed(by_kind["billed"]),
    }


@pytest.mark.parametrize(
    ("query", "expected_ids"),
    [
        pytest.param({}, DEFAULT_IDS, id="default"),
        pytest.param(ALL_KINDS, ALL_IDS, id="all-kinds"),
        pytest.param({**ALL_KINDS, "user_id": "11"}, ["78", "71", "75", "73", "77"], id="user-11"),
        pytest.param(
            {"company_id": "31", "include_contacts": "1", "include_cases": "1"},
            ["80", "71", "72", "75", "76"],
            id="company-31-contacts-cases",
        ),
        pytest.param({"company_id": "32", "include_deals": "1"}, ["73", "77"], id="company-32"),
        pytest.param(
            {**ALL_KINDS, "from": "20120601", "to": "20120704"},
            ["72", "75", "73", "76"],
            id="narrow-window",
        ),
        pytest.param({"project_id": "51", "user_id": "12"}, ["80", "72"], id="project-and-user"),
        pytest.param(
            {"from": "20111215", "to": "20120615"}, ["74", "79"], id="old-window-with-79"
        ),
        pytest.param({"task_id": "61"}, ["71"], id="task-61"),
    ],
)
def test_totals_cover_exactly_the_returned_entries(
    api: Api, query: dict[str, str], expected_ids: list[str]
) -> None:
    r = report(api, {**query, "with_totals": "1"})
    assert ids(r) == expected_ids
    assert r.json["totals"] == _summed(r.json["time-entries"])


# --- booleans ----------------------------------------------------------------

TRUE_SPELLINGS = ["1", "true", "yes", "on", "TRUE", "Yes", "On", "tRuE"]
FALSE_SPELLINGS = ["0", "false", "no", "off", "", "FALSE", "No", "OFF"]
SPELLINGS = [pytest.param(s, True, id=f"true-{s}") for s in TRUE_SPELLINGS] + [
    pytest.param(s, False, id=f"false-{s or 'empty'}") for s in FALSE_SPELLINGS
]


@pytest.mark.parametrize(("spelling", "value"), SPELLINGS)
def test_with_totals_spellings(api: Api, spelling: str, value: bool) -> None:
    r = report(api, {"with_totals": spelling})
    assert ids(r) == DEFAULT_IDS
    if value:
        assert r.json["totals"] == DEFAULT_TOTALS
    else:
        assert "totals" not in r.json


def test_with_totals_without_a_value_is_false(api: Api) -> None:
    # "?with_totals" carries the empty string, which the contract reads as false.
    r = api.get(REPORT + "?with_totals")
    assert ids(r) == DEFAULT_IDS
    assert "totals" not in r.json


@pytest.mark.parametrize(("spelling", "value"), SPELLINGS)
def test_include_personal_spellings(api: Api, spelling: str, value: bool) -> None:
    expected = ["78", *DEFAULT_IDS] if value else DEFAULT_IDS
    assert ids(report(api, {"include_personal": spelling})) == expected


@pytest.mark.parametrize(("spelling", "value"), SPELLINGS)
def test_include_projects_spellings(api: Api, spelling: str, value: bool) -> None:
    assert ids(report(api, {"include_projects": spelling})) == (DEFAULT_IDS if value else [])


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("bad", ["maybe", "2", "-1", "truee", "y"])
def test_bad_boolean_is_400_naming_the_parameter(api: Api, flag: str, bad: str) -> None:
    assert_bad_param(report(api, {flag: bad}), flag)


# --- kinds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"include_personal": "1"}, ["78", *DEFAULT_IDS], id="personal"),
        pytest.param(
            {"include_contacts": "1"}, ["80", "71", "72", "75", "73", "74"], id="contacts"
        ),
        pytest.param({"include_cases": "1"}, ["80", "71", "72", "73", "76", "74"], id="cases"),
        pytest.param({"include_deals": "1"}, [*DEFAULT_IDS, "77"], id="deals"),
        pytest.param({"include_projects": "1"}, DEFAULT_IDS, id="projects-explicit"),
        pytest.param({"include_projects": "0"}, [], id="no-projects"),
        pytest.param({"include_projects": "0", "include_personal": "1"}, ["78"], id="only-personal"),
        pytest.param({"include_projects": "0", "include_contacts": "1"}, ["75"], id="only-contacts"),
        pytest.param({"include_projects": "0", "include_cases": "1"}, ["76"], id="only-cases"),
        pytest.param({"include_projects": "0", "include_deals": "1"}, ["77"], id="only-deals"),
        pytest.param(
            {"include_personal": "1", "include_deals": "1"},
            ["78", *DEFAULT_IDS, "77"],
            id="personal-and-deals",
        ),
        pytest.param(
            {"include_contacts": "1", "include_cases": "1"},
            ["80", "71", "72", "75", "73", "76", "74"],
            id="contacts-and-cases",
        ),
        pytest.param(ALL_KINDS, ALL_IDS, id="all"),
        pytest.param(
            {**ALL_KINDS, "include_projects": "0"}, ["78", "75", "76", "77"], id="all-but-projects"
        ),
        pytest.param(
            {"include_personal": "0", "include_contacts": "0", "include_cases": "0",
             "include_deals": "0", "include_projects": "1"},
            DEFAULT_IDS,
            id="explicit-defaults",
        ),
    ],
)
def test_include_flags_choose_kinds(api: Api, query: dict[str, str], expected: list[str]) -> None:
    assert ids(report(api, query)) == expected


def test_contact_entry_on_a_contact_task_counts_as_contact(api: Api) -> None:
    # 75 hangs on task 62, which is on contact 41: a contact entry, not a project one.
    assert "75" not in ids(report(api, {"task_id": "62"}))
    assert ids(report(api, {"task_id": "62", "include_contacts": "1"})) == ["75"]
    assert ids(report(api, {"task_id": "62", "include_cases": "1", "include_deals": "1"})) == []


# --- id filters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"user_id": "11"}, ["71", "73"], id="user-11"),
        pytest.param({"user_id": "12"}, ["80", "72", "74"], id="user-12"),
        pytest.param({"user_id": "11", **ALL_KINDS}, ["78", "71", "75", "73", "77"],
                     id="user-11-all-kinds"),
        pytest.param({"user_id": "12", **ALL_KINDS}, ["80", "72", "76", "74"],
                     id="user-12-all-kinds"),
        pytest.param({"company_id": "31"}, ["80", "71", "72"], id="company-31"),
        pytest.param({"company_id": "31", "include_contacts": "1"}, ["80", "71", "72", "75"],
                     id="company-31-contacts"),
        pytest.param({"company_id": "31", "include_cases": "1"}, ["80", "71", "72", "76"],
                     id="company-31-cases"),
        # The personal entry and deal 43 (company 32) stay out of company 31.
        pytest.param({"company_id": "31", **ALL_KINDS}, ["80", "71", "72", "75", "76"],
                     id="company-31-all-kinds"),
        pytest.param({"company_id": "32"}, ["73"], id="company-32"),
        pytest.param({"company_id": "32", "include_deals": "1"}, ["73", "77"],
                     id="company-32-deals"),
        pytest.param({"company_id": "32", **ALL_KINDS}, ["73", "77"], id="company-32-all-kinds"),
        pytest.param({"task_id": "61"}, ["71"], id="task-61"),
        pytest.param({"task_id": "62"}, [], id="task-62-contact-kind-excluded"),
        pytest.param({"task_id": "62", "include_contacts": "1"}, ["75"], id="task-62-contacts"),
        pytest.param({"project_id": "51"}, ["80", "71", "72"], id="project-51"),
        pytest.param({"project_id": "52"}, ["73"], id="project-52"),
        pytest.param({"project_id": "53"}, ["74"], id="project-53"),
        pytest.param({"project_id": "51", **ALL_KINDS}, ["80", "71", "72"],
                     id="project-51-all-kinds"),
        # Combined filters all apply.
        pytest.param({"project_id": "51", "user_id": "12"}, ["80", "72"], id="project-and-user"),
        pytest.param({"company_id": "31", "user_id": "11"}, ["71"], id="company-and-user"),
        pytest.param({"company_id": "31", "user_id": "11", "include_contacts": "1"},
                     ["71", "75"], id="company-user-contacts"),
        pytest.param({"task_id": "61", "user_id": "11", "project_id": "51", "company_id": "31"},
                     ["71"], id="all-four-agree"),
        pytest.param({"task_id": "61", "user_id": "12"}, [], id="task-and-other-user"),
        pytest.param({"project_id": "52", "company_id": "31"}, [], id="project-other-company"),
        pytest.param({"project_id": "51", "from": "20111201", "to": "20120531"}, ["79"],
                     id="project-51-old-window"),
        # Leading zeros: ids are read as numbers, as everywhere else in the API.
        pytest.param({"user_id": "011"}, ["71", "73"], id="leading-zero"),
    ],
)
def test_id_filters(api: Api, query: dict[str, str], expected: list[str]) -> None:
    assert ids(report(api, query)) == expected


@pytest.mark.parametrize("name", ["user_id", "company_id", "task_id", "project_id"])
@pytest.mark.parametrize("value", ["99", "0", "21", "999999999999999999999999"])
def test_id_filter_naming_nothing_is_an_empty_result(api: Api, name: str, value: str) -> None:
    # 21 is a time category: an id of another collection names no user/company/task/project.
    r = report(api, {name: value, **ALL_KINDS, "with_totals": "1"})
    assert ids(r) == []
    assert r.json["totals"]["number-of-entries"] == 0


@pytest.mark.parametrize("name", ["user_id", "company_id", "task_id", "project_id"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("abc", id="letters"),
        pytest.param("", id="empty"),
        pytest.param("1a", id="trailing-letter"),
        pytest.param("-1", id="negative"),
        pytest.param("1.0", id="decimal"),
        pytest.param(" 11", id="leading-space"),
        pytest.param("\u0661\u0661", id="arabic-indic-digits"),
    ],
)
def test_id_filter_not_digits_is_400(api: Api, name: str, value: str) -> None:
    assert_bad_param(report(api, {name: value}), name)


# --- parameters in general ----------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param([("foo", "1")], "foo", id="unknown"),
        pytest.param([("page", "1")], "page", id="page-is-no-report-parameter"),
        pytest.param([("Include_Personal", "1")], "Include_Personal", id="name-case"),
        pytest.param([("with-totals", "1")], "with-totals", id="hyphen-for-underscore"),
        pytest.param([("include_personal", "1"), ("include_personal", "1")], "include_personal",
                     id="repeated-flag-same-value"),
        pytest.param([("from", "20120701"), ("from", "20120702")], "from", id="repeated-from"),
        pytest.param([("user_id", "11"), ("user_id", "12")], "user_id", id="repeated-user"),
        pytest.param([("with_totals", "1"), ("with_totals", "0")], "with_totals",
                     id="repeated-totals"),
    ],
)
def test_unknown_and_repeated_parameters_are_400(
    api: Api, query: list[tuple[str, str]], field: str
) -> None:
    assert_bad_param(report(api, query), field)


def test_report_changes_nothing(api: Api) -> None:
    before = api.dump()
    report(api, {**ALL_KINDS, "with_totals": "1"})
    report(api, {"from": "garbage"})
    assert api.dump() == before


# --- order ---------------------------------------------------------------------


def test_order_is_date_then_id_descending(api: Api) -> None:
    # 80 and 71 share 2012-07-05: the larger id first.
    assert ids(report(api, ALL_KINDS)) == ALL_IDS


@pytest.fixture(params=["client", "socket"])
def order_api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An Api whose entries share a date and have ids of different lengths."""
    doc = small_doc()
    doc["time-entries"] = [
        {"id": i, "user-id": "11", "project-id": "51", "date": d, "seconds": "60"}
        for i, d in [("9", "2012-07-05"), ("100", "2012-07-05"), ("10", "2012-07-05"),
                     ("8", "2012-07-06"), ("1000", "2012-07-04")]
    ]
    yield from make_api(request, doc)


def test_id_order_is_numeric(order_api: Api) -> None:
    # As strings, "9" > "100" > "10"; numerically 100 > 10 > 9.
    assert ids(report(order_api)) == ["8", "100", "10", "9", "1000"]


# --- dates: every accepted form ------------------------------------------------

D = datetime.date


@pytest.mark.parametrize(
    ("today", "start", "end", "expected"),
    [
        pytest.param(D(2012, 7, 31), "20120704", "20120705", ["80", "71", "72"], id="yyyymmdd"),
        pytest.param(D(2012, 7, 31), "2012-07-04", "2012-07-05", ["80", "71", "72"], id="iso"),
        pytest.param(D(2012, 7, 5), "today", "today", ["80", "71"], id="today"),
        pytest.param(D(2012, 7, 5), "now", "now", ["80", "71"], id="now"),
        pytest.param(D(2012, 7, 5), "yesterday", "yesterday", ["72"], id="yesterday"),
        pytest.param(D(2012, 7, 9), "tomorrow", "tomorrow", ["78"], id="tomorrow"),
        pytest.param(D(2012, 7, 5), "yesterday", "today", ["80", "71", "72"], id="mixed-words"),
        pytest.param(D(2012, 7, 3), "+1 day", "+2 days", ["80", "71", "72"], id="plus-days"),
        pytest.param(D(2012, 6, 27), "+1 week", "+1 week", ["72"], id="plus-week"),
        pytest.param(D(2012, 6, 20), "+2 weeks", "+2 weeks", ["72"], id="plus-weeks"),
        pytest.param(D(2012, 6, 4), "+1 month", "+1 month", ["72"], id="plus-month"),
        pytest.param(D(2012, 5, 4), "+2 months", "+2 months", ["72"], id="plus-months"),
        pytest.param(D(2011, 7, 4), "+1 year", "+1 year", ["72"], id="plus-year"),
        pytest.param(D(2010, 7, 4), "+2 years", "+2 years", ["72"], id="plus-years"),
        pytest.param(D(2012, 7, 5), "-1 day", "-1 day", ["72"], id="minus-day"),
        pytest.param(D(2012, 7, 6), "-2 days", "-1 day", ["80", "71", "72"], id="minus-days"),
        pytest.param(D(2012, 7, 18), "-2 weeks", "-2 weeks", ["72"], id="minus-weeks"),
        pytest.param(D(2012, 8, 4), "-1 month", "-1 month", ["72"], id="minus-month"),
        pytest.param(D(2014, 7, 4), "-2 years", "-2 years", ["72"], id="minus-years"),
        pytest.param(D(2012, 7, 5), "1 day ago", "1 day ago", ["72"], id="day-ago"),
        pytest.param(D(2012, 7, 7), "3 days ago", "2 days ago", ["80", "71", "72"],
                     id="days-ago"),
        pytest.param(D(2012, 7, 18), "2 weeks ago", "2 weeks ago", ["72"], id="weeks-ago"),
        pytest.param(D(2012, 8, 4), "1 month ago", "1 month ago", ["72"], id="month-ago"),
        pytest.param(D(2012, 9, 4), "2 months ago", "2 months ago", ["72"], id="months-ago"),
        pytest.param(D(2013, 7, 4), "1 year ago", "1 year ago", ["72"], id="year-ago"),
        # 1341360000 is 2012-07-04 00:00:00 UTC; 1341446400 is 2012-07-05 00:00:00 UTC.
        pytest.param(D(2012, 7, 31), "@1341360000", "@1341446400", ["80", "71", "72"],
                     id="unixtime"),
        pytest.param(D(2012, 7, 31), "@1341446399", "@1341446399", ["72"],
                     id="unixtime-last-second-of-day"),
        # Read as DD/MM these would be 7 April: nothing.
        pytest.param(D(2012, 7, 31), "07/04/2012", "07/04/2012", ["72"], id="american-slashes"),
        pytest.param(D(2012, 7, 31), "07/04/2012", "07/05/2012", ["80", "71", "72"],
                     id="american-window"),
        pytest.param(D(2012, 7, 31), "04-07-2012", "04-07-2012", ["72"], id="european-dashes"),
        pytest.param(D(2012, 7, 31), "04.07.2012", "05.07.2012", ["80", "71", "72"],
                     id="european-dots"),
        pytest.param(D(2012, 7, 31), "5 July 2012", "5 July 2012", ["80", "71"],
                     id="day-month-name-year"),
        pytest.param(D(2012, 7, 31), "July 5, 2012", "July 5, 2012", ["80", "71"],
                     id="month-name-day-comma-year"),
        pytest.param(D(2012, 7, 31), "1 July 2012", "July 4, 2012", ["72", "75"],
                     id="month-names-mixed"),
        # Words are case-insensitive.
        pytest.param(D(2012, 7, 5), "TODAY", "Today", ["80", "71"], id="upper-today"),
        pytest.param(D(2012, 7, 5), "YESTERDAY", "yesterday", ["72"], id="upper-yesterday"),
        pytest.param(D(2012, 7, 9), "Tomorrow", "TOMORROW", ["78"], id="upper-tomorrow"),
        pytest.param(D(2012, 7, 5), "NOW", "Now", ["80", "71"], id="upper-now"),
        pytest.param(D(2012, 7, 3), "+1 DAY", "+2 Days", ["80", "71", "72"], id="upper-units"),
        pytest.param(D(2012, 7, 7), "3 DAYS AGO", "2 Days Ago", ["80", "71", "72"],
                     id="upper-ago"),
        pytest.param(D(2012, 7, 31), "5 JULY 2012", "july 5, 2012", ["80", "71"],
                     id="month-name-case"),
    ],
)
def test_date_forms(
    api: Api, today: datetime.date, start: str, end: str, expected: list[str]
) -> None:
    freeze(api, today)
    assert ids(report(api, {**ALL_KINDS, "from": start, "to": end})) == expected


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("soon", id="word"),
        pytest.param("20120704x", id="trailing-garbage"),
        pytest.param("2012070", id="seven-digits"),
        pytest.param("31 Smarch 2012", id="unknown-month"),
        pytest.param("+ day", id="no-count"),
        # Impossible dates are refused, not rolled over.
        pytest.param("20120230", id="feb-30"),
        pytest.param("2012-02-30", id="iso-feb-30"),
        pytest.param("20121301", id="month-13"),
        pytest.param("02/30/2012", id="american-feb-30"),
        pytest.param("30.02.2012", id="dots-feb-30"),
        pytest.param("31-04-2012", id="dashes-april-31"),
        pytest.param("31 April 2012", id="name-april-31"),
        pytest.param("20110229", id="feb-29-not-leap"),
    ],
)
def test_bad_date_is_400_naming_the_parameter(api: Api, name: str, value: str) -> None:
    other = "to" if name == "from" else "from"
    # The other bound is valid and the window short, so only `name` can be at fault.
    query = {name: value, other: "20120705"}
    before = api.dump()
    assert_bad_param(report(api, query), name)
    assert api.dump() == before


def test_leap_day_is_a_real_date(api: Api) -> None:
    r = report(api, {**ALL_KINDS, "from": "20120229", "to": "20120315"})
    assert ids(r) == ["77"]


@pytest.mark.parametrize(
    ("query", "today"),
    [
        pytest.param({"from": "20120705", "to": "20120704"}, D(2012, 7, 31), id="explicit"),
        pytest.param({"from": "tomorrow"}, D(2012, 7, 31), id="from-tomorrow-to-default"),
        pytest.param({"to": "yesterday", "from": "today"}, D(2012, 7, 5), id="words"),
    ],
)
def test_from_after_to_is_400(api: Api, query: dict[str, str], today: datetime.date) -> None:
    freeze(api, today)
    r = report(api, query)
    assert r.status == 400
    assert r.json["error"]["status"] == 400
    fields = {d["field"] for d in r.json["error"]["details"]}
    assert fields & {"from", "to"}, r.json


def test_both_days_of_the_window_are_included(api: Api) -> None:
    # 72 is dated exactly `from`, 80 and 71 exactly `to`; 75 and 78 lie just outside.
    assert ids(report(api, {**ALL_KINDS, "from": "20120704", "to": "20120705"})) == [
        "80", "71", "72"
    ]
    # A one-day window.
    assert ids(report(api, {**ALL_KINDS, "from": "20120710", "to": "20120710"})) == ["78"]


def test_exactly_six_months_is_allowed(api: Api) -> None:
    assert ids(report(api, {**ALL_KINDS, "from": "20120131", "to": "20120731"})) == ALL_IDS


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"from": "20120130", "to": "20120731"}, id="one-day-too-long"),
        pytest.param({"from": "20120130"}, id="from-only-to-today"),
        pytest.param({"from": "20110101", "to": "20120731"}, id="year-and-a-half"),
        pytest.param({"from": "20111214", "to": "20120615"}, id="old-window"),
    ],
)
def test_window_longer_than_six_months_is_400(api: Api, query: dict[str, str]) -> None:
    r = report(api, query)
    assert r.status == 400
    assert r.json["error"]["status"] == 400
    text = r.json["error"]["message"] + " ".join(d["message"] for d in r.json["error"]["details"])
    assert "six months" in text.lower(), r.json


def test_only_from_given_ends_today(api: Api) -> None:
    assert ids(report(api, {**ALL_KINDS, "from": "20120705"})) == ["78", "80", "71"]
    # With today on 2012-07-08, 78 (2012-07-10) lies after the window.
    freeze(api, D(2012, 7, 8))
    assert ids(report(api, {**ALL_KINDS, "from": "20120704"})) == ["80", "71", "72"]


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        # Six months before 2012-06-15 is 2011-12-15, the day of 79.
        pytest.param("20120615", ["74", "79"], id="from-lands-on-79"),
        pytest.param("20120616", ["74"], id="from-just-after-79"),
        pytest.param("20120704", ["72", "73", "74"], id="july-4"),
    ],
)
def test_only_to_given_starts_six_months_before(api: Api, to: str, expected: list[str]) -> None:
    assert ids(report(api, {"to": to})) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        pytest.param(D(2012, 6, 15), ["74", "79"], id="2012-06-15"),
        pytest.param(D(2012, 6, 16), ["74"], id="2012-06-16"),
        pytest.param(D(2012, 7, 4), ["72", "73", "74"], id="2012-07-04"),
        pytest.param(D(2013, 7, 31), [], id="a-year-later"),
    ],
)
def test_clock_moves_the_default_window(
    api: Api, today: datetime.date, expected: list[str]
) -> None:
    freeze(api, today)
    assert ids(report(api)) == expected


def test_advancing_the_clock_moves_the_default_window(api: Api) -> None:
    freeze(api, D(2012, 6, 15))
    assert ids(report(api)) == ["74", "79"]
    api.fake.clock.advance(86_400)
    assert ids(report(api)) == ["74"]


# --- month-end clamping (data small.json lacks) ----------------------------------------


@pytest.fixture(params=["client", "socket"])
def month_end_api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An Api with project entries around the end of February and of August 2012."""
    doc = small_doc()
    doc["time-entries"] = [
        {"id": i, "user-id": "11", "project-id": "51", "date": d, "seconds": "60"}
        for i, d in [("101", "2012-02-28"), ("102", "2012-02-29"),
                     ("103", "2012-08-31"), ("104", "2012-09-01")]
    ]
    yield from make_api(request, doc, today=D(2012, 9, 30))


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        # Six months before 2012-08-31 is "2012-02-31", clamped to the 29th (leap year).
        pytest.param("20120831", ["103", "102"], id="to-aug-31"),
        pytest.param("20120830", ["102"], id="to-aug-30"),
        pytest.param("20120829", ["102"], id="to-aug-29"),
        pytest.param("20120828", ["102", "101"], id="to-aug-28"),
    ],
)
def test_default_from_is_clamped_to_month_end(
    month_end_api: Api, to: str, expected: list[str]
) -> None:
    assert ids(report(month_end_api, {"to": to})) == expected


def test_clamped_six_months_is_the_limit(month_end_api: Api) -> None:
    assert ids(report(month_end_api, {"from": "20120229", "to": "20120831"})) == ["103", "102"]
    r = report(month_end_api, {"from": "20120228", "to": "20120831"})
    assert r.status == 400
    assert "six months" in r.json["error"]["message"].lower()


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        pytest.param(D(2012, 8, 31), ["103", "102"], id="today-aug-31"),
        pytest.param(D(2012, 9, 1), ["104", "103"], id="today-sep-1"),
    ],
)
def test_default_window_clamped_on_the_clock(
    month_end_api: Api, today: datetime.date, expected: list[str]
) -> None:
    freeze(month_end_api, today)
    assert ids(report(month_end_api)) == expected
