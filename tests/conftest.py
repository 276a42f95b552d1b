"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only `shared/` folder beside the repo (or `$JAXNAS_SHARED`); skip if absent."""
    default = Path(__file__).resolve().parents[2] / "shared"
    path = Path(os.environ.get("JAXNAS_SHARED", default))
    if not path.is_dir():
        pytest.skip(f"shared folder not found: {path}")
    return path


def pytest_configure(config):
    """Register the `slow` marker."""
    config.addinivalue_line("markers", "slow: long-running test; runs only when JAXNAS_SLOW=1")


def pytest_collection_modifyitems(config, items):
    """Skip tests marked slow unless the environment sets JAXNAS_SLOW=1."""
    if os.environ.get("JAXNAS_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set JAXNAS_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
