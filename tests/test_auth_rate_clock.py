"""Contract tests for the simulated authentication, the rate limit and the fake clock.

Authentication: with no tokens every request is accepted as the account's first
user; with tokens, HTTP Basic with a known token as user name (any password) is
required, else 401 with ``WWW-Authenticate``. Rate limit: the request past the
allowance gets 429 with ``Retry-After``; windows follow the fake clock, one
allowance per token (or one shared without tokens). The clock: the defaults of
``date``, the timestamps and the report window come from it; and
:class:`apollo_fake.clock.Clock` and ``parse_moment`` unit-tested directly.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator

import pytest

from apollo_fake import clock as clock_module
from apollo_fake.clock import Clock, parse_moment
from apollo_fake.fake import Settings

from conftest import Api, Result, make_api, small_doc

TOKENS = {"tok-ada": 11, "tok-grace": 12}
REALM = 'Basic realm="Apollo API"'
NEW_ENTRY = {"time-entry": {"seconds": "60"}}
DT = datetime.datetime
D = datetime.date


def basic(user: str, password: str = "X") -> dict[str, str]:
    """Return an HTTP Basic Authorization header."""
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def created(api: Api, result: Result) -> dict[str, str]:
    """Return the entry a 201 created, read back through the API."""
    assert result.status == 201, result
    new_id = result.json["time-entry-id"]
    assert result.headers["location"] == f"/timeEntries/{new_id}"
    got = api.get(f"/timeEntries/{new_id}", headers=_any_auth(api))
    assert got.status == 200, got
    entry: dict[str, str] = got.json["time-entry"]
    return entry


def _any_auth(api: Api) -> dict[str, str]:
    return basic(next(iter(api.fake.settings.tokens))) if api.fake.settings.tokens else {}


@pytest.fixture(params=["client", "socket"])
def token_api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An Api over small.json that requires one of two tokens (Ada's or Grace's)."""
    yield from make_api(request, small_doc(), settings=Settings(tokens=TOKENS))


@pytest.fixture(params=["client", "socket"])
def limited_api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An Api over small.json allowing 3 requests per 300 s, without tokens."""
    yield from make_api(request, small_doc(), settings=Settings(rate_limit=(3, 300)))


@pytest.fixture(params=["client", "socket"])
def limited_token_api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An Api over small.json with tokens and 3 requests per 300 s per token."""
    yield from make_api(
        request, small_doc(), settings=Settings(tokens=TOKENS, rate_limit=(3, 300))
    )


# --- no tokens ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param(basic("whatever"), id="unknown-basic"),
        pytest.param({"Authorization": "Bearer tok-ada"}, id="bearer"),
        pytest.param({"Authorization": "Basic !!!"}, id="malformed-basic"),
    ],
)
def test_without_tokens_every_request_is_accepted(api: Api, headers: dict[str, str]) -> None:
    assert api.get("/account", headers=headers).status == 200
    assert api.get("/projects/51/timeEntries", headers=headers).status == 200
    assert api.get("/report/timeEntries", headers=headers).status == 200


def test_without_tokens_a_create_acts_as_the_first_user(api: Api) -> None:
    # Even when the request names a token, nothing maps it to a user.
    for headers in ({}, basic("tok-grace")):
        entry = created(api, api.post("/projects/51/timeEntries", NEW_ENTRY, headers=headers))
        assert entry["user-id"] == "11"


