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

Each test runs through the test client and over a socket; a socket test costs a
server start, so closely related cases share one test that checks them all and
reports every case that fails, by name.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from conftest import Api, Result, make_api, small_doc

REPORT = "/report/timeEntries"
D = datetime.date
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
SUMS = (
    "sum-of-unset-seconds",
    "sum-of-billable-seconds",
    "sum-of-non-billable-seconds",
    "sum-of-billed-seconds",
)
FLAGS = [
    "include_personal",
    "include_projects",
    "include_contacts",
    "include_cases",
    "include_deals",
    "with_totals",
]
ID_FILTERS = ["user_id", "company_id", "task_id", "project_id"]


def report(api: Api, query: Any = None) -> Result:
    """Ask for the report with the given query parameters."""
    return api.get(REPORT, query=query)


def ids(result: Result) -> list[str]:
    """Return the ids of a successful report, in the order given."""
    assert result.status == 200, result
    return [e["id"] for e in result.json["time-entries"]]


def outcome(result: Result) -> Any:
    """Return a report's ids, or its status and error when it failed."""
    if result.status == 200:
        return [e["id"] for e in result.json["time-entries"]]
    return (result.status, result.json)


def assert_bad_param(result: Result, field: str) -> None:
    """Assert a 400 in the contract's error shape whose details name ``field``."""
    assert bad_param_problem(result, field) is None, result


def bad_param_problem(result: Result, field: str) -> str | None:
    """Tell what is wrong with a response that should be a 400 naming ``field``."""
    if result.status != 400:
        return f"status {result.status}: {result.raw[:200]!r}"
    error = result.json["error"]
    if error["status"] != 400:
        return f"error.status {error['status']}"
    if field not in [d["field"] for d in error["details"]]:
        return f"details do not name {field}: {error['details']}"
    return None


def check_cases(api: Api, cases: Sequence[tuple[str, Any, list[str]]]) -> None:
    """Run each (label, query, expected ids) case and fail listing every mismatch."""
    wrong = {}
    for label, query, expected in cases:
        got = outcome(report(api, query))
        if got != expected:
            wrong[label] = {"expected": expected, "got": got}
    assert wrong == {}


def freeze(api: Api, day: datetime.date) -> None:
    api.fake.clock.freeze(day)


# --- the default report and totals ------------------------------------------


def test_default_report_is_project_entries_of_the_last_six_months(api: Api) -> None:
    r = report(api)
    assert ids(r) == DEFAULT_IDS
    assert set(r.json) == {"time-entries"}


def test_default_report_returns_full_records(api: Api) -> None:
    # The report shows entries exactly as GET /timeEntries/{id} does.
    first = report(api).json["time-entries"][0]
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
    assert type(totals["number-of-entries"]) is int
    assert type(totals["sum-of-seconds"]) is int
    for key in SUMS:
        assert type(totals[key]) is str, key


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
    for key in SUMS[1:]:
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


def test_totals_cover_exactly_the_returned_entries(api: Api) -> None:
    cases: list[tuple[str, dict[str, str], list[str]]] = [
        ("default", {}, DEFAULT_IDS),
        ("all-kinds", ALL_KINDS, ALL_IDS),
        ("user-11", {**ALL_KINDS, "user_id": "11"}, ["78", "71", "75", "73", "77"]),
        ("company-31", {"company_id": "31", "include_contacts": "1", "include_cases": "1"},
         ["80", "71", "72", "75", "76"]),
        ("company-32", {"company_id": "32", "include_deals": "1"}, ["73", "77"]),
        ("narrow-window", {**ALL_KINDS, "from": "20120601", "to": "20120704"},
         ["72", "75", "73", "76"]),
        ("project-and-user", {"project_id": "51", "user_id": "12"}, ["80", "72"]),
        ("old-window", {"from": "20111215", "to": "20120615"}, ["74", "79"]),
        ("task-61", {"task_id": "61"}, ["71"]),
    ]
    wrong = {}
    for label, query, expected in cases:
        r = report(api, {**query, "with_totals": "1"})
        got_ids = outcome(r)
        if got_ids != expected:
            wrong[label] = {"expected": expected, "got": got_ids}
        elif r.json["totals"] != _summed(r.json["time-entries"]):
            wrong[label] = {"totals": r.json["totals"], "sums": _summed(r.json["time-entries"])}
    assert wrong == {}


