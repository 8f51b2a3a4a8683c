"""The apollo-fake pytest plugin: a fresh, seeded fake in every test.

Registered through the ``pytest11`` entry point, so installing the package is
all a user does. Fixtures and hooks only; the work is done in ``apollo_fake``.

Settings are checked once, when the session starts: a bad option or ini value
is a usage error naming it; a bad ``apollo`` marker fails the collection of its
test, naming the test and the argument, so that no test runs.
Relative fixture paths in options and ini keys are read from the rootdir, as
pytest reads its own ini paths; a marker's are read from its test file's folder.
"""

from __future__ import annotations

import datetime
import json
import warnings
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flask.testing import FlaskClient

    from .fake import Fake
    from .testing import Baseline, Baselines

__all__ = [
    "apollo_baseline",
    "apollo_baselines",
    "apollo_client",
    "apollo_fake",
    "apollo_mock",
    "apollo_server",
    "apollo_strict",
    "apollo_url",
    "pytest_addoption",
    "pytest_configure",
    "pytest_make_collect_report",
]

_OPTIONS = (
    ("fixtures", "fixture file the fake starts with, relative to the rootdir (default: the demo)"),
    ("seed", "generate the data from this seed instead of a file"),
    ("entries", "how many entries to generate (with the seed)"),
    ("today", "freeze the fake clock at this date, YYYY-MM-DD"),
)
# What the marker takes: the settings of a baseline, and strict.
MARKER_ARGUMENTS = ("fixtures", "seed", "entries", "today", "tokens", "rate_limit", "strict")
# The session's checked settings; the Baseline is built from them on first use, so
# that a session that never asks for the fake does not import Flask.
_SETTINGS = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the --apollo-* options and their ini keys."""
    group = parser.getgroup("apollo-fake")
    for name, text in _OPTIONS:
        group.addoption(f"--apollo-{name}", dest=f"apollo_{name}", default=None, help=text)
        parser.addini(f"apollo_{name}", text, default=None)
    group.addoption(
        "--apollo-strict",
        dest="apollo_strict",
        action="store_true",
        default=None,
        help="fail a test whose client broke the contract (else warn)",
    )
    parser.addini(
        "apollo_strict", "fail a test whose client broke the contract", type="bool", default=False
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the apollo marker and check the session's settings, once."""
    config.addinivalue_line(
        "markers",
        "apollo(fixtures=None, seed=None, entries=None, today=None, tokens=None, "
        "rate_limit=None, strict=None): give this test an apollo-fake with other data or "
        "settings; strict=False opts the test out of the contract report",
    )
    values: dict[str, Any] = {}
    for name, _ in _OPTIONS:
        option = config.getoption(f"apollo_{name}")
        source = f"--apollo-{name}" if option is not None else f"the ini key apollo_{name}"
        raw = option if option is not None else config.getini(f"apollo_{name}")
        if raw in (None, ""):
            continue
        try:
            values[name] = _checked(name, raw, config.rootpath)
        except ValueError as exc:
            raise pytest.UsageError(f"apollo-fake: {source}: {exc}") from None
    config.stash[_SETTINGS] = values


def _checked(name: str, value: Any, folder: Path) -> Any:
    """Read one setting, raising ValueError with a sentence when it cannot be used."""
    if name == "fixtures":
        if isinstance(value, Mapping):
            return value
        path = Path(folder, value)
        if not path.is_file():
            raise ValueError(f"there is no file {path}")
        return path
    if name in ("seed", "entries"):
        number = value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(value, str) and value.strip().isdigit():
            number = int(value)
        if number is None or number < 0:
            raise ValueError(f"{value!r} is not a whole number of at least 0")
        if not _faker_installed():
            raise ValueError(
                "generated data needs Faker: pip install 'apollo-fake[generate]'"
            )
        return number
    if name == "today":
        if isinstance(value, datetime.date):
            return value
        try:
            return datetime.date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a date written YYYY-MM-DD") from None
    if name == "tokens":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool)
            for k, v in value.items()
        ):
            raise ValueError(f"{value!r} is not a dict of token strings to user ids")
        return value
    if name == "rate_limit":
        ok = (
            isinstance(value, tuple | list)
            and len(value) == 2
            and isinstance(value[0], int)
            and value[0] >= 1
            and isinstance(value[1], int | float)
            and value[1] > 0
        )
        if not ok:
            raise ValueError(f"{value!r} is not (requests, seconds), e.g. (100, 300)")
        return tuple(value)
    if name == "strict":
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not True or False")
        return value
    raise ValueError(f"is not an argument (it takes {', '.join(MARKER_ARGUMENTS)})")