# --- with tokens -------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param(basic("tok-nobody"), id="unknown-token"),
        pytest.param(basic("TOK-ADA"), id="token-case-differs"),
        pytest.param(basic(""), id="empty-user"),
        pytest.param(basic("X", "tok-ada"), id="token-as-password"),
        pytest.param({"Authorization": "Bearer tok-ada"}, id="bearer"),
        pytest.param({"Authorization": "Token tok-ada"}, id="token-scheme"),
        pytest.param({"Authorization": "tok-ada"}, id="bare-token"),
        pytest.param({"Authorization": "Basic"}, id="basic-without-credentials"),
        pytest.param({"Authorization": "Basic !!!not-base64!!!"}, id="basic-not-base64"),
        pytest.param({"Authorization": "Basic tok-ada:X"}, id="basic-not-encoded"),
    ],
)
def test_missing_or_bad_credentials_are_401(token_api: Api, headers: dict[str, str]) -> None:
    r = token_api.get("/account", headers=headers)
    assert r.status == 401, r
    assert r.headers["www-authenticate"] == REALM
    assert r.json["error"]["status"] == 401
    assert r.json["error"]["message"]


def test_401_reads_the_same_for_unknown_and_missing_tokens(token_api: Api) -> None:
    missing = token_api.get("/account")
    unknown = token_api.get("/account", headers=basic("tok-nobody"))
    bearer = token_api.get("/account", headers={"Authorization": "Bearer tok-ada"})
    assert missing.status == unknown.status == bearer.status == 401
    assert unknown.raw == missing.raw
    assert bearer.raw == missing.raw
    assert unknown.headers["www-authenticate"] == missing.headers["www-authenticate"] == REALM


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/projects/51/timeEntries", NEW_ENTRY, id="create"),
        pytest.param("POST", "/v1/tasks/61/timeEntries", NEW_ENTRY, id="create-v1"),
        pytest.param("PUT", "/timeEntries/71", {"time-entry": {"notes": "x"}}, id="update"),
        pytest.param("DELETE", "/timeEntries/71", None, id="delete"),
        pytest.param("GET", "/v1/report/timeEntries", None, id="report-v1"),
    ],
)
def test_401_on_every_call_and_changes_nothing(
    token_api: Api, method: str, path: str, body: object
) -> None:
    before = token_api.dump()
    for headers in ({}, basic("tok-nobody")):
        r = token_api.request(method, path, body, headers=headers)
        assert r.status == 401, r
        assert r.headers["www-authenticate"] == REALM
    assert token_api.dump() == before


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(basic("tok-ada"), id="password-X"),
        pytest.param(basic("tok-ada", ""), id="empty-password"),
        pytest.param(basic("tok-grace", "secret"), id="other-token-any-password"),
        pytest.param(basic("tok-ada", "with:colons:in:it"), id="password-with-colons"),
        # The scheme name is case-insensitive in HTTP (RFC 7235).
        pytest.param({"Authorization": "basic " + _b64("tok-ada:X")}, id="lowercase-scheme"),
    ],
)
def test_known_token_with_any_password_is_accepted(
    token_api: Api, headers: dict[str, str]
) -> None:
    r = token_api.get("/account", headers=headers)
    assert r.status == 200, r
    assert r.json["account"]["id"] == "1"
    assert token_api.get("/v1/projects/51/timeEntries", headers=headers).status == 200


@pytest.mark.parametrize(
    ("token", "user"),
    [pytest.param("tok-ada", "11", id="ada"), pytest.param("tok-grace", "12", id="grace")],
)
@pytest.mark.parametrize(
    "path", ["/projects/51/timeEntries", "/tasks/61/timeEntries", "/contacts/41/timeEntries"]
)
def test_create_defaults_user_to_the_tokens_user(
    token_api: Api, token: str, user: str, path: str
) -> None:
    r = token_api.post(path, NEW_ENTRY, headers=basic(token, "anything"))
    assert created(token_api, r)["user-id"] == user


@pytest.mark.parametrize("given", ["11", 11])
def test_explicit_user_id_wins_over_the_token(token_api: Api, given: object) -> None:
    body = {"time-entry": {"seconds": "60", "user-id": given}}
    r = token_api.post("/projects/51/timeEntries", body, headers=basic("tok-grace"))
    assert created(token_api, r)["user-id"] == "11"


# --- rate limit --------------------------------------------------------------------


