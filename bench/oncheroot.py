"""The fake's app, built as ``apollo-fake serve`` builds it, on cheroot's WSGI server.

What the project's own server (apollo_fake/server.py) buys, measured in the same run:
cheroot is the well-kept pool-threaded server the fake ran on before it, used here
as its documentation shows (``cheroot.wsgi.Server``, 10 threads) with nothing of
apollo-fake's around it. Run as ``python -m bench.oncheroot --fixtures FILE --today
DATE``; prints ``apollo-fake-on-cheroot listening on http://127.0.0.1:PORT`` and
serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import datetime
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

HOST = "127.0.0.1"
THREADS = 10  # as apollo-fake's --threads: answers made at once


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the fake's app on cheroot until told to stop."""
    parser = argparse.ArgumentParser(prog="python -m bench.oncheroot", description=__doc__)
    parser.add_argument("--fixtures", type=Path, required=True)
    parser.add_argument("--today", type=datetime.date.fromisoformat, required=True)
    args = parser.parse_args(argv)

    from cheroot.wsgi import Server as WSGIServer

    from apollo_fake import fixtures as fx
    from apollo_fake.cli import _keep_collector_passes_short
    from apollo_fake.fake import Fake
    from apollo_fake.web import create_app

    store, start = fx.starting_store(args.fixtures, None, None, args.today)
    fake = Fake(store, today=args.today, start=start)
    app = create_app(fake)
    _keep_collector_passes_short()
    server = WSGIServer((HOST, 0), app, numthreads=THREADS, server_name="apollo-fake-on-cheroot")
    server.prepare()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    print(f"apollo-fake-on-cheroot listening on http://{HOST}:{server.bind_addr[1]}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
