"""Deterministic fixture documents for `apollo-fake generate`.

The same (seed, entries, today) gives a byte-identical document on every machine and in
every process: names come from a seeded Faker pinned to one release (see pyproject.toml),
every other choice from one seeded `random.Random`, and nothing reads the clock, `hash()`
or the iteration order of a set.
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

try:
    from faker import Faker
except ImportError as exc:  # an extra: most users of the fake never generate data
    raise ImportError(
        "generated data (apollo-fake generate, --seed) needs Faker: "
        "pip install 'apollo-fake[generate]'"
    ) from exc

from .dates import add_months_clamped

__all__ = ["generate"]

# Separate id ranges per collection, so that an id used in the wrong place (a project id
# passed as a task id, ...) names nothing instead of silently naming something else.
ACCOUNT_ID = 1
USER_BASE = 100_001
CATEGORY_BASE = 200_001
COMPANY_BASE = 300_001
CONTACT_BASE = 400_001
PROJECT_BASE = 500_001
TASK_BASE = 600_001
ENTRY_BASE = 10_000_001

CATEGORY_NAMES = ("Development", "Design", "Meetings", "Support", "Research", "Travel")
BILLABLE_VALUES = ("unset", "not billable", "billable", "billed")
BILLABLE_WEIGHTS = (15, 25, 40, 20)
CONTACT_KINDS = ("contact", "case", "deal")
CONTACT_KIND_WEIGHTS = (50, 25, 25)

PROJECT_SHARE = 0.70
CONTACT_SHARE = 0.18
PERSONAL_SHARE = 0.12
PROJECT_TASK_SHARE = 0.5
CONTACT_TASK_SHARE = 1 / 3
# 1/(i+1) alone leaves the first project 0.70 / H(400) = 10.7% of the entries at M=1,000,000,
# barely over the 100,000 that page 2,000 of its listing (50 a page) needs; doubling its
# weight gives the benchmark a wide margin without changing the shape of the tail.
FIRST_PROJECT_BOOST = 2.0
NO_CATEGORY_SHARE = 0.05
WITH_COMPANY_SHARE = 2 / 3
EMPTY_NOTES_SHARE = 0.10

# Faker costs tens of microseconds a call: a million entries draw from pools built once.
NOTES_POOL_SIZE = 2_000
SECONDS_POOL_SIZE = 1_000
PROGRESS_STEP = 10_000
MONTHS = 8

Ref = tuple[str | None, str | None, str | None]  # (project-id, task-id, contact-id)


def generate(
    seed: int,
    entries: int,
    today: datetime.date,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Build a fixture document with faker: the same arguments give the same document everywhere."""
    if entries < 0:
        raise ValueError(f"entries must be at least 0, not {entries}")
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    m = entries

    account = {"id": str(ACCOUNT_ID), "name": fake.unique.company()}
    users = _users(fake, min(60, 5 + m // 20_000))
    categories = [
        {"id": str(CATEGORY_BASE + i), "name": name} for i, name in enumerate(CATEGORY_NAMES)
    ]
    companies = [
        {"id": str(COMPANY_BASE + i), "name": fake.unique.company()} for i in range(4 + m // 50_000)
    ]
    company_ids = [c["id"] for c in companies]
    contacts = _contacts(fake, rng, min(300, 12 + m // 10_000), company_ids)
    projects = [
        {
            "id": str(PROJECT_BASE + i),
            "name": fake.catch_phrase(),
            "company-id": _maybe_company(rng, company_ids),
        }
        for i in range(min(400, 6 + m // 5_000))
    ]
    tasks = _tasks(fake, rng, projects, contacts)

    return {
        "account": account,
        "users": users,
        "time-categories": categories,
        "companies": companies,
        "contacts": contacts,
        "projects": projects,
        "tasks": tasks,
        "time-entries": _entries(
            fake,
            rng,
            m,
            today,
            [u["id"] for u in users],
            [c["id"] for c in categories],
            _targets(projects, contacts, tasks),
            progress,
        ),
    }


def _users(fake: Faker, count: int) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i in range(count):
        first, last = fake.first_name(), fake.last_name()
        local = re.sub(r"[^a-z0-9.]", "", f"{first}.{last}".lower())
        email, n = f"{local}@example.com", 1
        # Clients may look users up by email, so two users never share one.
        while email in seen:
            n += 1
            email = f"{local}{n}@example.com"
        seen.add(email)
        users.append(
            {"id": str(USER_BASE + i), "first-name": first, "last-name": last, "email": email}
        )
    return users


def _maybe_company(rng: random.Random, company_ids: list[str]) -> str | None:
    return rng.choice(company_ids) if rng.random() < WITH_COMPANY_SHARE else None


def _contacts(
    fake: Faker, rng: random.Random, count: int, company_ids: list[str]
) -> list[dict[str, Any]]:
    # One of each kind first, so every kind exists however small the document.
    kinds = list(CONTACT_KINDS) + rng.choices(
        CONTACT_KINDS, weights=CONTACT_KIND_WEIGHTS, k=count - len(CONTACT_KINDS)
    )
    rng.shuffle(kinds)
    contacts: list[dict[str, Any]] = []
    for i, kind in enumerate(kinds):
        if kind == "contact":
            name = fake.name()
        elif kind == "case":
            name = fake.sentence(nb_words=4).rstrip(".")
        else:
            name = f"{fake.company()} deal"
        contacts.append(
            {
                "id": str(CONTACT_BASE + i),
                "kind": kind,
                "name": name,
                "company-id": _maybe_company(rng, company_ids),
            }
        )
    return contacts


def _tasks(
    fake: Faker,
    rng: random.Random,
    projects: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    parents: list[tuple[str | None, str | None]] = []
    for project in projects:
        parents += [(project["id"], None)] * rng.randint(2, 3)
    # sorted(): sample() returns its picks in random order, and task ids should follow
    # contact ids as they follow project ids.
    for index in sorted(rng.sample(range(len(contacts)), len(contacts) // 2)):
        parents.append((None, contacts[index]["id"]))
    return [
        {
            "id": str(TASK_BASE + i),
            "subject": fake.bs().capitalize(),
            "project-id": project_id,
            "contact-id": contact_id,
        }
        for i, (project_id, contact_id) in enumerate(parents)
    ]


def _targets(
    projects: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
) -> tuple[list[Ref], list[float], list[Ref]]:
    """Return what an entry can hang on, cumulative weights, and one target of each sort."""
    project_tasks: dict[str, list[str]] = {p["id"]: [] for p in projects}
    contact_tasks: dict[str, list[str]] = {c["id"]: [] for c in contacts}
    for task in tasks:
        if task["project-id"] is not None:
            project_tasks[task["project-id"]].append(task["id"])
        else:
            contact_tasks[task["contact-id"]].append(task["id"])

    refs: list[Ref] = []
    weights: list[float] = []

    # Skewed, so that listings of the first project and contact run to thousands of pages.
    project_weights = [1 / (i + 1) for i in range(len(projects))]
    project_weights[0] *= FIRST_PROJECT_BOOST
    project_total = sum(project_weights)
    for project, raw in zip(projects, project_weights, strict=True):
        weight = PROJECT_SHARE * raw / project_total
        pid = project["id"]
        refs.append((pid, None, None))
        weights.append(weight * (1 - PROJECT_TASK_SHARE))
        own = project_tasks[pid]
        for tid in own:
            refs.append((pid, tid, None))
            weights.append(weight * PROJECT_TASK_SHARE / len(own))

    # The first contact, case and deal lead with equal weights, the rest tail off, so
    # that each kind has a listing of several pages in a document of a few thousand.
    leaders = {kind: next(c["id"] for c in contacts if c["kind"] == kind) for kind in CONTACT_KINDS}
    raw_weights = [
        1.0 if contact["id"] == leaders[contact["kind"]] else 1 / (i + 1)
        for i, contact in enumerate(contacts)
    ]
    contact_total = sum(raw_weights)
    for contact, raw in zip(contacts, raw_weights, strict=True):
        weight = CONTACT_SHARE * raw / contact_total
        cid = contact["id"]
        own = contact_tasks[cid]
        on_tasks = CONTACT_TASK_SHARE if own else 0.0
        refs.append((None, None, cid))
        weights.append(weight * (1 - on_tasks))
        for tid in own:
            refs.append((None, tid, cid))
            weights.append(weight * on_tasks / len(own))

    refs.append((None, None, None))
    weights.append(PERSONAL_SHARE)

    first_project = projects[0]["id"]
    contact_task = next(t for t in tasks if t["contact-id"] is not None)
    every_sort: list[Ref] = [
        (first_project, None, None),
        (first_project, project_tasks[first_project][0], None),
        (None, None, contacts[0]["id"]),
        (None, contact_task["id"], contact_task["contact-id"]),
        (None, None, None),
    ]
    return refs, list(accumulate(weights)), every_sort


def _seconds_pool(rng: random.Random) -> list[str]:
    # Peaks at one hour, with a long tail to a full eight-hour day.
    quarters = list(range(1, 33))
    quarter_weights = [k if k <= 4 else 16 / k for k in quarters]
    pool = [str(900 * k) for k in rng.choices(quarters, quarter_weights, k=SECONDS_POOL_SIZE)]
    # A few entries typed by the minute, as people do, so clients meet odd values too.
    for i in rng.sample(range(SECONDS_POOL_SIZE), SECONDS_POOL_SIZE // 10):
        pool[i] = str(60 * rng.randint(1, 480))
    return pool


def _entries(
    fake: Faker,
    rng: random.Random,
    count: int,
    today: datetime.date,
    user_ids: list[str],
    category_ids: list[str],
    targets: tuple[list[Ref], list[float], list[Ref]],
    progress: Callable[[int], None] | None,
) -> list[dict[str, Any]]:
    refs, ref_cum, every_sort = targets

    notes_pool = [fake.sentence(nb_words=6) for _ in range(NOTES_POOL_SIZE)]
    notes_pool += [""] * round(NOTES_POOL_SIZE * EMPTY_NOTES_SHARE / (1 - EMPTY_NOTES_SHARE))
    seconds_pool = _seconds_pool(rng)
    categories: list[str | None] = [None, *category_ids]
    category_share = (1 - NO_CATEGORY_SHARE) / len(category_ids)
    category_cum = list(accumulate([NO_CATEGORY_SHARE] + [category_share] * len(category_ids)))
    billable_cum = list(accumulate(BILLABLE_WEIGHTS))

    start = add_months_clamped(today, -MONTHS)
    days = [
        (start + datetime.timedelta(days=n)).isoformat() for n in range((today - start).days + 1)
    ]
    # Sorted, so that ids rise with dates as they would on a real account, and the
    # created-at the loader derives from the date never goes back as ids go up.
    day_numbers = rng.choices(range(len(days)), k=count)
    day_numbers.sort()
    dates = [days[n] for n in day_numbers]
    del day_numbers

    # Fixed positions carry one entry of every sort and every billable value, so that even
    # a small document exercises every branch of a client.
    sorts, values = every_sort[:count], BILLABLE_VALUES[:count]
    forced_refs = dict(zip(rng.sample(range(count), len(sorts)), sorts, strict=True))
    forced_billable = dict(zip(rng.sample(range(count), len(values)), values, strict=True))

    result: list[dict[str, Any]] = []
    for low in range(0, count, PROGRESS_STEP):
        high = min(count, low + PROGRESS_STEP)
        n = high - low
        chunk_refs = rng.choices(refs, cum_weights=ref_cum, k=n)
        chunk_billable = rng.choices(BILLABLE_VALUES, cum_weights=billable_cum, k=n)
        for position, ref in forced_refs.items():
            if low <= position < high:
                chunk_refs[position - low] = ref
        for position, value in forced_billable.items():
            if low <= position < high:
                chunk_billable[position - low] = value
        # One comprehension over columns drawn in bulk: a function call per entry would
        # cost more than everything else together.
        result += [
            {
                "id": entry_id,
                "time-category-id": category,
                "user-id": user,
                "project-id": ref[0],
                "task-id": ref[1],
                "contact-id": ref[2],
                "date": date,
                "seconds": seconds,
                "notes": notes,
                "billable": billable,
            }
            for entry_id, category, user, ref, date, seconds, notes, billable in zip(
                map(str, range(ENTRY_BASE + low, ENTRY_BASE + high)),
                rng.choices(categories, cum_weights=category_cum, k=n),
                rng.choices(user_ids, k=n),
                chunk_refs,
                dates[low:high],
                rng.choices(seconds_pool, k=n),
                rng.choices(notes_pool, k=n),
                chunk_billable,
                strict=True,
            )
        ]
        if progress is not None:
            progress(n)
    return result
