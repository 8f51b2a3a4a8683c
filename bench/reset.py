"""Reset cost: restoring the baseline must cost what the last test changed, not the data's size.

Builds baselines of 1,000 and 100,000 generated entries and, for each, times a
"test" that changes N entries (creates, updates and deletes through the
service layer, as requests would) followed by ``Fake.reset()``. Reports the
median reset time and the ratio between the two baseline sizes, measured side
by side in one run.
"""

from __future__ import annotations

import datetime
import statistics
import time

from apollo_fake import fixtures, service
from apollo_fake.fake import Fake
from apollo_fake.generate import generate

TODAY = datetime.date(2026, 6, 30)
ROUNDS = 200


def _fake(entries: int) -> Fake:
    return Fake(fixtures.build(generate(1, entries, TODAY)), today=TODAY)


def _change(fake: Fake, count: int) -> None:
    """Change ``count`` entries the way a test's requests would: create, update, delete."""
    project = min(fake.store.projects)
    ids = sorted(fake.store.entries)[:count]
    for i in range(count):
        kind = i % 3
        if kind == 0:
            body = {"time-entry": {"seconds": "900", "notes": "bench"}}
            service.create(fake, "projects", project, body, None)
        elif kind == 1:
            service.update(fake, ids[i], {"time-entry": {"notes": "changed"}})
        else:
            service.delete(fake, ids[i])


def _median_reset_ms(fake: Fake, changes: int) -> float:
    samples = []
    for _ in range(ROUNDS):
        _change(fake, changes)
        began = time.perf_counter()
        fake.reset()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def main() -> None:
    """Print the reset-cost table."""
    print(f"Reset cost (median of {ROUNDS} rounds, ms)")
    small, large = _fake(1_000), _fake(100_000)
    print(
        f"{'changed entries':>16} {'1,000-entry baseline':>22} {'100,000-entry baseline':>24} "
        f"{'ratio':>7}"
    )
    for changes in (0, 10, 100):
        a = _median_reset_ms(small, changes)
        b = _median_reset_ms(large, changes)
        ratio = b / a if a else float("nan")
        print(f"{changes:>16} {a:>22.3f} {b:>24.3f} {ratio:>7.2f}")
    print("A ratio near 1 means the reset cost does not grow with the baseline's size.")
    print()


if __name__ == "__main__":
    main()
