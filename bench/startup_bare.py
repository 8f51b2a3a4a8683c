"""A bare Flask app with one route, served as `apollo-fake serve` serves: the start-up baseline.

``python -m bench.startup_bare run`` serves it with ``apollo_fake.server.run``;
``python -m bench.startup_bare live`` with ``apollo_fake.server.LiveServer``. Either
prints ``bare-flask listening on http://127.0.0.1:PORT`` once it answers, and serves
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import sys
import threading

from flask import Flask

HOST = "127.0.0.1"


def create_app() -> Flask:
    """Build a Flask app answering GET /account with a small JSON body."""
    app = Flask("bare_flask", static_folder=None)

    @app.get("/account")
    def account() -> dict[str, object]:
        return {"account": {"id": "1", "name": "Bare", "time-categories": []}}

    return app


def ready(port: int) -> None:
    """Announce the port the way apollo-fake does."""
    print(f"bare-flask listening on http://{HOST}:{port}", flush=True)


def main(mode: str) -> None:
    """Serve the bare app with apollo-fake's server function (``run``) or class (``live``)."""
    if mode == "run":
        from apollo_fake.server import run

        run(create_app(), HOST, 0, on_ready=ready, inline=True)
        return
    from apollo_fake.server import LiveServer

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = LiveServer(create_app(), HOST, 0, inline=True).start()
    ready(server.port)
    while not stop.wait(0.5):
        pass
    server.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run")
