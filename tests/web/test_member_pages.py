"""Members and invitations: invite by e-mail, accept, change roles, leave, revoke."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from installations.choices import Role
from installations.models import Invitation, Membership
from installations.services import invite
from tests.conftest import PASSWORD, World
from tests.web.conftest import field_errors

pytestmark = pytest.mark.django_db


ClientAs = Callable[[User], Client]

# ---------- Members and invitations ----------


def test_inviting_someone_sends_an_email(
    world: World, client_as: ClientAs, django_capture_on_commit_callbacks: Callable
) -> None:
    client = client_as(world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("installations:invite", args=[world.site_a.pk]),
            {"email": "New.Driver@Example.com", "role": "driver"},
        )
    assert response.url == reverse("installations:members", args=[world.site_a.pk])
    invitation = Invitation.objects.get(email="new.driver@example.com")
    assert invitation.installation == world.site_a
    assert invitation.role == Role.DRIVER
    assert invitation.invited_by == world.alice
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.driver@example.com"]
    assert reverse("invitation", args=[invitation.token]) in mail.outbox[0].body
    html = client.get(response.url).content.decode()
    assert "new.driver@example.com" in html
    assert "was sent to new.driver@example.com" in html


def test_invitation_errors_show_on_the_form(world: World, client_as: ClientAs) -> None:
    url = reverse("installations:invite", args=[world.site_a.pk])
    response = client_as(world.alice).post(url, {"email": "dora@example.com", "role": "driver"})
    assert field_errors(response, "email") == [
        "dora@example.com is already a member of Harbour car park."
    ]
    response = client_as(world.alice).post(url, {"email": "not an address", "role": "driver"})
    assert field_errors(response, "email") == ["Enter a valid email address."]
    # Installers may not make owners: the role is not even offered.
    response = client_as(world.ingrid).post(url, {"email": "boss@example.com", "role": "owner"})
    assert field_errors(response, "role")
    assert not Invitation.objects.filter(email="boss@example.com").exists()


def test_accepting_an_invitation(world: World, client: Client) -> None:
    invitation = invite(world.alice, world.site_a, "newcomer@example.com", Role.INSTALLER)
    url = reverse("invitation", args=[invitation.token])
    html = client.get(url).content.decode()
    assert "Join Harbour car park" in html
    assert "Alice Owner" in html
    assert f"{reverse('account_login')}?next=%2Finvitations%2F{invitation.token}%2F" in html
    assert f"{reverse('account_signup')}?next=%2Finvitations%2F{invitation.token}%2F" in html

    newcomer = User.objects.create_user("newcomer@example.com", PASSWORD)
    client.force_login(newcomer)
    assert "Accept invitation" in client.get(url).content.decode()
    response = client.post(url)
    assert response.url == reverse("installations:detail", args=[world.site_a.pk])
    assert world.site_a.role_of(newcomer) == Role.INSTALLER
    assert "You joined Harbour car park" in client.get(url).content.decode()
    client.force_login(world.dora)
    assert "no longer valid" in client.get(url).content.decode()


def test_accepting_while_logged_out_asks_to_log_in(world: World, client: Client) -> None:
    invitation = invite(world.alice, world.site_a, "x@example.com", Role.DRIVER)
    response = client.post(reverse("invitation", args=[invitation.token]))
    assert response.url.startswith(reverse("account_login") + "?next=")
    assert not Membership.objects.filter(user__email="x@example.com").exists()


def test_changing_roles_and_removing_members(world: World, client_as: ClientAs) -> None:
    alice = client_as(world.alice)
    dora = Membership.objects.get(user=world.dora, installation=world.site_a)
    alice.post(reverse("installations:member_role", args=[dora.pk]), {"role": "installer"})
    dora.refresh_from_db()
    assert dora.role == Role.INSTALLER

    # An installer may not touch an owner: no control, and the POST is refused with a message.
    owner = Membership.objects.get(user=world.alice, installation=world.site_a)
    ingrid = client_as(world.ingrid)
    html = ingrid.get(reverse("installations:members", args=[world.site_a.pk])).content.decode()
    assert reverse("installations:member_role", args=[owner.pk]) not in html
    response = ingrid.post(
        reverse("installations:member_role", args=[owner.pk]), {"role": "driver"}, follow=True
    )
    assert "You may not manage members with the role owner here." in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER

    dave = Membership.objects.get(user=world.dave, installation=world.site_a)
    ingrid.post(reverse("installations:member_remove", args=[dave.pk]))
    assert not Membership.objects.filter(pk=dave.pk).exists()

    response = alice.post(reverse("installations:member_remove", args=[owner.pk]), follow=True)
    assert "An installation must keep at least one owner." in response.content.decode()


def test_a_driver_may_leave_but_not_remove_others(world: World, client_as: ClientAs) -> None:
    dora = client_as(world.dora)
    dave = Membership.objects.get(user=world.dave, installation=world.site_a)
    assert dora.post(reverse("installations:member_remove", args=[dave.pk])).status_code == 404
    assert (
        dora.post(
            reverse("installations:member_role", args=[dave.pk]), {"role": "owner"}
        ).status_code
        == 404
    )
    own = Membership.objects.get(user=world.dora, installation=world.site_a)
    assert dora.post(reverse("installations:member_remove", args=[own.pk])).url == reverse(
        "installations:list"
    )
    assert not Membership.objects.filter(pk=own.pk).exists()
    assert dora.get(reverse("installations:detail", args=[world.site_a.pk])).status_code == 404


def test_revoking_an_invitation(world: World, client_as: ClientAs) -> None:
    owner_invite = invite(world.alice, world.site_a, "co-owner@example.com", Role.OWNER)
    driver_invite = invite(world.alice, world.site_a, "driver@example.com", Role.DRIVER)
    ingrid = client_as(world.ingrid)
    response = ingrid.post(
        reverse("installations:invitation_revoke", args=[owner_invite.pk]), follow=True
    )
    assert "You may not manage members with the role owner here." in response.content.decode()
    ingrid.post(reverse("installations:invitation_revoke", args=[driver_invite.pk]))
    assert list(Invitation.objects.filter(installation=world.site_a)) == [owner_invite]
