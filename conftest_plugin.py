"""The apollo-fake pytest plugin: a fresh, seeded fake in every test.

Registered through the ``pytest11`` entry point, so installing the package is
all a user does. Fixtures and hooks only; the work is done in ``apollo_fake``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flask.testing import FlaskClient

    from apollo_fake.fake import Fake
    from apollo_fake.testing import Baseline, Baselines

_OPTIONS = (
    ("fixtures", "fixture file the fake starts with (default: the packaged demo data)"),
    ("seed", "generate the data from this seed instead of a file"),
    ("entries", "how many entries to generate (with the seed)"),
    ("today", "freeze the fake clock at this date, YYYY-MM-DD"),
)


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
    """Register the apollo marker."""
    config.addinivalue_line(
        "markers",
        "apollo(fixtures=None, seed=None, entries=None, today=None, tokens=None, "
        "rate_limit=None, strict=None): give this test an apollo-fake with other data or "
        "settings; strict=False opts the test out of the contract report",
    )


def _setting(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"apollo_{name}")
    if value is not None:
        if name == "fixtures":
            return Path(config.invocation_params.dir, value)
        return value
    value = config.getini(f"apollo_{name}")
    if value in (None, ""):
        return None
    if name == "fixtures":
        base = config.inipath.parent if config.inipath else config.rootpath
        return Path(base, value)
    return value


@pytest.fixture(scope="session")
def apollo_baselines() -> Iterator[Baselines]:
    """Build each distinct baseline once per session (per xdist worker); stop servers at the end."""
    from apollo_fake.testing import Baselines

    baselines = Baselines()
    yield baselines
    baselines.close()


@pytest.fixture(scope="session")
def apollo_baseline(pytestconfig: pytest.Config) -> Baseline:
    """Describe the session's data from the --apollo-* options and ini keys; override to change."""
    from apollo_fake.testing import baseline

    seed, entries = _setting(pytestconfig, "seed"), _setting(pytestconfig, "entries")
    return baseline(
        fixtures=_setting(pytestconfig, "fixtures"),
        seed=int(seed) if seed is not None else None,
        entries=int(entries) if entries is not None else None,
        today=_setting(pytestconfig, "today"),
    )


@pytest.fixture(scope="session")
def apollo_strict(pytestconfig: pytest.Config) -> bool:
    """Tell whether a contract violation fails the test (--apollo-strict or ini apollo_strict)."""
    option = pytestconfig.getoption("apollo_strict")
    return bool(option) if option is not None else bool(pytestconfig.getini("apollo_strict"))


@pytest.fixture
def apollo_fake(
    request: pytest.FixtureRequest,
    apollo_baselines: Baselines,
    apollo_baseline: Baseline,
    apollo_strict: bool,
) -> Iterator[Fake]:
    """Yield the fake, restored to its baseline: data, ids, clock, rate windows and journal."""
    from apollo_fake.testing import ContractWarning, baseline, violation_report

    spec, strict, opted_out = apollo_baseline, apollo_strict, False
    marker = request.node.get_closest_marker("apollo")
    if marker is not None:
        given = dict(marker.kwargs)
        marker_strict = given.pop("strict", None)
        if marker_strict is not None:
            strict = bool(marker_strict)
            # A test that breaks the contract on purpose says so: no report at all.
            opted_out = not strict
        if given:
            fixtures = given.get("fixtures")
            if isinstance(fixtures, str | Path) and not Path(fixtures).is_absolute():
                fixtures = Path(request.path).parent / fixtures
            spec = baseline(
                fixtures=fixtures if "fixtures" in given else apollo_baseline.fixtures,
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
