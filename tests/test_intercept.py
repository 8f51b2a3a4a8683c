"""Interception: unchanged clients of requests, httpx (sync and async) and aiohttp reach the
fake in process through ``apollo_fake.mock()`` and the ``apollo_mock`` fixture.

Each behaviour is one scenario run through every client library (tests/clients/
apollo_clients.py, the vendor's base URL hard-coded): reads under ``/v1`` and at the
root, by HTTPS and HTTP; a create with its Location; errors in the contract's shape
with nothing changed; auth; the rate limit; a ``drop`` fault raising the library's
own connection error; a delay that holds one request while others are answered
(without blocking an async client's event loop); the journal and the contract
report; other hosts untouched. Every body is checked against its schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
import pytest
import requests

import apollo_fake
from apollo_fake import intercept
from apollo_fake.fake import Fake, Settings

from clients.apollo_clients import BASE, CLIENTS, Reply
from conftest import TODAY, check_body, small_doc

ROOT = Path(__file__).resolve().parent.parent
CLIENT_MODULE = Path(__file__).with_name("clients") / "apollo_clients.py"
LISTING = ["80", "71", "72", "79"]  # GET /projects/51/timeEntries on small.json
BAD_CREATE = {"time-entry": {"seconds": 60, "time-category-id": "21"}}
TOKENS = {"alice-token": 11, "bob-token": 12}


@pytest.fixture(params=sorted(CLIENTS))
def client_class(request: pytest.FixtureRequest) -> Any:
    """Each client library in turn."""
    return CLIENTS[request.param]


@pytest.fixture
def fake() -> Fake:
    """A fake on small.json, its clock frozen."""
    return Fake(small_doc(), today=TODAY)


def send(client: Any, method: str, path: str, body: Any = None) -> Reply:
    """Send through a client; check the answer is JSON valid against its schema."""
    reply: Reply = client.call(method, path, body)
    url_path = urlsplit(urljoin(BASE, path)).path
    check_body(method, url_path, reply.status, reply.headers, reply.raw)
    return reply


# --- reads, writes, errors ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "projects/51/timeEntries",
        "https://api.apollohq.com/projects/51/timeEntries",
        "http://api.apollohq.com/v1/projects/51/timeEntries",
        "http://api.apollohq.com/projects/51/timeEntries",
    ],
    ids=["https-v1", "https-root", "http-v1", "http-root"],
)
def test_reads_under_v1_and_at_the_root(client_class: Any, fake: Fake, url: str) -> None:
    with apollo_fake.mock(fake) as active:
        assert active is fake
        reply = send(client_class(), "GET", url)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert int(reply.headers["content-length"]) == len(reply.raw)
    assert [e["id"] for e in reply.json["time-entries"]] == LISTING
    path = urlsplit(urljoin(BASE, url)).path
    [record] = fake.requests()
    assert (record["method"], record["path"], record["status"]) == ("GET", path, 200)
    # The very bytes the app answers.
    assert reply.raw == fake.client.get(path).get_data()


def test_create_answers_location_under_the_prefix_used(client_class: Any, fake: Fake) -> None:
    client = client_class()
    with apollo_fake.mock(fake):
        created = send(client, "POST", "projects/51/timeEntries", {"time-entry": {"seconds": 90}})
        at_root = send(client, "POST", "/projects/51/timeEntries", {"time-entry": {"seconds": 9}})
        assert created.status == 201
        new = created.json["time-entry-id"]
        assert created.headers["location"] == f"/v1/timeEntries/{new}"
        assert at_root.headers["location"] == f"/timeEntries/{at_root.json['time-entry-id']}"
        # The Location, followed as a client would, names the new entry.
        shown = send(client, "GET", urljoin(BASE, created.headers["location"]))
    assert shown.json["time-entry"]["seconds"] == "90"
    entry = fake.entry(int(new))
    assert entry is not None and entry.seconds == 90


def test_errors_in_the_contracts_shape_and_nothing_changed(
    client_class: Any, fake: Fake
) -> None:
    client = client_class()
    before = fake.state()
    with apollo_fake.mock(fake):
        missing = send(client, "GET", "timeEntries/999")
        refused = send(client, "POST", "projects/51/timeEntries", BAD_CREATE)
        no_route = send(client, "DELETE", "account")
    assert (missing.status, refused.status, no_route.status) == (404, 422, 405)
    assert refused.json["error"]["details"][0]["field"] == "time-entry.time-category-id"
    assert no_route.headers["allow"] == "GET, HEAD"
    assert fake.state() == before


def test_auth_with_tokens(client_class: Any) -> None:
    fake = Fake(small_doc(), today=TODAY, settings=Settings(tokens=TOKENS))
    with apollo_fake.mock(fake):
        anonymous = send(client_class(), "GET", "account")
        unknown = send(client_class("nobody"), "GET", "account")
        bob = send(client_class("bob-token"), "POST", "projects/51/timeEntries", {
            "time-entry": {"seconds": 60}
        })
    assert anonymous.status == unknown.status == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="Apollo API"'
    assert bob.status == 201
    entry = fake.entry(int(bob.json["time-entry-id"]))
    assert entry is not None and entry.user_id == 12
    assert [r["user"] for r in fake.requests()] == [None, None, "12"]


def test_rate_limit(client_class: Any) -> None:
    settings = Settings(tokens=TOKENS, rate_limit=(2, 300))
    fake = Fake(small_doc(), today=TODAY, settings=settings)
    client = client_class("alice-token")
    with apollo_fake.mock(fake):
        statuses = [send(client, "GET", "account").status for _ in range(3)]
        limited = send(client, "GET", "account")
        fake.clock.advance(300)
        again = send(client, "GET", "account")
    assert statuses == [200, 200, 429]
    assert int(limited.headers["retry-after"]) > 0
    assert again.status == 200


# --- faults ---------------------------------------------------------------------------


def test_drop_raises_the_librarys_connection_error(client_class: Any, fake: Fake) -> None:
    client = client_class()
    fake.faults.add("/projects/51/timeEntries", "POST", drop=True)
    with apollo_fake.mock(fake):
        with pytest.raises(client_class.dropped):
            client.call("POST", "projects/51/timeEntries", {"time-entry": {"seconds": 60}})
        # The rule applied once; the next request is answered.
        after = send(client, "GET", "projects/51/timeEntries")
    assert after.status == 200
    assert [r["status"] for r in fake.requests()] == [0, 200]
    assert fake.entry(81) is None


def test_a_dropped_httpx_request_is_either_error_httpx_could_raise(fake: Fake) -> None:
    # Over a socket httpx reports a drop as RemoteProtocolError; a client catching
    # ConnectError for its retries catches this one too.
    fake.faults.add("/account", drop=True)
    with apollo_fake.mock(fake), pytest.raises(httpx.ConnectError) as caught:
        httpx.get(BASE + "account")
    assert isinstance(caught.value, httpx.RemoteProtocolError)


def test_a_delay_holds_one_request_while_others_are_answered(
    client_class: Any, fake: Fake
) -> None:
    # The slow request is held by a delay fault; a request sent once the fake holds
    # it is answered first. For an async client both share one event loop, which
    # the delay therefore does not block.
    rule = fake.faults.add("/account", "GET", delay_ms=300)
    with apollo_fake.mock(fake):
        order = client_class().race(
            ("GET", "account", None),
            ("GET", "projects/51/timeEntries", None),
            started=lambda: rule.applied == 1,
        )
    assert order == ["fast", "slow"]
    assert sorted(r["path"] for r in fake.requests()) == [
        "/v1/account",
        "/v1/projects/51/timeEntries",
    ]


def test_injected_answer_is_sent_as_stated(client_class: Any, fake: Fake) -> None:
    fake.faults.add("/account", status=503, headers={"Retry-After": "7"})
    with apollo_fake.mock(fake):
        reply = send(client_class(), "GET", "account")
    assert (reply.status, reply.headers["retry-after"]) == (503, "7")
    assert reply.json["error"]["status"] == 503


# --- what the fake records ------------------------------------------------------------


def test_journal_violations_and_contract_report(client_class: Any, fake: Fake) -> None:
    with apollo_fake.mock(fake):
        send(client_class(), "POST", "projects/51/timeEntries", BAD_CREATE)
        send(client_class(), "GET", "projects/51/timeEntries?page=1")
    first, second = fake.requests()
    assert first["body"] == BAD_CREATE and first["status"] == 422
    assert second["query"] == "page=1"
    [violation] = fake.violations()
    assert violation["violations"][0]["field"] == "time-entry.time-category-id"
    report = fake.contract_report()
    assert report["requests"] == 2


# --- other hosts, and the libraries restored --------------------------------------------


class _Canned(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = json.dumps({"host": "other", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def other_host() -> Iterator[str]:
    """Another host: a plain http.server on 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_other_hosts_are_untouched(client_class: Any, fake: Fake, other_host: str) -> None:
    with apollo_fake.mock(fake):
        reply = client_class().call("GET", f"{other_host}/elsewhere")
    assert (reply.status, reply.json) == (200, {"host": "other", "path": "/elsewhere"})
    assert fake.requests() == []


