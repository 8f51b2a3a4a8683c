"""The contract report: what a client did with the calls of the seed, and how it broke the contract.

A :class:`Coverage` counts every Apollo request a fake answers, as it answers it:
per call of the contract (the seed's ten time-tracking calls and ``GET /account``,
``/v1`` and root alike) the requests, the statuses, the documented parameters and
fields used, whether a listing went past its first page; and every contract
violation, grouped by method, route, field and rule. The counters are cumulative:
they do not come from the journal, which keeps only the last requests.

:meth:`Coverage.document` turns the counters into the report document (its JSON
Schema is ``schemas/contract-report.schema.json``); :func:`text`, :func:`junit` and
:func:`markdown` render a document for a person and for CI systems. Plain Python: no
Flask, no HTTP.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from .contract import CALLS, REPORT_PARAMETERS, TRUE, Call, Route
from .errors import ApolloError, MethodNotAllowed, NoRoute

FORMAT = "apollo-fake contract report"
VERSION = 1
MAX_KINDS = 500  # distinct violations kept; further kinds are counted together
MAX_MEMO = 4096  # query strings whose facts are remembered...
MEMO_TEXT = 1024  # ...each at most this long: a longer one is read each time, not kept
MAX_TEXT = 300  # characters of a path or message kept as an example
OTHER_KINDS = "further kinds of violation (more than the report lists)"
NO_ROUTE = "matches no call of the contract (an unknown path, or an id or page that is not digits)"

CONTINUED = "continued-at"
# Each parameter of the report, with the value a client must choose to have tried it:
# a value parameter by its name, a flag by the opposite of its default.
CHECKS: dict[str, str] = {
    p.name: p.name if p.default is None else f"{p.name}={'false' if p.default else 'true'}"
    for p in REPORT_PARAMETERS
}

# What a status means to a client, for the sentences of the report.
OUTCOMES = {
    401: "a missing or unknown token",
    404: "a missing project, contact, task or entry",
    422: "a rejected create or update",
    429: "the rate limit",
}


def call_checks(call: Call) -> list[str]:
    """Name what the client should have done with a call, besides its outcomes."""
    if call.kind == "listing":
        return [CONTINUED]
    if call.kind == "report":
        return list(CHECKS.values())
    return list(call.fields)


class _Stats:
    """The counters of one call."""

    __slots__ = ("requests", "succeeded", "injected", "violating", "statuses", "seen")

    def __init__(self) -> None:
        self.requests = 0
        self.succeeded = 0
        self.injected = 0
        self.violating = 0
        self.statuses: dict[int, int] = {}
        self.seen: dict[str, int] = {}


class _Kind:
    """One kind of violation: how often, and the first request that made it."""

    __slots__ = ("call", "count", "path", "message")

    def __init__(self, call: str | None, path: str, message: str) -> None:
        self.call = call
        self.count = 0
        self.path = path[:MAX_TEXT]
        self.message = message[:MAX_TEXT]


# Values inside a message would split one rule into many kinds: 'abc', (99), dates.
_QUOTED = re.compile(r"'[^']*'")
_NUMBER = re.compile(r"\(\d+\)")
_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_DIGITS = re.compile(r"(?<=/)[0-9]+(?=/|$)")


def rule_of(message: str) -> str:
    """Return a message's rule: the message with the values it quotes left out."""
    return _DAY.sub("YYYY-MM-DD", _NUMBER.sub("(…)", _QUOTED.sub("'…'", message)))[:MAX_TEXT]


def broken_rules(err: ApolloError) -> list[tuple[str, str, str]]:
    """Return what a violation broke: (field, the contract's rule, message) for each field.

    The rule is in the report's words; the journal records it beside each field,
    so that what a person reads of one request is what the report groups.
    """
    if isinstance(err, NoRoute):
        return [("", NO_ROUTE, err.message)]
    if isinstance(err, MethodNotAllowed):
        allowed = err.headers.get("Allow", "")
        return [("", f"this path takes only {allowed}", err.message)]
    return [
        (d["field"], rule_of(d["message"] if d["field"] else err.message), d["message"])
        for d in err.details
    ] or [("", rule_of(err.message), err.message)]


