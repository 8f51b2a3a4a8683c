"""The servers the throughput benchmark measures: install, configure, start and stop them.

Peers are installed outside the package: npm packages into ``bench/.peers/``
(ignored by git), pytest-httpserver into the running virtualenv. A peer that
cannot be installed or started raises :class:`Skip` with a one-line reason.

``python -m bench.peers httpserver --bodies FILE`` is the pytest-httpserver
peer itself: it serves the canned responses of FILE until SIGTERM.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import importlib.metadata
import importlib.util
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent  # the repository: `python -m bench.*` runs here
PEERS_DIR = ROOT / "bench" / ".peers"
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
INSTALL_TIMEOUT = 300.0
WORKLOADS = ("page", "entry", "create", "report")
READY = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")

# Every process started here, so that an interrupted run still stops them all.
_live: set[subprocess.Popen[bytes]] = set()


class Skip(Exception):
    """A peer cannot be measured; the message says why in one line."""


@dataclass(frozen=True)
class Call:
    """One request a workload repeats: method, target (path and query), body."""

    method: str
    target: str
    body: bytes = b""
    content_type: str | None = None

    @property
    def path(self) -> str:
        """Return the target without its query string."""
        return self.target.split("?", 1)[0]

    def describe(self) -> str:
        """Return ``METHOD target`` for the tables."""
        return f"{self.method} {self.target}"


@dataclass(frozen=True)
class Canned:
    """A response apollo-fake gave, replayed byte for byte by the canned servers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Setup:
    """What the peers are built from: the data, apollo-fake's calls and its answers."""

    workdir: Path
    document: dict[str, Any]
    project_id: str
    entry_id: str
    today: str
    calls: dict[str, Call]
    canned: dict[str, Canned]
    openapi: bytes | None


@dataclass
class Running:
    """A started server process and the port it answers on."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        """Stop the server's whole process group."""
        stop_process(self.proc)


@dataclass
class Server:
    """A server to measure: how to start it and what each workload sends it."""

    name: str
    version: str
    start: Callable[[], Running]
    calls: dict[str, Call | None]
    notes: dict[str, str] = field(default_factory=dict)
    # Extra warm-up seconds per workload, for a JIT that compiles the hot path late.
    warmup: float = 0.0
    remark: str = ""
    # Shown for reference, not held to the target: it skips work apollo-fake always does.
    reference: bool = False
    # Started afresh for each workload: what a workload leaves in memory would slow the next.
    fresh_each: bool = False
    # Sent after the warm-up, before the timed run: a journal's reset, so that the run
    # starts warm and empty, as apollo-fake's journal is bounded.
    after_warmup: Call | None = None


# Processes -------------------------------------------------------------------------------


def spawn(
    cmd: Sequence[str], log: Path, *, cwd: Path | None = None, pipe_stdout: bool = False
) -> subprocess.Popen[bytes]:
    """Start a command in a process group of its own, its output going to ``log``."""
    out: IO[bytes] = log.open("ab")
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe_stdout else out,
            stderr=out,
            start_new_session=True,  # one killpg stops the server and its children
        )
    finally:
        out.close()
    _live.add(proc)
    return proc


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after ``grace``."""
    try:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Children (a JVM, node workers) may outlive the leader: kill what is left.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        _live.discard(proc)


def stop_all() -> None:
    """Stop every process this module started and has not stopped yet."""
    for proc in list(_live):
        stop_process(proc, grace=2.0)


atexit.register(stop_all)


def log_tail(log: Path, lines: int = 3) -> str:
    """Return the last non-empty lines of a log, joined for a one-line note."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail)[:300]


def free_port() -> int:
    """Return a loopback port nothing listens on now, for servers that cannot take port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_line(proc: subprocess.Popen[bytes], log: Path, timeout: float = START_TIMEOUT) -> int:
    """Read the server's stdout until its ``listening on`` line; return the port it names."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise Skip(f"exited ({proc.wait()}) before it listened: {log_tail(log)}")
            seen += chunk
            match = READY.search(seen)
            if match:
                _drain(proc.stdout)
                return int(match.group(1))
    raise Skip(f"no 'listening on' line within {timeout:g} s: {log_tail(log)}")


def _drain(stream: IO[bytes]) -> None:
    """Keep reading a pipe in the background, so that a chatty server never blocks on it."""

    def read() -> None:
        with contextlib.suppress(OSError, ValueError):
            while stream.read(65536):
                pass

    threading.Thread(target=read, daemon=True).start()


