"""The inspector page, ``GET /_fake/ui``: the journal, coverage, data and controls in a browser.

Three static files of the package (``web/ui/``), served as they are: no build step,
nothing from the network. The page reads and changes the fake only through the
documented control API, with the control token when one is set, so it has no power
of its own; serving its files needs no token (a browser's navigation cannot send
the header), and the page shows nothing until the token is given. The page is on
exactly when the control API is: ``--no-control`` removes both.
"""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response, current_app

bp = Blueprint("ui", __name__, url_prefix="/_fake")

# The page's own files; a name outside this table is the control API's 404.
FILES = {
    "index.html": "text/html; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "ui.css": "text/css; charset=utf-8",
}
# Scripts and styles only from these files, calls only to this server, frames only of
# this server or made by the page itself (the report, fetched with the token, in
# srcdoc). Styles may be inline because the report's page carries its own stylesheet;
# no data shown is ever put into markup (the script sets textContent), so no value
# can be a style.
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
)


# The page asks for the token before any call when the server has one (so that a
# first visit makes no call that is refused); the only thing the page is told.
OPEN = b'<meta name="apollo-fake-control" content="open">'
GUARDED = b'<meta name="apollo-fake-control" content="token">'


def _file(name: str) -> Response:
    data = resources.files(__package__).joinpath("ui", name).read_bytes()
    if name == "index.html" and current_app.extensions["apollo_fake"].settings.control_token:
        data = data.replace(OPEN, GUARDED)
    answer = Response(data, 200, mimetype=None, content_type=FILES[name])
    answer.headers["Content-Security-Policy"] = POLICY
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["Referrer-Policy"] = "no-referrer"
    answer.headers["Cache-Control"] = "no-cache"
    return answer


@bp.get("/ui")
def page() -> Response:
    """Serve the inspector page (its data comes from the control API, with the token)."""
    return _file("index.html")


@bp.get("/ui/<any('ui.js', 'ui.css'):name>")
def asset(name: str) -> Response:
    """Serve the page's script or stylesheet."""
    return _file(name)