def shape(path: str) -> str:
    """Name a path that matches no route by its shape: digits become {id}, /v1 goes.

    /v1 stays on a path that climbs out of it (``/v1/../account``): without it, the
    path would read as another request than the one sent.
    """
    if path.startswith("/v1/") and not path.startswith("/v1/.."):
        path = path[3:]
    return _DIGITS.sub("{id}", path)[:MAX_TEXT]


class Coverage:
    """Count what a client does with the calls of the contract; cheap enough for every request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outside = 0  # requests that matched no call of the contract
        self.violating = 0  # requests that broke the contract
        self.expected = 0  # violations a test marked as deliberate
        self._stats: dict[str, _Stats] = {}  # by call name, made on the call's first request
        self._kinds: dict[tuple[str, str, str, int, str], _Kind] = {}
        self._facts: dict[tuple[str, str], tuple[str, ...]] = {}

    def note(
        self,
        route: Route | None,
        method: str,
        path: str,
        query: str,
        status: int,
        err: ApolloError | None = None,
        body: Any = None,
        answer: bytes = b"",
        expected: bool = False,
        injected: bool = False,
    ) -> None:
        """Count one answered request.

        ``route`` is the contract's row of the matched route, None when the path
        matched none; ``query`` the raw query string; ``body`` the parsed JSON
        body, if one was read; ``answer`` the body answered; ``expected`` marks a
        violation a test made on purpose; ``injected`` an answer of a fault rule.
        This runs on every request: a lock and a few dict operations.
        """
        lock = self._lock
        lock.acquire()
        try:
            if route is None:
                self.outside += 1
            else:
                stats = self._stats.get(route.call)
                if stats is None:
                    stats = self._stats[route.call] = _Stats()
                stats.requests += 1
                statuses = stats.statuses
                if status:  # a dropped connection (0) answered no status
                    statuses[status] = statuses.get(status, 0) + 1
                if injected:
                    stats.injected += 1
                elif 200 <= status < 300:
                    stats.succeeded += 1
                    track = route.kind
                    if track == "listing":
                        seen = stats.seen
                        if answer.startswith(b'{"continued-at"'):
                            seen["offered"] = seen.get("offered", 0) + 1
                        if route.paged:
                            page = path[path.rfind("/") + 1 :].lstrip("0")
                            if page not in ("", "1"):
                                seen[CONTINUED] = seen.get(CONTINUED, 0) + 1
                        elif query:
                            self._count_facts(track, query, seen)
                    elif track == "report":
                        if query:
                            self._count_facts(track, query, stats.seen)
                    elif track == "write" and isinstance(body, dict):
                        fields = body.get("time-entry")
                        if isinstance(fields, dict):
                            seen = stats.seen
                            for name in fields:
                                seen[name] = seen.get(name, 0) + 1
            if err is not None and err.violation:
                where = f"{path}?{query}" if query else path
                self._violation(route, method, where, err, expected)
        finally:
            lock.release()

    def _count_facts(self, kind: str, query: str, seen: dict[str, int]) -> None:
        if len(query) > MEMO_TEXT:  # a client's long queries are not kept, however many
            facts = _facts(kind, query)
        else:
            facts = self._memo_facts(kind, query)
        for name in facts:
            seen[name] = seen.get(name, 0) + 1

    def _memo_facts(self, kind: str, query: str) -> tuple[str, ...]:
        key = (kind, query)
        facts = self._facts.get(key)
        if facts is None:
            if len(self._facts) >= MAX_MEMO:
                self._facts.clear()
            facts = self._facts[key] = _facts(kind, query)
        return facts

    def _violation(
        self, route: Route | None, method: str, path: str, err: ApolloError, expected: bool
    ) -> None:
        if expected:
            self.expected += 1
            return
        self.violating += 1
        if route is not None:
            self._stats[route.call].violating += 1
        template = route.template if route is not None else shape(path.partition("?")[0])
        call = route.call if route is not None else None
        for field, rule, message in broken_rules(err):
            # The field is a parameter's name the client chose: kept as long as an example.
            key = (method, template, field[:MAX_TEXT], err.status, rule)
            kind = self._kinds.get(key)
            if kind is None:
                if len(self._kinds) >= MAX_KINDS:
                    key = (method, "*", "", err.status, OTHER_KINDS)
                    kind = self._kinds.get(key)
                if kind is None:
                    kind = self._kinds[key] = _Kind(call, path, message)
            kind.count += 1

    @property
    def empty(self) -> bool:
        """Tell whether no request was counted yet (cheap: no lock, for reset)."""
        return not self._stats and not self.outside

    @property
    def requests(self) -> int:
        """Count the requests seen, to every call and outside the contract."""
        with self._lock:
            return self.outside + sum(s.requests for s in self._stats.values())

    def absorb(self, other: Coverage) -> None:
        """Add another coverage's counts to this one (a fake's earlier counts, before a reset)."""
        with other._lock:
            stats = {name: _copy(s) for name, s in other._stats.items()}
            kinds = {key: (k.call, k.count, k.path, k.message) for key, k in other._kinds.items()}
            totals = (other.outside, other.violating, other.expected)
        with self._lock:
            self.outside += totals[0]
            self.violating += totals[1]
            self.expected += totals[2]
            for name, theirs in stats.items():
                _add(self._stats.setdefault(name, _Stats()), theirs)
            for key, (call, count, path, message) in kinds.items():
                mine = self._kinds.get(key)
                if mine is None:
                    if len(self._kinds) >= MAX_KINDS:
                        key = (key[0], "*", "", key[3], OTHER_KINDS)
                        mine = self._kinds.get(key)
                    if mine is None:
                        mine = self._kinds[key] = _Kind(call, path, message)
                mine.count += count

    def document(self, *, auth: bool = False, rate_limited: bool = False) -> dict[str, Any]:
        """Return the report document; ``auth`` and ``rate_limited`` add 401 and 429 outcomes."""
        with self._lock:
            stats = {name: _copy(s) for name, s in self._stats.items()}
            kinds = [(key, k.call, k.count, k.path, k.message) for key, k in self._kinds.items()]
            totals = (self.outside, self.violating, self.expected)
        requests = totals[0] + sum(s.requests for s in stats.values())
        extra = tuple(s for s, on in ((401, auth), (429, rate_limited)) if on)
        calls = [_call_document(call, stats.get(call.name, _Stats()), extra) for call in CALLS]
        violations: list[dict[str, Any]] = [
            {
                "method": method,
                "path": path,
                "call": call,
                "status": status,
                "field": field,
                "rule": rule,
                "count": count,
                "example": {"path": example, "message": message},
            }
            for (method, path, field, status, rule), call, count, example, message in kinds
        ]
        violations.sort(key=lambda v: (-v["count"], v["path"], v["method"], v["field"]))
        exercised = [c["name"] for c in calls if c["succeeded"]]
        return {
            "format": FORMAT,
            "version": VERSION,
            "requests": requests,
            "outside": totals[0],
            "violating-requests": totals[1],
            "expected-violations": totals[2],
            "violations": violations,
            "coverage": {
                "calls": len(calls),
                "exercised": len(exercised),
                "unexercised": [c["name"] for c in calls if not c["succeeded"]],
                "untested": _untested(calls, extra),
                "checks": _checks(calls),
            },
            "calls": calls,
        }


def _checks(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Count the checks of the contract and those exercised: each call, and its checks.

    A call counts once it succeeded; each of its outcomes, parameters, fields and
    continued-at once seen. The percentage is rounded down, so that it says 100 only
    when nothing is left.
    """
    total = sum(1 + len(c["checks"]) for c in calls)
    done = sum(bool(c["succeeded"]) + sum(bool(k["seen"]) for k in c["checks"]) for c in calls)
    return {"total": total, "exercised": done, "percent": percent(done, total)}


