"""The in-memory store: entities, their orderings, and change tracking.

Every write goes through one primitive, :meth:`Store._put`, which keeps the
indexes in step and remembers, the first time a record is touched, what it was
in the loaded data. That memory is what makes reset, snapshots and "what
changed" cost time proportional to the changes made, not to the data held.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList

from .model import (
    ID_SPAN,
    Account,
    Category,
    Company,
    Contact,
    Entry,
    Project,
    Record,
    Task,
    User,
)

PAGE_SIZE = 50

# Collection names as the fixture file spells them, in its order.
COLLECTIONS = (
    "account",
    "users",
    "time-categories",
    "companies",
    "contacts",
    "projects",
    "tasks",
    "time-entries",
)

Key = tuple[str, int]


@dataclass(frozen=True)
class StoreSnapshot:
    """What the store looked like: the records that differ from the loaded data, and id counters.

    The records are kept as two tuples, not a dict, which take less memory: up to
    ``core.MAX_SNAPSHOTS`` snapshots may each hold every record a long run has changed.
    """

    keys: tuple[Key, ...]
    values: tuple[Record | None, ...]
    next_ids: dict[str, int]

    @property
    def records(self) -> dict[Key, Record | None]:
        """Return the records that differed from the loaded data, by key."""
        return dict(zip(self.keys, self.values, strict=True))


@dataclass
class Page:
    """One page of a listing."""

    entries: list[Entry]
    more: bool = False


@dataclass
class Indexes:
    """Orderings of entry keys (date, then id): by parent, by user, and of all entries."""

    all: SortedList = field(default_factory=SortedList)
    project: dict[int, SortedList] = field(default_factory=dict)
    contact: dict[int, SortedList] = field(default_factory=dict)
    task: dict[int, SortedList] = field(default_factory=dict)
    user: dict[int, SortedList] = field(default_factory=dict)

    def _groups(self, e: Entry) -> tuple[tuple[dict[int, SortedList], int | None], ...]:
        # A tuple, not a generator: every write walks it, and a generator costs more.
        return (
            (self.project, e.project_id),
            (self.contact, e.contact_id),
            (self.task, e.task_id),
            (self.user, e.user_id),
        )

    def add(self, e: Entry) -> None:
        """Put an entry in every ordering it belongs to."""
        key = e.key
        self.all.add(key)
        for group, parent in self._groups(e):
            if parent is not None:
                found = group.get(parent)
                if found is None:
                    found = group[parent] = SortedList()
                found.add(key)

    def remove(self, e: Entry) -> None:
        """Take an entry out of every ordering it is in."""
        self.all.remove(e.key)
        for group, parent in self._groups(e):
            if parent is not None:
                group[parent].remove(e.key)

    @classmethod
    def build(cls, entries: Iterable[Entry]) -> Indexes:
        """Index many entries at once: one sort per ordering instead of an insert per entry."""
        buckets: dict[str, dict[int, list[int]]] = {
            "project": {},
            "contact": {},
            "task": {},
            "user": {},
        }
        keys = []
        for e in entries:
            keys.append(e.key)
            for name, parent in (
                ("project", e.project_id),
                ("contact", e.contact_id),
                ("task", e.task_id),
                ("user", e.user_id),
            ):
                if parent is not None:
                    buckets[name].setdefault(parent, []).append(e.key)
        out = cls(all=SortedList(keys))
        for name, groups in buckets.items():
            target: dict[int, SortedList] = getattr(out, name)
            for parent, group_keys in groups.items():
                target[parent] = SortedList(group_keys)
        return out


_UNSEEN = object()


def _no_entries() -> SortedList:
    return SortedList()


class Store:
    """Hold every entity of one fake, with the rules of listing and paging.

    Thread-safe: one lock guards every read and write, so a threaded server
    never loses a write nor hands out one id twice.
    """

    def __init__(self, records: dict[str, dict[int, Any]] | None = None) -> None:
        data = records or {}
        self.lock = threading.RLock()
        accounts = data.get("account") or {1: Account(1, "")}
        self.users: dict[int, User] = dict(data.get("users", {}))
        self.categories: dict[int, Category] = dict(data.get("time-categories", {}))
        self.companies: dict[int, Company] = dict(data.get("companies", {}))
        self.contacts: dict[int, Contact] = dict(data.get("contacts", {}))
        self.projects: dict[int, Project] = dict(data.get("projects", {}))
        self.tasks: dict[int, Task] = dict(data.get("tasks", {}))
        self.entries: dict[int, Entry] = dict(data.get("time-entries", {}))
        # The dicts are changed in place, never replaced, so this map stays true.
        self._collections: dict[str, dict[int, Any]] = {
            "account": dict(accounts),
            "users": self.users,
            "time-categories": self.categories,
            "companies": self.companies,
            "contacts": self.contacts,
            "projects": self.projects,
            "tasks": self.tasks,
            "time-entries": self.entries,
        }
        self.index = Indexes.build(self.entries.values())
        self.next_ids = {name: max(self.collection(name), default=0) + 1 for name in COLLECTIONS}
        self._loaded_next_ids = dict(self.next_ids)
        # Counts the changes, so that answers computed from the data can be kept
        # until it changes (see web/api.py).
        self.version = 0
        # The loaded value of every record touched since the data was loaded
        # (None: it did not exist). Reset and "changes" read only this.
        self._original: dict[Key, Record | None] = {}

    # --- reading -----------------------------------------------------------

    @property
    def account(self) -> Account:
        """Return the account the data belongs to."""
        found: Account = next(iter(self._collections["account"].values()))
        return found

    def collection(self, name: str) -> dict[int, Any]:
        """Return the live dict of one collection, by its fixture-file name."""
        return self._collections[name]

    def get(self, name: str, id: int) -> Any:
        """Return one record, or None."""
        # No lock: one dict lookup is atomic, and sees the record before or after
        # a write, never half of one (records are replaced whole).
        return self._collections[name].get(id)

    def counts(self) -> dict[str, int]:
        """Count the records of each collection."""
        with self.lock:
            return {name: len(self.collection(name)) for name in COLLECTIONS if name != "account"}

    def _entries_of(self, keys: Iterable[int]) -> list[Entry]:
        entries = self.entries
        return [entries[k % ID_SPAN] for k in keys]

    def page(self, parent: str, parent_id: int, page: int) -> Page:
        """Return page ``page`` (from 1) of a project's or contact's entries, newest first.

        Every paged listing goes through here; the cost is that of one page,
        whatever the listing's length.
        """
        with self.lock:
            group = getattr(self.index, parent).get(parent_id) or _no_entries()
            hi = len(group) - (page - 1) * PAGE_SIZE
            if hi <= 0:
                return Page([])
            lo = max(0, hi - PAGE_SIZE)
            keys = group[lo:hi]
            keys.reverse()
            return Page(self._entries_of(keys), more=lo > 0)

    def listing(self, parent: str, parent_id: int) -> list[Entry]:
        """Return every entry of one parent, newest first (the task listing has no pages)."""
        with self.lock:
            group = getattr(self.index, parent).get(parent_id) or _no_entries()
            return self._entries_of(reversed(group))

    def window(
        self, sources: list[SortedList], first_ordinal: int, last_ordinal: int
    ) -> list[Entry]:
        """Return the entries of some orderings dated within [first, last], newest first."""
        lo, hi = first_ordinal * ID_SPAN, (last_ordinal + 1) * ID_SPAN - 1
        with self.lock:
            ranges = [s.irange(lo, hi, reverse=True) for s in sources]
            keys: Iterable[int] = (
                ranges[0] if len(ranges) == 1 else heapq.merge(*ranges, reverse=True)
            )
            return self._entries_of(keys)

    # --- writing -----------------------------------------------------------

    def _put(self, name: str, id: int, record: Any) -> None:
        """Set one record (None deletes it): the only way the store changes."""
        coll = self._collections[name]
        old = coll.get(id)
        if old is record:
            return
        self.version += 1
        key = (name, id)
        original = self._original
        loaded = original.get(key, _UNSEEN)
        if loaded is _UNSEEN:
            loaded = original[key] = old
        if name == "time-entries":
            if old is not None:
                self.index.remove(old)
            if record is not None:
                self.index.add(record)
        if record is None:
            del coll[id]
        else:
            coll[id] = record
        if loaded is record:
            # Back to its loaded value (a create deleted again): nothing to undo,
            # and a create-delete churn must not grow what reset has to walk.
            del original[key]

    def put(self, name: str, record: Any) -> Any:
        """Insert or replace a record, keeping ids unique across creates."""
        with self.lock:
            self._put(name, record.id, record)
            if record.id >= self.next_ids[name]:
                self.next_ids[name] = record.id + 1
            return record

    def delete(self, name: str, id: int) -> bool:
        """Delete a record; tell whether it existed."""
        with self.lock:
            if id not in self.collection(name):
                return False
            self._put(name, id, None)
            return True

    def new_id(self, name: str) -> int:
        """Hand out the next id of a collection, never one handed out before in this state."""
        with self.lock:
            value = self.next_ids[name]
            self.next_ids[name] = value + 1
            return value

    # --- snapshots ---------------------------------------------------------

    def snapshot(self) -> StoreSnapshot:
        """Capture the current state, at the cost of the changes since loading."""
        with self.lock:
            keys = tuple(self._original)
            values = tuple(self.collection(name).get(id) for name, id in keys)
            return StoreSnapshot(keys, values, dict(self.next_ids))

    def restore(self, snap: StoreSnapshot | None = None) -> None:
        """Return to a snapshot (None: the loaded data), touching only what differs."""
        target = snap.records if snap is not None else {}
        with self.lock:
            for key in target:
                if key not in self._original:
                    self._original[key] = self.collection(key[0]).get(key[1])
            for key, loaded in list(self._original.items()):
                self._put(key[0], key[1], target.get(key, loaded))
            if snap is None:
                self._original.clear()
                self.next_ids = dict(self._loaded_next_ids)
            else:
                self.next_ids = dict(snap.next_ids)

    def changes(self, since: StoreSnapshot | None = None) -> Iterator[tuple[Key, Any, Any]]:
        """Yield (key, before, after) for each record changed since loading or a snapshot."""
        with self.lock:
            base = since.records if since is not None else {}
            keys = dict.fromkeys([*self._original, *base])
            out = []
            for key in keys:
                # Untouched before the snapshot means it still held its loaded value then.
                before = base[key] if key in base else self._original[key]
                after = self.collection(key[0]).get(key[1])
                if before != after:
                    out.append((key, before, after))
        yield from sorted(out, key=lambda c: (COLLECTIONS.index(c[0][0]), c[0][1]))