def wait_for_http(
    proc: subprocess.Popen[bytes], port: int, path: str, log: Path, timeout: float = START_TIMEOUT
) -> None:
    """Poll ``path`` until the server answers anything over HTTP."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Skip(f"exited ({proc.returncode}) before it answered: {log_tail(log)}")
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
        finally:
            conn.close()
    raise Skip(f"did not answer on {HOST}:{port} within {timeout:g} s: {log_tail(log)}")


def start_with_line(
    name: str, cmd: Sequence[str], workdir: Path, cwd: Path | None = None
) -> Running:
    """Start a server that prints ``listening on http://127.0.0.1:PORT``; stop it on failure."""
    log = workdir / f"{name}.log"
    proc = spawn(cmd, log, cwd=cwd or workdir, pipe_stdout=True)
    try:
        return Running(proc, wait_for_line(proc, log), log)
    except BaseException:
        stop_process(proc)
        raise


def start_on_port(
    name: str, cmd: Callable[[int], Sequence[str]], probe: str, workdir: Path
) -> Running:
    """Start a server on a port chosen here and wait until it answers ``probe``."""
    log = workdir / f"{name}.log"
    port = free_port()
    proc = spawn(cmd(port), log, cwd=workdir)
    try:
        wait_for_http(proc, port, probe, log)
    except BaseException:
        stop_process(proc)
        raise
    return Running(proc, port, log)


# Installation ----------------------------------------------------------------------------


