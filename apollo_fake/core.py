"""The fake's composition: one store, its clock, its settings and its recorder.

:class:`Core` is what the web layer serves and what tests arrange data on and
assert against. The user-facing :class:`~apollo_fake.fake.Fake` adds the ways in
(an app, a test client, a live server) over it, from the layer above the web.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import fixtures
from .clock import Clock, ClockState
from .errors import Superseded
from .faults import Faults, glob
from .model import Category, Company, Contact, Entry, Project, Task, User
from .recorder import Recorder
from .report import Coverage
from .service import PARENTS, default_user
from .settings import Settings
from .store import COLLECTIONS, PAGE_SIZE, Store, StoreSnapshot

__all__ = ["MAX_SNAPSHOTS", "Core", "Settings", "Snapshot"]

MAX_SNAPSHOTS = 100
# How long a reset waits for the requests begun before it to be answered. Their
# delays are cut short and their writes refused whatever happens; the wait only
# lets them end (in the journal they were recorded in) before the state returns.
SETTLE_SECONDS = 1.0
R = TypeVar("R")


@dataclass(frozen=True)
class Snapshot:
    """Everything a test can change, captured: the data, id counters, clock and rate windows."""

    store: StoreSnapshot
    clock: ClockState
    windows: dict[str, tuple[datetime.datetime, int]]


class Core:
    """Stand in for the Apollo time-tracking API: data, clock, settings and a recorder."""

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
            self.store = Store(fixtures.load_file(data))
        else:
            self.store = fixtures.build(data if data is not None else {})
        self.settings = settings or Settings()
        self.clock = Clock()
        if today is not None:
            self.clock.freeze(today)
        elif start is not None:
            self.clock.start_at(start)
        self._lock = threading.RLock()
        # What the fake records while it serves; a reset replaces it whole.
        self.recorder = Recorder(self.settings)
        # Guards which recorder a request begins under, and the counts of requests
        # in flight; notified as each one ends.
        self._counts = threading.Lock()
        self._flight = threading.Condition(self._counts)
        self._in_flight = 0
        self._waiting = 0  # threads waiting on _flight: only then does an end notify
        self._baseline = Snapshot(self.store.snapshot(), self.clock.state(), {})
        self._snapshots: dict[str, Snapshot] = {}

    # --- what the recorder holds, read through it (a reset replaces it) ------

    @property
    def journal(self) -> deque[dict[str, Any]]:
        """Return the recorded requests, oldest first (``journal_size`` at most)."""
        return self.recorder.log.records

    @property
    def journal_dropped(self) -> int:
        """Count the records that made room for newer ones since the journal was cleared."""
        return self.recorder.log.dropped

    @property
    def faults(self) -> Faults:
        """Return the fault rules."""
        return self.recorder.faults

    @property
    def coverage(self) -> Coverage:
        """Return what the client did with the calls of the contract since the last reset."""
        return self.recorder.coverage

    @property
    def windows(self) -> dict[str, tuple[datetime.datetime, int]]:
        """Return the rate-limit windows: per token, the window's start and requests used."""
        return self.recorder.windows

    # --- whole-state operations -------------------------------------------

    def _capture(self) -> Snapshot:
        with self._lock:
            windows = dict(self.recorder.windows)
            return Snapshot(self.store.snapshot(), self.clock.state(), windows)

    def _apply(self, snap: Snapshot, store: StoreSnapshot | None) -> None:
        with self._lock:
            self.store.restore(store)
            self.clock.restore(snap.clock)
            self.recorder.windows = dict(snap.windows)

    def reset(self, to: str = "loaded") -> None:
        """Go back to the loaded data (or to none: ``to="empty"``), clock and rate windows.

        Recorded requests, fault rules and ``coverage`` are forgotten too: a reset
        fake is the fake as it started. Snapshots are kept, and so is what
        :meth:`contract_report` tells of the requests before the reset.
        """
        if to not in ("loaded", "empty"):
            raise ValueError(f'to is "loaded" or "empty", not {to!r}')
        with self._lock:
            # What was recorded goes whole (but for what the run's report keeps); the
            # data and the clock return whole to their baseline.
            with self._counts:
                old = self.recorder
                self.recorder = old.successor()
            # The requests begun before: their delays wake, their writes are refused
            # from now on (see writing), and they are given a moment to end.
            old.end()
            self._wait_for(lambda: old.active == 0, SETTLE_SECONDS)
            old.fold()
            self._apply(self._baseline, None)
        if to == "empty":
            self.load({"account": self.store.account.to_fixture()})

    def clear_journal(self) -> None:
        """Forget the recorded requests."""
        self.recorder.clear_journal()

    def snapshot(self, name: str) -> None:
        """Save the current state under a name (at most MAX_SNAPSHOTS names)."""
        if name not in self._snapshots and len(self._snapshots) >= MAX_SNAPSHOTS:
            raise OverflowError(f"at most {MAX_SNAPSHOTS} snapshots; delete some first")
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
        if not fresh["account"]:
            fresh["account"] = {self.store.account.id: self.store.account}
        with self.store.lock:
            for name in COLLECTIONS:
                coll, new = self.store.collection(name), fresh[name]
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

        def full(record: Any) -> dict[str, Any]:
            # Entries in their wire form, every field present, so a test can compare
            # them with what the API answered.
            return record.to_wire() if isinstance(record, Entry) else record.to_fixture()

        for (name, _id), before, after in self.store.changes(base):
            kinds = out.setdefault(name, {"created": [], "updated": [], "deleted": []})
            if before is None:
                kinds["created"].append(full(after))
            elif after is None:
                kinds["deleted"].append(full(before))
            else:
                kinds["updated"].append({"before": full(before), "after": full(after)})
        return out

    # --- arranging and reading data ---------------------------------------

    def _add(self, collection: str, make: Callable[..., R], **fields: Any) -> R:
        with self.store.lock:
            given = fields.pop("id", None)
            new_id = given if given is not None else self.store.new_id(collection)
            record = make(id=new_id, **fields)
            self.store.put(collection, record)
            return record

    def _require(self, name: str, id: int | None) -> None:
        if id is not None and self.store.get(name, id) is None:
            raise ValueError(f"there is no {name} record with id {id}")

    def add_user(
        self, first_name: str = "", last_name: str = "", email: str = "", id: int | None = None
    ) -> User:
        """Add a user."""
        return self._add(
            "users", User, id=id, first_name=first_name, last_name=last_name, email=email
        )

    def add_category(self, name: str = "", id: int | None = None) -> Category:
        """Add a time category."""
        return self._add("time-categories", Category, id=id, name=name)

    def add_company(self, name: str = "", id: int | None = None) -> Company:
        """Add a company."""
        return self._add("companies", Company, id=id, name=name)

    def add_contact(
        self,
        name: str = "",
        kind: str = "contact",
        company_id: int | None = None,
        id: int | None = None,
    ) -> Contact:
        """Add a contact, a case or a deal."""
        if kind not in ("contact", "case", "deal"):
            raise ValueError(f"kind must be contact, case or deal, not {kind!r}")
        self._require("companies", company_id)
        return self._add(
            "contacts",
            Contact,
            id=id,
            name=name,
            kind=kind,
            company_id=company_id,
        )

    def add_project(
        self, name: str = "", company_id: int | None = None, id: int | None = None
    ) -> Project:
        """Add a project."""
        self._require("companies", company_id)
        return self._add(
            "projects",
            Project,
            id=id,
            name=name,
            company_id=company_id,
        )

    def add_task(
        self,
        subject: str = "",
        project_id: int | None = None,
        contact_id: int | None = None,
        id: int | None = None,
    ) -> Task:
        """Add a task on a project or on a contact."""
        if (project_id is None) == (contact_id is None):
            raise ValueError("a task names a project or a contact, not both and not neither")
        self._require("projects", project_id)
        self._require("contacts", contact_id)
        return self._add(
            "tasks",
            Task,
            id=id,
            subject=subject,
            project_id=project_id,
            contact_id=contact_id,
        )

    def add_entry(
        self,
        seconds: int = 3600,
        date: str | None = None,
        *,
        user_id: int | None = None,
        project_id: int | None = None,
        task_id: int | None = None,
        contact_id: int | None = None,
        category_id: int | None = None,
        notes: str = "",
        billable: str = "unset",
        id: int | None = None,
    ) -> Entry:
        """Add a time entry (on a task, it takes the task's project or contact)."""
        with self.store.lock:
            if task_id is not None:
                task = self.store.get("tasks", task_id)
                if task is None:
                    raise ValueError(f"there is no task with id {task_id}")
                project_id, contact_id = task.project_id, task.contact_id
            if project_id is not None and contact_id is not None:
                raise ValueError("an entry hangs on a project or a contact, not both")
            self._require("projects", project_id)
            self._require("contacts", contact_id)
            self._require("time-categories", category_id)
            if user_id is None and not self.store.users:
                raise ValueError("the data has no users: add one first, or give user_id")
            user = user_id if user_id is not None else default_user(self.store)
            self._require("users", user)
            stamp = self.clock.timestamp()
            return self._add(
                "time-entries",
                Entry,
                id=id,
                user_id=user,
                date=date or self.clock.today().isoformat(),
                seconds=seconds,
                category_id=category_id,
                project_id=project_id,
                task_id=task_id,
                contact_id=contact_id,
                notes=notes,
                billable=billable,
                created_at=stamp,
                updated_at=stamp,
            )

    def entry(self, id: int) -> Entry | None:
        """Return one entry, or None."""
        found: Entry | None = self.store.get("time-entries", id)
        return found

    def requests(
        self,
        method: str | None = None,
        path: str | None = None,
        status: int | str | None = None,
        after: int = 0,
        limit: int | None = None,
        violations: bool = False,
    ) -> list[dict[str, Any]]:
        """Return the recorded requests, oldest first, optionally of one method, path glob
        and status: a number (``422``) or a class (``"4xx"``).

        ``after`` keeps only the records numbered (``seq``) above it, which is how a
        reader follows the journal; ``violations`` only those that broke the contract;
        ``limit`` keeps only the newest that many matches.
        A status that is neither raises ValueError.
        """
        return self.follow(method, path, status, after, limit, violations)[0]

    def follow(
        self,
        method: str | None = None,
        path: str | None = None,
        status: int | str | None = None,
        after: int = 0,
        limit: int | None = None,
        violations: bool = False,
    ) -> tuple[list[dict[str, Any]], int]:
        """Return :meth:`requests` and the number of the last record made (a cursor)."""
        matches = glob(path) if path is not None else None
        statuses = _statuses(status) if status is not None else None
        if limit is not None and limit < 1:
            raise ValueError(f"limit is 1 or more, not {limit}")
        records, last = self.recorder.since(after)
        found = [
            r
            for r in records
            if (method is None or r["method"] == method.upper())
            and (matches is None or matches(r["path"]))
            and (statuses is None or r["status"] in statuses)
            and (not violations or r["violations"])
        ]
        if limit is not None:
            found = found[-limit:]
        return found, last

    def parents(self, collection: str, page: int) -> tuple[list[dict[str, Any]], int]:
        """Return one page (50, by id) of projects, tasks or contacts, each with its entry
        count, and how many there are; read under the store's lock, never journaled."""
        index_name = PARENTS[collection]
        with self.store.lock:
            records = self.store.collection(collection)
            ids = sorted(records)
            index = getattr(self.store.index, index_name)
            chosen = ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            out = []
            for id in chosen:
                row = records[id].to_fixture()
                row["entries"] = len(index.get(id) or ())
                out.append(row)
            return out, len(ids)

    def entries_of(self, collection: str, parent_id: int, page: int) -> tuple[list[Any], int]:
        """Return one page (50, date descending as the API pages them) of a parent's entries
        in their wire form, and how many it has; KeyError when there is no such parent."""
        with self.store.lock:
            if self.store.get(collection, parent_id) is None:
                raise KeyError(f"there is no {PARENTS[collection]} with id {parent_id}")
            found = self.store.page(PARENTS[collection], parent_id, page)
            group = getattr(self.store.index, PARENTS[collection]).get(parent_id) or ()
            return [e.to_wire() for e in found.entries], len(group)

    # --- requests ----------------------------------------------------------

    def begin(self, arrived: Recorder | None = None) -> Recorder:
        """Count a request in flight; return the recorder it belongs to (see :meth:`end`).

        ``arrived`` is the recorder :meth:`arrive` gave the request, if a server
        counted it in flight before it reached the app: it is taken up in its own epoch.
        """
        # The plain lock, not the condition's methods: this runs for every request.
        with self._counts:
            if arrived is not None:
                arrived.active += 1
                return arrived
            recorder = self.recorder
            recorder.active += 1
            self._in_flight += 1
            return recorder

    def arrive(self) -> Recorder:
        """Count a request in flight that no app has yet (its head is in, its body coming).

        A reset does not wait for it: the server that holds it may be the one the
        reset runs on, and it is answered as superseded (a 503, read or write) when it
        reaches the app after the reset. Pass
        the recorder to :meth:`begin` when it does, or to :meth:`leave` if it never will.
        """
        with self._counts:
            self._in_flight += 1
            return self.recorder

    def leave(self, arrived: Recorder) -> None:
        """Count a request from :meth:`arrive` that never reached the app as over."""
        with self._counts:
            self._in_flight -= 1
            if self._waiting:
                self._flight.notify_all()

    def end(self, recorder: Recorder) -> None:
        """Count a request begun with :meth:`begin` as answered."""
        with self._counts:
            recorder.active -= 1
            self._in_flight -= 1
            if self._waiting:
                self._flight.notify_all()

    def _wait_for(self, done: Callable[[], bool], timeout: float | None) -> bool:
        with self._flight:
            self._waiting += 1
            try:
                return self._flight.wait_for(done, timeout)
            finally:
                self._waiting -= 1

    @property
    def in_flight(self) -> int:
        """Count the requests to the Apollo calls being answered now."""
        return self._in_flight

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no request is in flight (at most ``timeout`` seconds); tell if none is."""
        return self._wait_for(lambda: self._in_flight == 0, timeout)

    def writing(self, recorder: Recorder) -> contextlib.AbstractContextManager[None]:
        """Hold the store for a request's write; refuse it when a reset ended its recorder.

        The check and the write are one step under the store's lock, and a reset
        replaces the recorder before it restores the data under that lock: a write
        either lands before the restore (which undoes it) or is refused.
        """
        return _Writing(self.store.lock, recorder)

    def record(self, entry: dict[str, Any], weight: int = 0) -> None:
        """Add a request to the journal (``weight``: what its body weighs), see Recorder."""
        self.recorder.record(entry, weight)

    def contract_report(self, since_reset: bool = False) -> dict[str, Any]:
        """Return the contract report (``GET /_fake/report``): violations and coverage.

        It covers every request since the fake was built, resets included, so that
        a client resetting the fake between its tests cannot erase what it did;
        ``since_reset=True`` covers only the requests since the last reset.
        """
        return self.recorder.contract_report(since_reset)

    def violations(self) -> list[dict[str, Any]]:
        """Return the recorded requests that broke the contract and were not expected to."""
        return [r for r in self.journal if r.get("violations") and not r.get("expected")]

    def expect_errors(self) -> contextlib.AbstractContextManager[None]:
        """Mark the contract violations made inside the block as deliberate.

        The block belongs to the recorder it opened on: a reset inside it starts a
        recorder that expects nothing, so later violations count again.
        """
        return self.recorder.expect_errors()

    def take_request(self, token: str) -> int | None:
        """Count one request against the rate limit; return seconds to wait when over it."""
        return self.recorder.take_request(token, self.clock.now())


class _Writing:
    """The store's lock, held for one write of a request that no reset has ended.

    A class rather than a generator: every create, update and delete enters one.
    """

    __slots__ = ("lock", "recorder")

    def __init__(self, lock: Any, recorder: Recorder) -> None:
        self.lock = lock
        self.recorder = recorder

    def __enter__(self) -> None:
        self.lock.acquire()
        if self.recorder.ended.is_set():
            self.lock.release()
            raise Superseded()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


_STATUS = re.compile(r"([1-5])([0-9][0-9]|xx)", re.IGNORECASE)


def _statuses(status: int | str) -> range:
    """Read a status filter: ``422`` or ``"422"``, or a class such as ``"4xx"``."""
    match = _STATUS.fullmatch(str(status)) if not isinstance(status, bool) else None
    if match is None:
        raise ValueError(f"{status!r} is a status such as 422, or a class such as 4xx")
    if match.group(2).lower() == "xx":
        first = int(match.group(1)) * 100
        return range(first, first + 100)
    return range(int(status), int(status) + 1)