# --- booleans ----------------------------------------------------------------

TRUE_SPELLINGS = ["1", "true", "yes", "on", "TRUE", "Yes", "On", "tRuE"]
FALSE_SPELLINGS = ["0", "false", "no", "off", "", "FALSE", "No", "OFF"]
SPELLINGS = [(s, True) for s in TRUE_SPELLINGS] + [(s, False) for s in FALSE_SPELLINGS]


def test_with_totals_spellings(api: Api) -> None:
    wrong = {}
    for spelling, value in SPELLINGS:
        r = report(api, {"with_totals": spelling})
        got = r.json.get("totals") if r.status == 200 else (r.status, r.json)
        if got != (DEFAULT_TOTALS if value else None):
            wrong[repr(spelling)] = got
    assert wrong == {}


def test_with_totals_without_a_value_is_false(api: Api) -> None:
    # "?with_totals" carries the empty string, which the contract reads as false.
    r = api.get(REPORT + "?with_totals")
    assert ids(r) == DEFAULT_IDS
    assert "totals" not in r.json


def test_include_personal_spellings(api: Api) -> None:
    check_cases(
        api,
        [
            (repr(s), {"include_personal": s}, ["78", *DEFAULT_IDS] if v else DEFAULT_IDS)
            for s, v in SPELLINGS
        ],
    )


def test_include_projects_spellings(api: Api) -> None:
    check_cases(
        api,
        [(repr(s), {"include_projects": s}, DEFAULT_IDS if v else []) for s, v in SPELLINGS],
    )


def test_include_deals_spellings(api: Api) -> None:
    check_cases(
        api,
        [
            (repr(s), {"include_deals": s}, [*DEFAULT_IDS, "77"] if v else DEFAULT_IDS)
            for s, v in SPELLINGS
        ],
    )


@pytest.mark.parametrize("flag", FLAGS)
def test_bad_boolean_is_400_naming_the_parameter(api: Api, flag: str) -> None:
    problems = {
        bad: bad_param_problem(report(api, {flag: bad}), flag)
        for bad in ["maybe", "2", "-1", "truee", "y", "null"]
    }
    assert {k: v for k, v in problems.items() if v} == {}


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
            {"include_personal": "0", "include_contacts": "0", "include_cases": "0",
             "include_deals": "0", "include_projects": "1"},
            DEFAULT_IDS,
            id="explicit-defaults",
        ),
    ],
)
def test_include_flags_add_kinds(api: Api, query: dict[str, str], expected: list[str]) -> None:
    assert ids(report(api, query)) == expected


def test_include_projects_0_removes_project_entries(api: Api) -> None:
    check_cases(
        api,
        [
            ("alone", {"include_projects": "0"}, []),
            ("personal", {"include_projects": "0", "include_personal": "1"}, ["78"]),
            ("contacts", {"include_projects": "0", "include_contacts": "1"}, ["75"]),
            ("cases", {"include_projects": "0", "include_cases": "1"}, ["76"]),
            ("deals", {"include_projects": "0", "include_deals": "1"}, ["77"]),
            ("all-others", {**ALL_KINDS, "include_projects": "0"}, ["78", "75", "76", "77"]),
        ],
    )


def test_contact_entry_on_a_contact_task_counts_as_contact(api: Api) -> None:
    # 75 hangs on task 62, which is on contact 41: a contact entry, not a project one.
    check_cases(
        api,
        [
            ("projects-only", {"task_id": "62"}, []),
            ("contacts", {"task_id": "62", "include_contacts": "1"}, ["75"]),
            ("cases-deals", {"task_id": "62", "include_cases": "1", "include_deals": "1"}, []),
        ],
    )


