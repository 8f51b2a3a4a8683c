"""The browser the page tests use is there and works as they assume."""

from __future__ import annotations

from typing import Any

import pytest

from apollo_fake.fake import Fake
from apollo_fake.store import Store

from browser import screenshot


def test_the_browser_shows_a_page_from_the_fake(page: Any) -> None:
    fake = Fake(Store())
    with fake.serve() as url:
        page.goto(url + "/_fake/health")
        assert '"status"' in page.inner_text("body")


def test_a_request_off_this_machine_is_caught(page: Any) -> None:
    page.goto("data:text/html,<img src='https://example.com/x.png'>")
    page.wait_for_load_state("load")
    assert page.watch.outside == ["https://example.com/x.png"]
    with pytest.raises(AssertionError, match="off this machine"):
        page.watch.check()
    page.watch.outside.clear()  # seen; the aborted load logged its own error
    page.watch.errors.clear()


def test_screenshots_are_written(page: Any, tmp_path: Any) -> None:
    page.set_content("<p>apollo-fake</p>")
    path = screenshot(page, "browser-check")
    assert path.stat().st_size > 0