def patched_now() -> list[Any]:
    """Return what each intercepted library's patched attribute is now."""
    return [
        requests.adapters.HTTPAdapter.send,
        httpx.HTTPTransport.handle_request,
        httpx.AsyncHTTPTransport.handle_async_request,
        aiohttp.ClientSession._request,
    ]


def test_the_libraries_are_restored_on_exit() -> None:
    outer, inner = Fake(small_doc(), today=TODAY), Fake(small_doc(), today=TODAY)
    originals = patched_now()
    with apollo_fake.mock(outer):
        patched = patched_now()
        assert all(now is not was for now, was in zip(patched, originals, strict=True))
        with apollo_fake.mock(inner):  # nested: the innermost answers
            assert requests.get(BASE + "account").status_code == 200
        assert patched_now() == patched
        assert httpx.get(BASE + "account").status_code == 200
    assert patched_now() == originals
    assert (len(inner.requests()), len(outer.requests())) == (1, 1)


# --- the ways to hold it --------------------------------------------------------------


def test_default_data_is_the_demo_with_its_clock() -> None:
    with apollo_fake.mock() as fake:
        reply = requests.get(BASE + "account")
    assert reply.status_code == 200
    assert reply.json()["account"]["name"] == fake.store.account.name
    assert fake.clock.today().isoformat() == "2026-06-30"


