"""The fake as a user holds it: the core composition, with its ways in.

This is the Python face of apollo-fake. The CLI and the pytest plugin hold a
:class:`Fake`; tests use it to arrange data, to assert what a client did, and to
reach it through a Flask app, a test client or a live server. The ways in are
web-side things hung on the core (:class:`~apollo_fake.core.Core`), which
imports nothing of the web.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .core import MAX_SNAPSHOTS, Core, Settings, Snapshot

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

    from .server import LiveServer
    from .tls import Authority

__all__ = ["MAX_SNAPSHOTS", "Fake", "Settings", "Snapshot"]


class Fake(Core):
    """Stand in for the Apollo time-tracking API: data, clock, settings, journal, ways in."""

    _app: Flask | None = None
    _client: FlaskClient | None = None
    _server: LiveServer | None = None

    @property
    def app(self) -> Flask:
        """Return the Flask app serving this fake (made once)."""
        if self._app is None:
            # Imported on first use: a fake used only in Python never pays for Flask.
            from .web import create_app

            self._app = create_app(self)
        return self._app

    @property
    def client(self) -> FlaskClient:
        """Return a Flask test client of the app: requests without a socket."""
        if self._client is None:
            self._client = self.app.test_client()
        return self._client

    @property
    def url(self) -> str:
        """Return the base URL of a live server for this fake, starting it on first use."""
        if self._server is None:
            from .server import LiveServer

            self._server = LiveServer(self.app).start()
        return self._server.url

    def stop(self) -> None:
        """Stop the live server, if one was started."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    @contextlib.contextmanager
    def serve(
        self, host: str = "127.0.0.1", port: int = 0, tls: Authority | None = None
    ) -> Iterator[str]:
        """Serve this fake over HTTP for the block (HTTPS with ``tls``); yield its base URL."""
        from .server import LiveServer

        with LiveServer(self.app, host, port, tls=tls) as server:
            yield server.url
