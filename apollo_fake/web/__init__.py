"""The web layer: an app factory and blueprints that parse, call the domain and serialize."""

from .app import create_app

__all__ = ["create_app"]
