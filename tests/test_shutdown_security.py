"""Shutdown under load, and the security promises of the fake.

- SIGTERM while requests are in flight: they finish, the process exits 0 within 5 s.
- ``--threads``: delayed answers are made in that many threads at once; any other
  request (and the control API) passes a delayed one whatever the count.
- A stalled upload does not stop SIGTERM.
- ``serve`` binds 127.0.0.1 unless told otherwise; another address without
  ``--token`` or ``--control-token`` prints a warning that names the risk.
- Tokens (API and control) are compared in constant time, with every known token.
- A 401 reads the same, byte for byte, whether the token is missing or unknown.
- An unexpected failure is a JSON 500 without a traceback or the exception's text.
- No request makes the fake read a file: state comes from JSON bodies, never paths.
"""

from __future__ import annotations

import base64
import hmac
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apollo_fake import fixtures, service
from apollo_fake.errors import InternalError
from apollo_fake.fake import Fake, Settings
from apollo_fake.server import LiveServer

from conftest import SMALL_ARGS, TODAY, small_doc

ROOT = Path(__file__).resolve().parent.parent


# --- SIGTERM under load ------------------------------------------------------------------


def test_sigterm_under_load_lets_in_flight_requests_finish_and_exits_0(serve: Any) -> None:
    server = serve("--quiet", *SMALL_ARGS)
    # Requests to /account take a second: they are certainly in flight at the signal.
    fault = {"method": "GET", "path": "/account", "times": None, "delay_ms": 1000}
    assert server.request("POST", "/_fake/faults", fault)[0] == 201
    slow: list[tuple[int, Any]] = []
    fast: list[tuple[float, Any]] = []  # (when the request was sent, status or exception)
    stop = threading.Event()

    def slow_client() -> None:
        try:
            status, _, body = server.request("GET", "/account")
            slow.append((status, body))
        except Exception as exc:
            slow.append((0, repr(exc)))

    def fast_client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        i = 0
        while not stop.is_set():
            sent = time.monotonic()
            try:
                if (i + n) % 3 == 0:
                    body = json.dumps({"time-entry": {"seconds": "60", "notes": f"c{n}-{i}"}})
                    conn.request("POST", "/projects/51/timeEntries", body)
                else:
                    conn.request("GET", "/projects/51/timeEntries" if i % 2 else "/timeEntries/71")
                resp = conn.getresponse()
                raw = resp.read()
                json.loads(raw)
                fast.append((sent, resp.status))
            except (OSError, http.client.HTTPException) as exc:
                fast.append((sent, exc))
                break
            i += 1
        conn.close()

    threads = [threading.Thread(target=slow_client) for _ in range(2)]
    threads += [threading.Thread(target=fast_client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.4)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        # A hang guard: a stop waits a bounded time (STOP_S) for the answers in flight.
        code = server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        code = None
    stop.set()
    for t in threads:
        t.join(10)

    assert code == 0, "still running 10 s after SIGTERM" if code is None else code
    # The requests in flight at the signal were answered in full.
    assert [s for s, _ in slow] == [200, 200], slow
    assert all(body["account"]["name"] == "Acme Ltd" for _, body in slow)
    answered = [status for _, status in fast if isinstance(status, int)]
    assert answered and all(status in (200, 201) for status in answered), fast
    # A request may fail only if it was sent after the signal (the server stopped
    # taking connections); none sent before it was dropped.
    dropped = [(round(sent - signalled, 3), exc) for sent, exc in fast if not isinstance(exc, int)]
    assert all(after > -0.05 for after, _ in dropped), dropped
    assert "Traceback" not in server.drain(server.stderr)


def test_sigterm_cuts_a_delay_longer_than_the_stop_short_and_exits_0(serve: Any) -> None:
    # Logged (no --quiet): the request log wraps the delayed answer, which a stop must
    # still reach to give it up. Before, the pool's thread slept out the delay, and
    # the interpreter's exit waited for it.
    server = serve(*SMALL_ARGS)
    fault = {"method": "GET", "path": "/account", "delay_ms": 60000}
    assert server.request("POST", "/_fake/faults", fault)[0] == 201
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as held:
        held.sendall(b"GET /account HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for _ in range(1000):  # until the rule is used: the request is held
            if server.request("GET", "/_fake/faults")[2]["faults"][0]["remaining"] == 0:
                break
            time.sleep(0.01)
        assert server.stop() == 0  # within Served.stop's hang guard, far below the delay
        assert held.recv(1) == b""  # given up: closed without an answer


@pytest.mark.parametrize("threads", [None, "1"], ids=["default", "threads-1"])
def test_a_stalled_upload_neither_stops_others_nor_the_stop_signal(
    serve: Any, threads: str | None, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    args = ["--quiet", *SMALL_ARGS, "--report", str(report)]
    server = serve(*args, *(["--threads", threads] if threads else []))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stalled:
        # A head that promises 100 bytes, and 10 of them: the body read waits.
        stalled.sendall(
            b"POST /projects/51/timeEntries HTTP/1.1\r\nHost: a\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"time-en'
        )
        if threads is None:  # with the default pool, others are answered meanwhile
            assert server.request("GET", "/timeEntries/71")[0] == 200
        assert server.stop() == 0  # within Served.stop's hang guard, stalled client and all
    assert json.loads(report.read_text())["calls"]


@pytest.mark.parametrize(
    ("threads", "overlaps"), [(None, True), ("1", False)], ids=["default", "threads-1"]
)
def test_threads_decide_whether_delayed_answers_overlap(
    serve: Any, threads: str | None, overlaps: bool
) -> None:
    # A delayed answer is made in one of --threads threads; any other request is
    # answered at once whatever the count.
    server = serve("--quiet", *SMALL_ARGS, *(["--threads", threads] if threads else []))
    # Long enough that the calls below certainly fit in it, on a busy machine too.
    long = {"method": "GET", "path": "/account", "delay_ms": 3000}
    short = {"method": "GET", "path": "/timeEntries/72", "delay_ms": 50}
    for fault in (long, short):
        assert server.request("POST", "/_fake/faults", fault)[0] == 201
    slow = threading.Thread(target=server.request, args=("GET", "/account"))
    slow.start()
    deadline = time.monotonic() + 10  # a hang guard
    while server.request("GET", "/_fake/faults")[2]["faults"][0]["remaining"] != 0:
        assert time.monotonic() < deadline, "the delayed request never arrived"
        time.sleep(0.01)
    # Not delayed: answered at once, with one thread too.
    status, _, body = server.request("GET", "/timeEntries/71")
    assert status == 200 and body["time-entry"]["id"] == "71"
    assert server.request("GET", "/timeEntries/72")[0] == 200  # delayed, briefly
    slow.join(10)
    # The journal lists requests as they are answered.
    journal = server.request("GET", "/_fake/requests")[2]["requests"]
    order = [r["path"] for r in journal if r["path"].startswith(("/account", "/timeEntries/"))]
    if overlaps:
        assert order == ["/timeEntries/71", "/timeEntries/72", "/account"], "one delay held another"
    else:
        assert order == ["/timeEntries/71", "/account", "/timeEntries/72"], "two threads, not one"


# --- binding -----------------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """Return the local addresses with a listening TCP socket on ``port`` (from /proc)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port and len(address) == width:
                if width == 8:
                    found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
                else:
                    found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_serve_binds_127_0_0_1_by_default_and_warns_of_nothing(serve: Any) -> None:
    server = serve("--quiet", *SMALL_ARGS)
    assert server.host == "127.0.0.1"
    assert listening_addresses(server.port) == {"127.0.0.1"}
    assert server.stop() == 0
    assert "warning" not in server.drain(server.stderr).lower()


RISK = "anyone who can reach this address can read and change the data"


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        pytest.param((), ["--token", "--control-token"], id="neither"),
        pytest.param(("--token", "secret:11"), ["--control-token"], id="no-control-token"),
        pytest.param(("--control-token", "c"), ["--token"], id="no-token"),
    ],
)
def test_binding_another_address_without_tokens_warns_naming_the_risk(
    serve: Any, args: tuple[str, ...], missing: list[str]
) -> None:
    server = serve("--quiet", "--host", "0.0.0.0", *args, *SMALL_ARGS)
    if Path("/proc/net/tcp").exists():
        assert listening_addresses(server.port) == {"0.0.0.0"}
    assert server.stop() == 0
    err = server.drain(server.stderr)
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    assert RISK in warnings[0]
    named = re.search(r"listening on (\S+) without (.+?): ", warnings[0])
    assert named, warnings[0]
    assert named.group(1) == "0.0.0.0"
    assert named.group(2).split(" and ") == missing


def test_binding_another_address_with_both_tokens_does_not_warn(serve: Any) -> None:
    server = serve(
        "--quiet", "--host", "0.0.0.0", "--token", "secret:11", "--control-token", "c", *SMALL_ARGS
    )
    assert server.stop() == 0
    assert "warning" not in server.drain(server.stderr).lower()


# --- tokens: constant time, and a 401 that tells nothing --------------------------------


def basic(token: str, password: str = "X") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:{password}".encode()).decode()}


TOKENS = {"secret-one": 11, "secret-two": 12}
GUARDED = Settings(tokens=TOKENS, control_token="control-secret")


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Record every call of hmac.compare_digest (and still compare)."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((bytes(a), bytes(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


@pytest.mark.parametrize(
    ("headers", "status", "given"),
    [
        pytest.param(basic("secret-two"), 200, b"secret-two", id="known"),
        pytest.param(basic("secret-tw"), 401, b"secret-tw", id="prefix"),
        pytest.param(basic("nobody"), 401, b"nobody", id="unknown"),
        pytest.param({}, 401, b"", id="missing"),
    ],
)
def test_api_tokens_are_compared_in_constant_time_with_every_token(
    compared: list[tuple[bytes, bytes]], headers: dict[str, str], status: int, given: bytes
) -> None:
    fake = Fake(small_doc(), today=TODAY, settings=GUARDED)
    assert fake.client.get("/account", headers=headers).status_code == status
    # Every known token is compared, even after a match, so timing tells nothing.
    assert sorted(compared) == sorted((t.encode(), given) for t in TOKENS)


@pytest.mark.parametrize(
    ("given", "status"),
    [
        pytest.param("control-secret", 200, id="right"),
        pytest.param("control-secreT", 401, id="wrong"),
        pytest.param("", 401, id="empty"),
    ],
)
def test_the_control_token_is_compared_in_constant_time(
    compared: list[tuple[bytes, bytes]], given: str, status: int
) -> None:
    fake = Fake(small_doc(), today=TODAY, settings=GUARDED)
    r = fake.client.get("/_fake/health", headers={"X-Fake-Control-Token": given} if given else {})
    assert r.status_code == status
    assert compared == [(b"control-secret", given.encode())]


Raw = tuple[int, tuple[tuple[str, str], ...], bytes]


def raw_response(port: int, method: str, path: str, headers: dict[str, str]) -> Raw:
    """Return a response as sent: status, headers (all but Date, in order) and body bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        kept = tuple((k.lower(), v) for k, v in resp.getheaders() if k.lower() != "date")
        return resp.status, kept, body
    finally:
        conn.close()


UNAUTHORIZED = [
    pytest.param({}, id="missing"),
    pytest.param(basic("nobody"), id="unknown"),
    pytest.param(basic("secret-on"), id="prefix-of-a-token"),
    pytest.param(basic("SECRET-ONE"), id="wrong-case"),
    pytest.param(basic("", "secret-one"), id="token-as-password"),
    pytest.param({"Authorization": "Bearer secret-one"}, id="bearer"),
    pytest.param({"Authorization": "Basic !!!not-base64"}, id="broken-basic"),
]


@pytest.fixture(scope="module")
def guarded_port() -> Iterator[int]:
    with LiveServer(Fake(small_doc(), today=TODAY, settings=GUARDED).app) as server:
        yield server.port


@pytest.mark.parametrize("headers", UNAUTHORIZED)
@pytest.mark.parametrize(
    "path", ["/account", "/timeEntries/71", "/timeEntries/999", "/nothing", "/_fake/health"]
)
def test_a_401_is_byte_identical_whatever_the_token(
    guarded_port: int, headers: dict[str, str], path: str
) -> None:
    missing = raw_response(guarded_port, "GET", path, {})
    got = raw_response(guarded_port, "GET", path, headers)
    assert got[0] == 401
    assert got == missing


def test_a_401_does_not_tell_whether_an_entry_or_route_exists(guarded_port: int) -> None:
    paths = ["/timeEntries/71", "/timeEntries/999", "/projects/51/timeEntries", "/tasks/9/x"]
    answers = {raw_response(guarded_port, "GET", p, basic("nobody")) for p in paths}
    assert len(answers) == 1
    status, headers, body = answers.pop()
    assert status == 401
    assert ("www-authenticate", 'Basic realm="Apollo API"') in headers
    assert json.loads(body)["error"]["status"] == 401


def test_the_journal_never_holds_a_token() -> None:
    fake = Fake(small_doc(), today=TODAY, settings=GUARDED)
    fake.client.get("/account", headers=basic("secret-one"))
    fake.client.get("/account", headers=basic("not-a-token-abc"))
    fake.client.get("/_fake/requests", headers={"X-Fake-Control-Token": "control-secret"})
    recorded = json.dumps(list(fake.journal))
    assert [r["status"] for r in fake.journal] == [200, 401]
    assert fake.journal[0]["user"] == "11"
    for secret in ("secret-one", "not-a-token-abc", "control-secret"):
        assert secret not in recorded


# --- an unexpected failure: JSON, no traceback --------------------------------------------

BUG = "The fake failed unexpectedly; this is a bug in apollo-fake."


def test_the_500_message_is_defined_once() -> None:
    assert InternalError().message == BUG
    assert InternalError().status == 500


def assert_bare_500(status: int, raw: bytes) -> None:
    assert status == 500
    assert json.loads(raw) == {"error": {"status": 500, "message": BUG, "details": []}}
    text = raw.decode()
    for leak in ("Traceback", 'File "', "RuntimeError", "/etc/passwd", "boom"):
        assert leak not in text


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> Fake:
    """Return a fake whose account call and state dump raise, with a leaky message."""
    fake = Fake(small_doc(), today=TODAY)

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom: could not read /etc/passwd")

    monkeypatch.setattr(service, "account", boom)
    monkeypatch.setattr(service, "update", boom)
    monkeypatch.setattr(fake, "state", boom)
    return fake


CALLS_THAT_FAIL = [
    pytest.param("GET", "/account", None, id="api-read"),
    pytest.param("GET", "/v1/account", None, id="api-v1"),
    pytest.param("PUT", "/timeEntries/71", b'{"time-entry": {"notes": "x"}}', id="api-write"),
    pytest.param("GET", "/_fake/state", None, id="control"),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS_THAT_FAIL)
def test_a_failure_is_a_json_500_without_traceback_in_process(
    failing: Fake, method: str, path: str, body: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    r = failing.client.open(path, method=method, data=body)
    assert r.mimetype == "application/json"
    assert_bare_500(r.status_code, r.get_data())
    # The traceback goes to the log, for the person running the fake, not to the client.
    logged = [rec for rec in caplog.records if rec.name == "apollo_fake"]
    assert len(logged) == 1 and logged[0].exc_info is not None


@pytest.mark.parametrize(("method", "path", "body"), CALLS_THAT_FAIL)
def test_a_failure_is_a_json_500_without_traceback_over_a_socket(
    failing: Fake, method: str, path: str, body: bytes | None
) -> None:
    with LiveServer(failing.app) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request(method, path, body)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
    assert resp.getheader("Content-Type") == "application/json"
    assert_bare_500(resp.status, raw)


# --- no request reads a file -----------------------------------------------------------

_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _opened is not None and args and isinstance(args[0], str | bytes):
        _opened.append(args[0] if isinstance(args[0], str) else args[0].decode("utf-8", "replace"))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one only records when asked


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """Write a valid fixture document holding a marker that must never come out."""
    doc = small_doc()
    doc["account"]["name"] = "MARKER-7f3c-never-read"
    path = tmp_path / "state.json"
    path.write_text(json.dumps(doc))
    return path


FILE_CASES = [
    # PATH stands for the file's path in each body.
    pytest.param("PUT", "/_fake/state", "PATH", 400, id="state-as-a-path-string"),
    pytest.param("PUT", "/_fake/state", {"$ref": "PATH"}, 400, id="state-ref"),
    pytest.param("PUT", "/_fake/state", {"$ref": "file://PATH"}, 400, id="state-ref-file-url"),
    pytest.param("PUT", "/_fake/state", {"fixtures": "PATH"}, 400, id="state-fixtures-key"),
    pytest.param("PUT", "/_fake/state", {"path": "PATH"}, 400, id="state-path-key"),
    pytest.param("PUT", "/_fake/state", {"users": {"$ref": "PATH"}}, 400, id="collection-ref"),
    pytest.param("PUT", "/_fake/state", {"users": [{"$ref": "PATH"}]}, 400, id="record-ref"),
    pytest.param("POST", "/_fake/reset", {"to": "PATH"}, 400, id="reset-to-a-path"),
    pytest.param("POST", "/_fake/reset", {"to": "file://PATH"}, 400, id="reset-to-a-url"),
    pytest.param("GET", "/_fake/changes?since=PATH", None, 400, id="changes-since-a-path"),
    pytest.param(
        "POST",
        "/projects/51/timeEntries",
        {"time-entry": {"seconds": "60", "notes": {"$ref": "PATH"}}},
        422,
        id="notes-ref",
    ),
]


@pytest.mark.parametrize(("method", "target", "body", "status"), FILE_CASES)
def test_no_request_reads_a_file(
    secret_file: Path, method: str, target: str, body: Any, status: int
) -> None:
    global _opened
    path = target.replace("PATH", str(secret_file))
    payload = json.dumps(body).replace("PATH", str(secret_file)).encode()
    fake = Fake(small_doc(), today=TODAY)
    before = fixtures.dumps(fake.state())
    with LiveServer(fake.app) as server:
        fake.client.open(path, method=method, data=payload)  # warm: lazy loads happen now
        _opened = []
        try:
            r = fake.client.open(path, method=method, data=payload)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request(method, path, payload)
            resp = conn.getresponse()
            raw = resp.read()
            conn.close()
            opened = list(_opened)
        finally:
            _opened = None
    assert (r.status_code, resp.status) == (status, status)
    for answer in (r.get_data(), raw):
        assert b"MARKER-7f3c" not in answer
        assert json.loads(answer)["error"]["status"] == status
    assert fixtures.dumps(fake.state()) == before
    assert opened == [], "the fake opened files while answering"
