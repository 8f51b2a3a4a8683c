"""The fake: one store, its clock, its settings and what it has seen, behind one object.

This is the Python face of apollo-fake. The web app, the CLI and the pytest
plugin all hold a :class:`Fake`; tests use it to arrange data and to assert
what a client did.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fixtures
from .clock import Clock, ClockState
from .store import COLLECTIONS, Store, StoreSnapshot


@dataclass(frozen=True)
class Settings:
    """How a fake behaves beyond its data: auth, rate limit, journal size."""

    tokens: Mapping[str, int] = field(default_factory=dict)
    rate_limit: tuple[int, float] | None = None
    journal_size: int = 10_000


@dataclass(frozen=True)
class Snapshot:
    """Everything a test can change, captured: the data, id counters, clock and rate windows."""

    store: StoreSnapshot
    clock: ClockState
    windows: dict[str, tuple[datetime.datetime, int]]


class Fake:
    """Stand in for the Apollo time-tracking API: data, clock, settings and journal."""

    def __init__(
        self,
        data: Any = None,
        *,
        today: datetime.date | datetime.datetime | None = None,
        start: datetime.date | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Build a fake from a fixture document, a path to one, or a ready Store (None: empty).

        ``today`` freezes the clock there; ``start`` lets it run from that day.
        """
        if isinstance(data, Store):
            self.store = data
        elif isinstance(data, str | Path):
            self.store = fixtures.build(fixtures.read(data))
        else:
            self.store = fixtures.build(data if data is not None else {})
        self.settings = settings or Settings()
        self.clock = Clock()
        if today is not None:
            self.clock.freeze(today)
        elif start is not None:
            self.clock.start_at(start)
        self._lock = threading.RLock()
        self.windows: dict[str, tuple[datetime.datetime, int]] = {}
        self.journal: deque[dict[str, Any]] = deque(maxlen=self.settings.journal_size)
        self._expecting_errors = 0
        self._baseline = Snapshot(self.store.snapshot(), self.clock.state(), {})
        self._snapshots: dict[str, Snapshot] = {}

    # --- whole-state operations -------------------------------------------

    def _capture(self) -> Snapshot:
        with self._lock:
            return Snapshot(self.store.snapshot(), self.clock.state(), dict(self.windows))

    def _apply(self, snap: Snapshot, store: StoreSnapshot | None) -> None:
        with self._lock:
            self.store.restore(store)
            self.clock.restore(snap.clock)
            self.windows = dict(snap.windows)

    def reset(self) -> None:
        """Go back to the loaded data, clock and rate windows, and forget recorded requests."""
        self._apply(self._baseline, None)
        self.journal.clear()
        self._expecting_errors = 0

    def snapshot(self, name: str) -> None:
        """Save the current state under a name."""
        self._snapshots[name] = self._capture()

    def restore(self, name: str) -> None:
        """Return to a named snapshot; the cost is that of the changes since loading."""
        snap = self._snapshots[name]
        self._apply(snap, snap.store)

    def snapshots(self) -> list[str]:
        """List the names of the saved snapshots."""
        return sorted(self._snapshots)

    def forget(self, name: str) -> None:
        """Delete a named snapshot."""
        del self._snapshots[name]

    def state(self) -> dict[str, Any]:
        """Return the whole data as a fixture document."""
        return fixtures.document(self.store)

    def load(self, doc: Any) -> None:
        """Replace the data with a fixture document, as a change that reset undoes.

        The document is checked first; an invalid one raises FixtureError and
        changes nothing.
        """
        fresh = fixtures.records(doc)
        with self.store.lock:
            for name in COLLECTIONS:
                coll = self.store.collection(name)
                new = fresh[name]
                if name == "account":
                    self.store.put(name, next(iter(new.values()), self.store.account))
                    continue
                for id in [i for i in coll if i not in new]:
                    self.store.delete(name, id)
                for record in new.values():
                    if coll.get(record.id) != record:
                        self.store.put(name, record)
                self.store.next_ids[name] = max(new, default=0) + 1

    def changes(self, since: str | None = None) -> dict[str, dict[str, list[Any]]]:
        """Tell what was created, updated and deleted since loading (or a named snapshot)."""
        base = self._snapshots[since].store if since is not None else None
        out: dict[str, dict[str, list[Any]]] = {}
        for (name, _id), before, after in self.store.changes(base):
            kinds = out.setdefault(name, {"created": [], "updated": [], "deleted": []})
            if before is None:
                kinds["created"].append(after.to_fixture())
            elif after is None:
                kinds["deleted"].append(before.to_fixture())
            else:
                kinds["updated"].append(
                    {"before": before.to_fixture(), "after": after.to_fixture()}
                )
        return out

    # --- requests ----------------------------------------------------------

    def record(self, entry: dict[str, Any]) -> None:
        """Add a request to the journal, marking expected errors as such."""
        if self._expecting_errors and entry.get("violations"):
            entry["expected"] = True
        self.journal.append(entry)

    def violations(self) -> list[dict[str, Any]]:
        """Return the recorded requests that broke the contract and were not expected to."""
        return [r for r in self.journal if r.get("violations") and not r.get("expected")]

    @contextlib.contextmanager
    def expect_errors(self) -> Iterator[None]:
        """Mark the contract violations made inside the block as deliberate."""
        with self._lock:
            self._expecting_errors += 1
        try:
            yield
        finally:
            with self._lock:
                self._expecting_errors -= 1

    def take_request(self, token: str) -> int | None:
        """Count one request against the rate limit; return seconds to wait when over it."""
        limit = self.settings.rate_limit
        if limit is None:
            return None
        allowed, period = limit
        now = self.clock.now()
        with self._lock:
            start, used = self.windows.get(token, (now, 0))
            elapsed = (now - start).total_seconds()
            if elapsed >= period or elapsed < 0:
                start, used = now, 0
            if used >= allowed:
                wait = period - (now - start).total_seconds()
                return max(1, int(wait + 0.999))
            self.windows[token] = (start, used + 1)
            return None
