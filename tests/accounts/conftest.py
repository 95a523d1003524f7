"""The browser fixtures of tests/web, for the account pages' Chromium tests."""

from tests.web.conftest import (  # noqa: F401
    browser,
    live_static,
    phone,
)
