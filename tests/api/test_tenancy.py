"""Tenancy through the API: another tenant's objects do not exist, whatever the verb."""

from __future__ import annotations

import pytest

from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


def _other_tenant_urls(world: World) -> list[str]:
    membership_b = world.site_b.memberships.get()
    return [
        f"/api/v1/installations/{world.site_b.pk}/",
        f"/api/v1/circuits/{world.main_b.pk}/",
        f"/api/v1/chargers/{world.charger_b1.pk}/",
        f"/api/v1/members/{membership_b.pk}/",
    ]


@pytest.mark.parametrize("persona", ["alice", "ingrid", "dora", "dave"])
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_other_tenants_objects_are_not_found(world: World, persona: str, method: str) -> None:
    client = api_as(getattr(world, persona))
    for url in _other_tenant_urls(world):
        response = getattr(client, method)(
            url, {"name": "hijacked"} if method == "patch" else None, format="json"
        )
        assert response.status_code == 404, (url, response.status_code, response.content)
        assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    world.site_b.refresh_from_db()
    assert world.site_b.name == "Depot north"
    assert world.charger_b1.__class__.objects.filter(pk=world.charger_b1.pk).exists()


@pytest.mark.parametrize("persona", ["alice", "ingrid", "dora", "dave"])
def test_lists_show_only_own_tenants(world: World, persona: str) -> None:
    client = api_as(getattr(world, persona))
    for resource in ["installations", "circuits", "chargers", "members", "invitations"]:
        body = client.get(f"/api/v1/{resource}/").json()
        installation_ids = {
            item["id"] if resource == "installations" else item["installation"]
            for item in body["results"]
        }
        assert world.site_b.pk not in installation_ids, resource


def test_other_tenants_ids_are_refused_as_references(world: World) -> None:
    client = api_as(world.alice)
    response = client.post(
        "/api/v1/chargers/",
        {"circuit": world.main_b.pk, "name": "sneaky", "ocpp_identity": "SNEAKY-1"},
    )
    assert response.status_code == 400
    assert "circuit" in response.json()["error"]["fields"]
    response = client.post(
        "/api/v1/circuits/", {"parent": world.main_b.pk, "name": "x", "max_current_a": 10}
    )
    assert response.status_code == 400
    response = client.post(
        "/api/v1/invitations/",
        {"installation": world.site_b.pk, "email": "x@example.com", "role": "owner"},
    )
    assert response.status_code == 400
    assert not world.site_b.invitations.exists()