def percent(part: int, whole: int) -> float:
    """Return part of whole in percent, rounded down to one decimal (100 only when whole)."""
    return (part * 1000 // whole) / 10 if whole else 100.0


def _facts(kind: str, query: str) -> tuple[str, ...]:
    """Return the checks a successful request with this query string satisfies."""
    params = parse_qs(query, keep_blank_values=True)
    if kind == "listing":
        page = params.get("page", [""])[0].lstrip("0")
        return (CONTINUED,) if page.isdigit() and page != "1" else ()
    out = []
    for p in REPORT_PARAMETERS:
        if p.name not in params:
            continue
        if p.default is None or (params[p.name][0].strip().lower() in TRUE) is not p.default:
            out.append(CHECKS[p.name])
    return tuple(out)


def _copy(stats: _Stats) -> _Stats:
    out = _Stats()
    _add(out, stats)
    return out


def _add(mine: _Stats, theirs: _Stats) -> None:
    mine.requests += theirs.requests
    mine.succeeded += theirs.succeeded
    mine.injected += theirs.injected
    mine.violating += theirs.violating
    for status, count in theirs.statuses.items():
        mine.statuses[status] = mine.statuses.get(status, 0) + count
    for name, count in theirs.seen.items():
        mine.seen[name] = mine.seen.get(name, 0) + count


def _call_document(call: Call, stats: _Stats, extra: tuple[int, ...]) -> dict[str, Any]:
    checks: list[dict[str, Any]] = [
        {"kind": "status", "name": str(status), "seen": stats.statuses.get(status, 0)}
        for status in (*call.outcomes, *extra)
    ]
    for name in call_checks(call):
        if name == CONTINUED:
            checks.append(
                {
                    "kind": CONTINUED,
                    "name": CONTINUED,
                    "seen": stats.seen.get(CONTINUED, 0),
                    "offered": stats.seen.get("offered", 0),
                }
            )
        else:
            kind = "parameter" if call.kind == "report" else "field"
            checks.append({"kind": kind, "name": name, "seen": stats.seen.get(name, 0)})
    return {
        "name": call.name,
        "title": call.title,
        "method": call.method,
        "path": call.path,
        "requests": stats.requests,
        "succeeded": stats.succeeded,
        "injected": stats.injected,
        "violating": stats.violating,
        "statuses": {str(s): n for s, n in sorted(stats.statuses.items())},
        "checks": checks,
    }


def _untested(calls: list[dict[str, Any]], extra: tuple[int, ...]) -> list[dict[str, Any]]:
    """List what the client never did, each with a sentence for a person."""
    out: list[dict[str, Any]] = []

    def gap(kind: str, name: str, names: list[str], text: str) -> None:
        out.append({"kind": kind, "name": name, "calls": names, "text": text})

    for c in calls:
        label = f"{c['method']} {c['path']}"
        if not c["requests"]:
            gap("call", c["name"], [c["name"]], f"{label} was never called")
            continue
        if not c["succeeded"]:
            times = f"{c['requests']} request{'s' * (c['requests'] != 1)}"
            gap("success", c["name"], [c["name"]], f"{label} never succeeded ({times})")
            continue
        for check in c["checks"]:
            if check["seen"] or check["kind"] == "status":
                continue
            name = check["name"]
            if check["kind"] == CONTINUED:
                text = f"{label}: no listing followed continued-at (no page after the first)"
                if not check["offered"]:
                    noun = c["name"].split("_")[0][:-1]
                    text += f"; no answer had one (no {noun} in the data has over 50 entries)"
            elif check["kind"] == "parameter":
                text = f"{label} was never called with " + (
                    name if "=" in name else f"the {name} parameter"
                )
            else:
                text = f"{label} never sent {name}"
            gap(check["kind"], name, [c["name"]], text)
    # Outcomes: once for a status no request got, else the calls that never got it.
    for status in (404, 422, *extra):
        owners = [c for c in calls if str(status) in (k["name"] for k in c["checks"])]
        missing = [c for c in owners if not c["statuses"].get(str(status))]
        meaning = OUTCOMES[status]
        if len(missing) == len(owners):
            text = (
                f"no request got a {status} ({meaning}): the client's handling of it went untested"
            )
            gap("status", str(status), [c["name"] for c in missing], text)
        elif missing and status in (404, 422):
            listed = ", ".join(f"{c['method']} {c['path']}" for c in missing)
            text = f"no {status} ({meaning}) from {listed}"
            gap("status", str(status), [c["name"] for c in missing], text)
    return out


# --- rendering ---------------------------------------------------------------


def failed(doc: Mapping[str, Any]) -> bool:
    """Tell whether the client broke the contract."""
    return bool(doc["violating-requests"])


def text(doc: Mapping[str, Any]) -> str:
    """Render the report for a person."""
    lines = ["apollo-fake contract report"]
    count = doc["violating-requests"]
    lines.append(
        f"  {doc['requests']} request{'s' * (doc['requests'] != 1)} to the Apollo API; "
        + (f"{count} broke the contract." if count else "none broke the contract.")
    )
    if doc["expected-violations"]:
        lines.append(f"  ({doc['expected-violations']} deliberate violations not counted)")
    if doc["violations"]:
        lines += ["", "Violations"]
        for v in doc["violations"]:
            where = v["field"] or "(request)"
            lines.append(f"  {v['method']} {v['path']}  {v['status']}  {where}  x{v['count']}")
            lines.append(f"      rule: {v['rule']}")
            example = f"      e.g. {v['method']} {v['example']['path']}"
            if v["example"]["message"] != v["rule"]:
                example += f" ({v['example']['message']})"
            lines.append(example)
    cov = doc["coverage"]
    checks = cov["checks"]
    lines += [
        "",
        f"Coverage: {cov['exercised']} of {cov['calls']} calls of the contract exercised; "
        f"{checks['exercised']} of {checks['total']} checks ({checks['percent']:g}%)",
    ]
    width = max(len(f"{c['method']} {c['path']}") for c in doc["calls"])
    for c in doc["calls"]:
        label = f"{c['method']} {c['path']}".ljust(width)
        if c["requests"]:
            seen = ", ".join(f"{s} x{n}" for s, n in c["statuses"].items())
            if c["injected"]:
                seen += f" ({c['injected']} injected)"
            mark = "ok" if c["succeeded"] else "--"
        else:
            seen, mark = "never called", "--"
        lines.append(f"  {mark}  {label}  {seen}")
    if cov["untested"]:
        lines += ["", "Untested"]
        lines += [f"  - {line}" for line in _untested_lines(doc)]
    else:
        lines += ["", "Every call, documented parameter, field and outcome was exercised."]
    return "\n".join(lines) + "\n"


def _untested_lines(doc: Mapping[str, Any]) -> list[str]:
    """Say what went untested, a call's parameters (or fields) on one line."""
    labels = {c["name"]: f"{c['method']} {c['path']}" for c in doc["calls"]}
    order: list[str | tuple[str, str]] = []
    grouped: dict[tuple[str, str], list[str]] = {}
    for gap in doc["coverage"]["untested"]:
        if gap["kind"] in ("parameter", "field"):
            key = (gap["kind"], gap["calls"][0])
            if key not in grouped:
                order.append(key)  # where the call's first such gap is
            grouped.setdefault(key, []).append(gap["name"])
        else:
            order.append(gap["text"])
    out = []
    for item in order:
        if isinstance(item, str):
            out.append(item)
        else:
            verb = "was never called with" if item[0] == "parameter" else "never sent"
            out.append(f"{labels[item[1]]} {verb}: {', '.join(grouped[item])}")
    return out


def junit(doc: Mapping[str, Any]) -> bytes:
    """Render the report as JUnit XML: a test case per call, a failure per violation."""
    import xml.etree.ElementTree as ET

    by_call: dict[str | None, list[Mapping[str, Any]]] = {}
    for v in doc["violations"]:
        by_call.setdefault(v["call"], []).append(v)
    gaps: dict[str, list[str]] = {}
    for gap in doc["coverage"]["untested"]:
        for name in gap["calls"]:
            gaps.setdefault(name, []).append(gap["text"])
    cases: list[tuple[str, list[Mapping[str, Any]], str | None, list[str]]] = []
    for c in doc["calls"]:
        skip = None
        if not c["succeeded"]:
            skip = "never called" if not c["requests"] else "never answered with success"
        label = f"{c['method']} {c['path']}"
        cases.append((label, by_call.get(c["name"], []), skip, gaps.get(c["name"], [])))
    if None in by_call:
        cases.append(("requests outside the contract", by_call[None], None, []))
    failures = sum(len(v) for _, v, _, _ in cases)
    skipped = sum(1 for _, v, skip, _ in cases if skip and not v)
    root = ET.Element("testsuites", name=FORMAT, tests=str(len(cases)), failures=str(failures))
    suite = ET.SubElement(
        root,
        "testsuite",
        name="apollo-fake contract",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time="0",
    )
    props = ET.SubElement(suite, "properties")
    for name in ("requests", "outside", "violating-requests", "expected-violations"):
        ET.SubElement(props, "property", name=name, value=str(doc[name]))
    for name, violations, skip, untested in cases:
        case = ET.SubElement(
            suite, "testcase", classname="apollo-fake.contract", name=name, time="0"
        )
        for v in violations:
            where = v["field"] or "(request)"
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{where}: {v['rule']} ({v['count']}x)",
                type=f"contract violation, {v['status']}",
            )
            failure.text = (
                f"{v['method']} {v['path']}: {where} broke the rule: {v['rule']}\n"
                f"{v['count']} request{'s' * (v['count'] != 1)}; the first: "
                f"{v['method']} {v['example']['path']}\n{v['example']['message']}"
            )
        if skip and not violations:
            ET.SubElement(case, "skipped", message=skip)
        if untested:
            ET.SubElement(case, "system-out").text = "Untested:\n" + "\n".join(
                f"- {line}" for line in untested
            )
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


