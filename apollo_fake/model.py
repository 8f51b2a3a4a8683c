"""The entities, immutable: a change replaces a record, never edits it.

Immutability is what makes the rest cheap and safe: a snapshot can hold the
records themselves, a reader never sees a half-made change, and an entry's wire
bytes can be cached on it without ever going stale.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import orjson

BILLABLE = ("unset", "not billable", "billable", "billed")

# Index keys pack (date, id) into one int so that every ordering is a plain
# int comparison and one key object is shared by all the indexes of an entry.
ID_SPAN = 10**18


def ref(value: int | None) -> str | None:
    """Write an id reference as the wire does: a digit string, or null."""
    return None if value is None else str(value)


def parse_ref(value: Any) -> int | None:
    """Read an id reference from a fixture or request (digit string or integer), or None."""
    if value is None:
        return None
    return parse_id(value)


def parse_id(value: Any) -> int:
    """Read an id as the vendor's PHP does: a number, so leading zeros name the same id.

    An id too long to exist comes back as -1, which names nothing, so that a
    5,000-digit id is a plain "not found" rather than a costly int() conversion.
    """
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value if 0 <= value < ID_SPAN else -1
    if isinstance(value, float):
        return int(value) if value.is_integer() and 0 <= value < ID_SPAN else -1
    digits = str(value).lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else -1


@dataclass(frozen=True, slots=True)
class Account:
    """The account the API talks for."""

    id: int
    name: str = ""

    def to_fixture(self) -> dict[str, Any]:
        """Return the fixture-file form."""
        return {"id": str(self.id), "name": self.name}


@dataclass(frozen=True, slots=True)
class User:
    """A person who records time."""

    id: int
    first_name: str = ""
    last_name: str = ""
    email: str = ""

    def to_fixture(self) -> dict[str, Any]:
        """Return the fixture-file form."""
        return {
            "id": str(self.id),
            "first-name": self.first_name,
            "last-name": self.last_name,
            "email": self.email,
        }


@dataclass(frozen=True, slots=True)
class Category:
    """A time category (Development, Meetings, ...)."""

    id: int
    name: str = ""

    def to_fixture(self) -> dict[str, Any]:
        """Return the fixture-file form."""
        return {"id": str(self.id), "name": self.name}


@dataclass(frozen=True, slots=True)
class Company:
    """A company that projects and contacts may belong to."""

    id: int
    name: str = ""

    def to_fixture(self) -> dict[str, Any]:
        """Return the fixture-file form."""
        return {"id": str(self.id), "name": self.name}


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact, a case or a deal: one id space for the three kinds."""

    id: int
    kind: str = "contact"
    name: str = ""
    company_id: int | None = None

    def to_fixture(self) -> dict[str, Any]:
        """Return the fixture-file form."""
        return {
            "id": str(self.id),
            "kind": self.kind,
            "name": self.name,
            "company-id": ref(self.company_id),
        }


@dataclass(frozen=True, slots=True)
class Project:
    """A project, optionally of a company."""

    id: int
    name: str = ""
    company_id: int | None = None

    def to_fixture(self) -> dict[str, Any]:
        """Return the fixture-file form."""
        return {"id": str(self.id), "name": self.name, "company-id": ref(self.company_id)}


@dataclass(frozen=True, slots=True)
class Task:
    """A task on a project or on a contact."""

    id: int
    subject: str = ""
    project_id: int | None = None
    contact_id: int | None = None

    def to_fixture(self) -> dict[str, Any]:
        """Return the fixture-file form."""
        return {
            "id": str(self.id),
            "subject": self.subject,
            "project-id": ref(self.project_id),
            "contact-id": ref(self.contact_id),
        }


_ORDINALS: dict[str, int] = {}


def date_ordinal(date: str) -> int:
    """Return the proleptic ordinal of a ``YYYY-MM-DD`` date, cached (few distinct dates)."""
    found = _ORDINALS.get(date)
    if found is None:
        found = _ORDINALS[date] = datetime.date.fromisoformat(date).toordinal()
    return found