def _run_install(cmd: Sequence[str], what: str) -> None:
    """Run an installer bounded in time; a failure becomes a Skip naming the last output."""
    try:
        done = subprocess.run(
            list(cmd),
            capture_output=True,
            timeout=INSTALL_TIMEOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        raise Skip(f"installing {what} took over {INSTALL_TIMEOUT:g} s") from None
    except OSError as exc:
        raise Skip(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        raise Skip(f"installing {what} failed: {lines[-1] if lines else done.returncode}")


def npm_package(name: str, spec: str) -> Path:
    """Return the folder of an npm package in bench/.peers, installing it on first use."""
    folder = PEERS_DIR / "node_modules" / name
    if (folder / "package.json").is_file():
        return folder
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise Skip("Node.js and npm are not installed")
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    print(f"  installing {spec} into {PEERS_DIR} (first run only) ...", flush=True)
    _run_install(
        [
            npm,
            "install",
            "--prefix",
            str(PEERS_DIR),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            spec,
        ],
        spec,
    )
    if not (folder / "package.json").is_file():
        raise Skip(f"npm installed {spec} but {folder} is missing")
    return folder


def npm_version(folder: Path) -> str:
    """Return the version field of an installed npm package."""
    try:
        return str(json.loads((folder / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "?"


def pip_package(module: str, spec: str) -> str:
    """Make ``module`` importable in this interpreter, installing ``spec`` with pip; its version."""
    if importlib.util.find_spec(module) is None:
        print(f"  installing {spec} into {sys.prefix} (first run only) ...", flush=True)
        _run_install(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                spec,
            ],
            spec,
        )
        importlib.invalidate_caches()
        if importlib.util.find_spec(module) is None:
            raise Skip(f"pip installed {spec} but {module} is not importable")
    try:  # the distribution's name: the spec without its version range
        return importlib.metadata.version(re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0])
    except importlib.metadata.PackageNotFoundError:
        return "?"


def node_bin(folder: Path, relative: str) -> list[str]:
    """Return the command running a package's JavaScript entry point with node."""
    node = shutil.which("node")
    if node is None:
        raise Skip("Node.js is not installed")
    script = folder / relative
    if not script.is_file():
        raise Skip(f"{script} is missing; delete {PEERS_DIR} to reinstall")
    return [node, str(script)]


# Peers -----------------------------------------------------------------------------------


def canned_items(setup: Setup) -> list[dict[str, Any]]:
    """Return the canned responses as the JSON list bench.bare and the httpserver peer read."""
    return [
        {
            "method": setup.calls[w].method,
            "path": setup.calls[w].path,
            "status": setup.canned[w].status,
            "headers": setup.canned[w].headers,
            "body": setup.canned[w].body.decode(),
        }
        for w in WORKLOADS
        if w in setup.canned
    ]


def json_server(setup: Setup) -> Server:
    """json-server 0.17: stateful, a db.json holding the same entries, its own routes."""
    folder = npm_package("json-server", "json-server@0.17")
    command = node_bin(folder, "lib/cli/bin.js")
    workdir = setup.workdir / "json-server"
    workdir.mkdir(exist_ok=True)
    entries = []
    for e in setup.document["time-entries"]:
        # Numeric ids, so that json-server numbers creates max+1 as a database would.
        entry = {"id": int(e["id"]), "projectId": e["project-id"]}
        entry.update({k: v for k, v in e.items() if k not in ("id", "project-id")})
        entries.append(entry)
    (workdir / "db.json").write_text(json.dumps({"timeEntries": entries}), encoding="utf-8")
    p, e = setup.project_id, setup.entry_id
    body = {"projectId": p, "seconds": "3600", "notes": "bench", "date": setup.today}
    calls: dict[str, Call | None] = {
        "page": Call("GET", f"/timeEntries?projectId={p}&_page=1&_limit=50&_sort=date&_order=desc"),
        "entry": Call("GET", f"/timeEntries/{e}"),
        "create": Call("POST", "/timeEntries", json.dumps(body).encode(), "application/json"),
        "report": Call("GET", f"/timeEntries?projectId={p}"),
    }

    def start() -> Running:
        return start_on_port(
            "json-server",
            lambda port: [*command, "--host", HOST, "--port", str(port), "--quiet", "db.json"],
            f"/timeEntries/{e}",
            workdir,
        )

    return Server(
        "json-server",
        npm_version(folder),
        start,
        calls,
        notes={w: c.describe() for w, c in calls.items() if c is not None}
        | {"report": f"GET /timeEntries?projectId={p} (no totals)"},
        remark="stateful: every create rewrites db.json",
    )


def with_examples(openapi: bytes, calls: dict[str, Call], canned: dict[str, Canned]) -> bytes:
    """Return the OpenAPI document with apollo-fake's answer as each call's example.

    Prism answers an operation's example when there is one: so it serves the same
    bodies as the other canned servers, not a small body made up from the schema.
    """
    doc = json.loads(openapi)
    for workload, call in calls.items():
        for template, operations in doc["paths"].items():
            if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), call.path):
                answer = canned[workload]
                response = operations[call.method.lower()]["responses"][str(answer.status)]
                response["content"]["application/json"]["example"] = json.loads(answer.body)
                break
        else:
            raise Skip(f"no operation of the OpenAPI document matches {call.describe()}")
    return json.dumps(doc).encode()


def prism(setup: Setup) -> Server:
    """Prism: ``prism mock`` of apollo-fake's OpenAPI document, its answers as examples."""
    if setup.openapi is None:
        raise Skip("apollo-fake did not serve /openapi.json")
    folder = npm_package("@stoplight/prism-cli", "@stoplight/prism-cli")
    command = node_bin(folder, "dist/index.js")
    workdir = setup.workdir / "prism"
    workdir.mkdir(exist_ok=True)
    (workdir / "openapi.json").write_bytes(
        with_examples(setup.openapi, setup.calls, setup.canned)
    )
    calls: dict[str, Call | None] = dict(setup.calls)

    def start() -> Running:
        return start_on_port(
            "prism",
            # Logging off: Prism's per-request log lines would cost it throughput.
            lambda port: [
                *command,
                "mock",
                "-h",
                HOST,
                "-p",
                str(port),
                "-v",
                "silent",
                "openapi.json",
            ],
            "/account",
            workdir,
        )

    return Server(
        "prism",
        npm_version(folder),
        start,
        calls,
        notes={w: "example: apollo-fake's body" for w in calls},
        remark="canned examples (apollo-fake's answers), logging off",
    )


def wiremock(setup: Setup, journal: bool = True) -> Server:
    """WireMock standalone (the jar in the npm package ``wiremock``) with canned stubs.

    By default it keeps its request journal, as WireMock does out of the box (its
    ``verify`` reads it) and as apollo-fake always does. Its journal keeps every
    request with its answer, for the whole run: it is started afresh for each
    workload (or the report's 2.9 MB answers, kept, leave the next workload a
    heap too full to answer), warmed up longer for its JIT, and its journal is
    cleared between the warm-up and the timed run. ``journal=False`` is
    ``--no-request-journal``, a mode apollo-fake has no equivalent of: a reference
    row, not a peer doing the same work. Neither writes a request log (apollo-fake
    runs ``--quiet``). A bounded journal (``--max-request-journal-entries``, like
    apollo-fake's 10,000) is not used: WireMock then drops to a small fraction of
    either figure.
    """
    java = shutil.which("java")
    if java is None:
        raise Skip("Java is not installed")
    folder = npm_package("wiremock", "wiremock")
    jars = sorted((folder / "build").glob("wiremock-standalone-*.jar"))
    if not jars:
        raise Skip(f"no wiremock-standalone jar under {folder / 'build'}")
    root = setup.workdir / ("wiremock" if journal else "wiremock-no-journal")
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "__files").mkdir(exist_ok=True)
    for w in WORKLOADS:
        if w not in setup.canned:
            continue
        call, canned = setup.calls[w], setup.canned[w]
        (root / "__files" / f"{w}.json").write_bytes(canned.body)
        stub = {
            "request": {"method": call.method, "url": call.target},
            "response": {
                "status": canned.status,
                "bodyFileName": f"{w}.json",
                "headers": {"Content-Type": "application/json", **canned.headers},
            },
        }
        (root / "mappings" / f"{w}.json").write_text(json.dumps(stub), encoding="utf-8")
    version = jars[-1].stem.removeprefix("wiremock-standalone-")

    name = "wiremock" if journal else "wiremock-no-journal"
    journal_flag = [] if journal else ["--no-request-journal"]

    def start() -> Running:
        return start_on_port(
            name,
            lambda port: [
                java,
                "-jar",
                str(jars[-1]),
                "--port",
                str(port),
                "--bind-address",
                HOST,
                "--root-dir",
                str(root),
                "--disable-banner",
                *journal_flag,
                "--disable-request-logging",
            ],
            "/__admin/health",
            root,
        )

    return Server(
        name,
        version,
        start,
        dict(setup.calls),
        notes={w: "stub with apollo-fake's body" for w in WORKLOADS},
        warmup=8.0 if journal else 3.0,
        remark=(
            "JVM on both cores; its default request journal, no request log"
            if journal
            else "JVM on both cores; no journal (a mode apollo-fake has not): for reference"
        ),
        reference=not journal,
        fresh_each=journal,
        after_warmup=Call("DELETE", "/__admin/requests") if journal else None,
    )


