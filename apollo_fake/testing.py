"""What the pytest plugin delegates to: baselines built once, and the contract report."""

from __future__ import annotations

import datetime
import gc
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fixtures as fx
from .fake import Fake, Settings


class ContractWarning(UserWarning):
    """A test's client broke the contract, and strict mode is off."""


@dataclass(frozen=True)
class Baseline:
    """The data a fake starts a test with: a fixture file or document, or generated data."""

    fixtures: Path | None = None
    document: str | None = None  # canonical JSON of an inline fixture document
    seed: int | None = None
    entries: int | None = None
    today: datetime.date | None = None
    tokens: tuple[tuple[str, int], ...] = field(default=())
    rate_limit: tuple[int, float] | None = None

    def build(self) -> Fake:
        """Build the fake this baseline describes."""
        if self.document is not None:
            store, start = fx.build(json.loads(self.document)), None
        else:
            store, start = fx.starting_store(self.fixtures, self.seed, self.entries, self.today)
        settings = Settings(tokens=dict(self.tokens), rate_limit=self.rate_limit)
        return Fake(store, today=self.today, start=start, settings=settings)


def baseline(
    fixtures: Path | str | Mapping[str, Any] | None = None,
    seed: int | None = None,
    entries: int | None = None,
    today: datetime.date | str | None = None,
    tokens: Mapping[str, int] | None = None,
    rate_limit: tuple[int, float] | None = None,
) -> Baseline:
    """Describe a baseline from loosely typed settings (options, ini keys, a marker)."""
    day = datetime.date.fromisoformat(today) if isinstance(today, str) else today
    common: dict[str, Any] = {
        "today": day,
        "tokens": tuple(sorted((tokens or {}).items())),
        "rate_limit": tuple(rate_limit) if rate_limit is not None else None,
    }
    if isinstance(fixtures, Mapping):
        return Baseline(document=json.dumps(fixtures, sort_keys=True), **common)
    return Baseline(
        fixtures=Path(fixtures).resolve() if fixtures is not None else None,
        seed=seed,
        entries=entries,
        **common,
    )


class Baselines:
    """Build each distinct baseline once per session and hand out its fake."""

    def __init__(self) -> None:
        self._fakes: dict[Baseline, Fake] = {}

    def get(self, spec: Baseline) -> Fake:
        """Return the session's fake for a baseline, building it on first use."""
        fake = self._fakes.get(spec)
        if fake is None:
            fake = self._fakes[spec] = spec.build()
            # The baseline lives for the session: keep it out of the cyclic garbage
            # collector, whose full passes would walk its entries again and again
            # (with a large baseline, that made every test measurably slower).
            # What is frozen is still freed by reference counting.
            gc.collect()
            gc.freeze()
        return fake

    def close(self) -> None:
        """Stop every live server started for these fakes."""
        for fake in self._fakes.values():
            fake.stop()


def violation_report(records: Iterable[Mapping[str, Any]]) -> str:
    """Describe contract violations for a person: one block per request."""
    blocks = []
    for r in records:
        query = f"?{r['query']}" if r.get("query") else ""
        lines = [f"{r['method']} {r['path']}{query} -> {r['status']}: {r.get('message') or ''}"]
        for v in r["violations"]:
            where = v["field"] or "(request)"
            lines.append(f"    {where}: {v['message']}")
        blocks.append("\n".join(lines))
    count = len(blocks)
    head = f"apollo-fake: the client broke the contract in {count} request{'s' * (count != 1)}:"
    return head + "\n\n" + "\n\n".join(blocks)
