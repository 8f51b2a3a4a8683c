"""Contract tests for the wire basics that every call shares.

Covers: JSON-only responses and the one error shape; 405 with ``Allow``; HEAD;
the 1 MiB body limit (with Content-Length and chunked); bodies read as JSON
whatever their Content-Type; the ``/v1`` prefix; path ids that are not all
digits; very long ids; doubled slashes, trailing slashes and dot segments;
unknown and repeated query parameters. Every check runs over Flask's test client
and over a real socket, except those only a raw socket can send.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from conftest import Api, Result, check_body, make_api, small_doc

PROJECT = "/projects/51/timeEntries"
NEXT_ID = "81"  # small.json's largest entry id is 80
MIB = 1024 * 1024
FULL = {
    "category-id": "22",
    "user-id": "12",
    "notes": "Working hard",
    "date": "2012-07-05",
    "billable": "billable",
    "seconds": "3600",
}
LONG = "9" * 5000


def padded(size: int, fields: dict[str, Any] | None = None, front: bool = False) -> bytes:
    """Return a valid JSON request body of exactly ``size`` bytes, padded with spaces.

    Padding in front makes a body that a server cutting it at 1 MiB would see as
    broken JSON; padding at the end, one that would still parse.
    """
    body = json.dumps({"time-entry": fields or {"seconds": "60"}}).encode()
    assert len(body) <= size
    pad = b" " * (size - len(body))
    return pad + body if front else body + pad


@pytest.fixture(scope="module", params=["socket"])
def shared_live(request: pytest.FixtureRequest) -> Iterator[tuple[Api, bytes]]:
    """Yield one Api over a real socket, for what only a raw socket can send."""
    with contextlib.contextmanager(make_api)(request, small_doc()) as api:
        yield api, api.dump()


@pytest.fixture
def live(shared_live: tuple[Api, bytes]) -> Api:
    """Return the socket-only Api, reset to the loaded data."""
    shared, loaded = shared_live
    shared.fake.reset()
    assert shared.dump() == loaded, "the fake's reset did not restore the loaded data"
    return shared


def media_type(result: Result) -> str:
    return result.headers.get("content-type", "").split(";")[0].strip()


def assert_error(result: Result, status: int) -> None:
    """Assert a JSON error of the contract's shape with that status."""
    assert result.status == status, result
    assert media_type(result) == "application/json"
    assert list(result.json) == ["error"]
    error = result.json["error"]
    assert set(error) == {"status", "message", "details"}
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)


def assert_unchanged(api: Api, before: bytes) -> None:
    """Assert the state is as before and no id was consumed."""
    assert api.dump() == before
    r = api.post(PROJECT, {"time-entry": {"seconds": "60"}})
    assert r.status == 201, r
    assert r.json == {"time-entry-id": NEXT_ID}


def fields_named(r: Result) -> set[str]:
    return {d["field"] for d in r.json["error"]["details"]}


# --- raw socket -----------------------------------------------------------------


def raw_exchange(
    api: Api, head: bytes, parts: Iterable[bytes] = ()
) -> tuple[int, dict[str, str], bytes]:
    """Send a request written by hand over a new connection; return status, headers, body."""
    assert api.url is not None
    host, port = api.url.split("//", 1)[1].rsplit(":", 1)
    method = head.split(b" ", 1)[0].decode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            # The server may answer (413) and close before it has read the whole body.
            sock.sendall(head)
            for part in parts:
                sock.sendall(part)
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        raw = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw


