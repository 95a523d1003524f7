"""Fixtures of the web UI tests: logged-in test clients, and a real Chromium for the browser tests.

Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from a
thread with a running loop unless told that this is deliberate.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from accounts.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def client_as() -> Callable[[User], Client]:
    """A test client logged in as the given user."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium through Playwright, for one test module.

    Playwright's sync API keeps an asyncio loop running in this thread while it is open, so the
    browser lives only as long as the module that uses it (a session-wide one broke later tests
    that run their own loop), and Django's async-safety check is relaxed only meanwhile.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (make test does it first)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def live_static(settings: Any, live_server: Any) -> str:
    """The live server, serving static files under their source names.

    Its static handler finds files through the finders, which do not know the hashed names of
    the manifest storage; the test-client tests render every page with the manifest storage.
    """
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return str(live_server.url)


def _open_page(browser: Browser, base_url: str, **options: Any) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, live_static: str) -> Iterator[Page]:
    """A fresh browser (no cookies) on the live server, desktop size."""
    yield from _open_page(browser, live_static, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser: Browser, live_static: str) -> Iterator[Page]:
    """A fresh browser on the live server, the size of a small phone (375 x 812)."""
    yield from _open_page(
        browser,
        live_static,
        viewport={"width": 375, "height": 812},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """Save a full-page screenshot under test-artifacts/ (gitignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def field_errors(response: object, field: str) -> list[str]:
    """The inline error messages rendered under a form field."""
    html = response.content.decode()  # type: ignore[attr-defined]
    return [
        unescape(message)
        for message in re.findall(rf'<p class="error" id="id_{field}_error_\d+">(.*?)</p>', html)
    ]


# The charger form's other fields, for tests that post it.
CHARGER_DEFAULTS = {
    "phases": "3",
    "phase_rotation": "L1L2L3",
    "min_current_a": "6",
    "max_current_a": "16",
    "priority": "0",
    "authorization_mode": "inherit",
}
