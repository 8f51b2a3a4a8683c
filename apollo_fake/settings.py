"""How a fake behaves beyond its data: plain values, read by every layer above."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    """How a fake behaves beyond its data: auth, rate limit, journal, control API."""

    tokens: Mapping[str, int] = field(default_factory=dict)
    rate_limit: tuple[int, float] | None = None
    journal_size: int = 10_000  # requests the journal keeps
    journal_bytes: int = 64 * 1024 * 1024  # and at most this much, bodies, paths and all
    control: bool = True  # serve the /_fake/ control API
    control_token: str | None = None  # required in X-Fake-Control-Token when set