def assert_limited(r: Result, most: int = 300) -> int:
    """Assert a 429 in the contract's shape with a sane Retry-After; return it."""
    assert r.status == 429, r
    assert r.json["error"]["status"] == 429
    assert r.json["error"]["message"]
    retry = r.headers["retry-after"]
    assert retry.isascii() and retry.isdigit(), retry
    assert 1 <= int(retry) <= most
    return int(retry)


def test_request_past_the_limit_is_429(limited_api: Api) -> None:
    for n in range(3):
        assert limited_api.get("/account").status == 200, n
    assert_limited(limited_api.get("/account"))
    # Still limited: the window has not moved.
    assert_limited(limited_api.get("/report/timeEntries"))


def test_every_call_counts_against_the_limit(limited_api: Api) -> None:
    # A 404 is still a request the server had to answer.
    assert limited_api.get("/timeEntries/9999").status == 404
    assert limited_api.get("/projects/51/timeEntries").status == 200
    assert limited_api.get("/v1/account").status == 200
    assert_limited(limited_api.get("/timeEntries/71"))


def test_advancing_the_clock_opens_a_new_window(limited_api: Api) -> None:
    for _ in range(3):
        assert limited_api.get("/account").status == 200
    assert_limited(limited_api.get("/account"))
    limited_api.fake.clock.advance(299)
    assert_limited(limited_api.get("/account"))
    limited_api.fake.clock.advance(1)
    for n in range(3):
        assert limited_api.get("/account").status == 200, n
    assert_limited(limited_api.get("/account"))


def test_retry_after_shrinks_as_the_clock_advances(limited_api: Api) -> None:
    for _ in range(3):
        limited_api.get("/account")
    first = assert_limited(limited_api.get("/account"))
    limited_api.fake.clock.advance(100)
    # 200 s of the window are left: Retry-After must not ask for more.
    later = assert_limited(limited_api.get("/account"), most=200)
    assert later < first


def test_without_tokens_all_requests_share_one_allowance(limited_api: Api) -> None:
    # Without tokens configured, an Authorization header distinguishes nothing.
    assert limited_api.get("/account", headers=basic("tok-ada")).status == 200
    assert limited_api.get("/account", headers=basic("tok-grace")).status == 200
    assert limited_api.get("/account").status == 200
    assert_limited(limited_api.get("/account", headers=basic("someone-else")))
    assert_limited(limited_api.get("/account"))


def test_with_tokens_each_token_has_its_own_allowance(limited_token_api: Api) -> None:
    api = limited_token_api
    ada, grace = basic("tok-ada"), basic("tok-grace", "other-password")
    for n in range(3):
        assert api.get("/account", headers=ada).status == 200, n
    assert_limited(api.get("/account", headers=ada))
    for n in range(3):
        assert api.get("/account", headers=grace).status == 200, n
    assert_limited(api.get("/account", headers=grace))
    assert_limited(api.get("/account", headers=ada))
    api.fake.clock.advance(300)
    assert api.get("/account", headers=ada).status == 200
    assert api.get("/account", headers=grace).status == 200


def test_a_token_is_limited_whatever_the_password(limited_token_api: Api) -> None:
    api = limited_token_api
    for password in ("X", "Y", ""):
        assert api.get("/account", headers=basic("tok-ada", password)).status == 200
    assert_limited(api.get("/account", headers=basic("tok-ada", "Z")))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/projects/51/timeEntries", NEW_ENTRY, id="create"),
        pytest.param("PUT", "/timeEntries/71", {"time-entry": {"notes": "x"}}, id="update"),
        pytest.param("DELETE", "/timeEntries/71", None, id="delete"),
    ],
)
def test_a_limited_write_changes_nothing(
    limited_api: Api, method: str, path: str, body: object
) -> None:
    for _ in range(3):
        assert limited_api.get("/account").status == 200
    before = limited_api.dump()
    assert_limited(limited_api.request(method, path, body))
    assert limited_api.dump() == before
    # The same write goes through once a new window opens: only the limit stopped it.
    limited_api.fake.clock.advance(300)
    assert limited_api.request(method, path, body).status in (200, 201)
    assert limited_api.dump() != before


