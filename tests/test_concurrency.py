"""Concurrent writes over a threaded live server: none lost, none doubled, ids unique.

The larger test drives 8 threads of 500 mixed requests each (create, update,
delete, get, listing, report) over keep-alive connections, then replays the
acknowledged writes in the order the store applied them and compares the result
with the state, field by field.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from apollo_fake.fake import Fake, Settings
from apollo_fake.server import DEFAULT_THREADS, LiveServer

from conftest import TODAY, small_doc

THREADS = 8
CREATES = 40


def test_parallel_creates_and_deletes_lose_nothing() -> None:
    fake = Fake(small_doc(), today=TODAY)
    acknowledged: list[list[str]] = [[] for _ in range(THREADS)]
    failures: list[str] = []

    def client(slot: int, port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for i in range(CREATES):
                body = {"time-entry": {"seconds": str(slot * 1000 + i), "notes": f"t{slot}"}}
                conn.request("POST", "/projects/51/timeEntries", json.dumps(body))
                resp = conn.getresponse()
                payload = json.loads(resp.read())
                if resp.status != 201:
                    failures.append(f"{resp.status} {payload}")
                    continue
                acknowledged[slot].append(payload["time-entry-id"])
                if i % 4 == 3:  # delete every fourth one again, racing the other writers
                    conn.request("DELETE", f"/timeEntries/{payload['time-entry-id']}")
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status != 200:
                        failures.append(f"delete {resp.status}")
        finally:
            conn.close()

    with LiveServer(fake.app) as server:
        threads = [
            threading.Thread(target=client, args=(slot, server.port)) for slot in range(THREADS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert failures == []
    ids = [i for got in acknowledged for i in got]
    assert len(ids) == THREADS * CREATES
    assert len(set(ids)) == len(ids), "an id was handed out twice"
    assert sorted(map(int, ids)) == list(range(81, 81 + THREADS * CREATES))
    kept = {i for got in acknowledged for n, i in enumerate(got) if n % 4 != 3}
    created = {str(e.id) for e in fake.store.entries.values() if e.id > 80}
    assert created == kept, "the state differs from the acknowledged writes"
    for slot, got in enumerate(acknowledged):
        for n, entry_id in enumerate(got):
            if n % 4 != 3:
                entry = fake.entry(int(entry_id))
                assert entry is not None and entry.seconds == slot * 1000 + n
    # Every index agrees with the entries: the project's listing holds each kept entry once.
    listed = [str(k % 10**18) for k in fake.store.index.project[51]]
    assert len(listed) == len(set(listed))
    assert created <= set(listed)


# --- 8 threads x 500 mixed requests -------------------------------------------------

REQUESTS = 500
STAMP = f"{TODAY} 00:00:00"  # the frozen clock: every create and update carries it
SHARED = list(range(71, 81))  # small.json's entries: every thread updates them
DELETABLE = (78, 79, 80)  # and races to delete these, while others update them
PARENTS = {
    # path -> (project-id, task-id, contact-id) a created entry gets
    "/projects/51/timeEntries": ("51", None, None),
    "/projects/52/timeEntries": ("52", None, None),
    "/projects/53/timeEntries": ("53", None, None),
    "/tasks/61/timeEntries": ("51", "61", None),
    "/tasks/62/timeEntries": (None, "62", "41"),
    "/contacts/41/timeEntries": (None, None, "41"),
    "/contacts/42/timeEntries": (None, None, "42"),
    "/contacts/43/timeEntries": (None, None, "43"),
    "/contacts/44/timeEntries": (None, None, "44"),
}
LISTINGS = [f"/projects/{p}/timeEntries" for p in (51, 52, 53)] + [
    f"/contacts/{c}/timeEntries" for c in (41, 42, 43, 44)
]
BILLABLE = ("unset", "not billable", "billable", "billed")


@dataclass
class Write:
    """An acknowledged write: what was sent and what the server answered."""

    kind: str  # create, update or delete
    entry_id: int
    fields: dict[str, Any] = field(default_factory=dict)
    path: str = ""


@dataclass
class Client:
    """One thread's connection, its acknowledged writes and what it saw go wrong."""

    slot: int
    port: int
    rng: random.Random
    acked: list[Write] = field(default_factory=list)
    own: dict[int, dict[str, Any]] = field(default_factory=dict)  # its live entries, as wire
    problems: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    sent: int = 0

    def call(
        self, conn: http.client.HTTPConnection, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body)
        conn.request(method, path, payload)
        resp = conn.getresponse()
        raw = resp.read()
        self.sent += 1
        self.statuses[resp.status] += 1
        if resp.getheader("Content-Type", "").split(";")[0] != "application/json":
            self.problems.append(f"{method} {path}: content type {resp.getheader('Content-Type')}")
        if resp.status >= 500:
            self.problems.append(f"{method} {path}: {resp.status} {raw[:200]!r}")
        return resp.status, json.loads(raw)

    def marker(self, n: int) -> str:
        return f"t{self.slot}-{n}"

    def some_fields(self) -> dict[str, Any]:
        """Return a random subset of the optional request fields, with canonical values."""
        rng = self.rng
        out: dict[str, Any] = {}
        if rng.random() < 0.5:
            out["seconds"] = rng.choice([str, int])(rng.randrange(0, 100_000))
        if rng.random() < 0.4:
            out["billable"] = rng.choice(BILLABLE)
        if rng.random() < 0.4:
            out["date"] = f"2012-07-{rng.randrange(1, 31):02d}"
        if rng.random() < 0.3:
            out["category-id"] = rng.choice(["21", "22", None])
        if rng.random() < 0.3:
            out["user-id"] = rng.choice(["11", "12"])
        return out

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            for n in range(REQUESTS):
                self.step(conn, n)
        except Exception as exc:  # report it: a thread that dies must fail the test
            self.problems.append(f"client {self.slot} stopped at request {self.sent}: {exc!r}")
        finally:
            conn.close()

    def step(self, conn: http.client.HTTPConnection, n: int) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.22 or not self.own:
            self.create(conn, n)
        elif roll < 0.37:
            self.update(conn, n, rng.choice(list(self.own)))
        elif roll < 0.47:
            self.update(conn, n, rng.choice(SHARED))
        elif roll < 0.53:
            self.delete(conn, rng.choice(list(self.own)))
        elif roll < 0.55:
            self.delete(conn, rng.choice(DELETABLE))
        elif roll < 0.70:
            self.get(conn, rng.choice([*self.own, *SHARED]))
        elif roll < 0.85:
            self.listing(conn)
        else:
            self.report(conn)

    def create(self, conn: http.client.HTTPConnection, n: int) -> None:
        path = self.rng.choice(list(PARENTS))
        fields = {"seconds": str(self.rng.randrange(0, 100_000)), **self.some_fields()}
        fields["notes"] = self.marker(n)
        status, body = self.call(conn, "POST", path, {"time-entry": fields})
        if status != 201:
            self.problems.append(f"POST {path} {fields}: {status} {body}")
            return
        new = int(body["time-entry-id"])
        self.acked.append(Write("create", new, fields, path))
        self.own[new] = created_wire(new, path, fields)

    def update(self, conn: http.client.HTTPConnection, n: int, entry_id: int) -> None:
        fields = {**self.some_fields(), "notes": self.marker(n)}
        status, body = self.call(conn, "PUT", f"/timeEntries/{entry_id}", {"time-entry": fields})
        if status == 200 and body == {}:
            self.acked.append(Write("update", entry_id, fields))
            if entry_id in self.own:
                self.own[entry_id] = updated_wire(self.own[entry_id], fields)
        elif not (status == 404 and entry_id in DELETABLE):
            self.problems.append(f"PUT /timeEntries/{entry_id} {fields}: {status} {body}")

    def delete(self, conn: http.client.HTTPConnection, entry_id: int) -> None:
        status, body = self.call(conn, "DELETE", f"/timeEntries/{entry_id}")
        if status == 200 and body == {}:
            self.acked.append(Write("delete", entry_id))
            self.own.pop(entry_id, None)
        elif not (status == 404 and entry_id in DELETABLE):
            self.problems.append(f"DELETE /timeEntries/{entry_id}: {status} {body}")

    def get(self, conn: http.client.HTTPConnection, entry_id: int) -> None:
        status, body = self.call(conn, "GET", f"/timeEntries/{entry_id}")
        if entry_id in self.own:
            # Only this thread writes its own entries: it must read exactly what it wrote.
            if (status, body) != (200, {"time-entry": self.own[entry_id]}):
                self.problems.append(f"GET own {entry_id}: {status} {body} != {self.own[entry_id]}")
        elif not (status == 200 or (status == 404 and entry_id in DELETABLE)):
            self.problems.append(f"GET /timeEntries/{entry_id}: {status} {body}")

    def listing(self, conn: http.client.HTTPConnection) -> None:
        path = self.rng.choice(LISTINGS) + f"?page={self.rng.randrange(1, 4)}"
        status, body = self.call(conn, "GET", path)
        entries = body.get("time-entries") if status == 200 else None
        if not isinstance(entries, list) or len(entries) > 50:
            self.problems.append(f"GET {path}: {status} {str(body)[:200]}")
            return
        check_order(self, path, entries)

    def report(self, conn: http.client.HTTPConnection) -> None:
        query = "with_totals=1&include_personal=1&include_contacts=1&include_cases=1"
        query += "&include_deals=1&from=2012-02-01&to=2012-07-31"
        extra = self.rng.choice(["", "&project_id=51", "&user_id=12", "&company_id=31"])
        status, body = self.call(conn, "GET", f"/report/timeEntries?{query}{extra}")
        if status != 200:
            self.problems.append(f"report{extra}: {status} {body}")
            return
        entries = body["time-entries"]
        check_order(self, "report", entries)
        sums = Counter()
        for e in entries:
            sums[e["billable"]] += int(e["seconds"])
        totals = body["totals"]
        want = {
            "number-of-entries": len(entries),
            "sum-of-seconds": sum(sums.values()),
            "sum-of-unset-seconds": str(sums["unset"]) if sums["unset"] else 0,
            "sum-of-billable-seconds": str(sums["billable"]) if sums["billable"] else 0,
            "sum-of-non-billable-seconds": str(sums["not billable"]) if sums["not billable"] else 0,
            "sum-of-billed-seconds": str(sums["billed"]) if sums["billed"] else 0,
        }
        if totals != want:
            self.problems.append(f"report{extra}: totals {totals} != sums {want}")


