"""The built wheel: what it holds, and that it works installed away from the checkout.

The wheel is built once for the module (``python -m build``, which fetches
hatchling from the package index), checked with ``zipfile``, installed without
dependencies into a folder of its own, and run from another directory, so that
nothing can come from the checkout by accident.
"""

from __future__ import annotations

import configparser
import http.client
import json
import os
import queue
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from apollo_fake import fixtures

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"apollo-fake listening on http://127\.0\.0\.1:(\d+)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from the checkout, once for the module."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = sorted(out.glob("*.whl"))
    assert [w.name for w in built] == ["apollo_fake-0.1.0-py3-none-any.whl"]
    return built[0]


@pytest.fixture(scope="module")
def names(wheel: Path) -> set[str]:
    """Return the names of the files in the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the wheel, without its dependencies, into a folder of its own."""
    target = tmp_path_factory.mktemp("installed") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def installed_env(site: Path) -> dict[str, str]:
    """Return an environment where apollo_fake can only come from the installed folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(site)
    return env


# --- what the wheel holds -------------------------------------------------------------


def test_wheel_holds_the_package_its_data_and_the_plugin(names: set[str]) -> None:
    expected = {
        "apollo_fake/__init__.py",
        "apollo_fake/__main__.py",
        "apollo_fake/cli.py",
        "apollo_fake/web/__init__.py",
        "apollo_fake/fixtures/demo.json",
        "apollo_fake/fixtures/small.json",
        "apollo_fake/pytest_plugin.py",
    }
    # Every schema file, so that a new one cannot be left out of the package.
    schema_files = sorted(p.name for p in (ROOT / "schemas").iterdir() if p.is_file())
    assert schema_files
    assert all(name.endswith(".schema.json") for name in schema_files)
    expected |= {f"apollo_fake/schemas/{name}" for name in schema_files}
    assert expected <= names, sorted(expected - names)


def test_wheel_holds_every_module_of_the_package(names: set[str]) -> None:
    modules = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "apollo_fake").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules <= names, sorted(modules - names)


def test_wheel_holds_the_inspector_pages_files(names: set[str]) -> None:
    # Served from the package (GET /_fake/ui): nothing fetched, nothing built at install.
    files = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "apollo_fake" / "web" / "ui").iterdir()
    }
    assert files == {f"apollo_fake/web/ui/{name}" for name in ("index.html", "ui.js", "ui.css")}
    assert files <= names, sorted(files - names)


def test_wheel_declares_the_console_script_and_the_pytest_plugin(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read("apollo_fake-0.1.0.dist-info/entry_points.txt").decode()
    points = configparser.ConfigParser()
    points.read_string(text)
    assert dict(points["console_scripts"]) == {"apollo-fake": "apollo_fake.cli:main"}
    assert dict(points["pytest11"]) == {"apollo_fake": "apollo_fake.pytest_plugin"}


def test_wheel_requires_faker_only_for_generated_data(wheel: Path) -> None:
    # A project that pins another Faker (factory_boy users) must be able to install it.
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("apollo_fake-0.1.0.dist-info/METADATA").decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    faker = [line for line in requires if "faker" in line.lower()]
    assert faker and all("extra ==" in line for line in faker), faker
    assert any("extra == 'generate'" in line for line in faker), faker
    assert "Provides-Extra: generate" in metadata


def test_wheel_makes_each_intercepted_library_an_extra(wheel: Path) -> None:
    # apollo_fake.mock() patches what is installed: no user gets a client library or
    # a mocking library they did not ask for.
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("apollo_fake-0.1.0.dist-info/METADATA").decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    extras = {"requests": ["requests", "responses"], "httpx": ["httpx"]}
    extras["aiohttp"] = ["aiohttp", "aioresponses"]
    for extra, packages in extras.items():
        assert f"Provides-Extra: {extra}" in metadata
        for package in packages:
            found = [line for line in requires if re.match(rf"Requires-Dist: {package}\b", line)]
            assert found and all("extra ==" in line for line in found), found
            assert any(f"extra == '{extra}'" in line for line in found), found


def test_wheel_holds_no_tests_venv_or_caches(names: set[str]) -> None:
    unwanted = [
        name
        for name in names
        if name.startswith(("tests/", "bench/", ".venv/", ".git/"))
        or "/tests/" in name
        or "__pycache__" in name
        or name.endswith((".pyc", "conftest.py"))
        or "/.venv/" in name
    ]
    assert unwanted == []
    top = {name.split("/", 1)[0] for name in names}
    # The plugin is a module of the package: no generic top-level name such as
    # conftest_plugin lands in a user's site-packages.
    assert top == {"apollo_fake", "apollo_fake-0.1.0.dist-info"}


# --- installed, away from the checkout ---------------------------------------------


def test_installed_package_is_imported_from_the_install(site: Path, tmp_path: Path) -> None:
    code = (
        "import json, apollo_fake, apollo_fake.fixtures as f, apollo_fake.schemas as s;"
        "print(json.dumps([apollo_fake.__file__, str(f.demo_path()), str(s.schema_dir()),"
        " apollo_fake.__version__]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=installed_env(site),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    module, demo, schemas, version = json.loads(result.stdout)
    # The data too must come from the install, not from the checkout's folders.
    for found in (module, demo, schemas):
        assert Path(found).resolve().is_relative_to(site.resolve()), found
    assert version == "0.1.0"


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@pytest.fixture
def installed_server(site: Path, tmp_path: Path) -> Iterator[int]:
    """Run ``python -m apollo_fake serve`` from the install; yield its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "apollo_fake", "serve", "--port", "0", "--quiet"],
        cwd=tmp_path,
        env=installed_env(site),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stdout is not None
    # A thread, so that a server that never prints fails the test instead of hanging it.
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        try:
            line = lines.get(timeout=15)
        except queue.Empty:
            line = None
        match = READY.fullmatch((line or "").rstrip("\n"))
        if match is None:
            proc.kill()
            _, err = proc.communicate(timeout=5)
            raise AssertionError(f"no ready line: {line!r}; stderr: {err}")
        yield int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=5)
        reader.join(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_installed_server_serves_the_packaged_demo(installed_server: int) -> None:
    demo = json.loads((ROOT / "fixtures" / "demo.json").read_text())
    conn = http.client.HTTPConnection("127.0.0.1", installed_server, timeout=5)
    try:
        conn.request("GET", "/account")
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 200
    assert resp.getheader("Content-Type", "").startswith("application/json")
    assert body == {
        "account": {
            "id": demo["account"]["id"],
            "name": demo["account"]["name"],
            "time-categories": demo["time-categories"],
        }
    }


def test_installed_server_serves_the_inspector_page(installed_server: int) -> None:
    for path, name, kind in [
        ("/_fake/ui", "index.html", "text/html"),
        ("/_fake/ui/ui.js", "ui.js", "text/javascript"),
        ("/_fake/ui/ui.css", "ui.css", "text/css"),
    ]:
        conn = http.client.HTTPConnection("127.0.0.1", installed_server, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        assert resp.status == 200, path
        assert resp.getheader("Content-Type", "").startswith(kind)
        assert body == (ROOT / "apollo_fake" / "web" / "ui" / name).read_bytes()


def test_installed_validate_accepts_the_packaged_demo(site: Path, tmp_path: Path) -> None:
    packaged = site / "apollo_fake" / "fixtures" / "demo.json"
    assert packaged.read_bytes() == (ROOT / "fixtures" / "demo.json").read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "apollo_fake", "validate", str(packaged)],
        cwd=tmp_path,
        env=installed_env(site),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"{packaged}: ok (")
    assert f"{fixtures.DEMO_ENTRIES} time-entries" in result.stdout


