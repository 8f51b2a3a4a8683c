"""The fixture generator: deterministic, referentially sound, shaped as the spec says."""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from apollo_fake.generate import generate

ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.date(2024, 10, 31)
# Eight months before 31 October is 31 February: clamped to the month's last day.
START = datetime.date(2024, 2, 29)

ENTRY_KEYS = [
    "id",
    "time-category-id",
    "user-id",
    "project-id",
    "task-id",
    "contact-id",
    "date",
    "seconds",
    "notes",
    "billable",
]
KEYS = {
    "users": ["id", "first-name", "last-name", "email"],
    "time-categories": ["id", "name"],
    "companies": ["id", "name"],
    "contacts": ["id", "kind", "name", "company-id"],
    "projects": ["id", "name", "company-id"],
    "tasks": ["id", "subject", "project-id", "contact-id"],
    "time-entries": ENTRY_KEYS,
}
BASES = {
    "users": 100_001,
    "time-categories": 200_001,
    "companies": 300_001,
    "contacts": 400_001,
    "projects": 500_001,
    "tasks": 600_001,
    "time-entries": 10_000_001,
}
CANONICAL_ID = re.compile(r"[1-9][0-9]*")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    """Generate one mid-sized document shared by the read-only checks."""
    return generate(7, 20_000, TODAY)


def ids(doc: dict[str, Any], collection: str) -> set[str]:
    """Return the ids of one collection."""
    return {item["id"] for item in doc[collection]}


def test_same_arguments_give_the_same_bytes() -> None:
    assert orjson.dumps(generate(3, 2_000, TODAY)) == orjson.dumps(generate(3, 2_000, TODAY))


