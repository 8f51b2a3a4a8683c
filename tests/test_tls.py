"""HTTPS: ``serve --tls``, ``run --tls`` and ``tls=`` in Python, with a CA made at start.

``serve --tls --tls-ca FILE`` answers over HTTPS with a certificate for 127.0.0.1,
localhost and ::1 that verifies against FILE (and against nothing else); plain HTTP
to its port gets the contract's JSON 400 saying to use https, a broken handshake
or a silent client holds up no one. ``run --tls`` gives the command an https://
base URL and the variables that make requests, httpx, curl and node's fetch
verify the fake with no option of their own; the curl client of
tests/clients (control API, fault rules, every call) passes over HTTPS as over
HTTP, with the README's command. The wire suite (test_ways_in.py) compares the
HTTPS server's answers with the others'.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509

from apollo_fake import schemas
from apollo_fake.fake import Fake
from apollo_fake.server import PLAIN_ON_TLS
from apollo_fake.tls import Authority, bundle, system_bundle

from conftest import (
    MODULE,
    ROOT,
    SMALL_ARGS,
    TODAY,
    Served,
    check_body,
    read_to_close,
    small_doc,
)

DEADLINE = 60.0  # seconds for one `apollo-fake run`: never hang the suite
HANG_GUARD = 10.0  # seconds: a bound on every wait, never an assertion
NODE = shutil.which("node")
CURL = shutil.which("curl")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="apollo-fake run needs a POSIX system"
)


def apollo_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``apollo-fake run`` to its end; return the completed process (text mode)."""
    return subprocess.run(
        [*MODULE, "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=env,
    )


def served_tls(serve: Callable[..., Served], tmp_path: Path, *args: str) -> tuple[Served, Path]:
    """Start ``serve --tls`` on small.json; return it and its CA file."""
    ca = tmp_path / "ca.pem"
    server = serve("--quiet", "--tls", "--tls-ca", str(ca), *SMALL_ARGS, *args)
    return server, ca


def get(url: str, ca: Path, method: str = "GET", **kwargs: Any) -> requests.Response:
    """Send one request with requests, verifying the fake against ``ca``."""
    return requests.request(method, url, verify=str(ca), timeout=HANG_GUARD, **kwargs)


# --- serve --tls ---------------------------------------------------------------------


def test_serve_tls_answers_over_https_verified_against_the_ca_file(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    server, ca = served_tls(serve, tmp_path)
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", server.url)
    resp = get(server.url + "/v1/timeEntries/71", ca)
    assert resp.status_code == 200
    body = check_body("GET", "/timeEntries/71", 200, dict(resp.headers.lower_items()), resp.content)
    assert body["time-entry"]["id"] == "71"
    # By name as well as by address: localhost is in the certificate.
    assert get(f"https://localhost:{server.port}/account", ca).status_code == 200
    # The CA file is one CA certificate, written whole.
    pem = ca.read_bytes()
    assert pem.count(b"-----BEGIN CERTIFICATE-----") == 1
    constraints = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(
        x509.BasicConstraints
    )
    assert constraints.value.ca
    assert list(tmp_path.glob("*.partial")) == []


def test_serve_tls_without_tls_ca_says_where_the_ca_would_be(
    serve: Callable[..., Served],
) -> None:
    server = serve("--tls")
    assert server.url.startswith("https://")
    assert server.stop() == 0
    assert "--tls-ca FILE writes it for clients to trust" in server.drain(server.stderr)


def test_a_client_that_does_not_trust_the_ca_refuses_the_fake(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    server, _ = served_tls(serve, tmp_path)
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(server.url + "/account", timeout=HANG_GUARD)  # the system's CAs only
    # A CA made by another start is another CA: each run has its own.
    other = Authority()
    other_ca = tmp_path / "other.pem"
    other.write_ca(other_ca)
    with pytest.raises(requests.exceptions.SSLError):
        get(server.url + "/account", other_ca)


def test_the_certificate_names_every_loopback_address(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    server, ca = served_tls(serve, tmp_path, "--host", "::1")
    assert server.url == f"https://[::1]:{server.port}"
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("::1", server.port), timeout=HANG_GUARD) as raw:
        with context.wrap_socket(raw, server_hostname="::1") as sock:  # verified for ::1
            names = set(sock.getpeercert()["subjectAltName"])  # type: ignore[index]
    assert names == {
        ("DNS", "localhost"),
        ("IP Address", "127.0.0.1"),
        ("IP Address", "0:0:0:0:0:0:0:1"),
    }
    assert get(f"https://[::1]:{server.port}/account", ca).status_code == 200


def test_a_host_given_to_bind_is_named_in_the_certificate_too() -> None:
    cert = x509.load_pem_x509_certificate(Authority(["fake.test", "0.0.0.0"]).leaf_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "fake.test"}
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    # A host no certificate can name is a usage error, before anything listens.
    out = subprocess.run(
        [*MODULE, "serve", "--port", "0", "--tls", "--host", "my_host"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert (out.returncode, out.stdout) == (2, ""), out.stderr
    assert "'my_host' cannot be named in a certificate" in out.stderr


@pytest.mark.parametrize(
    ("method", "body"),
    [
        pytest.param("GET", b"", id="get"),
        # The request is still arriving when the answer goes out: it must still be read.
        pytest.param("POST", b'{"time-entry": {"seconds": "60"}}' + b" " * 500_000, id="post"),
    ],
)
def test_plain_http_to_the_tls_port_is_a_json_400_saying_to_use_https(
    serve: Callable[..., Served], tmp_path: Path, method: str, body: bytes
) -> None:
    server, ca = served_tls(serve, tmp_path)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HANG_GUARD)
    try:
        try:
            conn.request(method, "/projects/51/timeEntries", body=body or None)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered before the body was all sent: the answer is still there
        resp = conn.getresponse()
        raw = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    assert resp.status == 400
    assert headers["connection"] == "close"
    error = check_body(method, "/", 400, headers, raw)["error"]
    assert error["message"] == PLAIN_ON_TLS
    assert "https://" in error["message"]
    # Nothing reached the fake, and the server goes on over HTTPS.
    journal = get(server.url + "/_fake/requests", ca).json()["requests"]
    assert journal == []
    assert get(server.url + "/account", ca).status_code == 200


@pytest.mark.skipif(CURL is None, reason="needs curl")
def test_curl_with_http_to_the_tls_port_reads_the_400(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    server, _ = served_tls(serve, tmp_path)
    out = subprocess.run(
        [str(CURL), "-sS", f"http://127.0.0.1:{server.port}/account"],
        capture_output=True,
        timeout=HANG_GUARD,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["error"]["message"] == PLAIN_ON_TLS


def test_a_broken_handshake_closes_only_its_connection(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    server, ca = served_tls(serve, tmp_path)
    # A TLS record header followed by nonsense: the server ends the connection.
    with socket.create_connection(("127.0.0.1", server.port), timeout=HANG_GUARD) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")
        received = read_to_close(sock)
    assert not received.startswith(b"HTTP/")  # at most a TLS alert, never an HTTP answer
    # A client that gives up on the certificate midway: the server goes on.
    untrusting = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", server.port), timeout=HANG_GUARD) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            untrusting.wrap_socket(raw, server_hostname="127.0.0.1")
    for _ in range(3):
        assert get(server.url + "/account", ca).status_code == 200
    assert server.proc.poll() is None


def test_a_silent_client_holds_up_no_other_connection(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    server, ca = served_tls(serve, tmp_path)
    silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
    try:
        # Each new connection is answered while the silent ones still wait for their
        # handshake: a server shaking hands where it accepts would answer only once
        # it gave up on them (and closed them).
        for _ in range(3):
            assert get(server.url + "/account", ca).status_code == 200
        for sock in silent:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)  # still open, nothing sent: not given up on yet
    finally:
        for sock in silent:
            sock.close()


def test_requests_sent_together_over_tls_are_all_answered(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    server, ca = served_tls(serve, tmp_path)
    # The first request exactly fills the server's read buffer: the second is left
    # decrypted in the TLS layer, where a wait on the socket alone would not see it.
    second = b"GET /timeEntries/71 HTTP/1.1\r\nHost: a\r\n\r\n"
    head = b"GET /account HTTP/1.1\r\nHost: a\r\nX-Pad: "
    first = head + b"x" * (io.DEFAULT_BUFFER_SIZE - len(head) - 4) + b"\r\n\r\n"
    assert len(first) == io.DEFAULT_BUFFER_SIZE
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", server.port), timeout=HANG_GUARD) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(first + second)  # one TLS record
            # One reader for both answers: they may come in one record too, and a reader
            # per answer (http.client's) would lose the second in the first one's buffer.
            with sock.makefile("rb") as reader:
                statuses = [read_answer(reader) for _ in range(2)]
    assert statuses == [200, 200]


def read_answer(reader: Any) -> int:
    """Read one answer (status line, headers, Content-Length body); return its status."""
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    assert len(reader.read(length)) == length
    return status


def test_a_connection_is_kept_alive_over_tls(serve: Callable[..., Served], tmp_path: Path) -> None:
    server, ca = served_tls(serve, tmp_path)
    context = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection(
        "127.0.0.1", server.port, timeout=HANG_GUARD, context=context
    )
    try:
        conn.connect()
        first = conn.sock
        for path in ("/account", "/timeEntries/71", "/_fake/health"):
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
            # An answer that closed the connection would have made http.client drop it.
            assert conn.sock is first
    finally:
        conn.close()


def test_faults_and_the_report_over_https(serve: Callable[..., Served], tmp_path: Path) -> None:
    server, ca = served_tls(serve, tmp_path)
    rule = {"method": "GET", "path": "/account", "drop": True, "times": 1}
    assert get(server.url + "/_fake/faults", ca, "POST", json=rule).status_code == 201
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", server.port), timeout=HANG_GUARD) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(b"GET /account HTTP/1.1\r\nHost: a\r\n\r\n")
            received = read_to_close(sock)
    assert received == b""  # dropped: not a byte of an answer
    created = get(
        server.url + "/projects/51/timeEntries",
        ca,
        "POST",
        json={"time-entry": {"seconds": 60, "time-category-id": 21}},
    )
    assert created.status_code == 422
    report = get(server.url + "/_fake/report", ca).json()
    schemas.full_validator("contract-report.schema.json").validate(report)
    assert report["requests"] == 2
    assert report["violations"][0]["field"] == "time-entry.time-category-id"
    journal = get(server.url + "/_fake/requests", ca).json()["requests"]
    assert [r["status"] for r in journal] == [0, 422]  # the drop, journaled as one


def test_tls_ca_needs_tls_and_a_writable_file(tmp_path: Path) -> None:
    for args, says in (
        (["--tls-ca", str(tmp_path / "ca.pem")], "--tls-ca needs --tls"),
        (["--tls", "--tls-ca", str(tmp_path / "missing" / "ca.pem")], "does not exist"),
        (["--tls", "--tls-ca", str(tmp_path)], "is a directory"),
        (["--tls", "--tls-ca", str(tmp_path / "x"), "--report", str(tmp_path / "x")], "also"),
    ):
        out = subprocess.run(
            [*MODULE, "serve", "--port", "0", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
        )
        assert (out.returncode, out.stdout) == (2, ""), args
        assert out.stderr.startswith("apollo-fake: error: ") and says in out.stderr, out.stderr
        marker = tmp_path / "ran"
        ran = apollo_run(*args, "--", "touch", str(marker))
        assert ran.returncode == 2, ran.stderr
        assert says in ran.stderr
        assert not marker.exists()  # the command never ran


# --- run --tls ----------------------------------------------------------------------

# Each client fetches $APOLLO_BASE_URL_V1/account with nothing but the environment
# run gives it: no CA option, no verify flag.
CLIENTS = {
    "requests": [
        sys.executable,
        "-c",
        "import os, requests; "
        "print(requests.get(os.environ['APOLLO_BASE_URL_V1'] + '/account').status_code)",
    ],
    "httpx": [
        sys.executable,
        "-c",
        "import os, httpx; "
        "print(httpx.get(os.environ['APOLLO_BASE_URL_V1'] + '/account').status_code)",
    ],
    "curl": [
        "sh",
        "-c",
        'curl -sS -o /dev/null -w "%{http_code}\\n" "$APOLLO_BASE_URL_V1/account"',
    ],
    "node": [
        "node",
        "-e",
        "fetch(process.env.APOLLO_BASE_URL_V1 + '/account')"
        ".then(r => console.log(r.status), e => { console.error(e.cause || e); process.exit(3) })",
    ],
}


@pytest.mark.parametrize("client", list(CLIENTS))
def test_run_tls_clients_verify_the_fake_with_only_the_exported_variables(client: str) -> None:
    if client == "node" and NODE is None:
        pytest.skip("needs node")
    if client == "curl" and CURL is None:
        pytest.skip("needs curl")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
    }
    result = apollo_run("--tls", "--quiet", *SMALL_ARGS, "--", *CLIENTS[client], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("200\napollo-fake contract report\n"), result.stdout
    assert "1 request to the Apollo API; none broke the contract." in result.stdout


def test_run_tls_exports_an_https_url_and_the_ca_in_four_variables(tmp_path: Path) -> None:
    script = (
        'echo "url=$APOLLO_BASE_URL v1=$APOLLO_BASE_URL_V1"; '
        'for v in SSL_CERT_FILE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS; do '
        '  eval "echo $v=\\$$v"; done; '
        f'cp "$SSL_CERT_FILE" {tmp_path}/bundle.pem; cp "$NODE_EXTRA_CA_CERTS" {tmp_path}/ca.pem; '
        'curl -sSf "$APOLLO_BASE_URL/account" >/dev/null'
    )
    result = apollo_run("--tls", "--quiet", "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    seen = dict(re.findall(r"^(\w+)=(\S*)$", result.stdout, re.M))
    url = re.search(r"^url=(https://127\.0\.0\.1:\d+) v1=(\S+)$", result.stdout, re.M)
    assert url and url.group(2) == url.group(1) + "/v1", result.stdout
    both = seen["SSL_CERT_FILE"]
    assert seen["REQUESTS_CA_BUNDLE"] == seen["CURL_CA_BUNDLE"] == both
    assert Path(both).name == "ca-bundle.pem"
    assert Path(seen["NODE_EXTRA_CA_CERTS"]).name == "ca.pem"
    # Files of the run's own temporary directory: gone with it.
    assert not Path(both).exists() and not Path(seen["NODE_EXTRA_CA_CERTS"]).exists()
    # The system's CAs first, so that a command reaching a real server still verifies
    # it; then the fake's CA, which NODE_EXTRA_CA_CERTS adds to node's own.
    ca = (tmp_path / "ca.pem").read_bytes()
    assert ca.count(b"-----BEGIN CERTIFICATE-----") == 1
    system = system_bundle()
    assert system is not None, "this machine has a CA bundle"
    assert (tmp_path / "bundle.pem").read_bytes() == bundle(ca)
    assert bundle(ca).startswith(system.read_bytes().rstrip(b"\n")) and bundle(ca).endswith(ca)


def test_run_tls_ca_writes_the_ca_where_asked(tmp_path: Path) -> None:
    ca = tmp_path / "fake-ca.pem"
    script = 'echo "node=$NODE_EXTRA_CA_CERTS"; curl -sSf "$APOLLO_BASE_URL/account" >/dev/null'
    result = apollo_run(
        "--tls", "--tls-ca", str(ca), "--quiet", *SMALL_ARGS, "--", "sh", "-c", script
    )
    assert result.returncode == 0, result.stderr
    assert f"node={ca}\n" in result.stdout
    assert ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")  # kept after the run


# --- Python -------------------------------------------------------------------------


def test_fake_serve_with_tls_in_python(tmp_path: Path) -> None:
    authority = Authority()
    ca = tmp_path / "ca.pem"
    authority.write_ca(ca)
    fake = Fake(small_doc(), today=TODAY)
    with fake.serve(tls=authority) as url:
        assert url.startswith("https://127.0.0.1:")
        assert get(url + "/timeEntries/71", ca).json()["time-entry"]["id"] == "71"
        context = authority.client_context()
        port = int(url.rsplit(":", 1)[1])
        conn = http.client.HTTPSConnection("localhost", port, timeout=HANG_GUARD, context=context)
        conn.request("GET", "/account")
        assert conn.getresponse().status == 200
        conn.close()
    assert [r["path"] for r in fake.requests()] == ["/timeEntries/71", "/account"]


# --- the README ---------------------------------------------------------------------


def readme_blocks() -> list[str]:
    """Return the shell blocks of the README's HTTPS section, as written."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### HTTPS: `serve --tls`, `run --tls`\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


@pytest.mark.skipif(CURL is None, reason="needs curl")
def test_the_readme_https_commands_work_as_written(tmp_path: Path) -> None:
    # The curl client over HTTPS: control API, fault rules, every call and outcome.
    run_block, serve_block = readme_blocks()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # apollo-fake
    env = {**os.environ, "PATH": path}
    ran = subprocess.run(
        ["sh", "-ec", run_block], cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE,
        env=env,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Every call, documented parameter, field and outcome was exercised." in ran.stdout
    served = subprocess.run(
        ["sh", "-ec", serve_block], cwd=tmp_path, capture_output=True, text=True,
        timeout=DEADLINE, env=env,
    )
    assert served.returncode == 0, served.stdout + served.stderr
    assert json.loads(served.stdout)["account"]["id"] == "1"
    assert (tmp_path / "fake-ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
