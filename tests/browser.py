"""A real headless browser for the suite's page tests: Debian's chromium, driven by Playwright.

``make test`` installs both (chromium with apt, Playwright from the test extras);
Playwright cannot download its own browsers here, so it launches the system's.
Each test gets a fresh page that fails the test, at teardown, on a console error,
an uncaught exception, or a request that leaves 127.0.0.1: the pages the fake
serves must be self-contained. Screenshots go to ``build/screenshots/`` for a
person to look at after the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
# A host name the browser resolves to 127.0.0.1 (--host-resolver-rules): a page of
# "another web site" that never leaves this machine, for the control API's refusals.
OTHER_SITE = "other-site.test"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1", OTHER_SITE}


def chromium_path() -> str | None:
    """Return the system chromium's path, or None when it is not installed."""
    return os.environ.get("APOLLO_FAKE_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Launch headless chromium for a module's tests.

    Not for the whole session: while Playwright's sync API is open, its event loop
    counts as running in the main thread, and every later test's ``asyncio.run``
    would fail.
    """
    path = chromium_path()
    if path is None:
        message = "chromium is not installed: `make test` installs it (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must not pass by skipping the browser tests
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, args=[f"--host-resolver-rules=MAP {OTHER_SITE} 127.0.0.1"]
        )
        yield launched
        launched.close()


class PageWatch:
    """What a page did that a self-contained, error-free page must not."""

    def __init__(self) -> None:
        self.errors: list[str] = []  # console errors and uncaught exceptions
        self.outside: list[str] = []  # requests to anywhere but loopback

    def check(self) -> None:
        """Fail when the page logged an error or reached outside 127.0.0.1."""
        assert not self.outside, f"the page made requests off this machine: {self.outside}"
        assert not self.errors, f"the page logged errors: {self.errors}"


def _local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOCAL_HOSTS or f"[{parts.hostname}]" in LOCAL_HOSTS


def _watched(browser: Any, routed: bool) -> tuple[Any, Any, PageWatch]:
    context = browser.new_context(ignore_https_errors=False)
    opened = context.new_page()
    watch = PageWatch()
    opened.on("console", lambda m: m.type == "error" and watch.errors.append(m.text))
    opened.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    if routed:

        def route(found: Any) -> None:
            if _local(found.request.url):
                found.continue_()
            else:
                watch.outside.append(found.request.url)
                found.abort()

        opened.route("**/*", route)
    else:
        # Seen, not stopped: a plain browser's requests go where the page sends them.
        opened.on("request", lambda r: _local(r.url) or watch.outside.append(r.url))
    opened.watch = watch
    return context, opened, watch


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """Open a page in a fresh context; fail on console errors and on network use."""
    context, opened, watch = _watched(browser, routed=True)
    yield opened
    context.close()
    watch.check()


@pytest.fixture
def plain_page(browser: Any) -> Iterator[Any]:
    """Open a page as a person's browser does: no request routing, same checks as ``page``.

    With routing on, chromium skips requests of its own (such as GET /favicon.ico),
    so what a plain browser asks of the fake can only be seen without it.
    """
    context, opened, watch = _watched(browser, routed=False)
    yield opened
    context.close()
    watch.check()


def screenshot(page: Any, name: str, **options: Any) -> Path:
    """Write a screenshot of the page to build/screenshots/NAME.png and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path
