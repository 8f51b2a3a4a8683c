"""The web layer: an app factory; the Apollo calls in a lean WSGI layer, control on Flask."""

from .app import create_app

__all__ = ["create_app"]
