"""A first call of each route, both ways, so a broken wiring fails fast."""

from __future__ import annotations

from conftest import Api


def test_account(api: Api) -> None:
    r = api.get("/account")
    assert r.status == 200
    assert r.json["account"]["time-categories"][0] == {"id": "21", "name": "Development"}


def test_project_listing(api: Api) -> None:
    r = api.get("/projects/51/timeEntries")
    assert r.status == 200
    assert [e["id"] for e in r.json["time-entries"]] == ["80", "71", "72", "79"]