# --- id filters ----------------------------------------------------------------


def test_user_id_filter(api: Api) -> None:
    check_cases(
        api,
        [
            ("user-11", {"user_id": "11"}, ["71", "73"]),
            ("user-12", {"user_id": "12"}, ["80", "72", "74"]),
            ("user-11-all-kinds", {"user_id": "11", **ALL_KINDS}, ["78", "71", "75", "73", "77"]),
            ("user-12-all-kinds", {"user_id": "12", **ALL_KINDS}, ["80", "72", "76", "74"]),
            # Ids are read as numbers, as everywhere else in the API.
            ("leading-zero", {"user_id": "011"}, ["71", "73"]),
        ],
    )


def test_company_id_filter(api: Api) -> None:
    check_cases(
        api,
        [
            ("31", {"company_id": "31"}, ["80", "71", "72"]),
            ("31-contacts", {"company_id": "31", "include_contacts": "1"},
             ["80", "71", "72", "75"]),
            ("31-cases", {"company_id": "31", "include_cases": "1"}, ["80", "71", "72", "76"]),
            # The personal entry and deal 43 (company 32) stay out of company 31.
            ("31-all-kinds", {"company_id": "31", **ALL_KINDS}, ["80", "71", "72", "75", "76"]),
            ("32", {"company_id": "32"}, ["73"]),
            ("32-deals", {"company_id": "32", "include_deals": "1"}, ["73", "77"]),
            ("32-all-kinds", {"company_id": "32", **ALL_KINDS}, ["73", "77"]),
        ],
    )


def test_task_id_filter(api: Api) -> None:
    check_cases(
        api,
        [
            ("61", {"task_id": "61"}, ["71"]),
            ("61-all-kinds", {"task_id": "61", **ALL_KINDS}, ["71"]),
            ("62-contact-kind-excluded", {"task_id": "62"}, []),
            ("62-contacts", {"task_id": "62", "include_contacts": "1"}, ["75"]),
        ],
    )


def test_project_id_filter(api: Api) -> None:
    check_cases(
        api,
        [
            ("51", {"project_id": "51"}, ["80", "71", "72"]),
            ("52", {"project_id": "52"}, ["73"]),
            ("53", {"project_id": "53"}, ["74"]),
            ("51-all-kinds", {"project_id": "51", **ALL_KINDS}, ["80", "71", "72"]),
            ("51-old-window", {"project_id": "51", "from": "20111201", "to": "20120531"},
             ["79"]),
        ],
    )


def test_id_filters_combine_with_and(api: Api) -> None:
    check_cases(
        api,
        [
            ("project-and-user", {"project_id": "51", "user_id": "12"}, ["80", "72"]),
            ("company-and-user", {"company_id": "31", "user_id": "11"}, ["71"]),
            ("company-user-contacts",
             {"company_id": "31", "user_id": "11", "include_contacts": "1"}, ["71", "75"]),
            ("all-four-agree",
             {"task_id": "61", "user_id": "11", "project_id": "51", "company_id": "31"}, ["71"]),
            ("task-and-other-user", {"task_id": "61", "user_id": "12"}, []),
            ("project-other-company", {"project_id": "52", "company_id": "31"}, []),
            ("user-and-window", {"user_id": "12", **ALL_KINDS, "from": "20120601",
                                 "to": "20120704"}, ["72", "76"]),
        ],
    )


def test_id_filter_naming_nothing_is_an_empty_result(api: Api) -> None:
    # 21 is a time category: an id of another collection names no user/company/task/project.
    check_cases(
        api,
        [
            (f"{name}={value}", {name: value, **ALL_KINDS}, [])
            for name in ID_FILTERS
            for value in ["99", "0", "21", "999999999999999999999999"]
        ],
    )


def test_id_filter_not_digits_is_400(api: Api) -> None:
    problems = {
        f"{name}={value!r}": bad_param_problem(report(api, {name: value}), name)
        for name in ID_FILTERS
        for value in ["abc", "", "1a", "-1", "1.0", " 11", "\u0661\u0661"]
    }
    assert {k: v for k, v in problems.items() if v} == {}