# --- the clock, through the API ------------------------------------------------------


def test_create_defaults_to_the_clocks_today_and_now(api: Api) -> None:
    # The api fixture freezes the clock at 2012-07-31 00:00:00.
    entry = created(api, api.post("/projects/51/timeEntries", NEW_ENTRY))
    assert entry["date"] == "2012-07-31"
    assert entry["created-at"] == entry["updated-at"] == "2012-07-31 00:00:00"


def test_timestamps_come_from_the_frozen_clock(api: Api) -> None:
    api.fake.clock.freeze(DT(2012, 8, 15, 13, 45, 30))
    entry = created(api, api.post("/projects/51/timeEntries", NEW_ENTRY))
    assert entry["date"] == "2012-08-15"
    assert entry["created-at"] == "2012-08-15 13:45:30"
    assert entry["updated-at"] == "2012-08-15 13:45:30"

    api.fake.clock.advance(90)
    assert api.put(f"/timeEntries/{entry['id']}", {"time-entry": {"notes": "later"}}).status == 200
    after = api.get(f"/timeEntries/{entry['id']}").json["time-entry"]
    assert after["created-at"] == "2012-08-15 13:45:30"
    assert after["updated-at"] == "2012-08-15 13:47:00"
    assert after["date"] == "2012-08-15"


def test_an_explicit_date_keeps_clock_timestamps(api: Api) -> None:
    api.fake.clock.freeze(DT(2012, 8, 15, 9, 0, 0))
    body = {"time-entry": {"seconds": "60", "date": "2012-01-02"}}
    entry = created(api, api.post("/projects/51/timeEntries", body))
    assert entry["date"] == "2012-01-02"
    assert entry["created-at"] == "2012-08-15 09:00:00"


def test_advancing_past_midnight_moves_the_default_date(api: Api) -> None:
    api.fake.clock.freeze(DT(2012, 8, 15, 23, 59, 30))
    before = created(api, api.post("/projects/51/timeEntries", NEW_ENTRY))
    api.fake.clock.advance(60)
    after = created(api, api.post("/projects/51/timeEntries", NEW_ENTRY))
    assert before["date"] == "2012-08-15"
    assert after["date"] == "2012-08-16"
    assert after["created-at"] == "2012-08-16 00:00:30"


def test_updating_an_old_entry_stamps_the_clocks_now(api: Api) -> None:
    # 79 was written with its own timestamps in the fixture.
    api.fake.clock.freeze(DT(2012, 9, 1, 8, 30, 0))
    assert api.put("/timeEntries/79", {"time-entry": {"seconds": 60}}).status == 200
    entry = api.get("/timeEntries/79").json["time-entry"]
    assert entry["created-at"] == "2011-12-15 09:30:00"
    assert entry["updated-at"] == "2012-09-01 08:30:00"


def test_report_default_window_follows_the_clock(api: Api) -> None:
    def report_ids() -> list[str]:
        r = api.get("/report/timeEntries")
        assert r.status == 200, r
        return [e["id"] for e in r.json["time-entries"]]

    # Project entries: 80/71 07-05, 72 07-04, 73 06-20, 74 05-02, 79 2011-12-15.
    assert report_ids() == ["80", "71", "72", "73", "74"]
    api.fake.clock.freeze(D(2012, 6, 15))
    assert report_ids() == ["74", "79"]
    api.fake.clock.advance(86_400)
    assert report_ids() == ["74"]


# --- Clock, unit-tested ------------------------------------------------------------


