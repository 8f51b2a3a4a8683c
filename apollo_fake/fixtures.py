"""The fixture file: read, check (schema and references) and write it."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from . import schemas
from .errors import MAX_PROBLEMS, Detail, FixtureError
from .model import (
    Account,
    Category,
    Company,
    Contact,
    Entry,
    Project,
    Task,
    User,
    parse_ref,
)
from .store import COLLECTIONS, Store

SCHEMA = "fixture.schema.json"
DEEP = f"nests arrays and objects deeper than {schemas.MAX_DEPTH} levels"

# The day the packaged demo data was generated for, and the day generated data
# ends at when no other is given, so that the same seed gives the same bytes on
# every day. A fake serving such data starts its clock there, so that the
# report's default six-month window shows data.
DEMO_TODAY = datetime.date(2026, 6, 30)
DEMO_SEED = 1
# Enough for a project, a contact, a case and a deal with listings of several pages.
DEMO_ENTRIES = 2_000


def fixture_dir() -> Path:
    """Return the folder of the packaged data sets."""
    here = Path(__file__).resolve().parent
    packaged = here / "fixtures"
    return packaged if packaged.is_dir() else here.parent / "fixtures"


def demo_path() -> Path:
    """Return the path of the packaged demo data."""
    return fixture_dir() / "demo.json"


def read(path: str | Path) -> Any:
    """Read a fixture file's JSON, turning unreadable or malformed files into a FixtureError."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FixtureError(
            [{"field": "", "message": f"cannot read {path}: {exc.strerror}"}]
        ) from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FixtureError([{"field": "", "message": f"is not valid JSON: {exc}"}]) from None


def schema_problems(doc: Any) -> list[Detail]:
    """Return every schema violation of a document, each with its JSON pointer."""
    if schemas.is_valid(SCHEMA, doc):
        return []
    return schemas.details(schemas.errors(SCHEMA, doc), pointer=True)


def check_schema(doc: Any) -> None:
    """Raise FixtureError listing every schema violation, each with its JSON pointer."""
    problems = schema_problems(doc)
    if problems:
        raise FixtureError(problems[:MAX_PROBLEMS], max(0, len(problems) - MAX_PROBLEMS))


_POINTER = re.compile(r"^/([a-z-]+)(?:/([0-9]+))?")
_WHOLE = -1  # in a set of bad places: the whole collection (or, under "", the document)


_CANONICAL_ID = re.compile(r"(0|[1-9][0-9]{0,17})")


def _digits(value: Any) -> int | None:
    # Only an id written as the schema wants it: anything else names nothing.
    return int(value) if isinstance(value, str) and _CANONICAL_ID.fullmatch(value) else None


