"""The calls of the API as plain Python: the rules, with no HTTP in sight.

Each function takes the data it works on (a :class:`World`: a store and a
clock) and what the web layer parsed (ids, page numbers, the decoded JSON body,
the query parameters), and returns records or raises an
:class:`~apollo_fake.errors.ApolloError`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from . import schemas
from .clock import Clock
from .contract import FALSE, FALSE_WORDS, REPORT_PARAMETERS, TRUE, TRUE_WORDS
from .dates import add_months_clamped, parse_report_date
from .errors import BadRequest, Detail, NotFound, Unprocessable
from .model import Entry, parse_id
from .store import Page, Store

CREATE_SCHEMA = "create-request.schema.json"
UPDATE_SCHEMA = "update-request.schema.json"
# What a write's quick check (_plain) reads from the schemas: the fields each
# write requires, and the limits of the fields' values.
_REQUIRED = {
    name: tuple(schemas.load(name)["properties"]["time-entry"].get("required", ()))
    for name in (CREATE_SCHEMA, UPDATE_SCHEMA)
}
_DEFS = schemas.load("defs.schema.json")["$defs"]
_NOTES_MAX: int = _DEFS["notes"]["maxLength"]
_BILLABLE = frozenset(_DEFS["billable"]["enum"])
_DATE = re.compile(_DEFS["date"]["pattern"].removesuffix("$") + r"\Z")
_SECONDS_MAX: int = next(
    kind["maximum"]
    for kind in schemas.load("time-entry-fields.schema.json")["properties"]["seconds"]["anyOf"]
    if "maximum" in kind
)
_IDS = ("category-id", "user-id")
PARENTS = {"projects": "project", "contacts": "contact", "tasks": "task"}


class World(Protocol):
    """What the rules work on: the data and the fake clock (a fake has both)."""

    @property
    def store(self) -> Store:
        """Return the data."""
        ...

    @property
    def clock(self) -> Clock:
        """Return the fake clock."""
        ...


# --- listings --------------------------------------------------------------


def _parent(store: Store, collection: str, parent_id: int) -> Any:
    found = store.get(collection, parent_id)
    if found is None:
        noun = PARENTS[collection]
        raise NotFound(f"There is no {noun} with id {parent_id}.")
    return found


def page(world: World, collection: str, parent_id: int, number: int) -> Page:
    """Return one page of a project's or contact's entries, newest first."""
    _parent(world.store, collection, parent_id)
    return world.store.page(PARENTS[collection], parent_id, number)


def task_entries(world: World, task_id: int) -> list[Entry]:
    """Return every entry of a task, newest first."""
    _parent(world.store, "tasks", task_id)
    return world.store.listing("task", task_id)


def entry(world: World, entry_id: int) -> Entry:
    """Return one entry."""
    found: Entry | None = world.store.get("time-entries", entry_id)
    if found is None:
        raise NotFound(f"There is no time entry with id {entry_id}.")
    return found


# --- writes ----------------------------------------------------------------


def _is_envelope_error(err: Any) -> bool:
    # The contract: a body that is not {"time-entry": {...}} is malformed (400);
    # a bad value inside the envelope is well-formed but invalid (422).
    path = list(err.absolute_path)
    return not path or (path == ["time-entry"] and err.validator == "type")


def _plain(fields: dict[str, Any], required: tuple[str, ...]) -> bool:
    """Tell whether every field holds a value its schema plainly accepts: True is certain,
    False only means "ask the validators", which decide everything else.

    A write's path runs this instead of the compiled validator: a few type checks
    on the fields a client sends, where the validator walks every rule of the
    schema. Each check accepts a subset of what the schema accepts (test_create_fast_path
    holds the two to each other); seconds over nine digits, floats, dates the check
    cannot read at a glance and every error go to the validators.
    """
    if not fields:  # an update names one field at least
        return False
    for name in required:
        if name not in fields:
            return False
    for name, value in fields.items():
        kind = type(value)
        if name == "notes":
            if kind is not str or len(value) > _NOTES_MAX:
                return False
        elif name == "seconds":
            if kind is str:
                if not (0 < len(value) <= 9 and value.isascii() and value.isdigit()):
                    return False
            elif kind is not int or not 0 <= value <= _SECONDS_MAX:
                return False
        elif name == "billable":
            if kind is not str or value not in _BILLABLE:
                return False
        elif name == "date":
            if kind is not str or not _is_plain_date(value):
                return False
        elif name in _IDS:
            if kind is str:
                if not (value and value.isascii() and value.isdigit()):
                    return False
            elif kind is int:
                if value < 0:
                    return False
            elif value is not None or name != "category-id":
                return False
        else:
            return False
    return True


def _is_plain_date(value: str) -> bool:
    return len(value) == 10 and _DATE.match(value) is not None and schemas.FORMATS["date"](value)


def _fields(schema: str, body: Any) -> dict[str, Any]:
    """Check a write's body against its schema and return the "time-entry" fields."""
    fields = body.get("time-entry") if isinstance(body, dict) else None
    if type(fields) is dict and len(body) == 1 and _plain(fields, _REQUIRED[schema]):
        return fields
    if schemas.is_valid(schema, body):
        assert isinstance(fields, dict)
        return fields
    errs = schemas.errors(schema, body)
    envelope = [e for e in errs if _is_envelope_error(e)]
    if envelope:
        raise BadRequest(
            'The body must be a JSON object {"time-entry": {...}} and nothing else.',
            schemas.details(envelope),
        )
    raise Unprocessable("The time entry has invalid values.", schemas.details(errs))