class RealTime:
    """Stand in for the real UTC time, so a running clock can be tested without sleeping."""

    def __init__(self, start: datetime.datetime) -> None:
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now

    def pass_(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def real(monkeypatch: pytest.MonkeyPatch) -> RealTime:
    """Replace the real time the clock reads with one the test moves."""
    fake_real = RealTime(DT(2024, 3, 10, 14, 15, 16))
    monkeypatch.setattr(clock_module, "utcnow", fake_real)
    return fake_real


def test_new_clock_runs_on_real_utc_time() -> None:
    c = Clock()
    assert not c.frozen
    real_now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    now = c.now()
    assert now.tzinfo is None
    assert now.microsecond == 0
    assert abs((now - real_now).total_seconds()) < 5
    assert c.today() == now.date()


def test_new_clock_follows_real_time(real: RealTime) -> None:
    c = Clock()
    assert c.now() == DT(2024, 3, 10, 14, 15, 16)
    real.pass_(30)
    assert c.now() == DT(2024, 3, 10, 14, 15, 46)


def test_freeze_at_a_datetime(real: RealTime) -> None:
    c = Clock()
    c.freeze(DT(2012, 5, 24, 15, 30, 34))
    assert c.frozen
    real.pass_(3600)
    assert c.now() == DT(2012, 5, 24, 15, 30, 34)
    assert c.today() == D(2012, 5, 24)
    assert c.timestamp() == "2012-05-24 15:30:34"


def test_freeze_at_a_date_means_its_midnight() -> None:
    c = Clock()
    c.freeze(D(2012, 7, 31))
    assert c.now() == DT(2012, 7, 31, 0, 0, 0)
    assert c.timestamp() == "2012-07-31 00:00:00"


def test_freeze_without_argument_stops_at_now(real: RealTime) -> None:
    c = Clock()
    c.freeze()
    assert c.frozen
    real.pass_(100)
    assert c.now() == DT(2024, 3, 10, 14, 15, 16)


def test_freeze_drops_microseconds_and_converts_to_utc() -> None:
    c = Clock()
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    c.freeze(DT(2012, 7, 31, 15, 0, 0, 999_999, tzinfo=plus_two))
    assert c.now() == DT(2012, 7, 31, 13, 0, 0)
    assert c.now().tzinfo is None
    assert c.timestamp() == "2012-07-31 13:00:00"


def test_unfreeze_runs_on_from_the_frozen_moment(real: RealTime) -> None:
    c = Clock()
    c.freeze(DT(2012, 7, 31, 12, 0, 0))
    real.pass_(500)
    c.unfreeze()
    assert not c.frozen
    assert c.now() == DT(2012, 7, 31, 12, 0, 0)
    real.pass_(10)
    assert c.now() == DT(2012, 7, 31, 12, 0, 10)


def test_unfreeze_a_running_clock_changes_nothing(real: RealTime) -> None:
    c = Clock()
    c.advance(60)
    c.unfreeze()
    assert c.now() == DT(2024, 3, 10, 14, 16, 16)


def test_advance_a_frozen_clock(real: RealTime) -> None:
    c = Clock()
    c.freeze(DT(2012, 7, 31, 23, 59, 0))
    c.advance(90)
    assert c.now() == DT(2012, 8, 1, 0, 0, 30)
    assert c.today() == D(2012, 8, 1)
    c.advance(-30)
    assert c.now() == DT(2012, 8, 1, 0, 0, 0)
    assert c.frozen
    real.pass_(1000)
    assert c.now() == DT(2012, 8, 1, 0, 0, 0)


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "running"])
@pytest.mark.parametrize(
    ("start", "seconds"),
    [
        pytest.param(DT(9999, 12, 1), 40 * 86_400, id="past-9999"),
        pytest.param(DT(1, 2, 1), -40 * 86_400, id="before-year-1"),
        pytest.param(DT(2012, 7, 31), 1e20, id="beyond-any-timedelta"),
    ],
)
def test_a_clock_never_leaves_the_calendar(
    real: RealTime, frozen: bool, start: datetime.datetime, seconds: float
) -> None:
    c = Clock()
    if frozen:
        c.freeze(start)
    else:
        c.start_at(start.date())
    before = c.state()
    with pytest.raises(ValueError, match="the clock can show times from"):
        c.advance(seconds)
    assert c.state() == before
    c.now()  # still a time


