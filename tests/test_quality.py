"""The project's own tooling, as CI runs it: ruff, mypy --strict and the import layers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "apollo_fake", "conftest_plugin.py", "bench", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run("mypy", "--no-incremental")
    assert result.returncode == 0, result.stdout + result.stderr


def test_imports_keep_the_layers() -> None:
    # The layers, the absence of cycles and the domain's independence from the web
    # are import-linter contracts in pyproject.toml; a broken one names the import.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
