"""The access-control API: who may read and change what (a permission table per resource), and
the rules beyond the tenancy gate (no self-granted rights, cards blocked by the installation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from auth_access.choices import RunningSessionPolicy
from auth_access.models import (
    AccessPolicy,
    AuthorizationRecord,
    ChargeCard,
    ChargerPermission,
    LocalListState,
    RemoteStart,
    SeenCard,
)
from auth_access.virtual_tags import virtual_id_tag
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


@dataclass
class Things:
    """One object of each access resource, at site A unless said otherwise."""

    dora_card: ChargeCard
    dave_card: ChargeCard
    oscar_card: ChargeCard
    dave_permission: ChargerPermission
    seen: SeenCard
    dora_record: AuthorizationRecord
    dave_record: AuthorizationRecord
    dora_start: RemoteStart
    list_a1: LocalListState


def _record(world: World, user: Any, id_tag: str, **extra: Any) -> AuthorizationRecord:
    fields = {
        "installation": world.site_a, "charger": world.charger_a1, "id_tag": id_tag, "user": user,
        "trigger": "authorize", "status": "Accepted", "reason": "test", "source": "local",
        "latency_ms": 1.5, **extra,
    }  # fmt: skip
    return AuthorizationRecord.objects.create(**fields)


@pytest.fixture
def things(world: World) -> Things:
    now = timezone.now()
    SeenCard.record(world.charger_a1.pk, "STRANGER", now)
    return Things(
        dora_card=ChargeCard.objects.create(  # her work card, registered at Harbour by alice
            user=world.dora, id_tag="DORA-1", created_by=world.alice, installation=world.site_a
        ),
        dave_card=ChargeCard.objects.create(
            user=world.dave, id_tag="DAVE-1", created_by=world.dave
        ),
        oscar_card=ChargeCard.objects.create(user=world.oscar, id_tag="OSCAR-1"),
        dave_permission=ChargerPermission.objects.get(charger=world.charger_a1),
        seen=SeenCard.objects.get(),
        dora_record=_record(world, world.dora, "DORA-1"),
        dave_record=_record(world, world.dave, "DAVE-1", status="Invalid"),
        dora_start=RemoteStart.objects.create(
            charger=world.charger_a1,
            connector_id=1,
            user=world.dora,
            id_tag=virtual_id_tag(world.dora.pk),
            expires_at=now,
        ),
        list_a1=LocalListState.objects.create(charger=world.charger_a1),
    )


Target = Callable[[World, Things], tuple[str, dict[str, Any] | None]]


def card(name: str) -> Target:
    return lambda w, t: (f"/api/v1/cards/{getattr(t, name).pk}/", {"name": "Renamed"})


def permission_of_dave(w: World, t: Things) -> tuple[str, None]:
    return f"/api/v1/charger-permissions/{t.dave_permission.pk}/", None


def rights_of(persona: str) -> Target:
    def target(w: World, t: Things) -> tuple[str, dict[str, Any]]:
        membership = w.site_a.memberships.get(user=getattr(w, persona))
        return f"/api/v1/charging-rights/{membership.pk}/", {"may_charge_everywhere": True}

    return target


def seen_card(w: World, t: Things) -> tuple[str, None]:
    return f"/api/v1/seen-cards/{t.seen.pk}/", None


def record(name: str) -> Target:
    return lambda w, t: (f"/api/v1/authorization-records/{getattr(t, name).pk}/", None)


def policy_a(w: World, t: Things) -> tuple[str, dict[str, Any]]:
    return f"/api/v1/access-policies/{w.site_a.pk}/", {"running_session_policy": "stop"}


def dora_start(w: World, t: Things) -> tuple[str, None]:
    return f"/api/v1/remote-starts/{t.dora_start.pk}/", None


def list_a1(w: World, t: Things) -> tuple[str, None]:
    return f"/api/v1/local-lists/{t.list_a1.pk}/", None


PERMISSION_TABLE: list[tuple[str, str, Target, int]] = [
    # cards: the holder, and the owners and installers of the installation it is registered at;
    # a member's own card (dave's) is theirs alone
    ("alice", "get", card("dave_card"), 404),
    ("ingrid", "get", card("dave_card"), 404),
    ("alice", "patch", card("dave_card"), 404),
    ("dave", "get", card("dave_card"), 200),
    ("dora", "get", card("dora_card"), 200),
    ("alice", "get", card("dora_card"), 200),
    ("ingrid", "get", card("dora_card"), 200),
    ("dave", "get", card("dora_card"), 404),
    ("oscar", "get", card("dora_card"), 404),
    ("dora", "get", card("oscar_card"), 404),
    ("alice", "get", card("oscar_card"), 404),
    ("dora", "patch", card("dora_card"), 200),
    ("alice", "patch", card("dora_card"), 200),
    ("dave", "patch", card("dora_card"), 404),
    ("oscar", "patch", card("dora_card"), 404),
    ("dora", "delete", card("dave_card"), 404),
    ("alice", "delete", card("dave_card"), 404),
    ("ingrid", "delete", card("dora_card"), 204),  # a manager of the installation it is at
    ("dora", "delete", card("dora_card"), 204),
    # per-charger permissions: drivers see their own, change none
    ("dave", "get", permission_of_dave, 200),
    ("dora", "get", permission_of_dave, 404),
    ("alice", "get", permission_of_dave, 200),
    ("oscar", "get", permission_of_dave, 404),
    ("dave", "delete", permission_of_dave, 404),
    ("ingrid", "delete", permission_of_dave, 204),
    # charging rights per member
    ("dave", "get", rights_of("dave"), 200),
    ("dora", "get", rights_of("dave"), 404),
    ("oscar", "get", rights_of("dave"), 404),
    ("dave", "patch", rights_of("dave"), 404),
    ("dora", "patch", rights_of("dora"), 404),
    ("ingrid", "patch", rights_of("dave"), 200),
    ("ingrid", "patch", rights_of("alice"), 403),  # installers do not manage owners
    ("alice", "patch", rights_of("dave"), 200),
    # seen cards: owners and installers only
    ("alice", "get", seen_card, 200),
    ("ingrid", "get", seen_card, 200),
    ("dora", "get", seen_card, 404),
    ("dave", "get", seen_card, 404),
    ("oscar", "get", seen_card, 404),
    ("dora", "delete", seen_card, 404),
    ("alice", "delete", seen_card, 204),
    # authorization records: owners and installers, drivers their own
    ("alice", "get", record("dora_record"), 200),
    ("ingrid", "get", record("dave_record"), 200),
    ("dora", "get", record("dora_record"), 200),
    ("dora", "get", record("dave_record"), 404),
    ("dave", "get", record("dora_record"), 404),
    ("oscar", "get", record("dora_record"), 404),
    ("alice", "delete", record("dora_record"), 405),
    # access policies: owners and installers
    ("alice", "get", policy_a, 200),
    ("ingrid", "patch", policy_a, 200),
    ("dora", "get", policy_a, 404),
    ("dora", "patch", policy_a, 404),
    ("oscar", "get", policy_a, 404),
    # remote starts: your own, or all of your installations'
    ("dora", "get", dora_start, 200),
    ("alice", "get", dora_start, 200),
    ("dave", "get", dora_start, 404),
    ("oscar", "get", dora_start, 404),
    # local lists: owners and installers
    ("alice", "get", list_a1, 200),
    ("dora", "get", list_a1, 404),
    ("oscar", "get", list_a1, 404),
]


@pytest.mark.parametrize(("persona", "method", "target", "expected"), PERMISSION_TABLE)
def test_permission_table(
    world: World, things: Things, persona: str, method: str, target: Target, expected: int
) -> None:
    url, payload = target(world, things)
    client = api_as(getattr(world, persona))
    response = getattr(client, method)(url, payload if method == "patch" else None, format="json")
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}


def _ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


class TestCards:
    def test_lists(self, world: World, things: Things) -> None:
        ingrid_card = ChargeCard.objects.create(user=world.ingrid, id_tag="INGRID-1")
        assert _ids(api_as(world.dora).get("/api/v1/cards/")) == {things.dora_card.pk}
        # Owners see the cards registered at their installation, not the members' own ones.
        assert _ids(api_as(world.alice).get("/api/v1/cards/")) == {things.dora_card.pk}
        assert _ids(api_as(world.ingrid).get("/api/v1/cards/")) == {
            things.dora_card.pk, ingrid_card.pk,
        }  # fmt: skip
        assert _ids(api_as(world.oscar).get("/api/v1/cards/")) == {things.oscar_card.pk}
        by_site = api_as(world.ingrid).get(f"/api/v1/cards/?installation={world.site_a.pk}")
        assert _ids(by_site) == {things.dora_card.pk}

    def test_a_driver_adds_their_own_card_upper_cased(self, world: World) -> None:
        response = api_as(world.dora).post(
            "/api/v1/cards/", {"id_tag": "04a1b2c3", "name": "Keyring"}, format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["id_tag"], body["user"], body["created_by"]) == (
            "04A1B2C3", world.dora.pk, "dora@example.com",
        )  # fmt: skip

    def test_a_driver_cannot_add_a_card_for_someone_else(self, world: World) -> None:
        response = api_as(world.dora).post(
            "/api/v1/cards/", {"id_tag": "X1", "user": world.dave.pk}, format="json"
        )
        assert response.status_code == 400
        assert "user" in response.json()["error"]["fields"]
        assert not ChargeCard.objects.exists()

    def test_an_owner_registers_cards_at_their_installation_for_its_members_only(
        self, world: World
    ) -> None:
        client = api_as(world.alice)
        site_a = world.site_a.pk
        ok = client.post(
            "/api/v1/cards/",
            {"id_tag": "X1", "user": world.dave.pk, "installation": site_a},
            format="json",
        )
        assert ok.status_code == 201, ok.content
        card = ChargeCard.objects.get()
        assert (card.created_by, card.installation, ok.json()["installation"]) == (
            world.alice, world.site_a, site_a,
        )  # fmt: skip
        nowhere = client.post("/api/v1/cards/", {"id_tag": "X2", "user": world.dave.pk})
        assert nowhere.status_code == 403
        assert "at which installation" in nowhere.json()["error"]["message"]
        other = client.post(
            "/api/v1/cards/", {"id_tag": "X2", "user": world.oscar.pk, "installation": site_a}
        )
        assert other.status_code == 400
        not_hers = client.post(
            "/api/v1/cards/",
            {"id_tag": "X2", "user": world.dave.pk, "installation": world.site_b.pk},
        )
        assert not_hers.status_code == 400
        assert "installation" in not_hers.json()["error"]["fields"]
        assert ChargeCard.objects.count() == 1

    @pytest.mark.parametrize(
        "id_tag", ["dora-1", " DORA-1 ", virtual_id_tag(1), "with space", "X" * 21]
    )
    def test_taken_reserved_or_malformed_numbers_are_refused(
        self, world: World, things: Things, id_tag: str
    ) -> None:
        response = api_as(world.alice).post("/api/v1/cards/", {"id_tag": id_tag}, format="json")
        assert response.status_code == 400, response.content
        assert "id_tag" in response.json()["error"]["fields"]
        assert ChargeCard.objects.count() == 3

    def test_number_and_holder_do_not_change(self, world: World, things: Things) -> None:
        response = api_as(world.alice).patch(
            f"/api/v1/cards/{things.dora_card.pk}/",
            {"id_tag": "CHANGED", "user": world.alice.pk, "name": "Work"},
            format="json",
        )
        assert response.status_code == 200
        things.dora_card.refresh_from_db()
        assert (things.dora_card.id_tag, things.dora_card.user, things.dora_card.name) == (
            "DORA-1", world.dora, "Work",
        )  # fmt: skip

    def test_a_card_blocked_by_the_installation_stays_blocked_for_its_holder(
        self, world: World, things: Things
    ) -> None:
        url = f"/api/v1/cards/{things.dora_card.pk}/"
        assert api_as(world.alice).post(url + "block/").json()["is_blocked"] is True
        refused = api_as(world.dora).post(url + "unblock/")
        assert refused.status_code == 403
        assert refused.json()["error"]["message"] == (
            "This card was blocked by your installation; ask its owner."
        )
        assert api_as(world.dora).patch(url, {"is_blocked": False}).status_code == 403
        assert api_as(world.ingrid).post(url + "unblock/").json()["is_blocked"] is False

    def test_a_holder_blocks_and_unblocks_a_lost_card(self, world: World, things: Things) -> None:
        url = f"/api/v1/cards/{things.dora_card.pk}/"
        blocked = api_as(world.dora).post(url + "block/").json()
        assert blocked["is_blocked"] is True and blocked["blocked_at"] is not None
        assert api_as(world.dora).post(url + "unblock/").json()["is_blocked"] is False

    def test_the_validity_an_owner_gave_is_not_the_holders_to_change(self, world: World) -> None:
        until = datetime(2030, 1, 1, tzinfo=UTC)
        response = api_as(world.alice).post(
            "/api/v1/cards/",
            {
                "id_tag": "VISITOR",
                "user": world.dora.pk,
                "installation": world.site_a.pk,
                "expires_at": until.isoformat(),
            },
            format="json",
        )
        url = f"/api/v1/cards/{response.json()['id']}/"
        later = (until + timedelta(days=365)).isoformat()
        assert api_as(world.dora).patch(url, {"expires_at": later}).status_code == 403
        assert api_as(world.dora).patch(url, {"name": "Mine"}).status_code == 200
        assert api_as(world.alice).patch(url, {"expires_at": later}).status_code == 200


class TestPermissions:
    def test_a_driver_cannot_grant_themselves_anything(self, world: World) -> None:
        client = api_as(world.dave)
        membership = world.site_a.memberships.get(user=world.dave)
        response = client.post(
            "/api/v1/charger-permissions/",
            {"membership": membership.pk, "charger": world.charger_a2.pk},
            format="json",
        )
        assert response.status_code == 400
        assert set(response.json()["error"]["fields"]) == {"membership", "charger"}
        response = client.patch(
            f"/api/v1/charging-rights/{membership.pk}/",
            {"may_charge_everywhere": True, "chargers": [world.charger_a2.pk]},
            format="json",
        )
        assert response.status_code == 404
        membership.refresh_from_db()
        assert not membership.may_charge_everywhere
        assert list(membership.charger_permissions.values_list("charger__name", flat=True)) == [
            "A1"
        ]

    def test_owners_and_installers_grant_and_revoke_per_charger(self, world: World) -> None:
        membership = world.site_a.memberships.get(user=world.dave)
        response = api_as(world.ingrid).post(
            "/api/v1/charger-permissions/",
            {"membership": membership.pk, "charger": world.charger_a2.pk},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["granted_by"] == "ingrid@example.com"
        again = api_as(world.alice).post(
            "/api/v1/charger-permissions/",
            {"membership": membership.pk, "charger": world.charger_a2.pk},
            format="json",
        )
        assert again.status_code == 201 and again.json()["id"] == response.json()["id"]
        listed = api_as(world.dave).get(f"/api/v1/charger-permissions/?user={world.dave.pk}")
        assert len(listed.json()["results"]) == 2

    def test_another_installations_charger_or_member_is_refused(self, world: World) -> None:
        membership = world.site_a.memberships.get(user=world.dave)
        response = api_as(world.alice).post(
            "/api/v1/charger-permissions/",
            {"membership": membership.pk, "charger": world.charger_b1.pk},
            format="json",
        )
        assert response.status_code == 400
        assert "charger" in response.json()["error"]["fields"]

    def test_charging_rights_replace_the_list_of_chargers(self, world: World) -> None:
        membership = world.site_a.memberships.get(user=world.dave)
        url = f"/api/v1/charging-rights/{membership.pk}/"
        body = api_as(world.alice).patch(url, {"chargers": [world.charger_a2.pk]}, format="json")
        assert body.status_code == 200, body.content
        assert body.json()["chargers"] == [world.charger_a2.pk]
        assert body.json()["may_charge_everywhere"] is False
        body = api_as(world.alice).patch(url, {"may_charge_everywhere": True}, format="json")
        assert body.json()["may_charge_everywhere"] is True
        foreign = api_as(world.alice).patch(url, {"chargers": [world.charger_b1.pk]}, format="json")
        assert foreign.status_code == 400


class TestSeenCards:
    def test_assign_creates_the_card_and_empties_the_list(
        self, world: World, things: Things
    ) -> None:
        SeenCard.record(world.charger_a2.pk, "STRANGER", timezone.now())
        response = api_as(world.alice).post(
            f"/api/v1/seen-cards/{things.seen.pk}/assign/",
            {"user": world.dave.pk, "name": "Found at A1"},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert (response.json()["id_tag"], response.json()["user"]) == ("STRANGER", world.dave.pk)
        assert not SeenCard.objects.exists()

    def test_only_to_a_member_of_that_installation(self, world: World, things: Things) -> None:
        from accounts.models import User
        from installations.models import Membership

        only_c = User.objects.create_user(email="cleo@example.com", password="x")
        Membership.objects.create(user=only_c, installation=world.site_c, role="driver")
        url = f"/api/v1/seen-cards/{things.seen.pk}/assign/"
        outsider = api_as(world.alice).post(url, {"user": world.oscar.pk}, format="json")
        assert outsider.status_code == 400
        elsewhere = api_as(world.ingrid).post(url, {"user": only_c.pk}, format="json")
        assert elsewhere.status_code == 403
        assert "not a member of Harbour car park" in elsewhere.json()["error"]["message"]
        assert SeenCard.objects.exists() and not ChargeCard.objects.filter(id_tag="STRANGER")


class TestRecords:
    def test_filters(self, world: World, things: Things) -> None:
        client = api_as(world.alice)
        base = "/api/v1/authorization-records/"
        assert _ids(client.get(base)) == {things.dora_record.pk, things.dave_record.pk}
        assert _ids(client.get(f"{base}?user={world.dave.pk}")) == {things.dave_record.pk}
        assert _ids(client.get(f"{base}?result=Accepted")) == {things.dora_record.pk}
        assert _ids(client.get(f"{base}?installation={world.site_a.pk}&charger="
                               f"{world.charger_a1.pk}&source=local&trigger=authorize")) == {
            things.dora_record.pk, things.dave_record.pk,
        }  # fmt: skip
        past = (timezone.now() - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        assert _ids(client.get(base, {"created_before": past})) == set()
        assert len(_ids(client.get(base, {"created_after": past}))) == 2
        assert _ids(api_as(world.dora).get(base)) == {things.dora_record.pk}
        assert _ids(api_as(world.oscar).get(base)) == set()


class TestPolicy:
    URL = "/api/v1/access-policies/{}/"

    def test_the_external_authorizer_secret_is_write_only(self, world: World) -> None:
        url = self.URL.format(world.site_a.pk)
        config = {
            "external_enabled": True,
            "external_url": "https://auth.example.com/fusebox",
            "external_secret": "s3cret-s3cret-s3cret",
            "external_deadline_ms": 1500,
            "external_fallback": "refuse",
            "running_session_policy": "stop",
        }
        response = api_as(world.alice).patch(url, config, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert "external_secret" not in body and body["external_secret_set"] is True
        assert body["external_deadline_ms"] == 1500 and body["external_fallback"] == "refuse"
        assert "s3cret" not in api_as(world.ingrid).get(url).content.decode()
        policy = AccessPolicy.objects.get(installation=world.site_a)
        assert policy.external_secret == "s3cret-s3cret-s3cret" and policy.uses_external
        assert policy.running_session_policy == RunningSessionPolicy.STOP

    @pytest.mark.parametrize(
        ("config", "field"),
        [
            ({"external_url": "http://auth.example.com/"}, "external_url"),
            ({"external_secret": "short"}, "external_secret"),
            ({"external_enabled": True}, "external_url"),
            ({"external_deadline_ms": 50}, "external_deadline_ms"),
            ({"external_fallback": "guess"}, "external_fallback"),
        ],
    )
    def test_invalid_configurations(self, world: World, config: dict, field: str) -> None:
        response = api_as(world.alice).patch(
            self.URL.format(world.site_a.pk), config, format="json"
        )
        assert response.status_code == 400
        assert field in response.json()["error"]["fields"]

    def test_plain_http_only_where_the_setting_allows_it(self, world: World, settings: Any) -> None:
        settings.ACCESS_EXTERNAL_ALLOW_HTTP = True
        response = api_as(world.alice).patch(
            self.URL.format(world.site_a.pk), {"external_url": "http://127.0.0.1:9/"}, format="json"
        )
        assert response.status_code == 200

    def test_every_installation_has_one(self, world: World) -> None:
        ids = _ids_by(api_as(world.ingrid).get("/api/v1/access-policies/"), "installation")
        assert ids == {world.site_a.pk, world.site_c.pk}


def _ids_by(response: Any, key: str) -> set[int]:
    return {item[key] for item in response.json()["results"]}


class TestLocalListApi:
    def test_owners_queue_a_sync_drivers_cannot(
        self, world: World, django_capture_on_commit_callbacks: Any
    ) -> None:
        from auth_access.tasks import QUEUED_KEY
        from portal.redis import get_redis

        url = "/api/v1/local-lists/sync/"
        assert api_as(world.dora).post(url, {"charger": world.charger_a1.pk}).status_code == 400
        with django_capture_on_commit_callbacks(execute=True):
            response = api_as(world.ingrid).post(
                url, {"charger": world.charger_a1.pk, "configure": True}, format="json"
            )
        assert response.status_code == 202
        key = QUEUED_KEY.format(charger_id=world.charger_a1.pk, configure=1)
        assert get_redis().exists(key)
