"""The apollo-fake pytest plugin, for a checkout used without installing the package.

An installed apollo-fake registers ``apollo_fake.pytest_plugin`` through its
``pytest11`` entry point; this root module is the same plugin under the design
card's name, for ``pytest -p conftest_plugin`` from a checkout. Load one or the
other, not both.
"""

from apollo_fake.pytest_plugin import *  # noqa: F403
from apollo_fake.pytest_plugin import __all__  # noqa: F401
