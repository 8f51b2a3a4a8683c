"""apollo-fake: a faithful, stateful, deterministic fake of the Apollo time-tracking API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

__all__ = ["Fake", "Settings", "create_app", "mock", "__version__"]

if TYPE_CHECKING:
    from .fake import Fake, Settings
    from .intercept import mock
    from .web import create_app


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `apollo-fake --help` and the pytest plugin's
    # registration do not pay for Flask.
    if name in ("Fake", "Settings"):
        from . import fake

        return getattr(fake, name)
    if name == "mock":
        from .intercept import mock

        return mock
    if name == "create_app":
        from .web import create_app

        return create_app
    raise AttributeError(f"module 'apollo_fake' has no attribute {name!r}")