# --- parameters in general ----------------------------------------------------


def test_unknown_and_repeated_parameters_are_400(api: Api) -> None:
    cases: list[tuple[list[tuple[str, str]], str]] = [
        ([("foo", "1")], "foo"),
        ([("page", "1")], "page"),
        ([("Include_Personal", "1")], "Include_Personal"),
        ([("with-totals", "1")], "with-totals"),
        ([("include_personal", "1"), ("include_personal", "1")], "include_personal"),
        ([("from", "20120701"), ("from", "20120702")], "from"),
        ([("user_id", "11"), ("user_id", "12")], "user_id"),
        ([("with_totals", "1"), ("with_totals", "0")], "with_totals"),
    ]
    problems = {str(query): bad_param_problem(report(api, query), field) for query, field in cases}
    assert {k: v for k, v in problems.items() if v} == {}


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

DateCase = tuple[str, datetime.date, str, str, list[str]]


def check_dates(api: Api, cases: Sequence[DateCase]) -> None:
    """Run (label, today, from, to, expected) with all kinds; fail listing every mismatch."""
    wrong = {}
    for label, today, start, end, expected in cases:
        freeze(api, today)
        got = outcome(report(api, {**ALL_KINDS, "from": start, "to": end}))
        if got != expected:
            wrong[label] = {"expected": expected, "got": got}
    assert wrong == {}


def test_dates_yyyymmdd_and_iso(api: Api) -> None:
    check_dates(
        api,
        [
            ("yyyymmdd", D(2012, 7, 31), "20120704", "20120705", ["80", "71", "72"]),
            ("iso", D(2012, 7, 31), "2012-07-04", "2012-07-05", ["80", "71", "72"]),
            ("mixed", D(2012, 7, 31), "20120701", "2012-07-04", ["72", "75"]),
        ],
    )


def test_dates_words(api: Api) -> None:
    check_dates(
        api,
        [
            ("today", D(2012, 7, 5), "today", "today", ["80", "71"]),
            ("now", D(2012, 7, 5), "now", "now", ["80", "71"]),
            ("yesterday", D(2012, 7, 5), "yesterday", "yesterday", ["72"]),
            ("tomorrow", D(2012, 7, 9), "tomorrow", "tomorrow", ["78"]),
            ("yesterday-to-today", D(2012, 7, 5), "yesterday", "today", ["80", "71", "72"]),
        ],
    )


def test_dates_relative_forward(api: Api) -> None:
    check_dates(
        api,
        [
            ("days", D(2012, 7, 3), "+1 day", "+2 days", ["80", "71", "72"]),
            ("week", D(2012, 6, 27), "+1 week", "+1 week", ["72"]),
            ("weeks", D(2012, 6, 20), "+2 weeks", "+2 weeks", ["72"]),
            ("month", D(2012, 6, 4), "+1 month", "+1 month", ["72"]),
            ("months", D(2012, 5, 4), "+2 months", "+2 months", ["72"]),
            ("year", D(2011, 7, 4), "+1 year", "+1 year", ["72"]),
            ("years", D(2010, 7, 4), "+2 years", "+2 years", ["72"]),
        ],
    )


def test_dates_relative_negative(api: Api) -> None:
    check_dates(
        api,
        [
            ("day", D(2012, 7, 5), "-1 day", "-1 day", ["72"]),
            ("days", D(2012, 7, 6), "-2 days", "-1 day", ["80", "71", "72"]),
            ("weeks", D(2012, 7, 18), "-2 weeks", "-2 weeks", ["72"]),
            ("month", D(2012, 8, 4), "-1 month", "-1 month", ["72"]),
            ("years", D(2014, 7, 4), "-2 years", "-2 years", ["72"]),
        ],
    )