def check_order(client: Client, where: str, entries: list[dict[str, Any]]) -> None:
    """Note a listing that is not date-then-id descending or repeats an id."""
    keys = [(e["date"], int(e["id"])) for e in entries]
    if keys != sorted(keys, reverse=True) or len(set(keys)) != len(keys):
        client.problems.append(f"{where}: out of order or repeated: {keys}")


def created_wire(entry_id: int, path: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Return the entry a create with these fields must make, as the wire shows it."""
    project, task, contact = PARENTS[path]
    return {
        "id": str(entry_id),
        "time-category-id": fields.get("category-id"),
        "user-id": fields.get("user-id", "11"),
        "project-id": project,
        "task-id": task,
        "contact-id": contact,
        "date": fields.get("date", TODAY.isoformat()),
        "seconds": str(int(fields["seconds"])),
        "notes": fields.get("notes", ""),
        "billable": fields.get("billable", "unset"),
        "created-at": STAMP,
        "updated-at": STAMP,
    }


def updated_wire(old: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Return an entry after an update with these fields, as the wire shows it."""
    new = dict(old, **{"updated-at": STAMP})
    for key, value in fields.items():
        if key == "category-id":
            new["time-category-id"] = value
        elif key == "seconds":
            new["seconds"] = str(int(value))
        else:
            new[key] = value
    return new


Applied = tuple[str, int, "dict[str, Any] | None"]


def applied_order(fake: Fake) -> list[Applied]:
    """Log every entry write in the order the store applies it, inside the store's lock.

    Returns the live log: ("put", id, entry as wire) for a create or an update (its
    notes are the request's unique marker), ("delete", id, None) for a delete.
    """
    store = fake.store
    log: list[Applied] = []
    put, delete = store.put, store.delete

    def logged_put(name: str, record: Any) -> Any:
        with store.lock:
            out = put(name, record)
            if name == "time-entries":
                log.append(("put", record.id, record.to_wire()))
            return out

    def logged_delete(name: str, id: int) -> bool:
        with store.lock:
            done = delete(name, id)
            if done and name == "time-entries":
                log.append(("delete", id, None))
            return done

    store.put = logged_put  # type: ignore[method-assign]
    store.delete = logged_delete  # type: ignore[method-assign]
    return log


def test_8_threads_x_500_mixed_requests_equal_a_replay_of_the_acknowledged_writes() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(journal_size=THREADS * REQUESTS + 1))
    initial = {e.id: e.to_wire() for e in fake.store.entries.values()}
    log = applied_order(fake)
    with LiveServer(fake.app) as server:
        clients = [Client(slot, server.port, random.Random(slot)) for slot in range(THREADS)]
        threads = [threading.Thread(target=c.run) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a client hung"

    # Every request was answered, none with a 5xx, each as the thread expected.
    assert [p for c in clients for p in c.problems] == []
    assert sum(c.sent for c in clients) == THREADS * REQUESTS
    statuses = sum((c.statuses for c in clients), Counter())
    assert set(statuses) <= {200, 201, 404}, statuses

    # Ids: each acknowledged create got a new id, none twice, none skipped.
    writes = [w for c in clients for w in c.acked]
    created = [w.entry_id for w in writes if w.kind == "create"]
    assert len(set(created)) == len(created), "an id was handed out twice"
    assert sorted(created) == list(range(81, 81 + len(created)))

    # The server applied exactly the acknowledged writes, each once.
    by_marker = {w.fields["notes"]: w for w in writes if w.kind != "delete"}
    assert len(by_marker) == len(writes) - sum(w.kind == "delete" for w in writes)
    puts = [(entry_id, put["notes"]) for kind, entry_id, put in log if kind == "put" and put]
    assert Counter(notes for _, notes in puts) == Counter(by_marker.keys())
    assert all(by_marker[notes].entry_id == entry_id for entry_id, notes in puts)
    deletes = [entry_id for kind, entry_id, _ in log if kind == "delete"]
    assert len(puts) + len(deletes) == len(log)
    assert sorted(deletes) == sorted(w.entry_id for w in writes if w.kind == "delete")
    assert len(set(deletes)) == len(deletes), "an entry was deleted twice"

    # Replaying the acknowledged requests in the order they were applied gives, after
    # every step, the record the server stored (so no update was built on a stale
    # read), and in the end the state.
    expected = dict(initial)
    for step, (kind, entry_id, put) in enumerate(log):
        if kind == "delete":
            del expected[entry_id]
            continue
        assert put is not None
        write = by_marker[put["notes"]]
        if write.kind == "create":
            assert entry_id not in expected
            expected[entry_id] = created_wire(entry_id, write.path, write.fields)
        else:
            assert entry_id in expected, f"step {step}: {put} updates a deleted entry"
            expected[entry_id] = updated_wire(expected[entry_id], write.fields)
        assert put == expected[entry_id], f"step {step} of {len(log)}"
    final = {e.id: e.to_wire() for e in fake.store.entries.values()}
    assert final.keys() == expected.keys()
    assert [final[i] for i in sorted(final)] == [expected[i] for i in sorted(expected)]
    # Each thread's own last view of its entries is what is stored.
    for c in clients:
        assert {i: final.get(i) for i in c.own} == c.own

    # The journal holds every request once, in answer order, with the status sent.
    assert fake.journal_dropped == 0
    assert len(fake.journal) == THREADS * REQUESTS
    journaled = Counter(r["status"] for r in fake.journal)
    assert journaled == statuses
    journal_markers = Counter(
        r["body"]["time-entry"]["notes"]
        for r in fake.journal
        if r["method"] in ("POST", "PUT") and r["status"] in (200, 201)
    )
    assert journal_markers == Counter(by_marker.keys())

    # Every listing shows every surviving entry exactly once, on the right parent.
    client = fake.client
    for path in LISTINGS:
        kind, parent = path.split("/")[1:3]
        field_name = "project-id" if kind == "projects" else "contact-id"
        listed: list[str] = []
        page = path
        while page:
            r = client.get(page)
            assert r.status_code == 200
            listed += [e["id"] for e in r.get_json()["time-entries"]]
            page = r.get_json().get("continued-at")
        assert len(listed) == len(set(listed))
        assert set(listed) == {str(i) for i, e in final.items() if e[field_name] == parent}


# --- the live server's threads ---------------------------------------------------------


def test_the_live_server_reuses_its_threads_and_never_makes_a_connection_wait() -> None:
    fake = Fake(small_doc(), today=TODAY)
    served_by: list[threading.Thread] = []  # kept alive, so that each is told apart

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        served_by.append(threading.current_thread())
        return fake.app(environ, start_response)

    with LiveServer(app) as server:
        served_by.clear()
        for _ in range(50):  # one connection at a time: the pool's threads serve them all
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.request("GET", "/timeEntries/71")
            assert conn.getresponse().read()
            conn.close()
        assert len(set(map(id, served_by))) <= DEFAULT_THREADS, "a thread per connection"
        # 40 keep-alive connections open at once: each is answered, none waits for another.
        conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=5) for _ in range(40)]
        for round_ in range(2):
            for conn in conns:
                conn.request("GET", "/account")
            for conn in conns:
                response = conn.getresponse()
                assert (response.status, response.will_close) == (200, False), round_
                response.read()
        for conn in conns:
            conn.close()


