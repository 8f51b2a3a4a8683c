"""The fixture file: read, check (schema and references) and write it."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from . import schemas
from .errors import Detail, FixtureError
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

# The date the packaged demo data was generated for: a fake serving it starts
# its clock there, so that the report's default six-month window shows data.
DEMO_TODAY = datetime.date(2026, 6, 30)
DEMO_SEED = 1
DEMO_ENTRIES = 500


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


def check_schema(doc: Any) -> None:
    """Raise FixtureError listing every schema violation, each with its JSON pointer."""
    if schemas.is_valid(SCHEMA, doc):
        return
    problems = schemas.details(schemas.errors(SCHEMA, doc), pointer=True)
    if problems:
        raise FixtureError(problems)


_ENTRY_POINTER = re.compile(r"^/time-entries/([0-9]+)")


class Loader:
    """Check fixture data and turn it into records: a whole document, or entries chunk by chunk.

    Equal values are shared (ids, dates, notes, amounts), since a million entries
    repeat a few thousand of them and each copy would cost memory.
    """

    def __init__(self, schema_checked: bool = True) -> None:
        self.schema_checked = schema_checked
        self.out: dict[str, dict[int, Any]] = {name: {} for name in COLLECTIONS}
        self.problems: list[Detail] = []
        self.schema_failed = False
        self._entries_seen = 0
        self._shared: dict[Any, Any] = {}

    def _share(self, value: Any) -> Any:
        return self._shared.setdefault(value, value)

    def _add(self, name: str, index: int, record: Any) -> None:
        coll = self.out[name]
        if record.id in coll:
            self.problems.append(
                {"field": f"/{name}/{index}/id", "message": f"duplicate id {record.id}"}
            )
        coll[record.id] = record

    def _exists(self, name: str, value: int | None, where: str, label: str) -> None:
        if value is not None and value not in self.out[name]:
            self.problems.append(
                {"field": where, "message": f"names no existing {label} ({value})"}
            )

    def _checked(self, doc: Any, offset: int) -> bool:
        if not self.schema_checked:
            return True
        try:
            check_schema(doc)
        except FixtureError as exc:
            for problem in exc.problems:
                field = _ENTRY_POINTER.sub(
                    lambda m: f"/time-entries/{int(m.group(1)) + offset}", problem["field"]
                )
                self.problems.append({**problem, "field": field})
            self.schema_failed = True
            return False
        return not self.schema_failed

    def add(self, doc: Any) -> Loader:
        """Check and convert a fixture document (its entries after everything they refer to)."""
        if not self._checked(doc, self._entries_seen):
            entries = doc.get("time-entries") if isinstance(doc, dict) else None
            self._entries_seen += len(entries) if isinstance(entries, list) else 0
            return self
        if "account" in doc:
            a = doc["account"]
            self.out["account"] = {int(a["id"]): Account(int(a["id"]), a.get("name", ""))}
        for i, u in enumerate(doc.get("users", ())):
            user = User(
                int(u["id"]), u.get("first-name", ""), u.get("last-name", ""), u.get("email", "")
            )
            self._add("users", i, user)
        for i, c in enumerate(doc.get("time-categories", ())):
            self._add("time-categories", i, Category(int(c["id"]), c.get("name", "")))
        for i, c in enumerate(doc.get("companies", ())):
            self._add("companies", i, Company(int(c["id"]), c.get("name", "")))
        for i, c in enumerate(doc.get("contacts", ())):
            company = parse_ref(c.get("company-id"))
            self._add("contacts", i, Contact(int(c["id"]), c["kind"], c.get("name", ""), company))
        for i, c in enumerate(doc.get("contacts", ())):
            where = f"/contacts/{i}/company-id"
            self._exists("companies", parse_ref(c.get("company-id")), where, "company")
        for i, p in enumerate(doc.get("projects", ())):
            project = Project(int(p["id"]), p.get("name", ""), parse_ref(p.get("company-id")))
            self._add("projects", i, project)
            where = f"/projects/{i}/company-id"
            self._exists("companies", project.company_id, where, "company")
        for i, t in enumerate(doc.get("tasks", ())):
            task = Task(
                int(t["id"]),
                t.get("subject", ""),
                parse_ref(t.get("project-id")),
                parse_ref(t.get("contact-id")),
            )
            self._add("tasks", i, task)
            self._exists("projects", task.project_id, f"/tasks/{i}/project-id", "project")
            self._exists("contacts", task.contact_id, f"/tasks/{i}/contact-id", "contact")
        self._entries(doc.get("time-entries", ()))
        return self

    def add_entries(self, entries: list[Any]) -> Loader:
        """Check and convert the next chunk of a document's time entries."""
        return self.add({"time-entries": entries})

    def _entries(self, entries: Any) -> None:
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
        first = self._entries_seen
        for i, e in enumerate(entries, first):
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
            if entry.id in coll:
                self.problems.append(
                    {"field": f"/time-entries/{i}/id", "message": f"duplicate id {entry.id}"}
                )
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
        self._entries_seen = first + len(entries)

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
            self.problems.append(
                {
                    "field": where,
                    "message": "an entry on a task must carry the task's project-id and "
                    f"contact-id ({task.project_id}, {task.contact_id})",
                }
            )

    def finish(self) -> dict[str, dict[int, Any]]:
        """Return the records, or raise FixtureError listing every problem found."""
        if self.problems:
            raise FixtureError(self.problems)
        return self.out


def records(doc: Any) -> dict[str, dict[int, Any]]:
    """Check a fixture document and turn it into records by collection and id."""
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
    loader.add(doc)
    chunk: list[Any] = []
    for line in it:
        text = line.strip()
        if text in (b"]", b"],"):
            break
        try:
            chunk.append(orjson.loads(text[:-1] if text.endswith(b",") else text))
        except orjson.JSONDecodeError:
            return None
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
