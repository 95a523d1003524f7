"""Account pages (allauth) in the product's layout, with inline errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]


# ---------- Account pages (allauth) use the product's layout ----------


def test_account_pages_render_in_the_product_layout(world: World, client: Client) -> None:
    for name in ["account_login", "account_signup", "account_reset_password"]:
        html = client.get(reverse(name)).content.decode()
        assert 'class="card auth-card"' in html, name
        assert "/static/css/app." in html, name
    client.force_login(world.alice)
    for name in ["account_email", "account_change_password", "mfa_index"]:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        html = response.content.decode()
        assert 'class="settings-nav"' in html, name
        assert 'aria-current="page"' in html, name
    assert 'class="card auth-card"' in client.get(reverse("account_logout")).content.decode()

    # Setting up TOTP asks for the password again, then shows the QR code in the settings layout.
    response = client.get(reverse("mfa_activate_totp"), follow=True)
    assert 'class="card auth-card"' in response.content.decode()
    response = client.post(response.redirect_chain[-1][0], {"password": PASSWORD}, follow=True)
    html = response.content.decode()
    assert response.request["PATH_INFO"] == reverse("mfa_activate_totp")
    assert 'class="qr"' in html
    assert 'class="settings-nav"' in html


def test_login_form_shows_errors_inline(world: World, client: Client) -> None:
    response = client.post(
        reverse("account_login"), {"login": "alice@example.com", "password": "wrong"}
    )
    html = response.content.decode()
    assert "alert-error" in html
    assert "not correct" in html
    response = client.post(
        reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD}
    )
    assert response.url == reverse("installations:list")