def test_what_fake_takes(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(small_doc()))
    settings = Settings(tokens={"t": 11})
    with apollo_fake.mock(str(path), today=TODAY, settings=settings) as fake:
        assert requests.get(BASE + "account", auth=("t", "X")).status_code == 200
        assert requests.get(BASE + "account").status_code == 401
    assert fake.clock.today() == TODAY
    with pytest.raises(TypeError, match="today, start and settings"):
        apollo_fake.mock(fake, today=TODAY)


def test_a_decorator_of_sync_and_async_functions_with_a_fresh_fake_each_call() -> None:
    mocked = apollo_fake.mock(small_doc(), today=TODAY)

    @mocked
    def create() -> str:
        r = requests.post(BASE + "projects/51/timeEntries", json={"time-entry": {"seconds": 1}})
        assert r.status_code == 201
        return str(r.json()["time-entry-id"])

    @mocked
    async def count() -> int:
        async with aiohttp.ClientSession() as session:
            async with session.get(BASE + "projects/51/timeEntries") as r:
                return len((await r.json())["time-entries"])

    assert create() == create() == "81"  # each call starts from the loaded data
    assert asyncio.run(count()) == len(LISTING)
    assert create.__name__ == "create" and asyncio.iscoroutinefunction(count)


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without(*missing: str) -> None:
        monkeypatch.setattr(intercept, "_FOUND", set())
        monkeypatch.setattr(
            intercept.importlib.util,
            "find_spec",
            lambda name, *a: None if name in missing else real(name, *a),
        )

    without("aioresponses")
    needs = r"needs aiohttp and aioresponses: pip install 'apollo-fake\[aiohttp\]'"
    with pytest.raises(ImportError, match=needs):
        apollo_fake.mock(clients="aiohttp")
    assert apollo_fake.mock().clients == ("requests", "httpx")
    without("httpx", "responses", "aioresponses")
    with pytest.raises(ImportError, match=r"pip install 'apollo-fake\[requests\]'"):
        apollo_fake.mock()
    with pytest.raises(ValueError, match="'urllib' is not one of requests, httpx, aiohttp"):
        apollo_fake.mock(clients=["urllib"])


def test_only_the_libraries_asked_for(fake: Fake) -> None:
    originals = patched_now()
    with apollo_fake.mock(fake, clients=["requests"]):
        assert patched_now()[1:] == originals[1:]
        assert requests.get(BASE + "account").status_code == 200


# --- the pytest fixture, in a project of its own ---------------------------------------------

FAST = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker")

INNER_TESTS = f"""
import pytest

from apollo_clients import BASE, CLIENTS

BAD_CREATE = {BAD_CREATE!r}
clients = pytest.mark.parametrize("name", sorted(CLIENTS))


@clients
def test_reads_and_creates(apollo_mock, name):
    client = CLIENTS[name]()
    assert client.call("GET", "projects/51/timeEntries").json["time-entries"][0]["id"] == "80"
    created = client.call("POST", "projects/51/timeEntries", {{"time-entry": {{"seconds": 5}}}})
    assert created.status == 201
    assert created.headers["location"] == "/v1/timeEntries/81"
    assert apollo_mock.entry(81).seconds == 5


@clients
def test_restored_per_test(apollo_mock, name):
    assert CLIENTS[name]().call("GET", "timeEntries/81").status == 404
    assert apollo_mock.requests()[0]["path"] == "/v1/timeEntries/81"


@clients
def test_drop(apollo_mock, name):
    apollo_mock.faults.add("/account", drop=True)
    with pytest.raises(CLIENTS[name].dropped):
        CLIENTS[name]().call("GET", "account")


@clients
@pytest.mark.apollo(tokens={{"tok": 11}})
def test_tokens_from_the_marker(apollo_mock, name):
    assert CLIENTS[name]().call("GET", "account").status == 401
    assert CLIENTS[name]("tok").call("GET", "account").status == 200


@clients
def test_violates(apollo_mock, name):
    assert CLIENTS[name]().call("POST", "projects/51/timeEntries", BAD_CREATE).status == 422
"""


