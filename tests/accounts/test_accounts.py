"""Accounts through allauth's real pages: sign-up with verification, invitations, reset, TOTP."""

from __future__ import annotations

import re
import time

import pytest
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.core import mail
from django.test import Client

from accounts.models import User
from installations.models import Invitation, Membership
from installations.services import invite
from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a long and unusual passphrase 42"


def _link(message: mail.EmailMessage, fragment: str) -> str:
    match = re.search(rf"https?://[^\s]+({fragment}[^\s]*)", message.body)
    assert match, message.body
    return match.group(1)


def _signup(client: Client, email: str) -> None:
    response = client.post(
        "/accounts/signup/", {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def test_sign_up_requires_email_verification_then_logs_in(client: Client) -> None:
    _signup(client, "New.Driver@Example.com")
    user = User.objects.get()
    assert user.email == "new.driver@example.com"
    confirm_path = _link(mail.outbox[-1], "/accounts/confirm-email/")

    other = Client()
    response = other.post(
        "/accounts/login/", {"login": "new.driver@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert "confirm-email" in response["Location"]  # not logged in until verified
    assert other.get("/api/v1/me/").status_code in (401, 403)

    response = client.post(confirm_path)
    assert response.status_code == 302
    assert client.get("/api/v1/me/").json()["email"] == "new.driver@example.com"


def test_invitee_signs_up_and_joins_only_by_accepting(
    world: World, client: Client, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        invite(world.alice, world.site_a, "newcomer@example.com", "driver")
    invitation_path = _link(mail.outbox[-1], "/invitations/")
    assert "Harbour car park" in client.get(invitation_path).content.decode()

    _signup(client, "newcomer@example.com")
    client.post(_link(mail.outbox[-1], "/accounts/confirm-email/"))
    assert not Membership.objects.filter(user__email="newcomer@example.com").exists()
    page = client.get("/installations/").content.decode()
    assert "Invitations waiting for your answer" in page and "Harbour car park" in page

    response = client.post(invitation_path, {"answer": "accept"})
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="newcomer@example.com")
    assert (membership.installation, membership.role) == (world.site_a, "driver")
    assert Invitation.objects.get().accepted_at is not None
    names = [i["name"] for i in client.get("/api/v1/installations/").json()["results"]]
    assert names == ["Harbour car park"]
    assert "Invitations waiting" not in client.get("/installations/").content.decode()


def test_logging_in_accepts_nothing(world: World, client: Client) -> None:
    invitation = invite(world.alice, world.site_a, "oscar@example.com", "installer")
    response = client.post("/accounts/login/", {"login": "oscar@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert not world.site_a.memberships.filter(user=world.oscar).exists()
    invitation.refresh_from_db()
    assert invitation.is_open

    client.post(f"/invitations/{invitation.token}/", {"answer": "accept"})
    assert world.site_a.memberships.get(user=world.oscar).role == "installer"


def test_the_invitee_declines_on_the_link_page(world: World, client: Client) -> None:
    invitation = invite(world.alice, world.site_a, "oscar@example.com", "driver")
    client.force_login(world.oscar)
    page = client.get(f"/invitations/{invitation.token}/").content.decode()
    assert "Accept invitation" in page and "Decline" in page
    response = client.post(f"/invitations/{invitation.token}/", {"answer": "decline"})
    assert response.status_code == 302 and response["Location"] == "/installations/"
    invitation.refresh_from_db()
    assert invitation.declined_at is not None and not invitation.is_open
    assert not world.site_a.memberships.filter(user=world.oscar).exists()
    assert "It was declined" in client.get(f"/invitations/{invitation.token}/").content.decode()
    # Too late to accept now; the installation may invite again.
    client.post(f"/invitations/{invitation.token}/", {"answer": "accept"})
    assert not world.site_a.memberships.filter(user=world.oscar).exists()
    assert invite(world.alice, world.site_a, "oscar@example.com", "driver").is_open


def test_an_expired_invitation_is_not_offered_nor_accepted(world: World, client: Client) -> None:
    invitation = invite(world.alice, world.site_a, "oscar@example.com", "driver")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at="2000-01-01T00:00Z")
    client.force_login(world.oscar)
    assert "Invitations waiting" not in client.get("/installations/").content.decode()
    client.post(f"/invitations/{invitation.token}/", {"answer": "accept"})
    assert not world.site_a.memberships.filter(user=world.oscar).exists()


def test_password_reset_by_email(world: World, client: Client) -> None:
    client.post("/accounts/password/reset/", {"email": "dora@example.com"})
    reset_path = _link(mail.outbox[-1], "/accounts/password/reset/key/")
    response = client.get(reset_path, follow=True)
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else reset_path
    response = client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert Client().login(username="dora@example.com", password=NEW_PASSWORD)


def test_totp_two_factor_is_required_after_activation(world: World, client: Client) -> None:
    client.post("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})
    response = client.get("/accounts/2fa/totp/activate/")
    if response.status_code == 302:  # sensitive page: allauth asks for the password again first
        assert response["Location"].startswith("/accounts/reauthenticate/")
        client.post(response["Location"], {"password": PASSWORD})
        response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    counter = int(time.time()) // 30
    response = client.post(
        "/accounts/2fa/totp/activate/", {"code": format_hotp_value(hotp_value(secret, counter))}
    )
    assert response.status_code == 302
    assert world.alice.authenticator_set.filter(type="totp").exists()

    second = Client()
    response = second.post("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert second.get("/api/v1/me/").status_code in (401, 403)
    wrong = second.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200  # the form again, with an error
    code = format_hotp_value(hotp_value(secret, counter + 1))  # a fresh code: used ones are refused
    assert second.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    assert second.get("/api/v1/me/").json()["email"] == "alice@example.com"
