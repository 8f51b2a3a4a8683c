"""The fixture file: read, check (schema and references) and write it."""

from __future__ import annotations

import datetime
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


def records(doc: Any) -> dict[str, dict[int, Any]]:
    """Check a fixture document and turn it into records by collection and id."""
    check_schema(doc)
    problems: list[Detail] = []
    out: dict[str, dict[int, Any]] = {name: {} for name in COLLECTIONS}

    def add(name: str, index: int, record: Any) -> None:
        coll = out[name]
        if record.id in coll:
            problems.append(
                {"field": f"/{name}/{index}/id", "message": f"duplicate id {record.id}"}
            )
        coll[record.id] = record

    def exists(name: str, value: int | None, where: str, label: str) -> None:
        if value is not None and value not in out[name]:
            problems.append({"field": where, "message": f"names no existing {label} ({value})"})

    if "account" in doc:
        a = doc["account"]
        out["account"][int(a["id"])] = Account(int(a["id"]), a.get("name", ""))
    for i, u in enumerate(doc.get("users", ())):
        add(
            "users",
            i,
            User(
                int(u["id"]),
                u.get("first-name", ""),
                u.get("last-name", ""),
                u.get("email", ""),
            ),
        )
    for i, c in enumerate(doc.get("time-categories", ())):
        add("time-categories", i, Category(int(c["id"]), c.get("name", "")))
    for i, c in enumerate(doc.get("companies", ())):
        add("companies", i, Company(int(c["id"]), c.get("name", "")))
    for i, c in enumerate(doc.get("contacts", ())):
        contact = Contact(
            int(c["id"]), c["kind"], c.get("name", ""), parse_ref(c.get("company-id"))
        )
        add("contacts", i, contact)
    for i, c in enumerate(doc.get("contacts", ())):
        exists("companies", parse_ref(c.get("company-id")), f"/contacts/{i}/company-id", "company")
    for i, p in enumerate(doc.get("projects", ())):
        project = Project(int(p["id"]), p.get("name", ""), parse_ref(p.get("company-id")))
        add("projects", i, project)
        exists("companies", project.company_id, f"/projects/{i}/company-id", "company")
    for i, t in enumerate(doc.get("tasks", ())):
        task = Task(
            int(t["id"]),
            t.get("subject", ""),
            parse_ref(t.get("project-id")),
            parse_ref(t.get("contact-id")),
        )
        add("tasks", i, task)
        exists("projects", task.project_id, f"/tasks/{i}/project-id", "project")
        exists("contacts", task.contact_id, f"/tasks/{i}/contact-id", "contact")
    tasks = out["tasks"]
    for i, e in enumerate(doc.get("time-entries", ())):
        entry = Entry(
            id=int(e["id"]),
            user_id=int(e["user-id"]),
            date=e["date"],
            seconds=int(e["seconds"]),
            category_id=parse_ref(e.get("time-category-id")),
            project_id=parse_ref(e.get("project-id")),
            task_id=parse_ref(e.get("task-id")),
            contact_id=parse_ref(e.get("contact-id")),
            notes=e.get("notes", ""),
            billable=e.get("billable", "unset"),
            created_at=e.get("created-at"),
            updated_at=e.get("updated-at"),
        )
        add("time-entries", i, entry)
        where = f"/time-entries/{i}"
        exists("users", entry.user_id, where + "/user-id", "user")
        exists("time-categories", entry.category_id, where + "/time-category-id", "time category")
        exists("projects", entry.project_id, where + "/project-id", "project")
        exists("contacts", entry.contact_id, where + "/contact-id", "contact")
        exists("tasks", entry.task_id, where + "/task-id", "task")
        on_task = tasks.get(entry.task_id) if entry.task_id is not None else None
        if on_task is not None and (on_task.project_id, on_task.contact_id) != (
            entry.project_id,
            entry.contact_id,
        ):
            problems.append(
                {
                    "field": where,
                    "message": "an entry on a task must carry the task's project-id and "
                    f"contact-id ({on_task.project_id}, {on_task.contact_id})",
                }
            )
    if problems:
        raise FixtureError(problems)
    return out


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
