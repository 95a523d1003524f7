"""The balancing engine is pure: its tests need no database, cache or static files.

tests/conftest.py gives every test of the suite a clean Redis cache and collected static files
(autouse fixtures). Here they are replaced by no-ops of the same names, so these tests run
(and fail) on the engine alone, with or without the embedded servers.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _static_files() -> None:
    """Nothing to collect: the engine renders no page."""


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    """Nothing to clean: the engine keeps no state between calls."""