def _faker_installed() -> bool:
    try:
        import faker  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Check the apollo markers of what a collector found: a bad one fails its collection.

    A collection error names the test and the argument once, stops the run before
    any test (as a usage error would), and reaches the terminal from xdist's
    workers too.
    """
    report: pytest.CollectReport = yield
    if report.passed:
        problems = [
            problem
            for item in report.result
            if isinstance(item, pytest.Item)
            for problem in _marker_problems(item)
        ]
        if problems:
            report.outcome = "failed"
            report.longrepr = "apollo-fake: bad apollo marker\n  " + "\n  ".join(problems)
    return report


def _marker_problems(item: pytest.Item) -> list[str]:
    problems = []
    for marker in item.iter_markers("apollo"):
        if marker.args:
            problems.append(
                f"{item.nodeid}: apollo marker: takes keyword arguments only "
                f"({', '.join(MARKER_ARGUMENTS)}), not {marker.args!r}"
            )
        for name, value in marker.kwargs.items():
            try:
                _checked(name, value, item.path.parent)
            except ValueError as exc:
                problems.append(f"{item.nodeid}: apollo marker: {name}: {exc}")
    return problems


@pytest.fixture(scope="session")
def apollo_baselines() -> Iterator[Baselines]:
    """Build each distinct baseline once per session (per xdist worker); stop servers at the end."""
    from .testing import Baselines

    baselines = Baselines()
    yield baselines
    baselines.close()


@pytest.fixture(scope="session")
def apollo_baseline(pytestconfig: pytest.Config) -> Baseline:
    """Describe the session's data from the --apollo-* options and ini keys; override to change."""
    from .testing import baseline

    return baseline(**pytestconfig.stash[_SETTINGS])


@pytest.fixture(scope="session")
def apollo_strict(pytestconfig: pytest.Config) -> bool:
    """Tell whether a contract violation fails the test (--apollo-strict or ini apollo_strict)."""
    option = pytestconfig.getoption("apollo_strict")
    return bool(option) if option is not None else bool(pytestconfig.getini("apollo_strict"))


@pytest.fixture(scope="session")
def apollo_server(apollo_baselines: Baselines, apollo_baseline: Baseline) -> Fake:
    """Return the session's fake, for fixtures of any scope: ``apollo_server.url`` and all.

    The session-wide half of a pair, as pytest-httpserver's ``make_httpserver`` is to
    ``httpserver``: it is the very fake ``apollo_fake`` hands an unmarked test, which
    restores it before each test. A module- or session-scoped fixture takes its URL
    (a client built once); what a test arranges or reads goes through ``apollo_fake``.
    """
    return apollo_baselines.get(apollo_baseline)


@pytest.fixture
def apollo_fake(
    request: pytest.FixtureRequest,
    apollo_baselines: Baselines,
    apollo_baseline: Baseline,
    apollo_strict: bool,
) -> Iterator[Fake]:
    """Yield the fake, restored to its baseline: data, ids, clock, rate windows and journal."""
    from .testing import ContractWarning, baseline, violation_report

    spec, strict, opted_out = apollo_baseline, apollo_strict, False
    marker = request.node.get_closest_marker("apollo")
    if marker is not None:
        # Checked at collection: the values can be used as they are.
        given = {
            name: _checked(name, value, request.path.parent)
            for name, value in marker.kwargs.items()
        }
        marker_strict = given.pop("strict", None)
        if marker_strict is not None:
            strict = marker_strict
            # A test that breaks the contract on purpose says so: no report at all.
            opted_out = not strict
        if given:
            session_data: Any = apollo_baseline.fixtures
            if apollo_baseline.document is not None:  # an overridden baseline's document
                session_data = json.loads(apollo_baseline.document)
            spec = baseline(
                fixtures=given.get("fixtures", session_data),
                seed=given.get("seed", apollo_baseline.seed),
                entries=given.get("entries", apollo_baseline.entries),
                today=given.get("today", apollo_baseline.today),
                tokens=given.get("tokens"),
                rate_limit=given.get("rate_limit"),
            )
    fake = apollo_baselines.get(spec)
    fake.reset()
    yield fake
    found = [] if opted_out else fake.violations()
    if found:
        report = violation_report(found)
        if strict:
            pytest.fail(report, pytrace=False)
        warnings.warn(ContractWarning(report), stacklevel=1)


@pytest.fixture
def apollo_client(apollo_fake: Fake) -> FlaskClient:
    """Return a Flask test client of the fake: requests without a socket."""
    return apollo_fake.client


@pytest.fixture
def apollo_url(apollo_fake: Fake) -> str:
    """Return the base URL of the fake's live server (started once, on first use)."""
    return apollo_fake.url


@pytest.fixture
def apollo_mock(apollo_fake: Fake) -> Iterator[Fake]:
    """Route unchanged clients' requests to https://api.apollohq.com to the test's fake.

    ``requests``, ``httpx`` and ``aiohttp``, each when installed with its mocking
    library (``apollo-fake[requests]``, ``[httpx]``, ``[aiohttp]``): in process, no
    socket, no base URL to set. Other hosts are untouched.
    """
    from .intercept import mock

    with mock(apollo_fake):
        yield apollo_fake