@pytest.mark.parametrize(
    "moment", [DT(1, 1, 1), DT(9999, 12, 31, 23, 59, 59), D(9999, 12, 31), D(1, 1, 1)]
)
def test_a_clock_shows_the_very_ends_of_the_calendar_and_runs_no_further(
    real: RealTime, moment: datetime.date
) -> None:
    c = Clock()
    c.freeze(moment)
    shown = c.now()
    c.unfreeze()
    real.pass_(86_400 * 3)
    end = datetime.datetime.max.replace(microsecond=0)
    assert c.now() == (shown + datetime.timedelta(days=3) if shown.year == 1 else end)
    assert c.timestamp()


def test_advance_a_running_clock(real: RealTime) -> None:
    c = Clock()
    c.advance(3600)
    assert not c.frozen
    assert c.now() == DT(2024, 3, 10, 15, 15, 16)
    real.pass_(5)
    assert c.now() == DT(2024, 3, 10, 15, 15, 21)
    c.advance(-7200)
    assert c.now() == DT(2024, 3, 10, 13, 15, 21)


def test_start_at_runs_from_that_day_at_the_real_time_of_day(real: RealTime) -> None:
    c = Clock()
    c.freeze(DT(2000, 1, 1))
    c.start_at(D(2012, 7, 31))
    assert not c.frozen
    assert c.now() == DT(2012, 7, 31, 14, 15, 16)
    real.pass_(60)
    assert c.now() == DT(2012, 7, 31, 14, 16, 16)
    assert c.today() == D(2012, 7, 31)


def test_state_and_restore_a_frozen_clock(real: RealTime) -> None:
    c = Clock()
    c.freeze(DT(2012, 7, 31, 8, 0, 0))
    saved = c.state()
    c.advance(3600)
    c.unfreeze()
    real.pass_(100)
    c.restore(saved)
    assert c.frozen
    assert c.now() == DT(2012, 7, 31, 8, 0, 0)


def test_state_and_restore_a_running_clock(real: RealTime) -> None:
    c = Clock()
    c.start_at(D(2012, 7, 31))
    saved = c.state()
    c.freeze(DT(1999, 1, 1))
    c.restore(saved)
    assert not c.frozen
    assert c.now() == DT(2012, 7, 31, 14, 15, 16)
    real.pass_(4)
    assert c.now() == DT(2012, 7, 31, 14, 15, 20)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2012-07-31", DT(2012, 7, 31, 0, 0, 0), id="date"),
        pytest.param("2012-02-29", DT(2012, 2, 29, 0, 0, 0), id="leap-day"),
        pytest.param("2012-07-31 13:45:30", DT(2012, 7, 31, 13, 45, 30), id="api-timestamp"),
        pytest.param("2012-07-31T13:45:30", DT(2012, 7, 31, 13, 45, 30), id="iso-naive"),
        pytest.param("2012-07-31T13:45:30Z", DT(2012, 7, 31, 13, 45, 30), id="iso-z"),
        pytest.param("2012-07-31T15:45:30+02:00", DT(2012, 7, 31, 13, 45, 30), id="iso-offset"),
        pytest.param("2012-07-31T23:30:00-01:00", DT(2012, 8, 1, 0, 30, 0), id="iso-next-day"),
    ],
)
def test_parse_moment_accepts(text: str, expected: datetime.datetime) -> None:
    got = parse_moment(text)
    assert got == expected
    assert got.tzinfo is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("garbage", id="word"),
        pytest.param("tomorrow", id="relative-word"),
        pytest.param("2012-02-30", id="impossible-date"),
        pytest.param("2012-13-01", id="month-13"),
        pytest.param("31/07/2012", id="european-slashes"),
        pytest.param("2012-07-31 25:00:00", id="hour-25"),
        pytest.param("2012-07-31 13:45:30 UTC", id="trailing-word"),
    ],
)
def test_parse_moment_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_moment(text)