def _references(world: World, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve category-id and user-id, collecting every one that names nothing."""
    out: dict[str, Any] = {}
    problems: list[Detail] = []
    if "category-id" in fields:
        raw = fields["category-id"]
        value = None if raw is None else parse_id(raw)
        if value is not None and world.store.get("time-categories", value) is None:
            problems.append(
                {
                    "field": "time-entry.category-id",
                    "message": f"names no existing time category ({raw}); GET /account lists them",
                }
            )
        out["category_id"] = value
    if "user-id" in fields:
        raw = fields["user-id"]
        value = parse_id(raw)
        if world.store.get("users", value) is None:
            problems.append(
                {"field": "time-entry.user-id", "message": f"names no existing user ({raw})"}
            )
        out["user_id"] = value
    if problems:
        raise Unprocessable("The time entry refers to something that does not exist.", problems)
    for key in ("notes", "billable", "date"):  # the same name on the wire and on Entry
        if key in fields:
            out[key] = fields[key]
    if "seconds" in fields:
        out["seconds"] = int(fields["seconds"])
    return out


def create(
    world: World, collection: str, parent_id: int, body: Any, acting_user: int | None
) -> Entry:
    """Create an entry on a project, task or contact and return it."""
    store = world.store
    with store.lock:
        parent = _parent(store, collection, parent_id)
        values = _references(world, _fields(CREATE_SCHEMA, body))
        # Where the entry hangs (keys the request's fields never give).
        if collection == "projects":
            values["project_id"] = parent.id
        elif collection == "contacts":
            values["contact_id"] = parent.id
        else:
            values["task_id"] = parent.id
            values["project_id"] = parent.project_id
            values["contact_id"] = parent.contact_id
        if "user_id" not in values:
            values["user_id"] = acting_user if acting_user is not None else default_user(store)
        stamp = world.clock.timestamp()
        values.setdefault("date", stamp[:10])  # today on the fake clock: the stamp's day
        new = Entry(id=store.new_id("time-entries"), created_at=stamp, updated_at=stamp, **values)
        return store.put("time-entries", new)  # type: ignore[no-any-return]


def default_user(store: Store) -> int:
    """Return the account's first user: who an unauthenticated request acts as."""
    users = store.users
    if not users:
        raise Unprocessable(
            "The account has no users, so user-id must be given.",
            [{"field": "time-entry.user-id", "message": "is required: the account has no users"}],
        )
    return min(users)


def update(world: World, entry_id: int, body: Any) -> Entry:
    """Change the given fields of an entry and return it."""
    store = world.store
    with store.lock:
        old = entry(world, entry_id)
        values = _references(world, _fields(UPDATE_SCHEMA, body))
        new = old.replace(updated_at=world.clock.timestamp(), **values)
        return store.put("time-entries", new)  # type: ignore[no-any-return]


def delete(world: World, entry_id: int) -> None:
    """Delete an entry."""
    if not world.store.delete("time-entries", entry_id):
        raise NotFound(f"There is no time entry with id {entry_id}.")


# --- the report ------------------------------------------------------------

# The report's parameters by kind, read from the contract's table.
REPORT_FLAGS = {p.name: bool(p.default) for p in REPORT_PARAMETERS if p.kind == "flag"}
REPORT_IDS = tuple(p.name for p in REPORT_PARAMETERS if p.kind == "id")
REPORT_DATES = tuple(p.name for p in REPORT_PARAMETERS if p.kind == "date")
REPORT_PARAMS = frozenset(p.name for p in REPORT_PARAMETERS)
BOOLEAN_WORDS = ", ".join(w for w in (*TRUE_WORDS, *FALSE_WORDS) if w)
KIND_FLAG = {
    "project": "include_projects",
    "contact": "include_contacts",
    "case": "include_cases",
    "deal": "include_deals",
    "personal": "include_personal",
}


def single_params(params: Mapping[str, Sequence[str]], allowed: frozenset[str]) -> dict[str, str]:
    """Reject unknown and repeated query parameters; return each parameter's one value."""
    problems: list[Detail] = []
    out: dict[str, str] = {}
    for name, values in params.items():
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            problems.append(
                {"field": name, "message": f"is not a parameter of this call (known: {known})"}
            )
        elif len(values) != 1:
            problems.append({"field": name, "message": "is given more than once"})
        else:
            out[name] = values[0]
    if problems:
        raise BadRequest("The query string has parameters this call does not take.", problems)
    return out


def flag(name: str, text: str) -> bool:
    """Read a boolean parameter as the API reads its flags, or refuse it with a 400."""
    lowered = text.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise BadRequest(
        f"The parameter {name} must be a boolean.",
        [{"field": name, "message": f"must be one of {BOOLEAN_WORDS}"}],
    )


def report_window(
    params: Mapping[str, str], today: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """Return the report's [from, to] days, checked against the six-month limit."""
    days: dict[str, datetime.date] = {}
    for name in REPORT_DATES:
        if name in params:
            try:
                days[name] = parse_report_date(params[name], today)
            except ValueError as exc:
                raise BadRequest(
                    f"The parameter {name} is not a date the API understands.",
                    [{"field": name, "message": f"{params[name]!r} {exc}"}],
                ) from None
    last = days.get("to", today)
    try:
        earliest: datetime.date | None = add_months_clamped(last, -6)
    except ValueError:  # six months before `to` is before year 1
        earliest = None
    first = days.get("from", earliest)
    if first is None:
        raise BadRequest(
            "The report's default from date, six months before to, is before 0001-01-01.",
            [{"field": "from", "message": f"give from: six months before to ({last}) "
              "is before 0001-01-01"}],
        )
    if first > last:
        raise BadRequest(
            "The report's from date is after its to date.",
            [{"field": "from", "message": f"{first} is after to ({last})"}],
        )
    if earliest is not None and first < earliest:
        raise BadRequest(
            "A report cannot cover more than six months: narrow from and to.",
            [
                {
                    "field": "from",
                    "message": f"{first} is more than six months before to ({last}); "
                    f"the earliest allowed is {earliest}",
                }
            ],
        )
    return first, last


def report(
    world: World, query: Mapping[str, Sequence[str]]
) -> tuple[list[Entry], dict[str, Any] | None]:
    """Return the entries the report's criteria select, and totals when asked for."""
    params = single_params(query, REPORT_PARAMS)
    flags = {
        name: flag(name, params[name]) if name in params else default
        for name, default in REPORT_FLAGS.items()
    }
    ids: dict[str, int] = {}
    for name in REPORT_IDS:
        if name in params:
            text = params[name]
            if not (text.isascii() and text.isdigit()):
                raise BadRequest(
                    f"The parameter {name} must be an id.",
                    [{"field": name, "message": f"{text!r} is not a decimal digit string"}],
                )
            ids[name] = parse_id(text)
    first, last = report_window(params, world.clock.today())
    store = world.store
    with store.lock:
        entries = [
            e
            for e in store.window(_sources(store, ids), first.toordinal(), last.toordinal())
            if flags[KIND_FLAG[kind_of(store, e)]] and _matches(store, e, ids)
        ]
    return entries, totals(entries) if flags["with_totals"] else None


def _sources(store: Store, ids: Mapping[str, int]) -> list[Any]:
    # Read the narrowest ordering the filters allow, so a narrowed report costs
    # what it returns rather than a scan of every entry.
    index = store.index
    for name, group in (
        ("task_id", index.task),
        ("project_id", index.project),
        ("user_id", index.user),
    ):
        if name in ids:
            found = group.get(ids[name])
            return [found] if found is not None else []
    if "company_id" in ids:
        company = ids["company_id"]
        projects = [
            index.project[p.id]
            for p in store.projects.values()
            if p.company_id == company and p.id in index.project
        ]
        contacts = [
            index.contact[c.id]
            for c in store.contacts.values()
            if c.company_id == company and c.id in index.contact
        ]
        return projects + contacts
    return [index.all]


def kind_of(store: Store, e: Entry) -> str:
    """Tell an entry's kind: project, contact, case, deal or personal."""
    if e.project_id is not None:
        return "project"
    if e.contact_id is not None:
        contact = store.contacts.get(e.contact_id)
        return contact.kind if contact is not None else "contact"
    return "personal"


def company_of(store: Store, e: Entry) -> int | None:
    """Return the company of an entry's project or contact."""
    if e.project_id is not None:
        project = store.projects.get(e.project_id)
        return project.company_id if project is not None else None
    if e.contact_id is not None:
        contact = store.contacts.get(e.contact_id)
        return contact.company_id if contact is not None else None
    return None


def _matches(store: Store, e: Entry, ids: Mapping[str, int]) -> bool:
    return (
        ids.get("user_id", e.user_id) == e.user_id
        and ids.get("task_id", e.task_id) == e.task_id
        and ids.get("project_id", e.project_id) == e.project_id
        and ("company_id" not in ids or company_of(store, e) == ids["company_id"])
    )


def totals(entries: Sequence[Entry]) -> dict[str, Any]:
    """Sum the report's entries, typed exactly as the vendor's example shows."""
    sums = dict.fromkeys(("unset", "not billable", "billable", "billed"), 0)
    for e in entries:
        sums[e.billable] += e.seconds

    def as_documented(value: int) -> int | str:
        # The vendor's example writes these four as digit strings, and zero as 0.
        return str(value) if value else 0

    return {
        "number-of-entries": len(entries),
        "sum-of-seconds": sum(sums.values()),
        "sum-of-unset-seconds": as_documented(sums["unset"]),
        "sum-of-billable-seconds": as_documented(sums["billable"]),
        "sum-of-non-billable-seconds": as_documented(sums["not billable"]),
        "sum-of-billed-seconds": as_documented(sums["billed"]),
    }


def account(world: World) -> dict[str, Any]:
    """Return the account with its time categories."""
    store = world.store
    with store.lock:
        categories = [
            {"id": str(c.id), "name": c.name} for _, c in sorted(store.categories.items())
        ]
        return {
            "account": {
                "id": str(store.account.id),
                "name": store.account.name,
                "time-categories": categories,
            }
        }
