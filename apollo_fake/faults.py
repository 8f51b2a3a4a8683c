"""Fault injection: rules that make matching requests fail, stall or lose their connection."""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import schemas

MAX_RULES = 100
RULE_SCHEMA = "control.schema.json#/$defs/fault-request"


def glob(pattern: str) -> Callable[[str], Any]:
    """Return a matcher of a shell-style glob (``fnmatch.fnmatchcase``'s rules).

    fnmatch keeps every pattern it has seen compiled in a process-wide cache of
    up to 32,768 entries: a client naming a new pattern in each fault rule (or
    journal query) grew the fake's memory with each one. This compiles once, and
    the matcher lives as long as what holds it.
    """
    return re.compile(fnmatch.translate(pattern)).match


@dataclass
class Fault:
    """One rule: which requests it matches and what it does to them."""

    id: int
    path: str
    method: str = "*"
    after: int = 0
    times: int | None = 1
    status: int | None = None
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_ms: int | None = None
    drop: bool = False
    matched: int = 0
    applied: int = 0

    @property
    def remaining(self) -> int | None:
        """Tell how many more times the rule applies (None: always)."""
        return None if self.times is None else self.times - self.applied

    def describe(self) -> dict[str, Any]:
        """Return the rule as the control API lists it."""
        out = {k: v for k, v in asdict(self).items() if v is not None or k == "times"}
        if not self.drop:
            out.pop("drop")
        if not self.headers:
            out.pop("headers")
        out["remaining"] = self.remaining
        return out


class Faults:
    """The fault rules of one fake, checked in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[Fault] = []
        self._matchers: dict[int, Callable[[str], Any]] = {}  # rule id -> its path glob
        self._next_id = 1

    def add(
        self,
        path: str,
        method: str = "*",
        *,
        after: int = 0,
        times: int | None = 1,
        status: int | None = None,
        body: Any = None,
        text: str | None = None,
        headers: dict[str, str] | None = None,
        delay_ms: int | None = None,
        drop: bool = False,
    ) -> Fault:
        """Add a rule doing exactly one of: answer ``status``, wait ``delay_ms``, ``drop``.

        A rule the server could not send (a 1xx status, a header that is not valid
        HTTP or that the server sets itself) raises ValueError, as the control API
        answers 400: the same schema decides both.
        """
        given: dict[str, Any] = {"path": path, "method": method, "after": after, "times": times}
        given |= {"status": status, "delay_ms": delay_ms, "body": body, "text": text}
        given["headers"] = headers
        request = {k: v for k, v in given.items() if v is not None or k == "times"}
        if drop:
            request["drop"] = True
        if not schemas.is_valid(RULE_SCHEMA, request):
            problems = schemas.details(schemas.errors(RULE_SCHEMA, request))
            raise ValueError(
                "; ".join(f"{p['field'] or 'the rule'}: {p['message']}" for p in problems)
            )
        with self._lock:
            if len(self.rules) >= MAX_RULES:
                raise OverflowError(f"at most {MAX_RULES} fault rules; clear some first")
            rule = Fault(
                id=self._next_id,
                path=path,
                method=method.upper(),
                after=after,
                times=times,
                status=status,
                body=body,
                text=text,
                headers=dict(headers or {}),
                delay_ms=delay_ms,
                drop=drop,
            )
            self._next_id += 1
            self.rules.append(rule)
            self._matchers[rule.id] = glob(path)
            return rule

    def match(self, method: str, path: str) -> Fault | None:
        """Return the rule that applies to this request, counting it, or None."""
        if not self.rules:
            # Most fakes have no rule: no lock to take for every request. Reading the
            # list is atomic, and a rule added meanwhile is as if added just after.
            return None
        with self._lock:
            for rule in self.rules:
                if rule.remaining == 0:
                    continue
                if rule.method not in ("*", method) or not self._matchers[rule.id](path):
                    continue
                rule.matched += 1
                if rule.matched <= rule.after:
                    continue
                rule.applied += 1
                return rule
        return None

    def listing(self) -> list[dict[str, Any]]:
        """Describe every rule with what remains of it."""
        with self._lock:
            return [rule.describe() for rule in self.rules]

    def remove(self, rule_id: int) -> None:
        """Remove one rule by its id; KeyError when there is none (the others stay as they are)."""
        with self._lock:
            if rule_id not in self._matchers:
                raise KeyError(f"there is no fault rule {rule_id}")
            self.rules = [rule for rule in self.rules if rule.id != rule_id]
            del self._matchers[rule_id]

    def clear(self) -> None:
        """Remove every rule (numbering goes on, so journal references stay unambiguous)."""
        with self._lock:
            self.rules = []
            self._matchers = {}
