"""Clients of the Apollo API as a user writes them: the vendor's base URL hard-coded.

One per HTTP library (requests, httpx sync and async, aiohttp), each with the same
small synchronous face for the tests: ``call`` sends one request and returns the
status, headers and body; ``race`` sends a slow request and, once the fake holds
it, a fast one, and returns the order they were answered in. Nothing here knows of
apollo-fake: the tests intercept these clients unchanged. Also copied as a module
into the pytester projects of tests/test_intercept.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import aiohttp
import httpx
import requests

BASE = "https://api.apollohq.com/v1/"
HANG_GUARD = 10.0  # seconds: a wait that never ends fails instead of hanging

Request = tuple[str, str, Any]  # method, path (relative to BASE, or absolute), JSON body


@dataclass
class Reply:
    """An answer: status, headers (lower-case names) and the raw body."""

    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        """Decode the body."""
        return json.loads(self.raw)


def _basic(token: str | None) -> dict[str, str]:
    if token is None:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:X".encode()).decode()}


def _wait_for(started: Callable[[], bool]) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not started():
        if time.monotonic() > deadline:
            raise AssertionError("the slow request never reached the fake")
        time.sleep(0.002)


class _Sync:
    """A client whose calls block: a race runs the slow one in a thread."""

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        """Send one request."""
        raise NotImplementedError

    def race(self, slow: Request, fast: Request, started: Callable[[], bool]) -> list[str]:
        """Send ``slow``, then ``fast`` once it is held; return the order of the answers."""
        order: list[str] = []
        thread = threading.Thread(target=lambda: (self.call(*slow), order.append("slow")))
        thread.start()
        _wait_for(started)
        self.call(*fast)
        order.append("fast")
        thread.join(HANG_GUARD)
        return order


class RequestsClient(_Sync):
    """A requests.Session with the token as Basic auth."""

    name = "requests"
    dropped: tuple[type[BaseException], ...] = (requests.ConnectionError,)

    def __init__(self, token: str | None = None) -> None:
        self.session = requests.Session()
        if token is not None:
            self.session.auth = (token, "X")

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        """Send one request."""
        r = self.session.request(method, urljoin(BASE, path), json=body, timeout=HANG_GUARD)
        return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)


class HttpxClient(_Sync):
    """An httpx.Client with the token as Basic auth."""

    name = "httpx"
    dropped: tuple[type[BaseException], ...] = (httpx.RemoteProtocolError,)

    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def _client(self) -> httpx.Client:
        auth = (self.token, "X") if self.token is not None else None
        return httpx.Client(base_url=BASE, auth=auth, timeout=HANG_GUARD)

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        """Send one request."""
        with self._client() as client:
            r = client.request(method, urljoin(BASE, path), json=body)
        return Reply(r.status_code, dict(r.headers), r.content)


class _Async:
    """What the async clients share: each call runs its own event loop."""

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        """Send one request."""
        return asyncio.run(self._one(method, path, body))

    async def _one(self, method: str, path: str, body: Any) -> Reply:
        raise NotImplementedError

    def race(self, slow: Request, fast: Request, started: Callable[[], bool]) -> list[str]:
        """Send both on one event loop: the fast one is answered while the slow one waits."""

        async def both() -> list[str]:
            order: list[str] = []

            async def send(label: str, request: Request) -> None:
                await self._one(*request)
                order.append(label)

            held = asyncio.create_task(send("slow", slow))
            deadline = time.monotonic() + HANG_GUARD
            while not started():
                if time.monotonic() > deadline:
                    raise AssertionError("the slow request never reached the fake")
                await asyncio.sleep(0.002)
            await send("fast", fast)
            await asyncio.wait_for(held, HANG_GUARD)
            return order

        return asyncio.run(both())


class HttpxAsyncClient(_Async):
    """An httpx.AsyncClient with the token as Basic auth."""

    name = "httpx-async"
    dropped: tuple[type[BaseException], ...] = (httpx.RemoteProtocolError,)

    def __init__(self, token: str | None = None) -> None:
        self.auth = (token, "X") if token is not None else None

    async def _one(self, method: str, path: str, body: Any) -> Reply:
        async with httpx.AsyncClient(auth=self.auth, timeout=HANG_GUARD) as client:
            r = await client.request(method, urljoin(BASE, path), json=body)
        return Reply(r.status_code, dict(r.headers), r.content)


class AiohttpClient(_Async):
    """An aiohttp.ClientSession with the token in its default headers."""

    name = "aiohttp"
    dropped: tuple[type[BaseException], ...] = (aiohttp.ClientConnectionError,)

    def __init__(self, token: str | None = None) -> None:
        self.headers = _basic(token)

    async def _one(self, method: str, path: str, body: Any) -> Reply:
        timeout = aiohttp.ClientTimeout(total=HANG_GUARD)
        async with aiohttp.ClientSession(headers=self.headers, timeout=timeout) as session:
            async with session.request(method, urljoin(BASE, path), json=body) as r:
                raw = await r.read()
                return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, raw)


CLIENTS = {c.name: c for c in (RequestsClient, HttpxClient, HttpxAsyncClient, AiohttpClient)}