def test_idle_connections_cost_the_live_server_no_thread() -> None:
    # Idle keep-alive connections wait in the server's selector, not each in a thread:
    # a client holding many open cannot make the process start a thread per connection.
    fake = Fake(small_doc(), today=TODAY)
    with LiveServer(fake.app) as server:
        # Threads, not a count: one an earlier test left ending may end meanwhile.
        before = set(threading.enumerate())
        conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=5) for _ in range(60)]
        for conn in conns:
            conn.request("GET", "/account")
        for conn in conns:
            response = conn.getresponse()
            assert (response.status, response.will_close) == (200, False)
            response.read()
        assert set(threading.enumerate()) <= before  # the pool did not grow
        # And a new connection still finds a thread.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/account")
        assert conn.getresponse().status == 200
        conn.close()
        for conn in conns:
            conn.close()


def test_stopping_the_live_server_ends_its_threads_and_idle_connections() -> None:
    fake = Fake(small_doc(), today=TODAY)
    before = set(threading.enumerate())
    server = LiveServer(fake.app).start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/account")
    assert conn.getresponse().read()  # the connection stays open, idle
    server.stop()
    deadline = time.monotonic() + 5  # a hang guard: the threads end as they see the stop
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) <= before  # every thread of the server has ended
    assert conn.sock.recv(1) == b""  # the server closed the idle connection
    conn.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