def test_apollo_mock_fixture_with_strict_mode(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", data=(ROOT / "fixtures" / "small.json").read_text())
    pytester.makeini(
        "[pytest]\napollo_fixtures = data.json\napollo_today = 2012-07-31\napollo_strict = true\n"
    )
    pytester.makepyfile(apollo_clients=CLIENT_MODULE.read_text(), test_inner=INNER_TESTS)
    result = pytester.runpytest_subprocess(*FAST, timeout=60)
    result.assert_outcomes(passed=20, errors=4)
    for name in sorted(CLIENTS):
        result.stdout.fnmatch_lines([f"*ERROR at teardown of test_violates?{name}?*"])
    result.stdout.fnmatch_lines(["*time-entry.time-category-id*"])


def test_aiohttp_base_url_raw_bodies_and_params(fake: Fake) -> None:
    async def main() -> list[tuple[int, Any]]:
        out = []
        raw = json.dumps({"time-entry": {"seconds": 7}})
        async with aiohttp.ClientSession(base_url="https://api.apollohq.com/") as session:
            for kwargs in ({"data": raw}, {"data": raw.encode()}, {"data": {"a": "b"}}):
                async with session.post("/v1/projects/51/timeEntries", **kwargs) as r:
                    out.append((r.status, await r.json()))
            async with session.get("/v1/projects/51/timeEntries", params={"page": "2"}) as r:
                out.append((r.status, await r.json()))
        return out

    with apollo_fake.mock(fake):
        (s1, b1), (s2, b2), (s3, b3), (s4, b4) = asyncio.run(main())
    assert (s1, s2, s3, s4) == (201, 201, 400, 200)
    assert fake.entry(int(b1["time-entry-id"])) is not None
    assert b4["time-entries"] == []
    assert fake.requests()[-1]["query"] == "page=2"
    assert fake.requests()[0]["body"] == {"time-entry": {"seconds": 7}}


def test_the_tests_own_responses_mock_keeps_other_hosts_and_the_fake_keeps_its_own(
    fake: Fake,
) -> None:
    # The usual order under the fixture: apollo_mock first, then the test's own
    # @responses.activate for some other service.
    import responses

    with apollo_fake.mock(fake), responses.RequestsMock() as own:
        own.add(responses.GET, "https://other.example/ping", json={"pong": True})
        assert requests.get("https://other.example/ping").json() == {"pong": True}
        assert requests.get(BASE + "account").status_code == 200
    assert [r["path"] for r in fake.requests()] == ["/v1/account"]
    with responses.RequestsMock() as own, apollo_fake.mock(fake):  # and the other order
        own.add(responses.GET, "https://other.example/ping", json={"pong": True})
        assert requests.get("https://other.example/ping").json() == {"pong": True}
        assert requests.get(BASE + "account").status_code == 200


def test_the_tests_own_aioresponses_passes_the_vendors_host_on(fake: Fake) -> None:
    # A test's own aioresponses that lets the vendor's host through hands it to the
    # fake. (aioresponses 0.7.9 cannot build its own answers on aiohttp 3.14, so
    # this one registers none.)
    from aioresponses import aioresponses

    async def main() -> int:
        async with aiohttp.ClientSession() as session:
            async with session.get(BASE + "account") as r:
                return r.status

    with apollo_fake.mock(fake), aioresponses(passthrough=["https://api.apollohq.com"]):
        assert asyncio.run(main()) == 200
    assert [r["path"] for r in fake.requests()] == ["/v1/account"]


def test_the_tests_own_respx_mock_beside_the_fake(fake: Fake) -> None:
    import respx

    for outer_first in (True, False):
        with contextlib.ExitStack() as stack:
            if outer_first:
                stack.enter_context(apollo_fake.mock(fake))
            router = stack.enter_context(respx.mock())
            if not outer_first:
                stack.enter_context(apollo_fake.mock(fake))
            router.get("https://other.example/ping").respond(json={"pong": True})
            assert httpx.get("https://other.example/ping").json() == {"pong": True}
            assert httpx.get(BASE + "account").status_code == 200
    assert [r["path"] for r in fake.requests()] == ["/v1/account", "/v1/account"]
