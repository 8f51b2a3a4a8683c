"""Dates in report parameters, read and shifted the way the vendor's PHP server does."""

from __future__ import annotations

import calendar
import datetime
import re

__all__ = [
    "KEYWORDS",
    "MONTH_NAMES",
    "UNITS",
    "add_months_clamped",
    "add_months_php",
    "parse_report_date",
]

# The messages start with "is": the caller prefixes the parameter name.
_UNKNOWN_FORM = (
    "is not a date in a form the API accepts (YYYYMMDD, YYYY-MM-DD, today, +N days, "
    "N days ago, @UNIXTIME, MM/DD/YYYY, DD-MM-YYYY, DD.MM.YYYY, 5 July 2012)"
)
_NOT_A_DATE = "is not a real calendar date"
_OUT_OF_RANGE = "is outside the range of dates the API accepts (years 1 to 9999)"

# Python caps int() on long digit strings and it is slow before that; every number
# this module reads is out of range long before it has this many significant digits.
_MAX_DIGITS = 30

_MIN_ORDINAL = datetime.date.min.toordinal()
_MAX_ORDINAL = datetime.date.max.toordinal()
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_SECONDS_PER_DAY = 86_400

# Only ASCII spaces separate words: a tab or newline inside a parameter is a client bug
# we want to surface, not paper over. re.ASCII keeps IGNORECASE from matching look-alikes
# such as the Kelvin sign for "k" or the long s for "s".
_FLAGS = re.ASCII | re.IGNORECASE
_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})", _FLAGS)
_NUMERIC = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4})", _FLAGS)
UNITS = ("day", "week", "month", "year")  # of a relative form, each also plural
_RELATIVE = re.compile(r"([+-]?) *([0-9]+) *(" + "|".join(UNITS) + r")s?( +ago)?", _FLAGS)
_UNIXTIME = re.compile(r"@(-?)([0-9]+)", _FLAGS)
_DAY_MONTH_YEAR = re.compile(r"([0-9]{1,2}) +([a-z]+) +([0-9]{4})", _FLAGS)
_MONTH_DAY_YEAR = re.compile(r"([a-z]+) +([0-9]{1,2})(?: *, *| +)([0-9]{4})", _FLAGS)

_KEYWORD_OFFSETS = {"today": 0, "now": 0, "yesterday": -1, "tomorrow": 1}
KEYWORDS = tuple(_KEYWORD_OFFSETS)

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


# Every month name and abbreviation the day-month-year forms take, any case.
MONTH_NAMES = tuple(_MONTHS)


def parse_report_date(
    text: str, today: datetime.date, now: datetime.datetime | None = None
) -> datetime.date:
    """Read a `from`/`to` report parameter the way the vendor's PHP server does."""
    # `now` is reserved for time-of-day forms; none of the current forms needs it.
    del now
    # Strip spaces only: a trailing newline is a client bug and must not pass as a date.
    s = text.strip(" ")
    # No accepted form has a non-ASCII character; rejecting them up front also keeps
    # str.lower() and the digit checks below from seeing other scripts.
    if not s.isascii():
        raise ValueError(_UNKNOWN_FORM)

    # The cheap exact forms first: they are what well-behaved clients send.
    if len(s) == 8 and s.isdigit():
        return _calendar_date(int(s[:4]), int(s[4:6]), int(s[6:]))
    m = _ISO.fullmatch(s)
    if m:
        return _calendar_date(int(m[1]), int(m[2]), int(m[3]))

    offset = _KEYWORD_OFFSETS.get(s.lower())
    if offset is not None:
        return _from_ordinal(today.toordinal() + offset)

    m = _RELATIVE.fullmatch(s)
    if m:
        return _relative(today, m[1], m[2], m[3].lower(), ago=m[4] is not None)

    m = _UNIXTIME.fullmatch(s)
    if m:
        seconds = _to_int(m[2])
        if m[1]:
            seconds = -seconds
        # Floor division: a negative timestamp belongs to the UTC day that contains it.
        return _from_ordinal(_EPOCH_ORDINAL + seconds // _SECONDS_PER_DAY)

    m = _NUMERIC.fullmatch(s)
    if m:
        first, second, year = int(m[1]), int(m[3]), int(m[4])
        # The separator decides the order, as in PHP: slashes are American.
        if m[2] == "/":
            return _calendar_date(year, first, second)
        return _calendar_date(year, second, first)

    m = _DAY_MONTH_YEAR.fullmatch(s)
    if m:
        return _calendar_date(int(m[3]), _month_number(m[2]), int(m[1]))
    m = _MONTH_DAY_YEAR.fullmatch(s)
    if m:
        return _calendar_date(int(m[3]), _month_number(m[1]), int(m[2]))

    raise ValueError(_UNKNOWN_FORM)


def add_months_clamped(d: datetime.date, months: int) -> datetime.date:
    """Move d by whole calendar months, clamping the day to the target month's last day."""
    year, month = _shift_month(d.year, d.month, months)
    return datetime.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def add_months_php(d: datetime.date, months: int) -> datetime.date:
    """Move d by months as PHP's strtotime does, letting the day overflow into the next month."""
    year, month = _shift_month(d.year, d.month, months)
    # PHP keeps e.g. February 31 and normalises it by counting on from the 1st.
    return _from_ordinal(datetime.date(year, month, 1).toordinal() + d.day - 1)


def _relative(
    today: datetime.date, sign: str, digits: str, unit: str, *, ago: bool
) -> datetime.date:
    """Return today moved by a signed count of units, as in `+3 days` or `3 days ago`."""
    count = _to_int(digits)
    if (sign == "-") != ago:
        count = -count
    if unit == "day":
        return _from_ordinal(today.toordinal() + count)
    if unit == "week":
        return _from_ordinal(today.toordinal() + 7 * count)
    if unit == "month":
        return add_months_php(today, count)
    return add_months_php(today, 12 * count)


def _shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    """Return the year and month that lie a number of months from the given ones."""
    # Counting months from year 0 lets divmod handle negatives and year crossings alike.
    new_year, month_index = divmod(year * 12 + month - 1 + months, 12)
    if not datetime.MINYEAR <= new_year <= datetime.MAXYEAR:
        raise ValueError(_OUT_OF_RANGE)
    return new_year, month_index + 1


def _calendar_date(year: int, month: int, day: int) -> datetime.date:
    """Build a date, refusing impossible ones instead of rolling them over as PHP does."""
    if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
        raise ValueError(_OUT_OF_RANGE)
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise ValueError(_NOT_A_DATE)
    return datetime.date(year, month, day)


def _from_ordinal(ordinal: int) -> datetime.date:
    """Turn a proleptic Gregorian ordinal into a date, with a ValueError when out of range."""
    # Checking first avoids date arithmetic, which signals overflow with OverflowError.
    if not _MIN_ORDINAL <= ordinal <= _MAX_ORDINAL:
        raise ValueError(_OUT_OF_RANGE)
    return datetime.date.fromordinal(ordinal)


def _to_int(digits: str) -> int:
    """Convert ASCII digits to an int, refusing numbers too long to be a usable offset."""
    # Leading zeros add length but no magnitude: drop them so they neither trip the
    # limit nor reach int() as a long string.
    significant = digits.lstrip("0")
    if len(significant) > _MAX_DIGITS:
        raise ValueError(_OUT_OF_RANGE)
    return int(significant or "0")


def _month_number(name: str) -> int:
    """Return 1-12 for an English month name or abbreviation, in any case."""
    number = _MONTHS.get(name.lower())
    if number is None:
        raise ValueError(_UNKNOWN_FORM)
    return number
