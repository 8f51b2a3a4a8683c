"""Bounded resources: what a long-running fake holds must not grow with the requests it saw.

The counts are bounded elsewhere (test_controls.py: the journal keeps its last N
requests, at most 100 fault rules and 100 snapshots). These tests bound the
memory behind them (the journal also by the weight of the bodies it keeps),
measured with tracemalloc on the domain, and the report's scan: whatever
``from`` and ``to`` say, it reads at most six months of entries.
``bench/soak.py`` measures the same over HTTP, in resident memory.
"""

from __future__ import annotations

import datetime
import gc
import tracemalloc
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apollo_fake import service
from apollo_fake.fake import Fake

from conftest import SMALL as SMALL_PATH
from conftest import TODAY, small_doc

CYCLES = 4_000
KIB = 1024


def churn(fake: Fake, cycles: int) -> None:
    """Create and delete entries, as a long test run does: the data ends as it began."""
    body = {"time-entry": {"seconds": "60", "notes": "churn"}}
    for _ in range(cycles):
        entry = service.create(fake, "projects", 51, body, None)
        service.delete(fake, entry.id)


def traced(action: Callable[[], Any]) -> int:
    """Return the bytes that ``action`` left allocated (traced by tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        action()  # what it returns is dropped: only what it left behind counts
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


@pytest.fixture
def fake() -> Iterator[Fake]:
    found = Fake(small_doc(), today=TODAY)
    churn(found, 200)  # warm: first-use caches, dict resizes
    yield found


def test_creating_and_deleting_entries_does_not_grow_the_store(fake: Fake) -> None:
    loaded = fake.state()
    grown = traced(lambda: churn(fake, CYCLES))
    assert fake.state() == loaded
    # Any record kept per write would cost at least 20 bytes a cycle.
    assert grown < CYCLES * 20, f"{grown / KIB:.0f} KiB kept after {CYCLES} create+delete cycles"


def test_a_snapshot_costs_what_differs_from_the_loaded_data(fake: Fake) -> None:
    churn(fake, CYCLES)
    fake.client.put("/timeEntries/71", json={"time-entry": {"notes": "one change"}})
    cost = traced(lambda: fake.snapshot("after-churn"))
    # One entry differs from the loaded data: a snapshot of it is a few hundred bytes.
    assert cost < 20 * KIB, f"a snapshot of a one-entry change costs {cost / KIB:.0f} KiB"


def test_a_snapshot_of_the_loaded_data_is_small_and_reset_forgets_the_churn(fake: Fake) -> None:
    """What does hold today: a reset drops what the churn left, and snapshots are then cheap."""
    churn(fake, CYCLES)
    fake.reset()
    cost = traced(lambda: fake.snapshot("fresh"))
    assert cost < 20 * KIB, f"{cost / KIB:.0f} KiB"


def test_the_journal_keeps_its_size_under_load() -> None:
    from apollo_fake.fake import Settings

    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_size=50))
    for i in range(500):
        fake.client.get(f"/timeEntries/{71 + i % 10}")
    assert len(fake.journal) == 50
    assert fake.journal_dropped == 450

    def requests() -> None:
        for _ in range(500):
            fake.client.get("/timeEntries/71")

    grown = traced(requests)
    assert grown < 100 * KIB, f"{grown / KIB:.0f} KiB"


def test_the_journal_bounds_the_bodies_it_keeps_by_their_weight() -> None:
    from apollo_fake.fake import Settings

    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_bytes=4 * 1024 * 1024))
    notes = "x" * 500_000  # a 500 kB body: refused (notes too long), kept for the report
    body = {"time-entry": {"seconds": "60", "notes": notes}}

    def big_requests() -> None:
        for _ in range(40):
            assert fake.client.post("/projects/51/timeEntries", json=body).status_code == 422

    fake.client.post("/projects/51/timeEntries", json=body)  # warm: validators, caches
    grown = traced(big_requests)
    # 40 bodies of 500 kB: the 4 MiB budget holds the last 8, the oldest made room.
    assert len(fake.journal) == 8
    assert fake.journal_dropped == 33  # with the warm-up's
    assert fake.journal[-1]["body"] == body
    assert grown < 4.5 * 1024 * KIB, f"{grown / KIB:.0f} KiB kept"
    # Small records are not held back by the budget, and clearing forgets the weights.
    fake.clear_journal()
    for _ in range(100):
        fake.client.get("/timeEntries/71")
    assert len(fake.journal) == 100 and fake.journal_dropped == 0


def test_a_body_of_many_small_values_weighs_what_it_holds_once_parsed() -> None:
    from apollo_fake.fake import Settings

    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_bytes=8 * 1024 * 1024))
    many = [1000 + i for i in range(100_000)]  # about 0.6 MiB as JSON, 3.5 MiB parsed

    def requests() -> None:
        for _ in range(8):  # 28 MiB if each were kept as parsed: over the budget 3 times
            assert fake.client.post("/projects/51/timeEntries", json=many).status_code == 400

    fake.client.post("/projects/51/timeEntries", json=many)  # warm: validators, caches
    grown = traced(requests)
    assert len(fake.journal) < 3, len(fake.journal)
    assert grown < 9 * 1024 * KIB, f"{grown / KIB:.0f} KiB kept"


def forget_the_test_clients_urls() -> None:
    """Empty the stdlib's cache of split URLs (Python 3.11+), where the test client's
    long URLs stay: the process's, not the fake's."""
    cache_clear = getattr(urllib.parse.urlsplit, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()


def test_the_journal_weighs_paths_query_strings_and_messages_not_only_bodies() -> None:
    from apollo_fake.fake import Settings

    budget = 1024 * KIB
    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_bytes=budget))
    long = "x" * 30_000  # an unknown parameter: in the query string, the message's details

    def requests() -> None:
        for n in range(200):
            assert fake.client.get(f"/timeEntries/71?{n}{long}").status_code == 400
        forget_the_test_clients_urls()

    fake.client.get(f"/timeEntries/71?{long}")  # warm: validators, caches
    grown = traced(requests)
    # 200 records of 60 kB would be 12 MB: the budget holds the last few, counted.
    assert 0 < len(fake.journal) < 20, len(fake.journal)
    assert fake.journal_dropped == 201 - len(fake.journal)
    assert fake.journal[-1]["query"] == f"199{long}"
    assert grown < 1.5 * budget, f"{grown / KIB:.0f} KiB kept"
    answer = fake.client.get("/_fake/requests")
    assert answer.status_code == 200
    assert len(answer.get_data()) <= budget


def test_a_record_heavier_than_the_whole_journal_is_dropped_and_counted() -> None:
    from apollo_fake.fake import Settings

    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_bytes=16 * KIB))
    fake.client.get("/timeEntries/71")
    assert fake.client.get(f"/timeEntries/71?{'x' * 20_000}").status_code == 400
    assert [r["query"] for r in fake.journal] == [""] and fake.journal_dropped == 1
    assert len(fake.client.get("/_fake/requests").get_data()) <= 16 * KIB


def test_kept_answers_weigh_their_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from apollo_fake.fake import Settings
    from apollo_fake.web import api

    budget = 1024 * KIB
    monkeypatch.setattr(api, "CACHE_BYTES", budget)
    # No journal: its own bound (its test above) would hold the queries too.
    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_size=0))
    app = fake.app.wsgi_app.app  # type: ignore[attr-defined]

    def reads(start: int) -> None:
        # Distinct 15 kB queries, each answered with an empty report: small bodies,
        # large keys (project 99 has no entries; leading zeros are read as the PHP does).
        for n in range(start, start + 300):
            query = "project_id=" + "0" * (15_000 + n) + "99"
            answer = fake.client.get(f"/report/timeEntries?{query}")
            assert answer.get_data() == b'{"time-entries":[]}'
        forget_the_test_clients_urls()

    reads(0)  # warm, and the kept answers fill up to their bound
    grown = traced(lambda: reads(300))
    kept = app._kept
    held = sum(len(key[-2]) + len(reply.body) for key, reply in kept.replies.items())
    assert 0 < held <= kept.size <= budget
    # 300 keys of 15 kB kept would be 4.5 MB.
    assert grown < 1.5 * budget, f"{grown / KIB:.0f} KiB kept"


def test_a_journal_of_size_0_keeps_nothing_and_counts_what_it_dropped() -> None:
    from apollo_fake.fake import Settings

    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_size=0))
    for _ in range(3):
        fake.client.get("/timeEntries/71")
    assert len(fake.journal) == 0 and fake.journal_dropped == 3


def test_fault_rules_and_journal_queries_with_new_globs_leave_nothing_behind(fake: Fake) -> None:
    # fnmatch caches every pattern it compiles, process-wide, up to 32,768 of them:
    # a client naming a new glob each time must not grow the fake with each one.
    def rules_and_queries(run: int) -> None:
        for n in range(1_500):
            fake.faults.add(f"/never/{run}/{n}/*", status=503)
            fake.client.get("/timeEntries/71")  # checked against the rule's glob
            fake.requests(path=f"/timeEntries/{run}/{n}*")
            if n % 50 == 49:
                fake.faults.clear()
                fake.clear_journal()  # each query scans the journal: kept short, it is quick
        fake.faults.clear()
        fake.clear_journal()

    rules_and_queries(0)  # warm: re's own cache (512 patterns) fills
    grown = traced(lambda: rules_and_queries(1))
    # re's bounded cache turns over (about 0.3 MiB); 3,000 globs kept would be 2.5 MiB.
    assert grown < 1024 * KIB, f"{grown / KIB:.0f} KiB kept after 3,000 new globs"


def test_remembered_routes_are_bounded() -> None:
    from apollo_fake.web import api

    fake = Fake(small_doc(), today=TODAY)
    for n in range(api.ROUTES_KEPT + 500):  # a path per id, as a long run makes
        fake.client.get(f"/timeEntries/{1000 + n}")
    routes = fake.app.wsgi_app.app._routes  # type: ignore[attr-defined]
    assert 0 < len(routes) <= api.ROUTES_KEPT


def test_a_session_baseline_is_frozen_out_of_the_collectors_sight() -> None:
    from apollo_fake.testing import Baselines, baseline

    baselines = Baselines()
    before = gc.get_freeze_count()
    try:
        fake = baselines.get(baseline(fixtures=SMALL_PATH, today=TODAY.isoformat()))
        assert gc.get_freeze_count() > before
        # Frozen: the collector's passes no longer see the baseline's store.
        assert all(seen is not fake.store for seen in gc.get_objects())
    finally:
        baselines.close()
        gc.unfreeze()


# --- kept answers ----------------------------------------------------------------------

READS = [
    "/projects/51/timeEntries",
    "/projects/51/timeEntries/1",
    "/contacts/41/timeEntries",
    "/tasks/61/timeEntries",
    "/report/timeEntries?project_id=51&with_totals=1",
    "/report/timeEntries?from=-1 month&with_totals=1",
]


def snapshot_of_reads(fake: Fake) -> list[bytes]:
    return [fake.client.get(path).get_data() for path in READS]


@pytest.mark.parametrize(
    "write",
    [
        lambda f: f.client.put("/timeEntries/71", json={"time-entry": {"notes": "changed"}}),
        lambda f: f.client.post("/projects/51/timeEntries", json={"time-entry": {"seconds": "9"}}),
        lambda f: f.client.delete("/timeEntries/71"),
        lambda f: f.load(small_doc()) or f.client.delete("/timeEntries/72"),
        lambda f: f.reset(to="empty"),
    ],
    ids=["update", "create", "delete", "load", "reset-empty"],
)
def test_kept_answers_are_never_served_after_the_data_changed(write: Any) -> None:
    fake, fresh = Fake(small_doc(), today=TODAY), Fake(small_doc(), today=TODAY)
    assert snapshot_of_reads(fake) == snapshot_of_reads(fake)  # read twice: now kept
    write(fake)
    write(fresh)  # the same write on a fake that never kept an answer
    assert snapshot_of_reads(fake) == snapshot_of_reads(fresh)


def test_a_report_kept_yesterday_is_not_todays() -> None:
    fake = Fake(small_doc(), today=TODAY)
    path = "/report/timeEntries?from=-1 month&with_totals=1"
    before = fake.client.get(path).get_json()
    fake.clock.freeze(TODAY - datetime.timedelta(days=24))  # "-1 month" moves back to June
    after = fake.client.get(path).get_json()
    assert after == Fake(small_doc(), today=fake.clock.today()).client.get(path).get_json()
    assert after["totals"] != before["totals"]


def test_kept_answers_are_all_of_the_current_data() -> None:
    fake = Fake(small_doc(), today=TODAY)
    for page in range(1, 201):  # 200 different reads, each kept
        fake.client.get(f"/projects/51/timeEntries/{page}")
    kept = fake.app.wsgi_app.app._kept  # type: ignore[attr-defined]
    assert len(kept.replies) == 200
    fake.client.delete("/timeEntries/71")
    fake.client.get("/projects/51/timeEntries")
    # The write made the 200 answers unservable: they are gone, not held until a limit.
    assert len(fake.app.wsgi_app.app._kept.replies) == 1  # type: ignore[attr-defined]


# --- the report reads at most six months ---------------------------------------------


@pytest.fixture(scope="module")
def decade() -> Fake:
    """Return a fake with an entry every day for ten years up to TODAY, on project 51."""
    doc = small_doc()
    first = TODAY - datetime.timedelta(days=3652)
    doc["time-entries"] = [
        {
            "id": str(1000 + n),
            "user-id": "11",
            "project-id": "51",
            "date": (first + datetime.timedelta(days=n)).isoformat(),
            "seconds": "60",
        }
        for n in range(3653)
    ]
    return Fake(doc, today=TODAY)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="defaults"),
        pytest.param("from=20120131&to=20120731", id="exactly-six-months"),
        pytest.param("from=20020731&to=20120731", id="ten-years"),
        pytest.param("from=@0", id="since-1970"),
        pytest.param("from=-20%20years", id="twenty-years-ago"),
        pytest.param("to=99991231", id="year-9999"),
        pytest.param("from=00010101&to=99991231", id="all-of-time"),
        pytest.param("from=20111231&to=20120630", id="month-end-clamp"),
        pytest.param("to=-5%20years&project_id=51&with_totals=1", id="five-years-ago"),
    ],
)
def test_the_report_never_reads_more_than_six_months(decade: Fake, query: str) -> None:
    windows: list[int] = []
    materialized: list[int] = []
    store = decade.store
    window = store.window

    def recorded(sources: Any, first: int, last: int) -> Any:
        windows.append(last - first + 1)
        found = window(sources, first, last)
        materialized.append(len(found))
        return found

    store.window = recorded  # type: ignore[method-assign]
    try:
        r = decade.client.get("/report/timeEntries?" + query)
    finally:
        del store.window
    assert r.status_code in (200, 400), r.get_data()
    if r.status_code == 400:
        assert windows == []
        assert "six months" in r.get_json()["error"]["message"] + str(r.get_json())
        return
    assert len(windows) == 1
    # Six calendar months, clamped to the month's end, span at most 185 days (both
    # included: June 30 to December 31).
    assert windows[0] <= 185
    assert materialized[0] <= 185  # one entry a day: no more were read
    assert len(r.get_json()["time-entries"]) == materialized[0]


# --- a refused request's data dies with its answer -------------------------------------
# What only the cyclic collector frees stays until its next pass, and `serve` makes
# those passes rare: a cycle that held a request's body would let a client pile up
# gigabytes of them. These hold every refusal to plain reference counting.

BIG = 50_000  # bytes: far above anything else a request leaves behind, within the URL limit


def freed_only_by_collecting(action: Callable[[], Any]) -> int:
    """Run ``action`` with the cyclic collector off; return the bytes that a collection
    then frees: what it left in cycles."""
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        action()
        before = tracemalloc.get_traced_memory()[0]
        gc.collect()
        return before - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        gc.enable()


@pytest.mark.parametrize(
    ("method", "target", "body", "status"),
    [
        pytest.param("POST", "/projects/51/timeEntries", b"{" + b"x" * BIG, 400, id="not-json"),
        pytest.param(
            "POST",
            "/projects/51/timeEntries",
            b'{"time-entry": {"seconds": "' + b"x" * BIG + b'"}}',
            422,
            id="invalid-seconds",  # the errors of its anyOf refer to each other
        ),
        pytest.param(
            "POST",
            "/projects/99999/timeEntries",
            b'{"time-entry": {"seconds": "60", "notes": "' + b"n" * BIG + b'"}}',
            404,
            id="no-parent",
        ),
        pytest.param("GET", "/timeEntries/71?" + "q" * BIG, b"", 400, id="unknown-parameter"),
        pytest.param("GET", "/no/such/" + "a" * BIG, b"", 404, id="no-route"),
        pytest.param(
            "POST",
            "/_fake/faults",
            b'{"path": "/a", "status": "' + b"z" * BIG + b'"}',
            400,
            id="control-fault-rule",  # its schema's "not" of an "anyOf"
        ),
    ],
)
def test_a_refused_request_leaves_no_cycle_holding_what_it_sent(
    method: str, target: str, body: bytes, status: int
) -> None:
    from werkzeug.test import EnvironBuilder

    from apollo_fake.fake import Settings

    # No journal: it keeps bodies on purpose, bounded by its own budget.
    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_size=0))
    path, _, query = target.partition("?")
    answered = []

    def call() -> None:
        environ = EnvironBuilder(
            path=path,
            query_string=query,
            method=method,
            data=body,
            content_type="application/json",
        ).get_environ()
        result = fake.app(environ, lambda line, headers, exc=None: answered.append(line))
        b"".join(result)

    call()  # warm: validators compiled, routes read
    left = freed_only_by_collecting(lambda: [call() for _ in range(3)])
    assert left < BIG, f"{left:,} bytes in cycles after 3 requests of {BIG:,} bytes each"
    assert {int(line[:3]) for line in answered} == {status}


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="url-414"),
        pytest.param(
            b"GET /account HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 70_000 + b"\r\n\r\n",
            id="head-431",
        ),
    ],
)
def test_a_connection_refused_by_the_server_leaves_no_cycle_holding_what_it_sent(
    head: bytes,
) -> None:
    import socket
    import time

    from apollo_fake.server import LiveServer

    fake = Fake(small_doc(), today=TODAY)

    def refused() -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head)
            assert sock.recv(12)[9:12] in (b"414", b"431")
        deadline = time.monotonic() + 10  # a hang guard: the server forgets it at once
        while server._server is not None and server._server.connections:
            assert time.monotonic() < deadline, "the server kept the connection"
            time.sleep(0.01)

    with LiveServer(fake.app) as server:
        refused()  # warm
        left = freed_only_by_collecting(lambda: [refused() for _ in range(3)])
    assert left < BIG, f"{left:,} bytes in cycles after 3 connections sending {len(head):,} each"
