"""Clients generated from a live fake's ``/openapi.json`` make every Apollo call.

Client authors start from the API's description: the document must work in their
generators, not only in validators. Each test generates a client from the document a
live fake serves (the packaged demo data, as ``apollo-fake serve`` has it), then makes
every Apollo call with it (the three listings, two with a second page, a get, three
creates, an update, a delete, the report with totals, the account):

- openapi-python-client (PyPI), with no generator warning at all; its models come back;
- openapi-typescript + openapi-fetch, and @hey-api/openapi-ts (npm, pinned in
  tests/clients/ts/package-lock.json, installed by ``make test``): a small program per
  generator (tests/clients/ts/src/) is type-checked against the generated code with
  ``tsc`` (strict; nothing is emitted on an error) and then run under node;
- schemathesis, starting from the document's examples, reaches every Apollo operation
  with a 2xx, and its checks find nothing but what the contract explains.

The ids the clients use are the examples of the document: it describes the data of the
fake that serves it. Each client creates, updates and deletes entries of its own, so
the tests share one live fake per module.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from apollo_fake import fixtures
from apollo_fake.fake import Fake

ROOT = Path(__file__).resolve().parent.parent
TS = ROOT / "tests" / "clients" / "ts"
BIN = TS / "node_modules" / ".bin"
STEP = 120  # seconds: a hang guard for one generator, compiler or client run
PYTHON_PACKAGE = "apollo_generated_client"


class Live:
    """A live fake over the demo data, its base URL, document and example ids."""

    def __init__(self, fake: Fake, url: str) -> None:
        self.fake = fake
        self.url = url
        with urllib.request.urlopen(url + "/openapi.json", timeout=STEP) as resp:
            self.doc: dict[str, Any] = json.loads(resp.read())
        self.ids = {
            "project": self.example("/projects/{parent_id}/timeEntries", "get", "parent_id"),
            "contact": self.example("/contacts/{parent_id}/timeEntries", "get", "parent_id"),
            "task": self.example("/tasks/{parent_id}/timeEntries", "get", "parent_id"),
            "entry": self.example("/timeEntries/{entry_id}", "get", "entry_id"),
        }

    def example(self, path: str, method: str, name: str) -> Any:
        """Return the document's example of one parameter."""
        params = self.doc["paths"][path][method]["parameters"]
        return next(p["example"] for p in params if p["name"] == name)


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    """Serve the demo data, as `apollo-fake serve` does, for the whole module."""
    store, start = fixtures.starting_store()
    fake = Fake(store, start=start)
    with fake.serve() as url:
        yield Live(fake, url)


def run(args: list[str | Path], cwd: Path, **env: str) -> str:
    """Run a tool, fail the test with its output unless it succeeds; return its output."""
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=STEP,
        env={**os.environ, "NO_COLOR": "1", **env},
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{args[0]} failed ({done.returncode}):\n{output}"
    return output


def check_entries(live: Live, summary: dict[str, Any]) -> None:
    """Check what a client reported against the fake's own data."""
    assert summary["pages"][0] == summary["pages"][2] == 50  # first pages are full
    assert summary["pages"][1] > 0 and summary["pages"][3] > 0  # and second pages exist
    assert summary["continued"] == [
        f"/projects/{live.ids['project']}/timeEntries/2",
        f"/contacts/{live.ids['contact']}/timeEntries/2",
    ]
    assert summary["task"] > 0
    assert summary["entry"] == live.ids["entry"]
    first, on_task, on_contact = (int(i) for i in summary["created"])
    updated = live.fake.entry(first)
    assert updated is not None and updated.notes.startswith("updated by")
    assert updated.project_id == int(live.ids["project"])
    made = live.fake.entry(on_task)
    assert made is not None and made.task_id == int(live.ids["task"]) and made.seconds == 60
    assert live.fake.entry(on_contact) is None  # deleted
    assert summary["totals"] == summary["reported"] > 0
    assert summary["categories"] == len(live.fake.store.categories)


# --- openapi-python-client ---------------------------------------------------


@pytest.fixture(scope="module")
def python_client(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """Generate a Python package from the live document, with no warning, and import it."""
    where = tmp_path_factory.mktemp("python-client")
    config = where / "config.yaml"
    # No post hooks: formatting the generated code with ruff is not what is tested.
    config.write_text("post_hooks: []\n")
    tool = Path(sys.executable).parent / "openapi-python-client"
    output = run(
        [tool, "generate", "--url", live.url + "/openapi.json", "--config", config,
         "--meta", "none", "--output-path", where / PYTHON_PACKAGE, "--fail-on-warning"],
        where,
    )  # fmt: skip
    # The tool prints only this line when nothing went wrong, warnings included.
    assert output.strip() == f"Generating {where / PYTHON_PACKAGE}", output
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PYTHON_PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n.split(".")[0] == PYTHON_PACKAGE]:
            del sys.modules[name]