class _EntrySlots:
    """The fields of an entry, as slots: the layout Entry and _Draft share."""

    __slots__ = (
        "id",
        "category_id",
        "user_id",
        "project_id",
        "task_id",
        "contact_id",
        "date",
        "seconds",
        "notes",
        "billable",
        "created_at",
        "updated_at",
        "key",
        "_wire",
    )

    id: int
    category_id: int | None
    user_id: int
    project_id: int | None
    task_id: int | None
    contact_id: int | None
    date: str
    seconds: int
    notes: str
    billable: str
    created_at: str | None
    updated_at: str | None
    key: int
    _wire: bytes | None


class _Draft(_EntrySlots):
    """An entry being filled in: plain attribute writes, then it becomes an Entry."""

    __slots__ = ()


class Entry(_EntrySlots):
    """A time entry. Immutable; ``replace`` makes a changed copy."""

    __slots__ = ()

    FIELDS = _EntrySlots.__slots__[:12]

    def __new__(
        cls,
        id: int,
        user_id: int,
        date: str,
        seconds: int,
        category_id: int | None = None,
        project_id: int | None = None,
        task_id: int | None = None,
        contact_id: int | None = None,
        notes: str = "",
        billable: str = "unset",
        created_at: str | None = None,
        updated_at: str | None = None,
    ) -> Entry:
        # Filled in as a _Draft, which has the same slots but no __setattr__ guard,
        # then given its class: cheaper than a dozen object.__setattr__ calls,
        # which every create and every loaded entry would pay.
        draft = object.__new__(_Draft)
        draft.id = id
        draft.category_id = category_id
        draft.user_id = user_id
        draft.project_id = project_id
        draft.task_id = task_id
        draft.contact_id = contact_id
        draft.date = date
        draft.seconds = seconds
        draft.notes = notes
        draft.billable = billable
        # None means "the entry's date at midnight", as the fixture file allows,
        # so a million loaded entries do not each carry two timestamp strings.
        draft.created_at = created_at
        draft.updated_at = updated_at
        draft.key = date_ordinal(date) * ID_SPAN + id
        draft._wire = None
        draft.__class__ = cls  # type: ignore[assignment]
        return draft  # type: ignore[return-value]  # an Entry, since the line above

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Entry is immutable; use replace()")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"Entry({self.to_wire()!r})"

    def replace(self, **changes: Any) -> Entry:
        """Return a copy with some fields changed."""
        values = {f: getattr(self, f) for f in self.FIELDS}
        # Timestamps derived from the date must not move when the date does.
        values["created_at"] = self.created_at or self.date + " 00:00:00"
        values["updated_at"] = self.updated_at or values["created_at"]
        values.update(changes)
        return Entry(**values)

    @property
    def ordinal(self) -> int:
        """Return the entry's date as a proleptic ordinal."""
        return self.key // ID_SPAN

    def to_wire(self) -> dict[str, Any]:
        """Return the record as the API writes it."""
        midnight = self.date + " 00:00:00"
        return {
            "id": str(self.id),
            "time-category-id": ref(self.category_id),
            "user-id": str(self.user_id),
            "project-id": ref(self.project_id),
            "task-id": ref(self.task_id),
            "contact-id": ref(self.contact_id),
            "date": self.date,
            "seconds": str(self.seconds),
            "notes": self.notes,
            "billable": self.billable,
            "created-at": self.created_at or midnight,
            "updated-at": self.updated_at or self.created_at or midnight,
        }

    def wire_bytes(self) -> bytes:
        """Return the record as JSON bytes, serialized once and kept (the entry never changes)."""
        wire = self._wire
        if wire is None:
            # A copy: orjson's result keeps an allocation far larger than a short
            # text, which every cached entry would hold on to.
            wire = bytes(memoryview(orjson.dumps(self.to_wire())))
            object.__setattr__(self, "_wire", wire)
        return wire

    def to_fixture(self) -> dict[str, Any]:
        """Return the fixture-file form: the wire form, less timestamps a loader would derive."""
        out = self.to_wire()
        if out["updated-at"] == out["created-at"]:
            del out["updated-at"]
        if out["created-at"] == self.date + " 00:00:00":
            del out["created-at"]
        return out


Record = Account | User | Category | Company | Contact | Project | Task | Entry