def wiremock_no_journal(setup: Setup) -> Server:
    """WireMock with ``--no-request-journal``: for reference (see :func:`wiremock`)."""
    return wiremock(setup, journal=False)


def httpserver(setup: Setup) -> Server:
    """pytest-httpserver standalone: permanent handlers with apollo-fake's bodies."""
    version = pip_package("pytest_httpserver", "pytest-httpserver")
    workdir = setup.workdir / "httpserver"
    workdir.mkdir(exist_ok=True)
    bodies = workdir / "bodies.json"
    bodies.write_text(json.dumps(canned_items(setup)), encoding="utf-8")

    def start() -> Running:
        cmd = [sys.executable, "-m", "bench.peers", "httpserver", "--bodies", str(bodies)]
        return start_with_line("pytest-httpserver", cmd, workdir, cwd=ROOT)

    return Server(
        "pytest-httpserver",
        version,
        start,
        dict(setup.calls),
        notes={w: "handler with apollo-fake's body" for w in WORKLOADS},
        remark="Werkzeug, single-threaded",
    )


def on_cheroot(setup: Setup) -> Server:
    """The fake's own app on cheroot's WSGI server: what apollo-fake's server buys."""
    version = pip_package("cheroot", "cheroot>=11.1,<12")
    workdir = setup.workdir / "cheroot"
    workdir.mkdir(exist_ok=True)
    fixture = workdir / "fixture.json"
    fixture.write_text(json.dumps(setup.document), encoding="utf-8")

    def start() -> Running:
        cmd = [
            sys.executable, "-m", "bench.oncheroot",
            "--fixtures", str(fixture), "--today", setup.today,
        ]  # fmt: skip
        return start_with_line("apollo-fake-on-cheroot", cmd, workdir, cwd=ROOT)

    return Server(
        "apollo-fake-on-cheroot",
        version,
        start,
        dict(setup.calls),
        notes={w: "the same app as apollo-fake, on cheroot" for w in WORKLOADS},
        remark="apollo-fake's app on cheroot.wsgi.Server, 10 threads (its server before)",
    )


PEERS: dict[str, Callable[[Setup], Server]] = {
    "json-server": json_server,
    "prism": prism,
    "wiremock": wiremock,
    "wiremock-no-journal": wiremock_no_journal,
    "pytest-httpserver": httpserver,
    "apollo-fake-on-cheroot": on_cheroot,
}


def serve_httpserver(bodies: str) -> None:
    """Serve canned responses with pytest-httpserver until SIGTERM or SIGINT."""
    from pytest_httpserver import HTTPServer

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = HTTPServer(host=HOST, port=0)
    for item in json.loads(Path(bodies).read_text(encoding="utf-8")):
        server.expect_request(item["path"], method=item["method"]).respond_with_data(
            item["body"],
            status=item["status"],
            headers=item["headers"],
            content_type="application/json",
        )
    server.start()
    try:
        print(f"pytest-httpserver listening on http://{HOST}:{server.port}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Run one peer by hand: ``python -m bench.peers httpserver --bodies FILE``."""
    parser = argparse.ArgumentParser(prog="python -m bench.peers")
    parser.add_argument("peer", choices=["httpserver"])
    parser.add_argument("--bodies", required=True, help="JSON list of canned responses")
    args = parser.parse_args(argv)
    serve_httpserver(args.bodies)


if __name__ == "__main__":
    main()
