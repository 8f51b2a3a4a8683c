"""Tests for apollo_fake.dates: report date parameters and month arithmetic."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from datetime import date

import pytest

from apollo_fake.dates import add_months_clamped, add_months_php, parse_report_date

# A Thursday in the middle of a month, so day, week, month and year moves are all visible.
TODAY = date(2012, 7, 5)

UNKNOWN_FORM = "not a date in a form the API accepts"
NOT_A_DATE = "not a real calendar date"
OUT_OF_RANGE = "outside the range of dates"


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        # Exact forms.
        pytest.param("20120705", TODAY, date(2012, 7, 5), id="yyyymmdd"),
        pytest.param("19991231", TODAY, date(1999, 12, 31), id="yyyymmdd-other-year"),
        pytest.param("00010101", TODAY, date(1, 1, 1), id="yyyymmdd-date-min"),
        pytest.param("99991231", TODAY, date(9999, 12, 31), id="yyyymmdd-date-max"),
        pytest.param("2012-07-05", TODAY, date(2012, 7, 5), id="iso"),
        pytest.param("2012-7-5", TODAY, date(2012, 7, 5), id="iso-one-digit-month-day"),
        pytest.param("  20120705  ", TODAY, date(2012, 7, 5), id="surrounding-spaces-stripped"),
        pytest.param("2012-07-05 ", TODAY, date(2012, 7, 5), id="trailing-space-stripped"),
        # Leap years.
        pytest.param("20120229", TODAY, date(2012, 2, 29), id="leap-day-divisible-by-4"),
        pytest.param("2000-02-29", TODAY, date(2000, 2, 29), id="leap-day-divisible-by-400"),
        pytest.param("29 February 2012", TODAY, date(2012, 2, 29), id="leap-day-month-name"),
        # Words.
        pytest.param("today", TODAY, TODAY, id="today"),
        pytest.param("TODAY", TODAY, TODAY, id="today-upper"),
        pytest.param("now", TODAY, TODAY, id="now"),
        pytest.param("NoW", TODAY, TODAY, id="now-mixed-case"),
        pytest.param("yesterday", TODAY, date(2012, 7, 4), id="yesterday"),
        pytest.param("Yesterday", date(2012, 3, 1), date(2012, 2, 29), id="yesterday-leap"),
        pytest.param("tomorrow", TODAY, date(2012, 7, 6), id="tomorrow"),
        pytest.param("TOMORROW", date(2012, 12, 31), date(2013, 1, 1), id="tomorrow-new-year"),
        # Relative forms.
        pytest.param("+1 day", TODAY, date(2012, 7, 6), id="plus-day"),
        pytest.param("+2 days", TODAY, date(2012, 7, 7), id="plus-days-plural"),
        pytest.param("-3 days", TODAY, date(2012, 7, 2), id="minus-days"),
        pytest.param("3 days", TODAY, date(2012, 7, 8), id="unsigned-days-is-plus"),
        pytest.param("+0 days", TODAY, TODAY, id="plus-zero-days"),
        pytest.param("-30 days", TODAY, date(2012, 6, 5), id="minus-days-crosses-month"),
        pytest.param("+1 week", TODAY, date(2012, 7, 12), id="plus-week"),
        pytest.param("+1week", TODAY, date(2012, 7, 12), id="plus-week-no-space"),
        pytest.param("+ 1 week", TODAY, date(2012, 7, 12), id="space-after-sign"),
        pytest.param("+1   week", TODAY, date(2012, 7, 12), id="several-spaces"),
        pytest.param("-2 WEEKS", TODAY, date(2012, 6, 21), id="minus-weeks-upper"),
        pytest.param("+1 month", TODAY, date(2012, 8, 5), id="plus-month"),
        pytest.param("-6 months", TODAY, date(2012, 1, 5), id="minus-months"),
        pytest.param("+1 month", date(2013, 1, 31), date(2013, 3, 3), id="plus-month-overflows"),
        pytest.param("+1 month", date(2012, 1, 31), date(2012, 3, 2), id="plus-month-leap"),
        pytest.param("-1 month", date(2012, 3, 31), date(2012, 3, 2), id="minus-month-overflows"),
        pytest.param("+1 year", TODAY, date(2013, 7, 5), id="plus-year"),
        pytest.param("+1 year", date(2012, 2, 29), date(2013, 3, 1), id="plus-year-from-leap"),
        pytest.param("+4 years", date(2012, 2, 29), date(2016, 2, 29), id="plus-years-leap"),
        pytest.param("-2 Years", TODAY, date(2010, 7, 5), id="minus-years"),
        # Leading zeros add no magnitude, so they do not count against the digit limit.
        pytest.param("+" + "0" * 40 + "1 day", TODAY, date(2012, 7, 6), id="zero-padded-40"),
        pytest.param("+" + "0" * 5000 + "1 days", TODAY, date(2012, 7, 6), id="zero-padded-5000"),
        # N units ago.
        pytest.param("1 day ago", TODAY, date(2012, 7, 4), id="day-ago"),
        pytest.param("3 DAYS AGO", TODAY, date(2012, 7, 2), id="days-ago-upper"),
        pytest.param("3days ago", TODAY, date(2012, 7, 2), id="days-ago-no-space"),
        pytest.param("2 weeks ago", TODAY, date(2012, 6, 21), id="weeks-ago"),
        pytest.param("1 month ago", date(2013, 3, 31), date(2013, 3, 3), id="month-ago-overflows"),
        pytest.param("1 year ago", TODAY, date(2011, 7, 5), id="year-ago"),
        pytest.param("-3 days ago", TODAY, date(2012, 7, 8), id="minus-days-ago-is-plus"),
        # Unix timestamps, as UTC dates.
        pytest.param("@0", TODAY, date(1970, 1, 1), id="unixtime-epoch"),
        pytest.param("@1341446400", TODAY, date(2012, 7, 5), id="unixtime-start-of-day"),
        pytest.param("@1341532799", TODAY, date(2012, 7, 5), id="unixtime-end-of-day"),
        pytest.param("@-1", TODAY, date(1969, 12, 31), id="unixtime-minus-one-second"),
        pytest.param("@-86400", TODAY, date(1969, 12, 31), id="unixtime-minus-one-day"),
        pytest.param("@-86401", TODAY, date(1969, 12, 30), id="unixtime-floor-negative"),
        pytest.param("@253402300799", TODAY, date(9999, 12, 31), id="unixtime-date-max"),
        pytest.param("@-62135596800", TODAY, date(1, 1, 1), id="unixtime-date-min"),
        # Numeric forms with separators.
        pytest.param("07/05/2012", TODAY, date(2012, 7, 5), id="american-slashes"),
        pytest.param("7/5/2012", TODAY, date(2012, 7, 5), id="american-one-digit"),
        pytest.param("12/31/2012", TODAY, date(2012, 12, 31), id="american-month-first"),
        pytest.param("05-07-2012", TODAY, date(2012, 7, 5), id="european-dashes"),
        pytest.param("5-7-2012", TODAY, date(2012, 7, 5), id="european-one-digit"),
        pytest.param("31-12-2012", TODAY, date(2012, 12, 31), id="european-day-first"),
        pytest.param("05.07.2012", TODAY, date(2012, 7, 5), id="dots"),
        pytest.param("31.12.2012", TODAY, date(2012, 12, 31), id="dots-day-first"),
        # Month names.
        pytest.param("5 July 2012", TODAY, date(2012, 7, 5), id="day-month-year"),
        pytest.param("5 Jul 2012", TODAY, date(2012, 7, 5), id="day-abbrev-year"),
        pytest.param("5 JULY 2012", TODAY, date(2012, 7, 5), id="day-month-upper"),
        pytest.param("05 may 2012", TODAY, date(2012, 5, 5), id="day-may-lower"),
        pytest.param("July 5, 2012", TODAY, date(2012, 7, 5), id="month-day-comma-year"),
        pytest.param("July 5 2012", TODAY, date(2012, 7, 5), id="month-day-year"),
        pytest.param("Jul 5, 2012", TODAY, date(2012, 7, 5), id="abbrev-day-comma-year"),
        pytest.param("jAN 31, 2013", TODAY, date(2013, 1, 31), id="abbrev-mixed-case"),
        pytest.param("Sept 5, 2012", TODAY, date(2012, 9, 5), id="sept"),
        pytest.param("5 sep 2012", TODAY, date(2012, 9, 5), id="sep"),
        pytest.param("December 25 2012", TODAY, date(2012, 12, 25), id="december"),
    ],
)
def test_parse_report_date_accepts(text: str, today: date, expected: date) -> None:
    assert parse_report_date(text, today) == expected


@pytest.mark.parametrize(
    ("text", "today", "message"),
    [
        # Unknown forms.
        pytest.param("", TODAY, UNKNOWN_FORM, id="empty"),
        pytest.param("   ", TODAY, UNKNOWN_FORM, id="only-spaces"),
        pytest.param("next monday", TODAY, UNKNOWN_FORM, id="next-monday"),
        pytest.param("2012/07/05", TODAY, UNKNOWN_FORM, id="iso-with-slashes"),
        pytest.param("05/07-2012", TODAY, UNKNOWN_FORM, id="mixed-separators"),
        pytest.param("07/05/12", TODAY, UNKNOWN_FORM, id="two-digit-year"),
        pytest.param("2012-07-05T00:00", TODAY, UNKNOWN_FORM, id="iso-with-time"),
        pytest.param("2012070", TODAY, UNKNOWN_FORM, id="seven-digits"),
        pytest.param("201207051", TODAY, UNKNOWN_FORM, id="nine-digits"),
        pytest.param("July", TODAY, UNKNOWN_FORM, id="month-only"),
        pytest.param("July 2012", TODAY, UNKNOWN_FORM, id="month-and-year"),
        pytest.param("5 Julyy 2012", TODAY, UNKNOWN_FORM, id="misspelt-month"),
        pytest.param("Julyy 5, 2012", TODAY, UNKNOWN_FORM, id="misspelt-month-first"),
        pytest.param("1e3 days", TODAY, UNKNOWN_FORM, id="exponent"),
        pytest.param("+ days", TODAY, UNKNOWN_FORM, id="sign-without-number"),
        pytest.param("+-3 days", TODAY, UNKNOWN_FORM, id="two-signs"),
        pytest.param("+1 hour", TODAY, UNKNOWN_FORM, id="hours"),
        pytest.param("+1 dayss", TODAY, UNKNOWN_FORM, id="double-plural"),
        pytest.param("3 daysago", TODAY, UNKNOWN_FORM, id="ago-without-space"),
        pytest.param("ago", TODAY, UNKNOWN_FORM, id="ago-alone"),
        pytest.param("@", TODAY, UNKNOWN_FORM, id="at-alone"),
        pytest.param("@1.5", TODAY, UNKNOWN_FORM, id="unixtime-fraction"),
        pytest.param("@ 5", TODAY, UNKNOWN_FORM, id="unixtime-space"),
        pytest.param(
            "\u0662\u0660\u0661\u0662\u0660\u0667\u0660\u0665",
            TODAY,
            UNKNOWN_FORM,
            id="arabic-indic-digits",
        ),
        pytest.param(
            "\uff12\uff10\uff11\uff12\uff10\uff17\uff10\uff15",
            TODAY,
            UNKNOWN_FORM,
            id="fullwidth-digits",
        ),
        pytest.param("+\u0663 days", TODAY, UNKNOWN_FORM, id="non-ascii-digit-in-relative"),
        pytest.param("+1 wee\u212a", TODAY, UNKNOWN_FORM, id="kelvin-sign-for-k"),
        pytest.param("3 day\u017f", TODAY, UNKNOWN_FORM, id="long-s-for-s"),
        pytest.param("\u0130oday", TODAY, UNKNOWN_FORM, id="dotted-capital-i"),
        pytest.param("20120705\n", TODAY, UNKNOWN_FORM, id="trailing-newline"),
        pytest.param("\n20120705", TODAY, UNKNOWN_FORM, id="leading-newline"),
        pytest.param("5\tJuly 2012", TODAY, UNKNOWN_FORM, id="embedded-tab"),
        pytest.param("+1\nweek", TODAY, UNKNOWN_FORM, id="embedded-newline"),
        pytest.param("1" + " " * 100_000 + "x", TODAY, UNKNOWN_FORM, id="long-run-of-spaces"),
        # Impossible calendar dates are refused, not rolled over.
        pytest.param("20120230", TODAY, NOT_A_DATE, id="yyyymmdd-feb-30"),
        pytest.param("20121301", TODAY, NOT_A_DATE, id="yyyymmdd-month-13"),
        pytest.param("20120700", TODAY, NOT_A_DATE, id="yyyymmdd-day-0"),
        pytest.param("2012-02-30", TODAY, NOT_A_DATE, id="iso-feb-30"),
        pytest.param("2012-00-10", TODAY, NOT_A_DATE, id="iso-month-0"),
        pytest.param("02/30/2012", TODAY, NOT_A_DATE, id="american-feb-30"),
        pytest.param("13/01/2012", TODAY, NOT_A_DATE, id="american-month-13"),
        pytest.param("31.04.2012", TODAY, NOT_A_DATE, id="dots-april-31"),
        pytest.param("31-06-2012", TODAY, NOT_A_DATE, id="european-june-31"),
        pytest.param("29 February 2013", TODAY, NOT_A_DATE, id="feb-29-non-leap"),
        pytest.param("19000229", TODAY, NOT_A_DATE, id="feb-29-century-non-leap"),
        pytest.param("Apr 31, 2012", TODAY, NOT_A_DATE, id="month-name-april-31"),
        # Out of range or too large, always as ValueError.
        pytest.param("00000101", TODAY, OUT_OF_RANGE, id="year-zero"),
        pytest.param("@99999999999999999999", TODAY, OUT_OF_RANGE, id="unixtime-huge"),
        pytest.param("@253402300800", TODAY, OUT_OF_RANGE, id="unixtime-after-date-max"),
        pytest.param("@-62135596801", TODAY, OUT_OF_RANGE, id="unixtime-before-date-min"),
        pytest.param("@" + "9" * 5000, TODAY, OUT_OF_RANGE, id="unixtime-5000-digits"),
        pytest.param("+" + "9" * 5000 + " days", TODAY, OUT_OF_RANGE, id="days-5000-digits"),
        pytest.param("+" + "9" * 31 + " days", TODAY, OUT_OF_RANGE, id="days-31-digits"),
        pytest.param("+999999999 days", TODAY, OUT_OF_RANGE, id="days-past-date-max"),
        pytest.param("+1000000000 days", TODAY, OUT_OF_RANGE, id="days-past-timedelta-max"),
        pytest.param("+999999999 weeks", TODAY, OUT_OF_RANGE, id="weeks-huge"),
        pytest.param("+999999999 months", TODAY, OUT_OF_RANGE, id="months-huge"),
        pytest.param("+999999999 years", TODAY, OUT_OF_RANGE, id="years-huge"),
        pytest.param("9999 years ago", TODAY, OUT_OF_RANGE, id="years-ago-before-date-min"),
        pytest.param("yesterday", date.min, OUT_OF_RANGE, id="yesterday-of-date-min"),
        pytest.param("tomorrow", date.max, OUT_OF_RANGE, id="tomorrow-of-date-max"),
        pytest.param("+1 day", date.max, OUT_OF_RANGE, id="plus-day-of-date-max"),
        pytest.param("+1 month", date(9999, 12, 1), OUT_OF_RANGE, id="plus-month-past-9999"),
    ],
)
def test_parse_report_date_rejects(text: str, today: date, message: str) -> None:
    # pytest.raises(ValueError) also fails the test on OverflowError or any other exception.
    with pytest.raises(ValueError, match=message):
        parse_report_date(text, today)


def test_relative_forms_count_from_today_not_now() -> None:
    now = datetime.datetime(2020, 1, 1, 12, 0)
    assert parse_report_date("+1 day", TODAY, now) == date(2012, 7, 6)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        pytest.param(date(2012, 8, 31), -6, date(2012, 2, 29), id="back-to-leap-february"),
        pytest.param(date(2013, 8, 31), -6, date(2013, 2, 28), id="back-to-plain-february"),
        pytest.param(date(2012, 1, 31), 1, date(2012, 2, 29), id="forward-to-leap-february"),
        pytest.param(date(2013, 1, 31), 1, date(2013, 2, 28), id="forward-to-plain-february"),
        pytest.param(date(2012, 1, 31), 3, date(2012, 4, 30), id="clamp-to-30"),
        pytest.param(date(2012, 3, 15), 0, date(2012, 3, 15), id="zero-months"),
        pytest.param(date(2012, 12, 15), 1, date(2013, 1, 15), id="forward-across-year"),
        pytest.param(date(2013, 1, 15), -1, date(2012, 12, 15), id="back-across-year"),
        pytest.param(date(2012, 5, 31), -25, date(2010, 4, 30), id="back-several-years"),
        pytest.param(date(2012, 2, 29), 12, date(2013, 2, 28), id="leap-day-plus-year"),
        pytest.param(date(2012, 2, 29), 48, date(2016, 2, 29), id="leap-day-plus-four-years"),
        pytest.param(date(9999, 11, 30), 1, date(9999, 12, 30), id="up-to-last-year"),
        pytest.param(date(1, 2, 28), -1, date(1, 1, 28), id="down-to-first-year"),
    ],
)
def test_add_months_clamped(start: date, months: int, expected: date) -> None:
    assert add_months_clamped(start, months) == expected


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        pytest.param(date(2013, 1, 31), 1, date(2013, 3, 3), id="jan-31-overflows"),
        pytest.param(date(2012, 1, 31), 1, date(2012, 3, 2), id="jan-31-overflows-leap"),
        pytest.param(date(2012, 2, 29), 12, date(2013, 3, 1), id="leap-day-plus-year"),
        pytest.param(date(2012, 2, 29), 48, date(2016, 2, 29), id="leap-day-plus-four-years"),
        pytest.param(date(2012, 8, 31), -6, date(2012, 3, 2), id="back-to-leap-february"),
        pytest.param(date(2013, 3, 31), -1, date(2013, 3, 3), id="back-to-plain-february"),
        pytest.param(date(2012, 5, 31), 1, date(2012, 7, 1), id="may-31-to-june"),
        pytest.param(date(2012, 12, 31), 2, date(2013, 3, 3), id="overflow-across-year"),
        pytest.param(date(2012, 7, 15), 6, date(2013, 1, 15), id="forward-across-year"),
        pytest.param(date(2012, 7, 15), -7, date(2011, 12, 15), id="back-across-year"),
        pytest.param(date(2012, 7, 5), 0, date(2012, 7, 5), id="zero-months"),
        pytest.param(date(9999, 11, 30), 1, date(9999, 12, 30), id="up-to-last-year"),
    ],
)
def test_add_months_php(start: date, months: int, expected: date) -> None:
    assert add_months_php(start, months) == expected


@pytest.mark.parametrize("helper", [add_months_clamped, add_months_php], ids=["clamped", "php"])
@pytest.mark.parametrize(
    ("start", "months"),
    [
        pytest.param(date.max, 1, id="past-date-max"),
        pytest.param(date.min, -1, id="before-date-min"),
        pytest.param(date(2012, 7, 5), 10**30, id="huge-positive"),
        pytest.param(date(2012, 7, 5), -(10**30), id="huge-negative"),
    ],
)
def test_month_helpers_raise_value_error_out_of_range(
    helper: Callable[[date, int], date], start: date, months: int
) -> None:
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        helper(start, months)
