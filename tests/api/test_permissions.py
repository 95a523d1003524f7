"""Each role's rights, resource by resource: who may read, change and delete what.

A row is (persona, method, resource, expected status). 404 for "may not even see it", 403 for
"may see it but not do this", 2xx when allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db

Target = Callable[[World], tuple[str, dict[str, Any] | None]]


def installation_a(world: World) -> tuple[str, dict[str, Any] | None]:
    return f"/api/v1/installations/{world.site_a.pk}/", {"name": "Renamed"}


def circuit_row_a(world: World) -> tuple[str, dict[str, Any] | None]:
    return f"/api/v1/circuits/{world.row_a.pk}/", {"max_current_a": 25}


def charger_a1(world: World) -> tuple[str, dict[str, Any] | None]:
    return f"/api/v1/chargers/{world.charger_a1.pk}/", {"max_current_a": 16}


def charger_a2(world: World) -> tuple[str, dict[str, Any] | None]:
    return f"/api/v1/chargers/{world.charger_a2.pk}/", {"max_current_a": 16}


def membership_of_dora(world: World) -> tuple[str, dict[str, Any] | None]:
    return f"/api/v1/members/{world.site_a.memberships.get(user=world.dora).pk}/", {
        "role": "installer"
    }


PERMISSION_TABLE: list[tuple[str, str, Target, int]] = [
    # installation
    ("alice", "get", installation_a, 200),
    ("ingrid", "get", installation_a, 200),
    ("dora", "get", installation_a, 200),
    ("dave", "get", installation_a, 200),
    ("oscar", "get", installation_a, 404),
    ("alice", "patch", installation_a, 200),
    ("ingrid", "patch", installation_a, 200),
    ("dora", "patch", installation_a, 404),
    ("ingrid", "delete", installation_a, 403),
    ("dora", "delete", installation_a, 404),
    # circuits: drivers do not see the fuse tree
    ("alice", "get", circuit_row_a, 200),
    ("ingrid", "patch", circuit_row_a, 200),
    ("dora", "get", circuit_row_a, 404),
    ("dave", "patch", circuit_row_a, 404),
    # chargers: drivers see those they may charge on, and change none
    ("alice", "patch", charger_a1, 200),
    ("ingrid", "patch", charger_a2, 200),
    ("dora", "get", charger_a1, 200),
    ("dora", "get", charger_a2, 200),
    ("dave", "get", charger_a1, 200),
    ("dave", "get", charger_a2, 404),
    ("dave", "patch", charger_a1, 404),
    ("dora", "delete", charger_a2, 404),
    ("oscar", "get", charger_a1, 404),
    # members: drivers see only themselves; installers may not create owners
    ("alice", "get", membership_of_dora, 200),
    ("ingrid", "patch", membership_of_dora, 200),
    ("dora", "get", membership_of_dora, 200),
    ("dave", "get", membership_of_dora, 404),
    ("dora", "patch", membership_of_dora, 404),
    ("oscar", "get", membership_of_dora, 404),
    # deleting last: the object is gone afterwards
    ("alice", "delete", charger_a1, 204),
    ("ingrid", "delete", circuit_row_a, 400),  # a charger is still on it
    ("alice", "delete", installation_a, 204),
]


@pytest.mark.parametrize(("persona", "method", "target", "expected"), PERMISSION_TABLE)
def test_permission_table(
    world: World, persona: str, method: str, target: Target, expected: int
) -> None:
    url, payload = target(world)
    client = api_as(getattr(world, persona))
    response = getattr(client, method)(url, payload if method == "patch" else None, format="json")
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}


def test_driver_lists_only_chargers_they_may_use(world: World) -> None:
    names = [c["name"] for c in api_as(world.dave).get("/api/v1/chargers/").json()["results"]]
    assert names == ["A1"]
    names = [c["name"] for c in api_as(world.dora).get("/api/v1/chargers/").json()["results"]]
    assert names == ["A1", "A2"]


def test_installer_sees_sites_of_several_owners(world: World) -> None:
    names = sorted(
        i["name"] for i in api_as(world.ingrid).get("/api/v1/installations/").json()["results"]
    )
    assert names == ["Harbour car park", "Office west"]


def test_drivers_see_no_members_but_themselves_and_no_invitations(world: World) -> None:
    members = api_as(world.dora).get("/api/v1/members/").json()["results"]
    assert [m["user"]["email"] for m in members] == ["dora@example.com"]
    assert api_as(world.dora).get("/api/v1/invitations/").json()["results"] == []


def test_staff_superuser_sees_everything(world: World) -> None:
    from accounts.models import User

    admin = User.objects.create_superuser(email="root@example.com", password="x")
    names = {i["name"] for i in api_as(admin).get("/api/v1/installations/").json()["results"]}
    assert names == {"Harbour car park", "Depot north", "Office west"}


def test_anonymous_gets_401_with_error_body(api: Any, world: World) -> None:
    response = api.get("/api/v1/installations/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_chargers_with_several_permissions_are_listed_once(world: World) -> None:
    from auth_access.models import ChargerPermission

    dora = world.site_a.memberships.get(user=world.dora)
    ChargerPermission.objects.create(membership=dora, charger=world.charger_a1)  # A1 now has two
    for persona in ["alice", "dave", "dora"]:
        body = api_as(getattr(world, persona)).get("/api/v1/chargers/").json()
        names = [c["name"] for c in body["results"]]
        assert len(names) == len(set(names)) == body["count"], persona