def test_dates_ago(api: Api) -> None:
    check_dates(
        api,
        [
            ("day", D(2012, 7, 5), "1 day ago", "1 day ago", ["72"]),
            ("days", D(2012, 7, 7), "3 days ago", "2 days ago", ["80", "71", "72"]),
            ("weeks", D(2012, 7, 18), "2 weeks ago", "2 weeks ago", ["72"]),
            ("month", D(2012, 8, 4), "1 month ago", "1 month ago", ["72"]),
            ("months", D(2012, 9, 4), "2 months ago", "2 months ago", ["72"]),
            ("year", D(2013, 7, 4), "1 year ago", "1 year ago", ["72"]),
        ],
    )


def test_dates_unixtime(api: Api) -> None:
    # 1341360000 is 2012-07-04 00:00:00 UTC; 1341446400 is 2012-07-05 00:00:00 UTC.
    check_dates(
        api,
        [
            ("window", D(2012, 7, 31), "@1341360000", "@1341446400", ["80", "71", "72"]),
            ("last-second-of-day", D(2012, 7, 31), "@1341446399", "@1341446399", ["72"]),
        ],
    )


def test_dates_numeric_with_separators(api: Api) -> None:
    # Read the other way round, 07/04/2012 and 04-07-2012 would be in April: nothing.
    check_dates(
        api,
        [
            ("american", D(2012, 7, 31), "07/04/2012", "07/04/2012", ["72"]),
            ("american-window", D(2012, 7, 31), "07/04/2012", "07/05/2012", ["80", "71", "72"]),
            ("european-dashes", D(2012, 7, 31), "04-07-2012", "04-07-2012", ["72"]),
            ("european-dots", D(2012, 7, 31), "04.07.2012", "05.07.2012", ["80", "71", "72"]),
        ],
    )


def test_dates_month_names(api: Api) -> None:
    check_dates(
        api,
        [
            ("day-month-year", D(2012, 7, 31), "5 July 2012", "5 July 2012", ["80", "71"]),
            ("month-day-year", D(2012, 7, 31), "July 5, 2012", "July 5, 2012", ["80", "71"]),
            ("mixed", D(2012, 7, 31), "1 July 2012", "July 4, 2012", ["72", "75"]),
        ],
    )


def test_date_words_are_case_insensitive(api: Api) -> None:
    check_dates(
        api,
        [
            ("today", D(2012, 7, 5), "TODAY", "Today", ["80", "71"]),
            ("yesterday", D(2012, 7, 5), "YESTERDAY", "Yesterday", ["72"]),
            ("tomorrow", D(2012, 7, 9), "Tomorrow", "TOMORROW", ["78"]),
            ("now", D(2012, 7, 5), "NOW", "Now", ["80", "71"]),
            ("units", D(2012, 7, 3), "+1 DAY", "+2 Days", ["80", "71", "72"]),
            ("ago", D(2012, 7, 7), "3 DAYS AGO", "2 Days Ago", ["80", "71", "72"]),
            ("month-names", D(2012, 7, 31), "5 JULY 2012", "july 5, 2012", ["80", "71"]),
        ],
    )


UNKNOWN_FORMS = ["soon", "20120704x", "2012070", "31 Smarch 2012", "+ day", "the 4th"]
# Impossible dates are refused, not rolled over.
IMPOSSIBLE_DATES = [
    "20120230",
    "2012-02-30",
    "20121301",
    "02/30/2012",
    "30.02.2012",
    "31-04-2012",
    "31 April 2012",
    "20110229",
]


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize(
    "values",
    [
        pytest.param(UNKNOWN_FORMS, id="unknown-form"),
        pytest.param(IMPOSSIBLE_DATES, id="impossible"),
    ],
)
def test_bad_date_is_400_naming_the_parameter(api: Api, name: str, values: list[str]) -> None:
    other = "to" if name == "from" else "from"
    before = api.dump()
    # The other bound is valid and the window short, so only `name` can be at fault.
    problems = {
        value: bad_param_problem(report(api, {name: value, other: "20120705"}), name)
        for value in values
    }
    assert {k: v for k, v in problems.items() if v} == {}
    assert api.dump() == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        # The default `from`, six months before `to`, would be before year 1.
        pytest.param({"to": "00010101"}, "from", id="to-year-1"),
        pytest.param({"to": "@-62135596800"}, "from", id="to-first-unix-second-of-year-1"),
        pytest.param({"from": "00010201", "to": "00010101"}, "from", id="from-after-to-year-1"),
        pytest.param({"to": "@253402300800"}, "to", id="to-past-9999"),
        pytest.param({"from": "-2100 years"}, "from", id="relative-before-year-1"),
        pytest.param({"to": "+8000 years"}, "to", id="relative-past-9999"),
        pytest.param({"to": "99999 months ago"}, "to", id="months-ago-before-year-1"),
    ],
)
def test_dates_at_the_edges_of_the_calendar_are_400_naming_the_parameter(
    api: Api, query: dict[str, str], field: str
) -> None:
    before = api.dump()
    r = report(api, query)
    assert r.status == 400, r
    assert [d["field"] for d in r.json["error"]["details"]] == [field]
    assert api.dump() == before