# Markdown: the characters that Markdown, GitHub's extensions (@mentions, #issues,
# $math$, ~strike~, :emoji:, autolinks) or HTML give a meaning to inside a line, written
# as character references. A reference is plain text to the parser: a `|` cannot end a
# table cell, a `<` cannot open a tag, and the page still shows the character. Line
# breaks become spaces, so nothing starts a line: what only means something there
# (`-`, `+`, `1.`, `=`) stays as it is, and the raw file stays readable.
_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]<>#!|&~:@$")


def md(value: object) -> str:
    """Escape text for a Markdown table cell or list item: no markup, tag or line break."""
    out = []
    for char in str(value):
        if char in _MARKDOWN_SPECIAL:
            out.append(f"&#{ord(char)};")
        elif char.isspace():
            out.append(" ")  # a line break would end the table row or the list item
        elif not char.isprintable():
            out.append("\N{REPLACEMENT CHARACTER}")  # control and direction-changing characters
        else:
            out.append(char)
    return "".join(out)


def markdown(
    doc: Mapping[str, Any], *, passed: bool | None = None, reasons: Sequence[str] = ()
) -> str:
    """Render the report as GitHub-flavoured Markdown, for a CI job's summary page.

    ``passed`` is the run's verdict (default: whether no request broke the
    contract); ``reasons`` are sentences saying why, listed under the title.
    Everything a client sent (paths, parameter names, messages) is escaped.
    """
    if passed is None:
        passed = not failed(doc)
    title = "✅ Apollo contract check passed" if passed else "❌ Apollo contract check failed"
    lines = [f"## {title}", ""]
    if reasons:
        lines += [f"- {md(reason)}" for reason in reasons] + [""]
    count, requests = doc["violating-requests"], doc["requests"]
    cov = doc["coverage"]
    checks = cov["checks"]
    totals = (
        f"**{requests}** request{'s' * (requests != 1)} to the Apollo API "
        f"({doc['outside']} outside the contract); **{count}** broke the contract"
    )
    if doc["expected-violations"]:
        totals += f" ({doc['expected-violations']} deliberate violations not counted)"
    lines += [
        totals + ".",
        "",
        f"Coverage: **{checks['percent']:g}%** of the contract's checks "
        f"({checks['exercised']} of {checks['total']}); "
        f"{cov['exercised']} of {cov['calls']} calls exercised.",
        "",
        "### Calls",
        "",
        "| Call | Requests | Statuses | Succeeded |",
        "| --- | ---: | --- | ---: |",
    ]
    for c in doc["calls"]:
        statuses = ", ".join(f"{s} ×{n}" for s, n in c["statuses"].items()) or "never called"
        if c["injected"]:
            statuses += f" ({c['injected']} injected)"
        mark = "✅" if c["succeeded"] else "❌"
        lines.append(
            f"| {mark} {md(c['method'] + ' ' + c['path'])} | {c['requests']} "
            f"| {md(statuses)} | {c['succeeded']} |"
        )
    if doc["violations"]:
        lines += [
            "",
            "### Violations",
            "",
            "| Request | Status | Field | Rule | Count | First request |",
            "| --- | ---: | --- | --- | ---: | --- |",
        ]
        for v in doc["violations"]:
            first = f"{v['method']} {v['example']['path']}"
            if v["example"]["message"] != v["rule"]:
                first += f" ({v['example']['message']})"
            lines.append(
                f"| {md(v['method'] + ' ' + v['path'])} | {v['status']} "
                f"| {md(v['field'] or '(request)')} | {md(v['rule'])} | {v['count']} "
                f"| {md(first)} |"
            )
    lines += ["", "### Untested", ""]
    if cov["untested"]:
        lines += [f"- {md(line)}" for line in _untested_lines(doc)]
    else:
        lines.append("Every call, documented parameter, field and outcome was exercised.")
    return "\n".join(lines) + "\n"
