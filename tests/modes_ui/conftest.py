"""Fixtures of the charge-mode UI tests: the logged-in clients and the browser of tests/web."""

from __future__ import annotations

import pytest

from portal.redis import get_redis
from tests.web.conftest import (  # noqa: F401
    browser,
    client_as,
    live_static,
    page,
    phone,
    screenshot,
)


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    """Live states of earlier tests (a reported SoC) must not leak into these."""
    get_redis().flushdb()