def test_a_window_in_year_1_or_9999_is_served(api: Api) -> None:
    for query in ({"from": "00010101", "to": "00010630"}, {"from": "99991001", "to": "99991231"}):
        r = report(api, query)
        assert (r.status, r.json["time-entries"]) == (200, []), r


def test_leap_day_is_a_real_date(api: Api) -> None:
    assert ids(report(api, {**ALL_KINDS, "from": "20120229", "to": "20120315"})) == ["77"]


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
    check_cases(
        api,
        [
            ("two-days", {**ALL_KINDS, "from": "20120704", "to": "20120705"},
             ["80", "71", "72"]),
            ("one-day", {**ALL_KINDS, "from": "20120710", "to": "20120710"}, ["78"]),
        ],
    )


def test_exactly_six_months_is_allowed(api: Api) -> None:
    assert ids(report(api, {**ALL_KINDS, "from": "20120131", "to": "20120731"})) == ALL_IDS


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"from": "20120130", "to": "20120731"}, id="one-day-too-long"),
        pytest.param({"from": "20120130"}, id="from-only-to-today"),
        pytest.param({"from": "20110101", "to": "20120731"}, id="year-and-a-half"),
        pytest.param({"from": "20111215", "to": "20120616"}, id="one-day-past-79"),
    ],
)
def test_window_longer_than_six_months_is_400(api: Api, query: dict[str, str]) -> None:
    before = api.dump()
    r = report(api, query)
    assert r.status == 400
    assert r.json["error"]["status"] == 400
    text = r.json["error"]["message"] + " ".join(d["message"] for d in r.json["error"]["details"])
    assert "six months" in text.lower(), r.json
    assert api.dump() == before


def test_only_from_given_ends_today(api: Api) -> None:
    assert ids(report(api, {**ALL_KINDS, "from": "20120705"})) == ["78", "80", "71"]
    # With today on 2012-07-08, 78 (2012-07-10) lies after the window.
    freeze(api, D(2012, 7, 8))
    assert ids(report(api, {**ALL_KINDS, "from": "20120704"})) == ["80", "71", "72"]


def test_only_to_given_starts_six_months_before(api: Api) -> None:
    check_cases(
        api,
        [
            # Six months before 2012-06-15 is 2011-12-15, the day of 79.
            ("from-lands-on-79", {"to": "20120615"}, ["74", "79"]),
            ("from-just-after-79", {"to": "20120616"}, ["74"]),
            ("july-4", {"to": "20120704"}, ["72", "73", "74"]),
        ],
    )


def test_clock_moves_the_default_window(api: Api) -> None:
    wrong = {}
    for today, expected in [
        (D(2012, 6, 15), ["74", "79"]),
        (D(2012, 6, 16), ["74"]),
        (D(2012, 7, 4), ["72", "73", "74"]),
        (D(2013, 7, 31), []),
    ]:
        freeze(api, today)
        got = outcome(report(api))
        if got != expected:
            wrong[str(today)] = {"expected": expected, "got": got}
    assert wrong == {}


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
