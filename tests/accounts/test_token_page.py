"""The account page's API tokens: make one with a scope (its key shown once), see its last use,
revoke it; nobody sees or revokes another user's tokens. In Chromium at 375 px too."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.conftest import World
from tests.web.test_browser import log_in

URL = "/accounts/api-tokens/"


def _logged_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def _works(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/installations/").status_code


@pytest.mark.django_db
def test_make_a_scoped_token_see_its_key_once_and_revoke_it(world: World) -> None:
    client = _logged_in(world.ingrid)
    page = client.get(URL).content.decode()
    # Her installations to limit it to: the two she serves, not another owner's.
    assert "Harbour car park" in page and "Office west" in page and "Depot north" not in page
    made = client.post(
        URL,
        {
            "name": "Office energy manager",
            "read_only": "on",
            "installations": [world.site_c.pk],
            "expires_on": (timezone.localdate() + timedelta(days=30)).isoformat(),
        },
    )
    assert made.status_code == 302
    shown = client.get(URL).content.decode()
    key = re.search(r"data-new-key[^>]*>(fbx_[^<]+)<", shown).group(1)  # type: ignore[union-attr]
    assert "Read-only" in shown and "Office west" in shown
    assert key not in client.get(URL).content.decode()  # once
    token = ApiToken.objects.get(user=world.ingrid)
    assert token.read_only and list(token.installations.all()) == [world.site_c]
    assert token.expires_at is not None
    assert _works(key) == 200

    # Another user cannot revoke it (as if it did not exist); she can.
    revoke = reverse("api_token_revoke", args=[token.pk])
    assert _logged_in(world.alice).post(revoke).status_code == 404
    assert _logged_in(world.ingrid).post(revoke).status_code == 302
    assert _works(key) == 401


@pytest.mark.django_db
def test_bad_input_is_an_error_on_the_form_and_makes_nothing(world: World) -> None:
    client = _logged_in(world.alice)
    answer = client.post(
        URL,
        {
            "name": "",
            "expires_on": timezone.localdate().isoformat(),
            "installations": [world.site_b.pk],
        },
    )
    assert answer.status_code == 400
    html = answer.content.decode()
    assert "This field is required." in html and "Choose a day after today." in html
    assert "Select a valid choice." in html  # another owner's installation
    assert not ApiToken.objects.exists()
    assert Client().get(URL).status_code == 302  # to the login


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_phone_makes_and_revokes_a_token(world: World, phone: Page) -> None:
    log_in(phone, "alice@example.com")
    phone.goto(URL)
    phone.get_by_label("Name").fill("Billing export")
    phone.get_by_label("Read-only").check()
    phone.get_by_role("button", name="Make token").click()
    key = phone.locator("[data-new-key]").inner_text()
    assert key.startswith("fbx_") and _works(key) == 200
    row = phone.locator("[data-testid=token-list] tr", has_text="Billing export")
    expect(row).to_contain_text("Read-only")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    row.get_by_role("button", name="Revoke").click()
    expect(phone.locator("[data-testid=token-list]")).to_contain_text("No API tokens yet.")
    assert _works(key) == 401
