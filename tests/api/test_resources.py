"""Behaviour of the API's resources: creation rules, validation messages, credentials shown once."""

from __future__ import annotations

import pytest
from django.core import mail

from chargers.models import Charger
from installations.models import Invitation, Membership
from tests.conftest import PASSWORD, World, api_as

pytestmark = pytest.mark.django_db


def test_creating_an_installation_makes_you_its_owner_with_a_main_fuse(world: World) -> None:
    client = api_as(world.dora)
    response = client.post(
        "/api/v1/installations/",
        {
            "name": "My garage",
            "main_fuse_a": 25,
            "time_zone": "Europe/Berlin",
            "authorization_mode": "open",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["my_role"] == "owner"
    assert "main_fuse_a" not in body
    circuits = client.get(f"/api/v1/circuits/?installation={body['id']}").json()["results"]
    assert [(c["name"], c["max_current_a"], c["is_main_fuse"]) for c in circuits] == [
        ("Main fuse", 25.0, True)
    ]


def test_invalid_installation_payload_gives_field_messages(world: World) -> None:
    response = api_as(world.alice).post(
        "/api/v1/installations/",
        {"name": "", "time_zone": "Mars/Olympus", "failsafe_current_a": -3, "currency": "euro"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) >= {"name", "time_zone", "failsafe_current_a", "main_fuse_a"}
    assert "Mars/Olympus" in error["fields"]["time_zone"][0]


def test_circuit_above_its_parent_is_refused_with_a_clear_message(world: World) -> None:
    response = api_as(world.ingrid).post(
        "/api/v1/circuits/", {"parent": world.row_a.pk, "name": "Too big", "max_current_a": 40}
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["max_current_a"] == [
        "40 A is above the parent circuit Row A (32 A)."
    ]


def test_lowering_a_circuit_below_its_children_is_refused(world: World) -> None:
    response = api_as(world.ingrid).patch(
        f"/api/v1/circuits/{world.main_a.pk}/", {"max_current_a": 20}
    )
    assert response.status_code == 400
    assert "Row A (32 A)" in response.json()["error"]["fields"]["max_current_a"][0]
    world.main_a.refresh_from_db()
    assert world.main_a.max_current_a == 63


def test_main_fuse_cannot_be_deleted(world: World) -> None:
    response = api_as(world.alice).delete(f"/api/v1/circuits/{world.main_a.pk}/")
    assert response.status_code == 400
    assert "main fuse" in response.json()["error"]["message"]


def test_registering_a_charger_returns_its_password_exactly_once(world: World) -> None:
    client = api_as(world.ingrid)
    response = client.post(
        "/api/v1/chargers/",
        {
            "circuit": world.row_a.pk,
            "name": "A3",
            "ocpp_identity": "HARBOUR-A3",
            "phases": 1,
            "connector_count": 2,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["installation"] == world.site_a.pk
    assert body["ocpp_url"] == "ws://127.0.0.1:9000/ocpp/HARBOUR-A3"
    assert [c["connector_id"] for c in body["connectors"]] == [1, 2]
    charger = Charger.objects.get(pk=body["id"])
    assert charger.check_ocpp_password(body["ocpp_password"])
    assert body["ocpp_password"] not in charger.ocpp_password_hash
    again = client.get(f"/api/v1/chargers/{charger.pk}/").json()
    assert "ocpp_password" not in again
    assert all(
        "ocpp_password" not in item for item in client.get("/api/v1/chargers/").json()["results"]
    )


def test_rotating_the_ocpp_password_invalidates_the_old_one(world: World) -> None:
    client = api_as(world.alice)
    first = client.post(f"/api/v1/chargers/{world.charger_a1.pk}/ocpp-password/").json()[
        "ocpp_password"
    ]
    second = client.post(f"/api/v1/chargers/{world.charger_a1.pk}/ocpp-password/").json()[
        "ocpp_password"
    ]
    world.charger_a1.refresh_from_db()
    assert not world.charger_a1.check_ocpp_password(first)
    assert world.charger_a1.check_ocpp_password(second)
    assert (
        api_as(world.dora)
        .post(f"/api/v1/chargers/{world.charger_a1.pk}/ocpp-password/")
        .status_code
        == 404
    )


def test_charger_validation_messages(world: World) -> None:
    client = api_as(world.alice)
    response = client.post(
        "/api/v1/chargers/",
        {
            "circuit": world.row_a.pk,
            "name": "A1",
            "ocpp_identity": "bad identity/with slash",
            "min_current_a": 20,
            "max_current_a": 40,
        },
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "ocpp_identity" in fields
    response = client.post(
        "/api/v1/chargers/",
        {
            "circuit": world.row_a.pk,
            "name": "A9",
            "ocpp_identity": "HARBOUR-A9",
            "min_current_a": 20,
            "max_current_a": 40,
        },
    )
    assert response.json()["error"]["fields"]["max_current_a"] == [
        "40 A is above circuit Row A (32 A)."
    ]
    response = client.post(
        "/api/v1/chargers/", {"circuit": world.row_a.pk, "name": "Dup", "ocpp_identity": "DEPOT-B1"}
    )
    assert response.status_code == 400
    assert "ocpp_identity" in response.json()["error"]["fields"]


def test_unknown_ids_are_404(world: World) -> None:
    client = api_as(world.alice)
    for url in [
        "/api/v1/installations/999999/",
        "/api/v1/chargers/999999/",
        "/api/v1/circuits/abc/",
    ]:
        assert client.get(url).status_code == 404


def test_filters_and_pagination(world: World) -> None:
    client = api_as(world.ingrid)
    body = client.get(f"/api/v1/chargers/?installation={world.site_a.pk}&page_size=1").json()
    assert body["count"] == 2
    assert len(body["results"]) == 1
    assert body["next"] is not None
    assert client.get("/api/v1/installations/?search=office").json()["count"] == 1


class TestInvitations:
    def test_owner_invites_by_email(self, world: World, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            response = api_as(world.alice).post(
                "/api/v1/invitations/",
                {
                    "installation": world.site_a.pk,
                    "email": "New.Person@Example.com",
                    "role": "driver",
                },
            )
        assert response.status_code == 201, response.content
        assert response.json()["email"] == "new.person@example.com"
        assert len(mail.outbox) == 1
        invitation = Invitation.objects.get()
        assert invitation.token in mail.outbox[0].body
        assert "Harbour car park" in mail.outbox[0].subject

    def test_installer_may_not_invite_an_owner(self, world: World) -> None:
        response = api_as(world.ingrid).post(
            "/api/v1/invitations/",
            {"installation": world.site_a.pk, "email": "x@example.com", "role": "owner"},
        )
        assert response.status_code == 403
        assert "owner" in response.json()["error"]["message"]
        assert not Invitation.objects.exists()

    def test_driver_may_not_invite(self, world: World) -> None:
        response = api_as(world.dora).post(
            "/api/v1/invitations/",
            {"installation": world.site_a.pk, "email": "x@example.com", "role": "driver"},
        )
        assert response.status_code == 400  # the installation is not one she may administer
        assert not Invitation.objects.exists()

    def test_a_second_open_invitation_for_the_same_address_is_refused(self, world: World) -> None:
        payload = {"installation": world.site_a.pk, "email": "x@example.com", "role": "driver"}
        assert api_as(world.alice).post("/api/v1/invitations/", payload).status_code == 201
        response = api_as(world.alice).post("/api/v1/invitations/", payload)
        assert response.status_code == 403
        assert "already has an open invitation" in response.json()["error"]["message"]

    def test_existing_member_cannot_be_invited(self, world: World) -> None:
        payload = {"installation": world.site_a.pk, "email": "dora@example.com", "role": "driver"}
        response = api_as(world.alice).post("/api/v1/invitations/", payload)
        assert response.status_code == 403
        assert "already a member" in response.json()["error"]["message"]

    def test_installer_may_not_revoke_an_owner_invitation(self, world: World) -> None:
        payload = {
            "installation": world.site_a.pk,
            "email": "co-owner@example.com",
            "role": "owner",
        }
        invitation_id = api_as(world.alice).post("/api/v1/invitations/", payload).json()["id"]
        response = api_as(world.ingrid).delete(f"/api/v1/invitations/{invitation_id}/")
        assert response.status_code == 403
        assert Invitation.objects.filter(pk=invitation_id).exists()

    def test_revoking_an_invitation(self, world: World) -> None:
        payload = {"installation": world.site_a.pk, "email": "x@example.com", "role": "driver"}
        invitation_id = api_as(world.alice).post("/api/v1/invitations/", payload).json()["id"]
        assert (
            api_as(world.oscar).delete(f"/api/v1/invitations/{invitation_id}/").status_code == 404
        )
        assert (
            api_as(world.ingrid).delete(f"/api/v1/invitations/{invitation_id}/").status_code == 204
        )
        assert not Invitation.objects.exists()


class TestMembers:
    def test_installer_may_not_promote_to_owner(self, world: World) -> None:
        dora = world.site_a.memberships.get(user=world.dora)
        response = api_as(world.ingrid).patch(f"/api/v1/members/{dora.pk}/", {"role": "owner"})
        assert response.status_code == 403
        dora.refresh_from_db()
        assert dora.role == "driver"

    def test_installer_may_not_remove_the_owner(self, world: World) -> None:
        alice = world.site_a.memberships.get(user=world.alice)
        assert api_as(world.ingrid).delete(f"/api/v1/members/{alice.pk}/").status_code == 403
        assert Membership.objects.filter(pk=alice.pk).exists()

    def test_the_last_owner_cannot_leave(self, world: World) -> None:
        alice = world.site_a.memberships.get(user=world.alice)
        response = api_as(world.alice).delete(f"/api/v1/members/{alice.pk}/")
        assert response.status_code == 403
        assert "at least one owner" in response.json()["error"]["message"]

    def test_a_driver_may_leave(self, world: World) -> None:
        dora = world.site_a.memberships.get(user=world.dora)
        assert api_as(world.dora).delete(f"/api/v1/members/{dora.pk}/").status_code == 204
        assert (
            api_as(world.dora).get(f"/api/v1/installations/{world.site_a.pk}/").status_code == 404
        )


class TestTokenAuth:
    def test_token_for_email_and_password(self, api, world: World) -> None:  # type: ignore[no-untyped-def]
        response = api.post(
            "/api/v1/auth/token/", {"username": "Alice@Example.com", "password": PASSWORD}
        )
        assert response.status_code == 200
        token = response.json()["token"]
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        me = api.get("/api/v1/me/").json()
        assert me["email"] == "alice@example.com"
        assert me["memberships"] == [
            {
                "installation": world.site_a.pk,
                "installation_name": "Harbour car park",
                "role": "owner",
            }
        ]

    def test_wrong_password_is_refused_with_a_message(self, api, world: World) -> None:  # type: ignore[no-untyped-def]
        response = api.post(
            "/api/v1/auth/token/", {"username": "alice@example.com", "password": "nope"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["message"] == "Unable to log in with these credentials."

    def test_bad_token_is_401(self, api, world: World) -> None:  # type: ignore[no-untyped-def]
        api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
        assert api.get("/api/v1/me/").status_code == 401

    def test_token_endpoint_is_throttled(self, api, world: World) -> None:  # type: ignore[no-untyped-def]
        statuses = [  # per client address, over accounts (each account also locks: test_api_tokens)
            api.post(
                "/api/v1/auth/token/", {"username": f"user{n}@example.com", "password": "nope"}
            ).status_code
            for n in range(11)
        ]
        assert statuses[:10] == [400] * 10
        assert statuses[10] == 429

    def test_me_can_change_name_but_not_email(self, world: World) -> None:
        client = api_as(world.dora)
        body = client.patch("/api/v1/me/", {"name": "Dora D.", "email": "evil@example.com"}).json()
        assert body["name"] == "Dora D."
        assert body["email"] == "dora@example.com"


def test_malformed_json_is_a_400_with_message(world: World) -> None:
    client = api_as(world.alice)
    response = client.generic(
        "POST", "/api/v1/installations/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["error"]["message"]


def test_duplicate_names_within_an_installation_are_a_field_error(world: World) -> None:
    client = api_as(world.alice)
    response = client.post(
        "/api/v1/chargers/", {"circuit": world.row_a.pk, "name": "A1", "ocpp_identity": "X-1"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["name"] == [
        "Another charger of this installation already has this name."
    ]
    response = client.post(
        "/api/v1/circuits/", {"parent": world.main_a.pk, "name": "Row A", "max_current_a": 10}
    )
    assert response.json()["error"]["fields"]["name"] == [
        "Another circuit of this installation already has this name."
    ]
    # The same names at another installation are fine.
    response = api_as(world.oscar).post(
        "/api/v1/chargers/", {"circuit": world.main_b.pk, "name": "A1", "ocpp_identity": "X-2"}
    )
    assert response.status_code == 201


def test_installers_set_the_balancing_settings_of_a_charger(world: World) -> None:
    url = f"/api/v1/chargers/{world.charger_a1.pk}/"
    payload = {"priority": 2, "can_switch_phases": True, "phase_rotation": "L2L3L1"}
    response = api_as(world.ingrid).patch(url, payload, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["priority"], body["can_switch_phases"], body["phase_rotation"]) == (
        2,
        True,
        "L2L3L1",
    )
    assert "allocated_current_a" in body and "measured_at" in body["live"]
    # What balancing decided is shown, never set by a client.
    api_as(world.ingrid).patch(url, {"allocated_current_a": 99}, format="json")
    world.charger_a1.refresh_from_db()
    assert world.charger_a1.allocated_current_a is None
    assert api_as(world.dora).patch(url, {"priority": 9}, format="json").status_code in (403, 404)