class Loader:
    """Check fixture data and turn it into records: a whole document, or entries chunk by chunk.

    Every problem is found in one pass: the records that break the schema are left
    out of the conversion, and the rest are still checked for duplicate ids and for
    references (an id that a broken record still spells out counts as existing, so
    that one broken record is one problem, not one more for each reference to it).

    Equal values are shared (ids, dates, notes, amounts), since a million entries
    repeat a few thousand of them and each copy would cost memory.
    """

    def __init__(self, schema_checked: bool = True) -> None:
        self.schema_checked = schema_checked
        self.out: dict[str, dict[int, Any]] = {name: {} for name in COLLECTIONS}
        self.problems: list[Detail] = []
        self.more = 0  # problems past MAX_PROBLEMS, counted, not listed
        self._entries_seen = 0
        self._shared: dict[Any, Any] = {}
        # Ids spelt out by records that broke the schema, by collection.
        self._broken_ids: dict[str, set[int]] = {name: set() for name in COLLECTIONS}

    def _share(self, value: Any) -> Any:
        return self._shared.setdefault(value, value)

    def _problem(self, field: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append({"field": field, "message": message})
        else:
            self.more += 1

    def _add(self, name: str, index: int, record: Any) -> None:
        coll = self.out[name]
        if record.id in coll or record.id in self._broken_ids[name]:
            self._problem(f"/{name}/{index}/id", f"duplicate id {record.id}")
        coll[record.id] = record

    def _exists(self, name: str, value: int | None, where: str, label: str) -> None:
        if value is None or value in self.out[name] or value in self._broken_ids[name]:
            return
        self._problem(where, f"names no existing {label} ({value})")

    def _bad_places(self, doc: Any, offset: int) -> dict[str, set[int]]:
        """Check the schema; record its problems; return the broken records' indexes."""
        if not self.schema_checked:
            return {}
        found = schema_problems(doc)
        bad: dict[str, set[int]] = {}
        for problem in found:
            match = _POINTER.match(problem["field"])
            if match is None:  # the document itself: nothing in it can be read
                bad.setdefault("", set()).add(_WHOLE)
            else:
                name, index = match.group(1), match.group(2)
                number = _WHOLE if index is None else int(index)
                bad.setdefault(name, set()).add(number)
                if name == "time-entries" and index is not None and offset:
                    # A chunk's entry: named by its index in the whole file.
                    field = problem["field"].replace(index, str(number + offset), 1)
                    problem = {**problem, "field": field}
            self._problem(problem["field"], problem["message"])
        return bad

    def _items(self, doc: dict[str, Any], name: str, bad: dict[str, set[int]]) -> list[Any]:
        """Return a collection's records that passed the schema, as (index, record) pairs."""
        items = doc.get(name, ())
        skip = bad.get(name, set())
        if _WHOLE in skip or not isinstance(items, list):
            return []
        if skip:
            for i in skip:
                if i < len(items) and isinstance(items[i], dict):
                    known = _digits(items[i].get("id"))
                    if known is not None:
                        self._broken_ids[name].add(known)
        return [(i, item) for i, item in enumerate(items) if i not in skip]

    def add(self, doc: Any) -> Loader:
        """Check and convert a fixture document (its entries after everything they refer to)."""
        bad = self._bad_places(doc, self._entries_seen)
        if "" in bad or not isinstance(doc, dict):
            entries = doc.get("time-entries") if isinstance(doc, dict) else None
            self._entries_seen += len(entries) if isinstance(entries, list) else 0
            return self
        if "account" in doc and "account" not in bad:
            a = doc["account"]
            self.out["account"] = {int(a["id"]): Account(int(a["id"]), a.get("name", ""))}
        for i, u in self._items(doc, "users", bad):
            user = User(
                int(u["id"]), u.get("first-name", ""), u.get("last-name", ""), u.get("email", "")
            )
            self._add("users", i, user)
        for i, c in self._items(doc, "time-categories", bad):
            self._add("time-categories", i, Category(int(c["id"]), c.get("name", "")))
        for i, c in self._items(doc, "companies", bad):
            self._add("companies", i, Company(int(c["id"]), c.get("name", "")))
        contacts = self._items(doc, "contacts", bad)
        for i, c in contacts:
            company = parse_ref(c.get("company-id"))
            self._add("contacts", i, Contact(int(c["id"]), c["kind"], c.get("name", ""), company))
        for i, c in contacts:
            where = f"/contacts/{i}/company-id"
            self._exists("companies", parse_ref(c.get("company-id")), where, "company")
        for i, p in self._items(doc, "projects", bad):
            project = Project(int(p["id"]), p.get("name", ""), parse_ref(p.get("company-id")))
            self._add("projects", i, project)
            where = f"/projects/{i}/company-id"
            self._exists("companies", project.company_id, where, "company")
        for i, t in self._items(doc, "tasks", bad):
            task = Task(
                int(t["id"]),
                t.get("subject", ""),
                parse_ref(t.get("project-id")),
                parse_ref(t.get("contact-id")),
            )
            self._add("tasks", i, task)
            self._exists("projects", task.project_id, f"/tasks/{i}/project-id", "project")
            self._exists("contacts", task.contact_id, f"/tasks/{i}/contact-id", "contact")
        entries = doc.get("time-entries", ())
        if isinstance(entries, list):
            skip = bad.get("time-entries", set())
            if _WHOLE not in skip:
                self._entries(entries, skip)
            self._entries_seen += len(entries)
        return self

    def add_entries(self, entries: list[Any]) -> Loader:
        """Check and convert the next chunk of a document's time entries."""
        return self.add({"time-entries": entries})

    def _entries(self, entries: list[Any], skip: set[int]) -> None:
        # The hot loop of loading a large file: the schema has already vouched for
        # every value's form, so ids convert directly and references are looked up
        # in maps from the canonical strings to the ids (one lookup: exists + shared).
        out, share = self.out, self._share
        ids = {
            name: {str(k): k for k in out[name]}
            for name in ("users", "time-categories", "projects", "contacts", "tasks")
        }
        users, categories = ids["users"], ids["time-categories"]
        projects, contacts, tasks = ids["projects"], ids["contacts"], ids["tasks"]
        coll, task_records = out["time-entries"], out["tasks"]
        broken = self._broken_ids["time-entries"]
        if skip:
            for i in skip:
                known = _digits(entries[i].get("id")) if isinstance(entries[i], dict) else None
                if known is not None:
                    broken.add(known)
        first = self._entries_seen
        for i, e in enumerate(entries, first):
            if skip and i - first in skip:
                continue
            get = e.get
            category, project = get("time-category-id"), get("project-id")
            task, contact = get("task-id"), get("contact-id")
            user_id = users.get(e["user-id"])
            category_id = categories.get(category) if category is not None else None
            project_id = projects.get(project) if project is not None else None
            contact_id = contacts.get(contact) if contact is not None else None
            task_id = tasks.get(task) if task is not None else None
            entry = Entry(
                int(e["id"]),
                user_id if user_id is not None else int(e["user-id"]),
                share(e["date"]),
                share(int(e["seconds"])),
                category_id if category_id is not None or category is None else int(category),
                project_id if project_id is not None or project is None else int(project),
                task_id if task_id is not None or task is None else int(task),
                contact_id if contact_id is not None or contact is None else int(contact),
                share(get("notes", "")),
                share(get("billable", "unset")),
                get("created-at"),
                get("updated-at"),
            )
            if entry.id in coll or (broken and entry.id in broken):
                self._problem(f"/time-entries/{i}/id", f"duplicate id {entry.id}")
            coll[entry.id] = entry
            if (
                user_id is None
                or (category is not None and category_id is None)
                or (project is not None and project_id is None)
                or (contact is not None and contact_id is None)
                or (task is not None and task_id is None)
                or (
                    task_id is not None
                    and (task_records[task_id].project_id, task_records[task_id].contact_id)
                    != (entry.project_id, entry.contact_id)
                )
            ):
                self._entry_problems(i, entry)

    def _entry_problems(self, i: int, entry: Entry) -> None:
        where = f"/time-entries/{i}"
        self._exists("users", entry.user_id, where + "/user-id", "user")
        self._exists(
            "time-categories", entry.category_id, where + "/time-category-id", "time category"
        )
        self._exists("projects", entry.project_id, where + "/project-id", "project")
        self._exists("contacts", entry.contact_id, where + "/contact-id", "contact")
        self._exists("tasks", entry.task_id, where + "/task-id", "task")
        task = self.out["tasks"].get(entry.task_id) if entry.task_id is not None else None
        if task is not None and (task.project_id, task.contact_id) != (
            entry.project_id,
            entry.contact_id,
        ):
            self._problem(
                where,
                "an entry on a task must carry the task's project-id and contact-id: "
                f"project-id {_ref(task.project_id)} and contact-id {_ref(task.contact_id)}",
            )

    def finish(self) -> dict[str, dict[int, Any]]:
        """Return the records, or raise FixtureError listing every problem found."""
        if self.problems:
            raise FixtureError(self.problems, self.more)
        return self.out


def _ref(value: int | None) -> str:
    return "null" if value is None else f'"{value}"'


def records(doc: Any) -> dict[str, dict[int, Any]]:
    """Check a fixture document and turn it into records by collection and id."""
    if schemas.too_deep(doc):  # before the validators, which recurse once a level
        raise FixtureError([{"field": "", "message": DEEP}])
    return Loader().add(doc).finish()


CHUNK = 20_000
_ENTRIES_OPEN = b'  "time-entries": ['


def load_file(path: str | Path) -> dict[str, dict[int, Any]]:
    """Read, check and convert a fixture file into records.

    A file laid out one record a line (as ``dumps`` and ``apollo-fake generate``
    write it) has its entries parsed and converted a chunk at a time, so that a
    million entries never exist as JSON objects all at once; any other layout is
    read whole.
    """
    return _load_file(path, Loader())


def load_demo() -> dict[str, dict[int, Any]]:
    """Load the packaged demo data into records.

    The test suite checks the demo against the fixture schema; each start skips
    compiling that schema's validator, a visible part of ``serve``'s start-up.
    """
    return _load_file(demo_path(), Loader(schema_checked=False))


def _load_file(path: str | Path, loader: Loader) -> dict[str, dict[int, Any]]:
    try:
        with open(path, "rb") as f:
            streamed = _stream(f, loader)
    except OSError as exc:
        raise FixtureError(
            [{"field": "", "message": f"cannot read {path}: {exc.strerror}"}]
        ) from None
    if streamed is None:
        return records(read(path))
    return streamed.finish()


def _stream(lines: Iterable[bytes], loader: Loader) -> Loader | None:
    """Load a file in this module's own layout; None when it is laid out otherwise."""
    it = iter(lines)
    head = []
    for line in it:
        if line.rstrip(b"\r\n") == _ENTRIES_OPEN:
            break
        head.append(line)
    else:
        return None  # no entry array of the streamable form: read the file whole
    try:
        doc = orjson.loads(b"".join(head) + b'"time-entries": []}')
    except orjson.JSONDecodeError:
        return None
    if schemas.too_deep(doc):
        return None  # read whole, and refused there
    loader.add(doc)
    chunk: list[Any] = []
    for line in it:
        text = line.strip()
        if text in (b"]", b"],"):
            break
        try:
            record = orjson.loads(text[:-1] if text.endswith(b",") else text)
        except orjson.JSONDecodeError:
            return None
        if schemas.too_deep(record, text):
            return None  # read whole, and refused there
        chunk.append(record)
        if len(chunk) == CHUNK:
            loader.add_entries(chunk)
            chunk = []
    else:
        return None
    if chunk:
        loader.add_entries(chunk)
    if b"".join(it).strip() != b"}":
        return None  # something follows the entries: read the file whole
    return loader


def starting_store(
    path: str | Path | None = None,
    seed: int | None = None,
    entries: int | None = None,
    today: datetime.date | None = None,
) -> tuple[Store, datetime.date | None]:
    """Return the store a fake starts with, and the day its clock starts at (or None).

    Data generated from a seed (``seed`` or ``entries`` given), ending on ``today``
    or on the reference day DEMO_TODAY; else a fixture file; else the packaged demo.
    Data made for the reference day starts the clock there, unless ``today`` is given.
    """
    start = None if today is not None else DEMO_TODAY
    if seed is not None or entries is not None:
        from .generate import generate

        count = DEMO_ENTRIES if entries is None else entries
        return build(generate(seed or 0, count, today or DEMO_TODAY)), start
    if path is not None:
        return Store(load_file(path)), None
    return Store(load_demo()), start


def build(doc: Any) -> Store:
    """Check a fixture document and build a store from it."""
    return Store(records(doc))


def document(store: Store) -> dict[str, Any]:
    """Return the store's whole state as a fixture document (it loads back as is)."""
    with store.lock:
        doc: dict[str, Any] = {"account": store.account.to_fixture()}
        for name in COLLECTIONS[1:]:
            coll = store.collection(name)
            doc[name] = [coll[i].to_fixture() for i in sorted(coll)]
    return doc


def dumps(doc: dict[str, Any]) -> bytes:
    """Write a fixture document: one record a line, so files diff well and stay small."""
    parts = []
    for name, value in doc.items():
        key = orjson.dumps(name)
        if isinstance(value, list):
            if value:
                body = b",\n    ".join(map(orjson.dumps, value))
                parts.append(b"  %s: [\n    %s\n  ]" % (key, body))
            else:
                parts.append(b"  %s: []" % key)
        else:
            parts.append(b"  %s: %s" % (key, orjson.dumps(value)))
    return b"{\n" + b",\n".join(parts) + b"\n}\n"