def test_openapi_python_client_makes_every_call(live: Live, python_client: ModuleType) -> None:
    pkg = PYTHON_PACKAGE
    api = importlib.import_module(f"{pkg}.api.apollo")
    models = importlib.import_module(f"{pkg}.models")
    calls = {
        name: importlib.import_module(f"{pkg}.api.apollo.api_{name}")
        for name in (
            "projects_listing", "projects_page", "contacts_listing", "contacts_page",
            "task_listing", "get_entry", "projects_create", "tasks_create", "contacts_create",
            "update_entry", "delete_entry", "report", "account",
        )
    }  # fmt: skip
    assert api is not None
    ids = live.ids
    client_module = importlib.import_module(f"{pkg}.client")
    # raise_on_unexpected_status: an answer the document does not list is an error.
    with client_module.AuthenticatedClient(
        base_url=live.url, token="unused", raise_on_unexpected_status=True
    ) as client:

        def call(name: str, *args: Any, want: type, **kw: Any) -> Any:
            got = calls[name].sync(*args, client=client, **kw)
            assert isinstance(got, want), (name, got)
            return got

        first = call("projects_listing", ids["project"], want=models.ProjectListingResponse)
        page = int(first.continued_at.rsplit("/", 1)[1])
        second = call(
            "projects_page", ids["project"], page, want=models.ProjectListingResponse
        )
        contacts = call("contacts_listing", ids["contact"], want=models.ContactListingResponse)
        contacts2 = call(
            "contacts_listing", ids["contact"], page=2, want=models.ContactListingResponse
        )
        call("contacts_page", ids["contact"], 1, want=models.ContactListingResponse)
        task = call("task_listing", ids["task"], want=models.TaskListingResponse)
        entry = call("get_entry", ids["entry"], want=models.GetTimeEntryResponse).time_entry
        assert isinstance(entry, models.TimeEntry)

        def body(**fields: Any) -> Any:
            return models.CreateTimeEntryRequest.from_dict({"time-entry": fields})

        fields = {"seconds": "3600", "notes": "python", "billable": "billable"}
        created = [  # seconds as a digit string, and as an integer on the task
            call(name, parent, body=body(**fields), want=models.CreateTimeEntryResponse)
            for name, parent, fields in [
                ("projects_create", ids["project"], fields),
                ("tasks_create", ids["task"], {**fields, "seconds": 60}),
                ("contacts_create", ids["contact"], fields),
            ]
        ]
        update = models.UpdateTimeEntryRequest.from_dict(
            {"time-entry": {"notes": "updated by python"}}
        )
        call("update_entry", created[0].time_entry_id, body=update, want=models.EmptyResponse)
        call("delete_entry", created[2].time_entry_id, want=models.EmptyResponse)
        report = call(
            "report",
            project_id=ids["project"],
            with_totals="true",
            include_contacts="yes",
            want=models.ReportResponse,
        )
        assert isinstance(report.totals, models.ReportResponseTotals)
        account = call("account", want=models.AccountResponse)
    check_entries(
        live,
        {
            "pages": [len(first.time_entries), len(second.time_entries),
                      len(contacts.time_entries), len(contacts2.time_entries)],
            "continued": [first.continued_at, contacts.continued_at],
            "task": len(task.time_entries),
            "entry": entry.id,
            "created": [c.time_entry_id for c in created],
            "totals": report.totals.number_of_entries,
            "reported": len(report.time_entries),
            "categories": len(account.account.time_categories),
        },
    )  # fmt: skip


# --- openapi-typescript + openapi-fetch, @hey-api/openapi-ts -----------------


