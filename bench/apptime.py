"""App time: what the WSGI app alone costs per request, with no server and no socket.

Builds the app ``apollo-fake serve --fixtures F --today D`` builds, on throughput's
data (a project of 10,000 entries; ``bench/throughput.py``), and calls it directly
with the environ a server hands it, for throughput's four workloads: ``page``,
``entry``, ``report`` (answers to reads are kept until a write, as served) and
``create`` (last: it grows the data). Beside it, the bare Flask app of
``bench/bare.py`` answers apollo-fake's own bytes for the same request: the cost
of the least a Flask app does. Prints the median microseconds per request over
several rounds, the ratio, and writes ``bench/results/apptime.json``. The time is
this thread's CPU time: other jobs on a shared machine slow the caches they
share, but the time they run is not counted.

Once a server costs little, this is where the time per request goes: run it
before and after a change to the request path. Run with ``python -m bench
apptime`` or ``python -m bench.apptime [--rounds N] [--requests N]``.
"""

from __future__ import annotations

import argparse
import gc
import io
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from apollo_fake import fixtures
from apollo_fake.cli import _keep_collector_passes_short
from apollo_fake.fake import Fake, Settings
from apollo_fake.web import create_app
from apollo_fake.web.wire import CHECKED

from . import _measure as m
from . import bare
from .peers import Call
from .throughput import RUN_ORDER, TODAY, build_document, fake_calls

ROUNDS = 7
REQUESTS = 2000  # per round; each round is timed whole, and the median round reported
WARM_UP = 200  # requests before the timed rounds
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ(call: Call) -> dict[str, Any]:
    """Return the environ a server gives the app for a call (a fresh input stream added later)."""
    path, _, query = call.target.partition("?")
    env: dict[str, Any] = {
        "REQUEST_METHOD": call.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_URI": call.target,
        "SERVER_NAME": m.HOST,
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": m.HOST,
        "HTTP_HOST": f"{m.HOST}:8000",
        "HTTP_USER_AGENT": "bench",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        CHECKED: True,  # a server that enforced the size limits itself, as every one does
    }
    if call.body:
        env["CONTENT_TYPE"] = call.content_type or ""
        env["CONTENT_LENGTH"] = str(len(call.body))
    return env


class Answer:
    """What an app answered to one request: status line, headers, body."""

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        """Keep the status and headers, as a server does before it writes them."""
        self.status, self.headers = status, headers


def ask(app: WSGIApp, call: Call) -> tuple[Answer, bytes]:
    """Call the app once with a call's request; return its answer and body."""
    answer = Answer()
    env = environ(call)
    env["wsgi.input"] = io.BytesIO(call.body)
    result = app(env, answer.start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer, body


def per_request_us(app: WSGIApp, call: Call, rounds: int, requests: int) -> list[float]:
    """Time ``rounds`` rounds of ``requests`` calls; return each round's microseconds per call."""
    base, body = environ(call), call.body

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        return None

    samples = []
    for timed in range(-1, rounds):  # round -1 warms up: routes matched, answers kept
        began = time.thread_time()
        for _ in range(requests if timed >= 0 else min(requests, WARM_UP)):
            env = dict(base)
            env["wsgi.input"] = io.BytesIO(body)
            result = app(env, start_response)
            b"".join(result)
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if timed >= 0:
            samples.append((time.thread_time() - began) / requests * 1e6)
    return samples


def build_app() -> tuple[WSGIApp, dict[str, Call]]:
    """Return the app ``serve`` builds on throughput's data, and the workloads' calls."""
    doc, project, entry = build_document(TODAY)
    fake = Fake(fixtures.build(doc), today=TODAY, settings=Settings())
    return create_app(fake), fake_calls(project, entry)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Read --rounds and --requests."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.apptime", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"timed rounds ({ROUNDS})")
    parser.add_argument(
        "--requests", type=int, default=REQUESTS, help=f"requests per round ({REQUESTS})"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1:
        parser.error("--rounds and --requests must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Print the app's time per request for each workload, beside a bare Flask app's."""
    args = parse_args(argv or [])
    facts = m.header("apptime", "App time: the WSGI app alone, per request")
    app, calls = build_app()
    # As `serve` tunes the collector, undone at the end for the benchmarks after this one.
    threshold, hooks = gc.get_threshold(), len(gc.callbacks)
    _keep_collector_passes_short()
    results: dict[str, Any] = {}
    try:
        print(f"{args.rounds} rounds of {args.requests:,} requests; median round, CPU us each")
        print(f"{'workload':<8} {'apollo-fake':>12} {'bare Flask':>11} {'ratio':>6}  request")
        for w in RUN_ORDER:
            call = calls[w]
            answer, body = ask(app, call)  # the probe create is one more entry: no matter
            if not answer.status.startswith("2"):
                raise SystemExit(f"apptime: {call.describe()} answered {answer.status}: {body!r}")
            canned = {
                "method": call.method,
                "path": call.path,
                "status": int(answer.status.split()[0]),
                "headers": {k: v for k, v in answer.headers if k.lower() == "location"},
                "body": body.decode(),
            }
            baseline = bare.create_app([canned])
            fake_us = per_request_us(app, call, args.rounds, args.requests)
            bare_us = per_request_us(baseline, call, args.rounds, args.requests)
            fake_median, bare_median = statistics.median(fake_us), statistics.median(bare_us)
            results[w] = {
                "request": call.describe(),
                "apollo_fake_us": round(fake_median, 2),
                "apollo_fake_min_us": round(min(fake_us), 2),
                "bare_flask_us": round(bare_median, 2),
                "ratio_to_bare": round(fake_median / bare_median, 3),
            }
            print(
                f"{w:<8} {fake_median:>12.1f} {bare_median:>11.1f} "
                f"{fake_median / bare_median:>6.2f}  {call.describe()}",
                flush=True,
            )
    finally:
        del gc.callbacks[hooks:]
        gc.set_threshold(*threshold)
        gc.unfreeze()
    print("ratio: apollo-fake's time over a bare Flask app's answering the same bytes")
    path = m.write_results(
        "apptime",
        {**facts, "rounds": args.rounds, "requests": args.requests, "workloads": results},
    )
    print(f"results: {path.relative_to(m.ROOT)}")
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