def chunked(body: bytes, size: int = 64 * 1024) -> list[bytes]:
    """Return a body in HTTP/1.1 chunked transfer coding."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
             for i in range(0, len(body), size)]
    return [*parts, b"0\r\n\r\n"]


def chunked_request(api: Api, method: str, path: str, body: bytes) -> Result:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    status, headers, raw = raw_exchange(api, head, chunked(body))
    return Result(status, headers, check_body(method, path, status, headers, raw), raw)


# --- JSON only, one error shape ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        pytest.param("GET", "/nothing", None, 404, id="404-unknown-route"),
        pytest.param("GET", "/timeEntries", None, 404, id="404-collection-without-id"),
        pytest.param("GET", "/timeEntries/999", None, 404, id="404-unknown-entry"),
        pytest.param(
            "POST", "/projects/999/timeEntries", json.dumps({"time-entry": FULL}), 404,
            id="404-unknown-parent",
        ),
        pytest.param("DELETE", "/account", None, 405, id="405"),
        pytest.param("POST", "/timeEntries/71", b"{}", 405, id="405-with-body"),
        pytest.param("POST", PROJECT, padded(MIB + 1), 413, id="413"),
        pytest.param("POST", PROJECT, b"{", 400, id="400-malformed-json"),
        pytest.param("GET", "/account?x=1", None, 400, id="400-unknown-parameter"),
        pytest.param("GET", PROJECT + "/0", None, 400, id="400-page-zero"),
        pytest.param("POST", PROJECT, b'{"time-entry": {"seconds": -1}}', 422, id="422-create"),
        pytest.param("PUT", "/timeEntries/71", b'{"time-entry": {}}', 422, id="422-update"),
    ],
)
def test_every_error_is_json_of_one_shape(
    api: Api, method: str, path: str, body: bytes | str | None, status: int
) -> None:
    before = api.dump()
    r = api.request(method, path, data=body)
    assert_error(r, status)
    assert api.dump() == before


# --- 405 -----------------------------------------------------------------------

ENTRY_METHODS = {"GET", "HEAD", "PUT", "DELETE"}
LISTING_METHODS = {"GET", "HEAD", "POST"}
READ_METHODS = {"GET", "HEAD"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        pytest.param("POST", "/timeEntries/71", ENTRY_METHODS, id="post-entry"),
        pytest.param("PATCH", "/timeEntries/71", ENTRY_METHODS, id="patch-entry"),
        pytest.param("OPTIONS", "/timeEntries/71", ENTRY_METHODS, id="options-entry"),
        # The method is checked before the entry is looked up.
        pytest.param("POST", "/timeEntries/999", ENTRY_METHODS, id="post-unknown-entry"),
        pytest.param("DELETE", "/account", READ_METHODS, id="delete-account"),
        pytest.param("POST", "/account", READ_METHODS, id="post-account"),
        pytest.param("OPTIONS", "/account", READ_METHODS, id="options-account"),
        pytest.param("PUT", PROJECT, LISTING_METHODS, id="put-project-listing"),
        pytest.param("DELETE", "/contacts/41/timeEntries", LISTING_METHODS, id="delete-contact"),
        pytest.param("PATCH", "/tasks/61/timeEntries", LISTING_METHODS, id="patch-task"),
        pytest.param("POST", PROJECT + "/2", READ_METHODS, id="post-listing-page"),
        pytest.param("POST", "/report/timeEntries", READ_METHODS, id="post-report"),
        pytest.param("DELETE", "/v1/account", READ_METHODS, id="v1-delete-account"),
        pytest.param("POST", "/v1/timeEntries/71", ENTRY_METHODS, id="v1-post-entry"),
    ],
)
def test_wrong_method_is_405_with_allow(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    before = api.dump()
    body = json.dumps({"time-entry": FULL}) if method in ("POST", "PATCH") else None
    r = api.request(method, path, data=body)
    assert_error(r, 405)
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed
    assert_unchanged(api, before)


# --- HEAD ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/account", id="account"),
        pytest.param("/timeEntries/71", id="entry"),
        pytest.param(PROJECT, id="project-listing"),
        pytest.param(PROJECT + "/2", id="project-page-2"),
        pytest.param("/contacts/41/timeEntries", id="contact-listing"),
        pytest.param("/tasks/61/timeEntries", id="task-listing"),
        pytest.param("/report/timeEntries?include_contacts=1&with_totals=1", id="report"),
        pytest.param("/v1/account", id="v1"),
        pytest.param("/timeEntries/999", id="unknown-entry-404"),
        pytest.param("/nothing", id="unknown-route-404"),
        pytest.param(PROJECT + "/0", id="page-zero-400"),
        pytest.param("/account?x=1", id="unknown-parameter-400"),
    ],
)
def test_head_answers_like_get_without_a_body(api: Api, path: str) -> None:
    got = api.get(path)
    head = api.request("HEAD", path)  # the helper asserts the body is empty
    assert head.raw == b""
    assert head.status == got.status
    assert media_type(head) == "application/json"
    if got.status == 200:
        # An error's message may name the method, so only a success's length must match.
        assert head.headers["content-length"] == str(len(got.raw))


# --- body size -------------------------------------------------------------------

WRITES = [
    pytest.param("POST", PROJECT, 201, id="create-project"),
    pytest.param("POST", "/tasks/61/timeEntries", 201, id="create-task"),
    pytest.param("POST", "/contacts/41/timeEntries", 201, id="create-contact"),
    pytest.param("PUT", "/timeEntries/71", 200, id="update"),
    pytest.param("POST", "/v1" + PROJECT, 201, id="v1-create"),
]


PADDING = [
    pytest.param(1, False, id="one-byte-over-padded-at-end"),
    pytest.param(4096, False, id="4-kib-over-padded-at-end"),
    pytest.param(1, True, id="one-byte-over-padded-in-front"),
]


@pytest.mark.parametrize(("method", "path", "ok"), WRITES)
@pytest.mark.parametrize(("extra", "front"), PADDING)
def test_body_over_1_mib_is_413(
    api: Api, method: str, path: str, ok: int, extra: int, front: bool
) -> None:
    before = api.dump()
    r = api.request(method, path, data=padded(MIB + extra, front=front))
    assert_error(r, 413)
    assert_unchanged(api, before)


def test_body_over_1_mib_is_413_whatever_it_holds(api: Api) -> None:
    before = api.dump()
    r = api.post(PROJECT, data=b"x" * (MIB + 1))
    assert_error(r, 413)
    assert_unchanged(api, before)


@pytest.mark.parametrize("front", [False, True], ids=["padded-at-end", "padded-in-front"])
@pytest.mark.parametrize(("method", "path", "ok"), WRITES)
def test_body_of_exactly_1_mib_is_read(
    api: Api, method: str, path: str, ok: int, front: bool
) -> None:
    r = api.request(method, path, data=padded(MIB, {"seconds": "61"}, front=front))
    assert r.status == ok, r
    entry_id = r.json["time-entry-id"] if ok == 201 else "71"
    assert api.get(f"/timeEntries/{entry_id}").json["time-entry"]["seconds"] == "61"


@pytest.mark.parametrize(("extra", "front"), PADDING)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", PROJECT, id="create"),
        pytest.param("PUT", "/timeEntries/71", id="update"),
    ],
)
def test_chunked_body_over_1_mib_is_413(
    live: Api, method: str, path: str, extra: int, front: bool
) -> None:
    before = live.dump()
    r = chunked_request(live, method, path, padded(MIB + extra, front=front))
    assert_error(r, 413)
    assert_unchanged(live, before)


@pytest.mark.parametrize("front", [False, True], ids=["padded-at-end", "padded-in-front"])
def test_chunked_body_of_exactly_1_mib_is_read(live: Api, front: bool) -> None:
    r = chunked_request(live, "POST", PROJECT, padded(MIB, {"seconds": "61"}, front=front))
    assert r.status == 201, r
    assert r.json == {"time-entry-id": NEXT_ID}
    assert live.get(f"/timeEntries/{NEXT_ID}").json["time-entry"]["seconds"] == "61"


def test_small_chunked_body_is_read(live: Api) -> None:
    body = json.dumps({"time-entry": FULL}).encode()
    head = (
        f"POST {PROJECT} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    status, _, raw = raw_exchange(live, head, chunked(body, size=7))
    assert status == 201
    assert json.loads(raw) == {"time-entry-id": NEXT_ID}
    entry = live.get(f"/timeEntries/{NEXT_ID}").json["time-entry"]
    assert (entry["notes"], entry["billable"], entry["seconds"]) == (
        "Working hard",
        "billable",
        "3600",
    )


def test_declared_length_over_1_mib_is_413_before_the_body_is_sent(live: Api) -> None:
    before = live.dump()
    head = (
        f"POST {PROJECT} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {10 * MIB}\r\nConnection: close\r\n\r\n"
    ).encode()
    status, headers, raw = raw_exchange(live, head)
    assert status == 413
    body = check_body("POST", PROJECT, status, headers, raw)
    assert body["error"]["status"] == 413
    assert_unchanged(live, before)


# --- any Content-Type ---------------------------------------------------------------

CONTENT_TYPES = [
    pytest.param(None, id="none"),
    pytest.param("application/json", id="json"),
    pytest.param("application/json; charset=utf-8", id="json-charset"),
    pytest.param("text/plain", id="text-plain"),
    pytest.param("application/x-www-form-urlencoded", id="form"),
    pytest.param("multipart/form-data; boundary=xyz", id="multipart"),
    pytest.param("application/xml", id="xml"),
    pytest.param("application/octet-stream", id="octet-stream"),
]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_body_is_json_whatever_the_content_type(api: Api, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps({"time-entry": FULL})
    r = api.post(PROJECT, data=body, headers=headers)
    assert r.status == 201, r
    assert api.get(f"/timeEntries/{NEXT_ID}").json["time-entry"]["notes"] == "Working hard"
    update = json.dumps({"time-entry": {"notes": "Updated"}})
    assert api.put("/timeEntries/71", data=update, headers=headers).status == 200
    assert api.get("/timeEntries/71").json["time-entry"]["notes"] == "Updated"


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/x-www-form-urlencoded", id="form"),
        pytest.param("multipart/form-data; boundary=xyz", id="multipart"),
    ],
)
def test_form_fields_are_not_read_as_a_request(api: Api, content_type: str) -> None:
    before = api.dump()
    r = api.post(PROJECT, data="seconds=60", headers={"Content-Type": content_type})
    assert_error(r, 400)
    assert_unchanged(api, before)


# --- /v1 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/account", id="account"),
        pytest.param(PROJECT, id="project-listing"),
        pytest.param(PROJECT + "/1", id="project-path-page"),
        pytest.param(PROJECT + "?page=1", id="project-query-page"),
        pytest.param("/contacts/41/timeEntries", id="contact-listing"),
        pytest.param("/contacts/41/timeEntries/2", id="contact-page-2"),
        pytest.param("/tasks/61/timeEntries", id="task-listing"),
        pytest.param("/timeEntries/71", id="entry"),
        pytest.param("/timeEntries/071", id="entry-leading-zero"),
        pytest.param("/report/timeEntries", id="report"),
        pytest.param("/report/timeEntries?include_contacts=1&with_totals=1", id="report-totals"),
        pytest.param("/timeEntries/999", id="unknown-entry"),
        pytest.param("/projects/999/timeEntries", id="unknown-project"),
        pytest.param(PROJECT + "/0", id="page-zero"),
        pytest.param("/account?x=1", id="unknown-parameter"),
    ],
)
def test_reads_answer_the_same_under_v1(api: Api, path: str) -> None:
    root, v1 = api.get(path), api.get("/v1" + path)
    assert v1.status == root.status
    assert v1.raw == root.raw


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", PROJECT, {"time-entry": FULL}, id="create-project"),
        pytest.param("POST", "/tasks/62/timeEntries", {"time-entry": FULL}, id="create-task"),
        pytest.param("POST", "/contacts/43/timeEntries", {"time-entry": FULL}, id="create-deal"),
        pytest.param("PUT", "/timeEntries/71", {"time-entry": {"notes": "x"}}, id="update"),
        pytest.param("DELETE", "/timeEntries/71", None, id="delete"),
        pytest.param("POST", PROJECT, {"time-entry": {"seconds": -1}}, id="create-422"),
        pytest.param("PUT", "/timeEntries/71", {"time-entry": {}}, id="update-422"),
        pytest.param("POST", PROJECT, [], id="create-400"),
        pytest.param("POST", "/projects/999/timeEntries", {"time-entry": FULL}, id="create-404"),
        pytest.param("DELETE", "/timeEntries/999", None, id="delete-404"),
    ],
)
def test_writes_act_the_same_under_v1(api: Api, method: str, path: str, body: Any) -> None:
    api.fake.clock.advance(90)
    root = api.request(method, path, body)
    root_state = api.dump()
    api.fake.reset()
    api.fake.clock.advance(90)
    v1 = api.request(method, "/v1" + path, body)
    assert (v1.status, v1.json) == (root.status, root.json)
    assert api.dump() == root_state
    if "location" in root.headers:
        assert v1.headers["location"] == "/v1" + root.headers["location"]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/v1/v1/account", id="doubled-prefix"),
        pytest.param("/v2/account", id="other-version"),
        pytest.param("/V1/account", id="capital-v"),
        pytest.param("/v1account", id="no-slash"),
        pytest.param("/api/v1/account", id="api-prefix"),
    ],
)
def test_other_prefixes_are_no_route(api: Api, path: str) -> None:
    assert_error(api.get(path), 404)


# --- ids in paths -------------------------------------------------------------------

NOT_DIGITS = [
    pytest.param("/timeEntries/abc", id="word"),
    pytest.param("/timeEntries/-1", id="negative"),
    pytest.param("/timeEntries/+71", id="plus-sign"),
    pytest.param("/timeEntries/1.0", id="decimal-point"),
    pytest.param("/timeEntries/71.0", id="existing-id-decimal-point"),
    pytest.param("/timeEntries/7e1", id="exponent"),
    pytest.param("/timeEntries/0x47", id="hex"),
    pytest.param("/timeEntries/%2071", id="leading-space"),
    pytest.param("/timeEntries/71%20", id="trailing-space"),
    pytest.param("/timeEntries/71%00", id="nul-byte"),
    pytest.param("/timeEntries/%D9%A3", id="arabic-indic-digit"),
    pytest.param("/timeEntries/%EF%BC%97%EF%BC%91", id="fullwidth-digits"),
    pytest.param("/projects/5x/timeEntries", id="project-5x"),
    pytest.param("/projects/-51/timeEntries", id="project-negative"),
    pytest.param("/contacts/4%201/timeEntries", id="contact-inner-space"),
    pytest.param("/tasks/six/timeEntries", id="task-word"),
    pytest.param(PROJECT + "/two", id="page-word"),
    pytest.param(PROJECT + "/-2", id="page-negative"),
    pytest.param(PROJECT + "/1.0", id="page-decimal-point"),
    pytest.param(PROJECT + "/%D9%A2", id="page-arabic-indic-digit"),
]


@pytest.mark.parametrize("path", NOT_DIGITS)
def test_ids_that_are_not_all_digits_match_no_route(api: Api, path: str) -> None:
    assert_error(api.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("PUT", "/timeEntries/abc", id="update-word"),
        pytest.param("PUT", "/timeEntries/1.0", id="update-decimal-point"),
        pytest.param("DELETE", "/timeEntries/-71", id="delete-negative"),
        pytest.param("DELETE", "/timeEntries/%D9%A3", id="delete-arabic-indic-digit"),
        pytest.param("POST", "/projects/5x/timeEntries", id="create-project-5x"),
        pytest.param("POST", "/tasks/6.1/timeEntries", id="create-task-decimal-point"),
        pytest.param("POST", "/contacts/%D9%A4%D9%A1/timeEntries", id="create-arabic-indic"),
    ],
)
def test_writes_to_non_digit_ids_are_404(api: Api, method: str, path: str) -> None:
    before = api.dump()
    r = api.request(method, path, {"time-entry": FULL})
    assert_error(r, 404)
    assert_unchanged(api, before)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/timeEntries/" + LONG, 404, id="get-entry"),
        pytest.param("PUT", "/timeEntries/" + LONG, 404, id="update-entry"),
        pytest.param("DELETE", "/timeEntries/" + LONG, 404, id="delete-entry"),
        pytest.param("GET", f"/projects/{LONG}/timeEntries", 404, id="project-listing"),
        pytest.param("GET", f"/contacts/{LONG}/timeEntries", 404, id="contact-listing"),
        pytest.param("GET", f"/tasks/{LONG}/timeEntries", 404, id="task-listing"),
        pytest.param("POST", f"/projects/{LONG}/timeEntries", 404, id="create-on-project"),
        pytest.param("POST", f"/tasks/{LONG}/timeEntries", 404, id="create-on-task"),
        pytest.param("GET", f"{PROJECT}/{LONG}", 200, id="page"),
        pytest.param("GET", f"{PROJECT}?page={LONG}", 200, id="query-page"),
    ],
)
def test_a_5000_digit_id_is_not_found_not_a_failure(
    api: Api, method: str, path: str, status: int
) -> None:
    before = api.dump()
    body = {"time-entry": FULL} if method in ("POST", "PUT") else None
    r = api.request(method, path, body)
    if status == 200:
        assert (r.status, r.json) == (200, {"time-entries": []})
    else:
        assert_error(r, status)
    assert_unchanged(api, before)


def test_5000_leading_zeros_still_name_the_entry(api: Api) -> None:
    r = api.get("/timeEntries/" + "0" * 5000 + "71")
    assert r.status == 200
    assert r.raw == api.get("/timeEntries/71").raw


# --- slashes and dot segments ------------------------------------------------------------

ODD_PATHS = [
    pytest.param("/projects//51/timeEntries", id="inner-double-slash"),
    pytest.param("/projects/51//timeEntries", id="double-slash-before-timeEntries"),
    pytest.param("/v1//account", id="double-slash-after-v1"),
    pytest.param("/account/", id="account-trailing-slash"),
    pytest.param("/timeEntries/71/", id="entry-trailing-slash"),
    pytest.param(PROJECT + "/", id="listing-trailing-slash"),
    pytest.param(PROJECT + "/2/", id="page-trailing-slash"),
    pytest.param("/tasks/61/timeEntries/", id="task-listing-trailing-slash"),
    pytest.param("/v1/account/", id="v1-trailing-slash"),
    pytest.param("/v1/", id="v1-root"),
    pytest.param("/", id="root"),
    pytest.param("/projects/51/../51/timeEntries", id="dot-dot"),
    pytest.param("/v1/../account", id="dot-dot-out-of-v1"),
    pytest.param("/v1/%2e%2e/account", id="encoded-dot-dot"),
    pytest.param("/v1/%2E%2E/account", id="encoded-dot-dot-upper"),
    pytest.param(PROJECT + "/..", id="trailing-dot-dot"),
    pytest.param("/timeEntries/71/..", id="entry-trailing-dot-dot"),
    pytest.param("/./account", id="dot"),
    pytest.param("/projects/51/./timeEntries", id="inner-dot"),
]


@pytest.mark.parametrize("path", ODD_PATHS)
def test_odd_paths_are_404_json_never_a_redirect(api: Api, path: str) -> None:
    r = api.get(path)
    assert_error(r, 404)
    assert "location" not in r.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", PROJECT + "/", id="create-trailing-slash"),
        pytest.param("PUT", "/timeEntries/71/", id="update-trailing-slash"),
        pytest.param("DELETE", "/timeEntries/71/", id="delete-trailing-slash"),
        pytest.param("PUT", "/timeEntries/72/../71", id="update-dot-dot"),
    ],
)
def test_writes_to_odd_paths_are_404(api: Api, method: str, path: str) -> None:
    before = api.dump()
    r = api.request(method, path, {"time-entry": FULL})
    assert_error(r, 404)
    assert "location" not in r.headers
    assert_unchanged(api, before)


# --- query parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "param"),
    [
        pytest.param("GET", "/account?x=1", "x", id="account"),
        pytest.param("GET", "/account?x", "x", id="account-no-value"),
        pytest.param("GET", "/timeEntries/71?fields=all", "fields", id="entry"),
        pytest.param("GET", PROJECT + "?limit=10", "limit", id="project-listing"),
        pytest.param("GET", PROJECT + "/2?per_page=5", "per_page", id="project-page"),
        pytest.param("GET", PROJECT + "?PAGE=2", "PAGE", id="page-capitalised"),
        pytest.param("GET", "/contacts/41/timeEntries?sort=asc", "sort", id="contact-listing"),
        pytest.param("GET", "/tasks/61/timeEntries?page=2&order=asc", "order", id="task-listing"),
        pytest.param("GET", "/report/timeEntries?foo=1", "foo", id="report"),
        pytest.param("GET", "/report/timeEntries?projectId=51", "projectId", id="report-camel"),
        pytest.param("POST", PROJECT + "?dry_run=1", "dry_run", id="create"),
        pytest.param("POST", "/v1" + PROJECT + "?x=1", "x", id="v1-create"),
        pytest.param("PUT", "/timeEntries/71?x=1", "x", id="update"),
        pytest.param("DELETE", "/timeEntries/71?x=1", "x", id="delete"),
    ],
)
def test_unknown_query_parameter_is_400_naming_it(
    api: Api, method: str, path: str, param: str
) -> None:
    before = api.dump()
    body = {"time-entry": FULL} if method in ("POST", "PUT") else None
    r = api.request(method, path, body)
    assert_error(r, 400)
    assert fields_named(r) == {param}
    assert_unchanged(api, before)


@pytest.mark.parametrize(
    ("path", "param"),
    [
        pytest.param(PROJECT + "?page=1&page=2", "page", id="project-page"),
        pytest.param("/contacts/41/timeEntries?page=1&page=1", "page", id="contact-same-page"),
        pytest.param("/account?x=1&x=2", "x", id="unknown-and-repeated"),
        pytest.param(
            "/report/timeEntries?include_contacts=1&include_contacts=1",
            "include_contacts",
            id="report-flag",
        ),
        pytest.param("/report/timeEntries?from=20120701&from=20120702", "from", id="report-from"),
    ],
)
def test_repeated_query_parameter_is_400_naming_it(api: Api, path: str, param: str) -> None:
    r = api.get(path)
    assert_error(r, 400)
    assert fields_named(r) == {param}