@pytest.fixture(scope="module")
def ts_project(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generate both TypeScript clients from the live document and compile the programs."""
    if not (BIN / "tsc").exists():
        pytest.fail(
            "the npm packages are not installed: `make test` installs them "
            "(npm ci --prefix tests/clients/ts)"
        )
    where = tmp_path_factory.mktemp("ts-clients")
    for name in ("package.json", "tsconfig.json", "openapi-ts.config.mjs"):
        shutil.copy(TS / name, where / name)
    shutil.copytree(TS / "src", where / "src")
    (where / "node_modules").symlink_to(TS / "node_modules", target_is_directory=True)
    generated = where / "src" / "generated"
    document = live.url + "/openapi.json"
    run([BIN / "openapi-typescript", document, "-o", generated / "openapi-typescript.d.ts"], where)
    output = run(
        [BIN / "openapi-ts", "-f", "openapi-ts.config.mjs", "--no-log-file"],
        where,
        APOLLO_OPENAPI_URL=document,
        APOLLO_HEY_OUTPUT=str(generated / "hey"),
    )
    assert "warn" not in output.lower() and "error" not in output.lower(), output
    # Strict type-checking of the programs against both generated clients; it emits
    # JavaScript only when there is no error (noEmitOnError in tsconfig.json).
    run([BIN / "tsc", "-p", "tsconfig.json"], where)
    return where


@pytest.mark.parametrize("program", ["openapi-fetch", "hey-api"])
def test_typescript_client_makes_every_call(live: Live, ts_project: Path, program: str) -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed to run the TypeScript clients"
    script = ts_project / "out" / f"{program}.js"
    output = run([node, script, live.url, json.dumps(live.ids)], ts_project)
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["empty"] == 0
    check_entries(live, summary)


# --- schemathesis, all checks, from the document's examples -------------------

FUZZ_EXAMPLES = 10  # per operation and phase: enough to meet every explained failure

# The failures schemathesis can report that the contract explains: requests valid for
# the document (which says what JSON Schema can) that the fake refuses by a rule JSON
# Schema cannot state. Each is the fake keeping the contract, not a fault of the document.
EXPLAINED = {
    "names-nothing": "a user-id or category-id of the right form that names no user or "
    "category: 422 (the document cannot list the ids that exist)",
    "fraction": "a JSON number with a fraction part such as 60.0 where the contract takes "
    "integers: 422 (JSON Schema counts 60.0 as an integer; the contract does not)",
    "report-date": "a report from/to in a form the grammar reads but naming no real day "
    "(31-02-2012), outside years 1-9999, or a window over six calendar months: 400 "
    "(the document's pattern states the forms, its description these limits)",
}


def explain(label: str, interaction: dict[str, Any]) -> str | None:
    """Return the EXPLAINED key of a failed case, or None when the contract does not."""
    response = interaction["response"]
    status = response["status_code"]
    answer = json.loads(base64.b64decode(response["content"]["$base64"]))
    details = answer["error"]["details"]
    if status == 400 and label == "GET /report/timeEntries":
        dated = all(d["field"] in ("from", "to", "") for d in details)
        if dated and not any("not a date in a form" in d["message"] for d in details):
            return "report-date"
        return None
    if status != 422 or not details:
        return None
    if all("names no existing" in d["message"] for d in details):
        return "names-nothing"
    request = interaction["request"]
    sent = json.loads(base64.b64decode(request["body"]["$base64"]))
    fields = sent.get("time-entry", {}) if isinstance(sent, dict) else {}
    bad = [d["field"].removeprefix("time-entry.") for d in details]
    if all(isinstance(fields.get(name), float) and fields[name].is_integer() for name in bad):
        return "fraction"
    return None


@pytest.fixture()
def fuzzed() -> Iterator[str]:
    """Serve the demo data for schemathesis alone: it creates, updates and deletes."""
    store, start = fixtures.starting_store()
    with Fake(store, start=start).serve() as url:
        yield url


def test_schemathesis_reaches_every_operation_and_finds_only_what_the_contract_explains(
    fuzzed: str, tmp_path: Path
) -> None:
    tool = Path(sys.executable).parent / "schemathesis"
    done = subprocess.run(
        [str(tool), "run", fuzzed + "/openapi.json", "--checks", "all", "--include-tag",
         "apollo", "--max-examples", str(FUZZ_EXAMPLES), "--seed", "1", "--workers", "1",
         "--generation-database", "none", "--no-color", "--report", "json,ndjson",
         "--report-dir", str(tmp_path / "report")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=STEP * 3,
        check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: failures, read below
    report = json.loads(next((tmp_path / "report").glob("json-*.json")).read_text())
    # Every Apollo operation is reached with a 2xx by the document's own examples.
    rates = report["valid_rates"]
    assert len(rates) == 13, sorted(rates)
    # (GET /account has no parameter, hence no example: any phase reaches it.)
    missed = [
        label
        for label, rate in rates.items()
        if rate.get("examples", {"accepted": label == "GET /account"})["accepted"] < 1
        or not any(phase["accepted"] for phase in rate.values())
    ]
    assert missed == [], rates
    assert report["operations"]["errored"] == 0 and report["errors"] == []
    assert all(found == [] for found in report["warnings"].values()), report["warnings"]
    # Every failure found is one the contract explains.
    unexplained, seen = [], set()
    events = next((tmp_path / "report").glob("ndjson-*.ndjson"))
    with events.open() as lines:
        for line in lines:
            finished = json.loads(line).get("ScenarioFinished")
            if finished is None:
                continue
            recorder = finished["recorder"]
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    if check["status"] != "failure":
                        continue
                    interaction = recorder["interactions"][case_id]
                    # The stateful phase's recorder is labelled by the phase, not the call.
                    label = check["failure_info"]["failure"]["operation"]
                    why = explain(label, interaction)
                    if why is None:
                        unexplained.append((label, check, interaction))
                    else:
                        seen.add((check["name"], why))
    assert unexplained == [], unexplained[:3]
    # Only schemathesis's "valid data must be accepted" check meets them.
    assert {name for name, _ in seen} <= {"positive_data_acceptance"}, seen
    assert {why for _, why in seen} <= set(EXPLAINED)
