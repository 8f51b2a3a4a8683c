"""Concurrent writes over a threaded live server: none lost, none doubled, ids unique."""

from __future__ import annotations

import http.client
import json
import threading

from apollo_fake.fake import Fake
from apollo_fake.server import LiveServer

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
