"""The fake clock: every "today" and "now" of a fake comes from here."""

from __future__ import annotations

import datetime
import threading

ClockState = tuple[datetime.datetime | None, datetime.timedelta]

# The times a clock can show: datetime's whole range, in whole seconds.
EARLIEST = datetime.datetime.min
LATEST = datetime.datetime.max.replace(microsecond=0)
OUT_OF_RANGE = (
    f"the clock can show times from {EARLIEST.isoformat(' ')} to {LATEST.isoformat(' ')}"
)


def utcnow() -> datetime.datetime:
    """Return the real time in UTC, without tzinfo (the API's timestamps are naive UTC)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


# The last time stamp() wrote: the journal and every write ask for the same
# second many times over (a frozen clock, always), and a comparison costs far less
# than a conversion. One tuple, replaced whole, so threads never see half of one.
_last_stamp = (datetime.datetime.min, datetime.datetime.min.isoformat(" ", "seconds"))


def stamp(moment: datetime.datetime) -> str:
    """Write a time as the API writes timestamps: ``2012-05-24 15:30:34``."""
    global _last_stamp
    last, text = _last_stamp
    if moment != last:
        text = moment.isoformat(" ", "seconds")  # cheaper than strftime
        _last_stamp = (moment, text)
    return text


class Clock:
    """Tell the time, real or frozen or shifted, so tests can set and advance it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen: datetime.datetime | None = None
        self._offset = datetime.timedelta(0)

    def now(self) -> datetime.datetime:
        """Return the fake's current UTC time."""
        frozen = self._frozen
        if frozen is not None:
            return frozen
        try:
            return utcnow() + self._offset
        except OverflowError:  # a clock run to the end of the calendar stays there
            return LATEST if self._offset > datetime.timedelta(0) else EARLIEST

    def today(self) -> datetime.date:
        """Return the fake's current UTC date."""
        return self.now().date()

    def timestamp(self) -> str:
        """Return now as the API writes timestamps: ``2012-05-24 15:30:34``."""
        frozen = self._frozen  # read first, as now() does: a frozen clock is the common case
        return stamp(frozen if frozen is not None else self.now())

    @property
    def frozen(self) -> bool:
        """Tell whether the clock stands still."""
        return self._frozen is not None

    def freeze(self, at: datetime.datetime | datetime.date | None = None) -> None:
        """Stop the clock, at a given time (a date means its midnight) or at now.

        A time the clock cannot show raises ValueError and changes nothing.
        """
        moment = _as_datetime(at) if at is not None else None
        with self._lock:
            self._frozen = moment if moment is not None else self.now()

    def unfreeze(self) -> None:
        """Let the clock run again, on from the time it shows."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - utcnow()
                self._frozen = None

    def start_at(self, day: datetime.date) -> None:
        """Run the clock from that day, at the real time of day."""
        with self._lock:
            real = utcnow()
            self._frozen = None
            self._offset = datetime.datetime.combine(day, real.time()) - real

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number).

        A step that would leave the times the clock can show raises ValueError and
        changes nothing.
        """
        try:
            step = datetime.timedelta(seconds=seconds)
        except OverflowError:
            raise ValueError(OUT_OF_RANGE) from None
        with self._lock:
            try:
                moved = self.now() + step
            except OverflowError:
                raise ValueError(OUT_OF_RANGE) from None
            if self._frozen is not None:
                self._frozen = moved
            else:
                self._offset += step

    def state(self) -> ClockState:
        """Return what is needed to put the clock back as it is."""
        return self._frozen, self._offset

    def restore(self, state: ClockState) -> None:
        """Put the clock back as it was."""
        with self._lock:
            self._frozen, self._offset = state


def _as_datetime(value: datetime.datetime | datetime.date) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            try:
                value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            except OverflowError:  # a time zone that moves it out of datetime's range
                raise ValueError(OUT_OF_RANGE) from None
        return value.replace(microsecond=0)
    return datetime.datetime.combine(value, datetime.time())


def parse_moment(text: str) -> datetime.datetime:
    """Read a clock setting: ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS`` or ISO 8601."""
    try:
        if len(text) == 10:
            moment = _as_datetime(datetime.date.fromisoformat(text))
        else:
            moment = _as_datetime(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, TypeError) as exc:
        if str(exc) == OUT_OF_RANGE:
            raise ValueError(f"{text!r} is out of range: {OUT_OF_RANGE}") from None
        raise ValueError(
            f"{text!r} is not a date or time (YYYY-MM-DD, or YYYY-MM-DD HH:MM:SS in UTC)"
        ) from None
    return moment
