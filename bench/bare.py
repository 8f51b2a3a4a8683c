"""A bare Flask app answering canned bodies, served like ``apollo-fake serve``: the baseline.

Run as ``python -m bench.bare --port 0 --bodies FILE``. FILE is JSON: a list of
``{"method", "path", "status", "headers", "body"}``; each path answers its
methods with the stored status, headers and body bytes (the query string is
ignored). Prints ``bare-flask listening on http://127.0.0.1:PORT`` once it
answers and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

from apollo_fake.server import run


def create_app(canned: Sequence[dict[str, Any]]) -> Flask:
    """Build a Flask app that answers each canned path and method with its stored response."""
    app = Flask("bare_flask", static_folder=None)
    by_path: dict[str, dict[str, tuple[bytes, int, list[tuple[str, str]]]]] = {}
    for item in canned:
        by_path.setdefault(item["path"], {})[item["method"]] = (
            item["body"].encode(),
            int(item["status"]),
            [(k, v) for k, v in item.get("headers", {}).items()],
        )
    for number, (path, methods) in enumerate(by_path.items()):
        app.add_url_rule(path, f"canned{number}", _view(methods), methods=sorted(methods))
    return app


def _view(
    methods: dict[str, tuple[bytes, int, list[tuple[str, str]]]],
) -> Callable[[], Response]:
    def view() -> Response:
        body, status, headers = methods[request.method]
        return Response(body, status=status, headers=headers, mimetype="application/json")

    return view


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the canned bodies with apollo-fake's own server function."""
    parser = argparse.ArgumentParser(prog="python -m bench.bare", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bodies", type=Path, required=True, help="JSON list of canned responses")
    args = parser.parse_args(argv)
    app = create_app(json.loads(args.bodies.read_text(encoding="utf-8")))

    def ready(port: int) -> None:
        print(f"bare-flask listening on http://{args.host}:{port}", flush=True)

    # Called on the event loop, as the fake's own app is: the same server doing the same work.
    run(app, args.host, args.port, on_ready=ready, inline=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
