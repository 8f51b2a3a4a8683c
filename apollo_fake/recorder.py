"""What a fake records while it serves, as one object beside its data.

A :class:`Recorder` holds the journal (with what its bodies weigh and how many
records made room), the fault rules, the contract coverage (and the coverage from
before the last reset, which the run's report keeps), the rate-limit windows and
the ``expect_errors`` depth. A reset builds a new one whole, so a field added here
cannot be forgotten by the reset.

A recorder is also the epoch of the requests that began under it: a request
keeps the recorder it started with, and the reset that replaces it sets its
``ended`` event, which wakes the request's delay and refuses its writes.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

import orjson

from .faults import Faults
from .report import Coverage
from .settings import Settings

# What a record holds beside its body and its strings: the dict, its keys, the
# string objects' headers.
RECORD_OVERHEAD = 1024


def record_weight(entry: dict[str, Any], body_weight: int) -> int:
    """Weigh a journal record: its body, and everything else it holds (path, query
    string, message, details) by its JSON size, which is what the journal's answer
    and the memory holding it grow with. The kept answer, text already, weighs its
    length: encoding up to 4 KiB again on every request would only confirm it."""
    rest = entry.copy()  # and two deletions: cheaper than a filtered comprehension
    rest.pop("body", None)
    answer = rest.pop("answer", None)
    kept = len(answer) if isinstance(answer, str) else 0
    return body_weight + kept + len(orjson.dumps(rest, default=str)) + RECORD_OVERHEAD


class Journal:
    """The recorded requests, oldest first, bounded in count and in bytes."""

    __slots__ = ("records", "weights", "weight", "dropped")

    def __init__(self, settings: Settings) -> None:
        self.records: deque[dict[str, Any]] = deque(maxlen=settings.journal_size)
        # What each record weighs, in the records' order.
        self.weights: deque[int] = deque(maxlen=settings.journal_size)
        self.weight = 0
        self.dropped = 0  # records that made room for newer ones


class Recorder:
    """Hold what a fake records while it serves: journal, faults, coverage, rate windows."""

    def __init__(
        self, settings: Settings, earlier: Coverage | None = None, seq: int = 1
    ) -> None:
        """Start empty; ``earlier`` is the coverage of the requests before a reset.

        ``seq`` is the number the next journal record gets: a reset carries it on,
        so that a reader's cursor (``GET /_fake/requests?after=``) never sees a number twice.
        """
        self.settings = settings
        self.seq = seq
        self.lock = threading.RLock()
        self.log = Journal(settings)
        self.faults = Faults()
        # What the client did with the calls of the contract, since the last reset;
        # the counts from before each reset are kept apart for the run's report.
        self.coverage = Coverage()
        self.earlier = earlier if earlier is not None else Coverage()
        self.windows: dict[str, tuple[datetime.datetime, int]] = {}
        self.expecting = 0  # the depth of expect_errors blocks open on this recorder
        # Set by the reset that replaced this recorder: its requests are over.
        self.ended = threading.Event()
        self.active = 0  # requests begun under this recorder and not answered yet
        self._wakes: set[threading.Event] = set()  # set with ``ended`` (see hold)

    def end(self) -> None:
        """Mark this recorder's requests over: set ``ended`` and wake every hold."""
        with self.lock:
            self.ended.set()
            for wake in self._wakes:
                wake.set()

    def hold(self, wake: threading.Event) -> None:
        """Set ``wake`` when this recorder's requests are over (at once if they are).

        A delay waits on an event of its own, which something else (its client gone,
        the server stopping) may set too; call :meth:`release` when it is over.
        """
        with self.lock:
            self._wakes.add(wake)
            if self.ended.is_set():
                wake.set()

    def release(self, wake: threading.Event) -> None:
        """Forget an event given to :meth:`hold`."""
        with self.lock:
            self._wakes.discard(wake)

    def successor(self) -> Recorder:
        """Return the recorder a reset starts with: empty, sharing the earlier coverage.

        This one's coverage joins the earlier coverage in :meth:`fold`, once its
        requests are over.
        """
        with self.lock:
            return Recorder(self.settings, self.earlier, self.seq)

    def fold(self) -> None:
        """Add this recorder's coverage to the earlier coverage (a reset, at its end)."""
        if not self.coverage.empty:  # else nothing to carry: a reset stays cheap
            self.earlier.absorb(self.coverage)

    def clear_journal(self) -> None:
        """Forget the recorded requests."""
        with self.lock:
            self.log = Journal(self.settings)

    def record(self, entry: dict[str, Any], weight: int = 0) -> None:
        """Add a request to the journal, marking expected errors as such.

        The oldest records make room, counted in ``dropped``, when the journal holds
        ``journal_size`` records or they would weigh more than ``journal_bytes``
        (``weight`` is this one's body; its path, query string, message and details
        are weighed here). A record heavier than the whole budget is not kept
        either, and is counted as dropped: the bound holds whatever one request sends.
        """
        if self.expecting and entry.get("violations"):
            entry["expected"] = True
        weight = record_weight(entry, weight)
        with self.lock:
            entry["seq"] = self.seq  # numbered in the order kept, dropped or not
            self.seq += 1
            log = self.log
            journal, weights = log.records, log.weights
            budget = self.settings.journal_bytes - weight
            if journal.maxlen == 0 or budget < 0:  # a journal kept off, or too heavy
                log.dropped += 1
                return
            while journal and (len(journal) == journal.maxlen or log.weight > budget):
                journal.popleft()
                log.weight -= weights.popleft()
                log.dropped += 1
            journal.append(entry)
            weights.append(weight)
            log.weight += weight

    def since(self, after: int) -> tuple[list[dict[str, Any]], int]:
        """Return the kept records numbered above ``after``, oldest first, and the number of
        the last record made (0 before the first): the ``after`` of the next read."""
        with self.lock:
            records = self.log.records
            if not records or records[0]["seq"] > after:
                return list(records), self.seq - 1
            # The numbers rise along the deque: only the new tail is read, from the end.
            start = len(records)
            while records[start - 1]["seq"] > after:
                start -= 1
            return [records[i] for i in range(start, len(records))], self.seq - 1

    def contract_report(self, since_reset: bool = False) -> dict[str, Any]:
        """Return the contract report document, since the fake was built or since the reset."""
        coverage = self.coverage
        if not since_reset:
            coverage = Coverage()
            coverage.absorb(self.earlier)
            coverage.absorb(self.coverage)
        settings = self.settings
        return coverage.document(
            auth=bool(settings.tokens), rate_limited=settings.rate_limit is not None
        )

    @contextlib.contextmanager
    def expect_errors(self) -> Iterator[None]:
        """Mark the contract violations recorded inside the block as deliberate."""
        with self.lock:
            self.expecting += 1
        try:
            yield
        finally:
            with self.lock:
                self.expecting -= 1

    def take_request(self, token: str, now: datetime.datetime) -> int | None:
        """Count one request against the rate limit; return seconds to wait when over it."""
        limit = self.settings.rate_limit
        if limit is None:
            return None
        allowed, period = limit
        with self.lock:
            start, used = self.windows.get(token, (now, 0))
            elapsed = (now - start).total_seconds()
            if elapsed >= period or elapsed < 0:
                start, used = now, 0
            if used >= allowed:
                wait = period - (now - start).total_seconds()
                return max(1, int(wait + 0.999))
            self.windows[token] = (start, used + 1)
            return None