# --- installed without Faker ---------------------------------------------------------

def _without_faker(site: Path, cwd: Path, module: str, *args: str) -> Any:
    """Run ``python -m module`` from the install with Faker unimportable: no extra."""
    hidden = cwd / "hidden"
    (hidden / "faker").mkdir(parents=True, exist_ok=True)
    # Ahead of the environment's own Faker on the path, as if it were not installed.
    (hidden / "faker" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'faker'\", name='faker')\n"
    )
    env = installed_env(site)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(hidden)])
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["generate", "--seed", "1"], id="generate"),
        pytest.param(["serve", "--port", "0", "--seed", "1"], id="serve-seed"),
    ],
)
def test_installed_cli_without_faker_names_the_extra(
    site: Path, tmp_path: Path, args: list[str]
) -> None:
    result = _without_faker(site, tmp_path, "apollo_fake", *args)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "pip install 'apollo-fake[generate]'" in result.stderr
    assert result.stdout == ""


def test_installed_plugin_registers_and_runs_without_faker(site: Path, tmp_path: Path) -> None:
    (tmp_path / "test_client.py").write_text(
        "def test_account(apollo_client):\n"
        "    assert apollo_client.get('/account').status_code == 200\n"
    )
    # -p no:faker: the environment running this suite has Faker's own plugin.
    plain = ["-p", "no:faker", "-p", "no:cacheprovider", "-q"]
    result = _without_faker(site, tmp_path, "pytest", *plain)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    seeded = _without_faker(site, tmp_path, "pytest", *plain, "--apollo-seed", "3")
    assert seeded.returncode == pytest.ExitCode.USAGE_ERROR, seeded.stdout + seeded.stderr
    assert "--apollo-seed" in seeded.stderr
    assert "pip install 'apollo-fake[generate]'" in seeded.stderr