def test_same_bytes_in_other_processes_whatever_the_hash_seed() -> None:
    code = (
        "import datetime, hashlib, orjson;"
        "from apollo_fake.generate import generate;"
        "print(hashlib.sha256(orjson.dumps("
        "generate(3, 2000, datetime.date(2024, 10, 31)))).hexdigest())"
    )
    expected = hashlib.sha256(orjson.dumps(generate(3, 2_000, TODAY))).hexdigest()
    python = ROOT / ".venv" / "bin" / "python"
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [str(python if python.exists() else sys.executable), "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert run.stdout.strip() == expected


def test_different_seeds_differ() -> None:
    first, second = generate(1, 200, TODAY), generate(2, 200, TODAY)
    assert first["users"] != second["users"]
    assert first["time-entries"] != second["time-entries"]


def test_keys_and_order(doc: dict[str, Any]) -> None:
    assert list(doc) == [
        "account",
        "users",
        "time-categories",
        "companies",
        "contacts",
        "projects",
        "tasks",
        "time-entries",
    ]
    assert doc["account"]["id"] == "1"
    assert list(doc["account"]) == ["id", "name"]
    for collection, keys in KEYS.items():
        for item in doc[collection]:
            assert list(item) == keys, collection


def test_ids_are_canonical_unique_ascending_and_in_their_range(doc: dict[str, Any]) -> None:
    for collection, base in BASES.items():
        numbers = [int(item["id"]) for item in doc[collection]]
        assert all(CANONICAL_ID.fullmatch(item["id"]) for item in doc[collection])
        # Consecutive from the base: ascending and free of duplicates at once.
        assert numbers == list(range(base, base + len(numbers))), collection


def test_every_reference_names_an_existing_id(doc: dict[str, Any]) -> None:
    companies = ids(doc, "companies") | {None}
    contacts, projects = ids(doc, "contacts"), ids(doc, "projects")
    for item in doc["contacts"] + doc["projects"]:
        assert item["company-id"] in companies
    for task in doc["tasks"]:
        assert task["project-id"] in projects | {None}
        assert task["contact-id"] in contacts | {None}
    users, categories = ids(doc, "users"), ids(doc, "time-categories") | {None}
    tasks = ids(doc, "tasks") | {None}
    for entry in doc["time-entries"]:
        assert entry["user-id"] in users
        assert entry["time-category-id"] in categories
        assert entry["project-id"] in projects | {None}
        assert entry["contact-id"] in contacts | {None}
        assert entry["task-id"] in tasks


def test_tasks_name_a_project_or_a_contact(doc: dict[str, Any]) -> None:
    for task in doc["tasks"]:
        assert (task["project-id"] is None) != (task["contact-id"] is None)
    per_project = Counter(t["project-id"] for t in doc["tasks"] if t["project-id"])
    assert set(per_project) == ids(doc, "projects")
    assert set(per_project.values()) <= {2, 3}
    on_contacts = [t for t in doc["tasks"] if t["contact-id"]]
    assert len(on_contacts) == len(doc["contacts"]) // 2


def test_entries_hang_on_one_thing_and_agree_with_their_task(doc: dict[str, Any]) -> None:
    tasks = {t["id"]: t for t in doc["tasks"]}
    for entry in doc["time-entries"]:
        assert entry["project-id"] is None or entry["contact-id"] is None
        if entry["task-id"] is not None:
            task = tasks[entry["task-id"]]
            assert entry["project-id"] == task["project-id"]
            assert entry["contact-id"] == task["contact-id"]


def test_shares_of_entries(doc: dict[str, Any]) -> None:
    entries = doc["time-entries"]
    m = len(entries)
    on_projects = [e for e in entries if e["project-id"]]
    on_contacts = [e for e in entries if e["contact-id"]]
    personal = [e for e in entries if not e["project-id"] and not e["contact-id"]]
    assert not any(e["task-id"] for e in personal)
    assert 0.66 < len(on_projects) / m < 0.74
    assert 0.15 < len(on_contacts) / m < 0.21
    assert 0.09 < len(personal) / m < 0.15
    assert 0.4 < sum(1 for e in on_projects if e["task-id"]) / len(on_projects) < 0.6
    assert any(e["task-id"] for e in on_contacts)
    assert 0.03 < sum(1 for e in entries if e["time-category-id"] is None) / m < 0.07
    assert 0.07 < sum(1 for e in entries if e["notes"] == "") / m < 0.13
    assert {e["user-id"] for e in entries} == ids(doc, "users")


def test_first_project_holds_the_most_entries(doc: dict[str, Any]) -> None:
    per_project = Counter(e["project-id"] for e in doc["time-entries"] if e["project-id"])
    first = doc["projects"][0]["id"]
    assert all(per_project[first] > n for pid, n in per_project.items() if pid != first)


def test_sizes_scale_with_entries(doc: dict[str, Any]) -> None:
    assert len(doc["users"]) == 6
    assert [c["name"] for c in doc["time-categories"]] == [
        "Development",
        "Design",
        "Meetings",
        "Support",
        "Research",
        "Travel",
    ]
    assert len(doc["companies"]) == 4
    assert len(doc["contacts"]) == 14
    assert len(doc["projects"]) == 10


def test_values(doc: dict[str, Any]) -> None:
    for entry in doc["time-entries"]:
        assert START.isoformat() <= entry["date"] <= TODAY.isoformat()
        datetime.date.fromisoformat(entry["date"])
        assert CANONICAL_ID.fullmatch(entry["seconds"])
        assert 0 < int(entry["seconds"]) <= 28_800
        assert isinstance(entry["notes"], str)
    dates = {e["date"] for e in doc["time-entries"]}
    assert min(dates) == START.isoformat()
    assert max(dates) == TODAY.isoformat()
    quarters = sum(1 for e in doc["time-entries"] if int(e["seconds"]) % 900 == 0)
    assert quarters / len(doc["time-entries"]) > 0.8
    emails = [u["email"] for u in doc["users"]]
    assert len(set(emails)) == len(emails)


@pytest.mark.parametrize("m", [20, 20_000])
def test_every_kind_and_billable_value_is_present(m: int) -> None:
    small = generate(11, m, TODAY)
    assert {c["kind"] for c in small["contacts"]} == {"contact", "case", "deal"}
    entries = small["time-entries"]
    assert {e["billable"] for e in entries} == {"unset", "not billable", "billable", "billed"}
    assert any(e["project-id"] is None and e["contact-id"] is None for e in entries)
    assert any(e["project-id"] and e["task-id"] for e in entries)
    assert any(e["contact-id"] and e["task-id"] for e in entries)


@pytest.mark.parametrize("m", [0, 1, 2, 25_001])
def test_entry_count_is_exact_and_progress_adds_up(m: int) -> None:
    calls: list[int] = []
    result = generate(5, m, datetime.date(2023, 3, 1), calls.append)
    assert len(result["time-entries"]) == m
    assert sum(calls) == m
    assert all(0 < n <= 10_000 for n in calls)
    assert len(calls) == -(-m // 10_000)


def test_negative_entries_are_rejected() -> None:
    with pytest.raises(ValueError, match="entries"):
        generate(1, -1, TODAY)
