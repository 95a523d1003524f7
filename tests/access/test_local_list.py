"""Local Authorization Lists over real websockets: Full first, Differential updates with growing
versions after changes, Full again after a failure, a mismatch or another version at boot; the
authorization settings at boot; the triggers that queue a sync."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from auth_access import local_list, services, tasks
from auth_access.choices import LocalListStatus
from auth_access.decisions import authorize
from auth_access.models import ChargeCard, LocalListState
from portal.redis import get_redis
from tests.access.conftest import FUTURE
from tests.conftest import World
from tests.ocpp.conftest import TestCharger

pytestmark = pytest.mark.usefixtures("transactional_db")
DORA = {
    "idTag": "DORA-1",
    "idTagInfo": {"status": "Accepted", "expiryDate": "2031-01-01T00:00:00Z"},
}
DAVE = {"idTag": "DAVE-1", "idTagInfo": {"status": "Accepted"}}
INGRID = {"idTag": "INGRID-1", "idTagInfo": {"status": "Accepted"}}


class Script(dict):
    """Answers per action, in turn (the last one repeats)."""

    def get(self, action: str, default: Any = None) -> Any:
        answers = super().get(action)
        if answers is None:
            return default
        return answers.pop(0) if len(answers) > 1 else answers[0]


def sent(charger: TestCharger, action: str = "SendLocalList") -> list[dict]:
    calls = [m[3] for m in charger.received if m[2] == action]
    charger.received.clear()
    return calls


def state(world: World) -> LocalListState:
    return LocalListState.objects.get(charger=world.charger_a1)


def test_a_full_list_then_differences_with_growing_versions(
    world: World, a1: TestCharger, cards: dict[str, ChargeCard]
) -> None:
    ChargeCard.objects.create(user=world.dora, id_tag="DORA-OLD", expires_at=timezone.now())
    ChargeCard.objects.create(user=world.dora, id_tag="DORA-LOST", is_blocked=True)
    result = local_list.sync_charger(world.charger_a1.pk)
    assert (result.status, result.version, result.sent) == ("in_sync", 1, ["Full"])
    assert sent(a1) == [
        {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [DAVE, DORA, INGRID]}
    ]  # permitted, unblocked, unexpired cards; oscar's is not for this installation
    assert local_list.sync_charger(world.charger_a1.pk).sent == []  # nothing changed
    assert sent(a1) == []

    services.update_card(world.alice, cards["dora"], {"is_blocked": True})
    services.add_card(world.dave, world.dave, "dave-2", name="Spare")
    assert local_list.sync_charger(world.charger_a1.pk).version == 2
    assert sent(a1) == [
        {
            "listVersion": 2,
            "updateType": "Differential",
            "localAuthorizationList": [{"idTag": "DAVE-2", "idTagInfo": {"status": "Accepted"}},
                                       {"idTag": "DORA-1"}],
        }
    ]  # fmt: skip
    permission = world.site_a.memberships.get(user=world.dave).charger_permissions.get()
    services.revoke_charger(world.alice, permission)
    local_list.sync_charger(world.charger_a1.pk)
    assert sent(a1) == [
        {
            "listVersion": 3,
            "updateType": "Differential",
            "localAuthorizationList": [{"idTag": "DAVE-1"}, {"idTag": "DAVE-2"}],
        }
    ]
    assert (state(world).version, state(world).entries) == (3, {"INGRID-1": None})


def test_the_list_holds_what_the_decision_accepts(
    world: World, chargers: Any, cards: dict[str, ChargeCard]
) -> None:
    ChargeCard.objects.create(user=world.alice, id_tag="ALICE-1", expires_at=FUTURE)
    ChargeCard.objects.create(
        user=world.dave, id_tag="DAVE-OLD", expires_at=timezone.now() - timedelta(days=1)
    )
    world.oscar.is_active = False
    world.oscar.save()
    for charger in [world.charger_a1, world.charger_a2, world.charger_b1]:
        listed = set(local_list.desired_list(charger))
        accepted = {
            c.id_tag for c in ChargeCard.objects.all() if authorize(charger, c.id_tag).accepted
        }
        assert listed == accepted, charger.name


def test_a_failure_or_a_version_mismatch_brings_a_full_list(
    world: World, a1: TestCharger, cards: dict[str, ChargeCard]
) -> None:
    a1.answers = Script({"SendLocalList": [{"status": "Failed"}, {"status": "Accepted"}]})
    result = local_list.sync_charger(world.charger_a1.pk)
    assert (result.status, result.error) == ("failed", "SendLocalList Full v1: Failed")
    local_list.sync_charger(world.charger_a1.pk)
    assert [(m["listVersion"], m["updateType"]) for m in sent(a1)] == [(1, "Full"), (2, "Full")]

    services.add_card(world.alice, world.dora, "DORA-2", installation=world.site_a)
    a1.answers = Script({"SendLocalList": [{"status": "VersionMismatch"}, {"status": "Accepted"}]})
    result = local_list.sync_charger(world.charger_a1.pk)
    assert [(m["listVersion"], m["updateType"]) for m in sent(a1)] == [
        (3, "Differential"),
        (4, "Full"),
    ]  # a version is never sent twice
    assert (result.status, result.version) == ("in_sync", 4)
    assert set(state(world).entries) == {"DORA-1", "DORA-2", "DAVE-1", "INGRID-1"}


def test_no_answer_leaves_the_list_unknown(
    world: World, a1: TestCharger, cards: dict[str, ChargeCard], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ocpp.conftest import NO_ANSWER

    monkeypatch.setattr(local_list, "COMMAND_TIMEOUT_S", 1.0)
    a1.answers["SendLocalList"] = NO_ANSWER
    result = local_list.sync_charger(world.charger_a1.pk)
    assert result.status == "failed" and "No answer from the charger" in result.error
    a1.answers.pop("SendLocalList")
    assert local_list.sync_charger(world.charger_a1.pk).sent == ["Full"]


def test_at_boot_the_settings_go_out_and_the_version_is_checked(
    world: World, a1: TestCharger, cards: dict[str, ChargeCard]
) -> None:
    local_list.sync_charger(world.charger_a1.pk)
    sent(a1)
    a1.answers = Script(
        {
            "GetLocalListVersion": [{"listVersion": 7}],  # e.g. a list another system sent
            "ChangeConfiguration": [{"status": "Accepted"}, {"status": "NotSupported"}],
        }
    )
    result = local_list.sync_charger(world.charger_a1.pk, configure_first=True)
    settings = {c[3]["key"]: c[3]["value"] for c in a1.received if c[2] == "ChangeConfiguration"}
    assert settings == {
        "LocalAuthListEnabled": "true",
        "LocalAuthorizeOffline": "true",
        "AuthorizationCacheEnabled": "false",
        "LocalPreAuthorize": "false",
        "AllowOfflineTxForUnknownId": "false",
    }
    assert sent(a1, "GetLocalListVersion") == [{}]
    assert (result.version, result.sent) == (8, ["Full"])
    saved = state(world)
    assert saved.configured_at is not None and saved.charger_version == 8
    assert sorted(saved.configuration.values()) == ["Accepted"] + ["NotSupported"] * 4


def test_the_same_version_at_boot_needs_nothing(
    world: World, a1: TestCharger, cards: dict[str, ChargeCard]
) -> None:
    local_list.sync_charger(world.charger_a1.pk)
    a1.answers["GetLocalListVersion"] = {"listVersion": 1}
    assert local_list.sync_charger(world.charger_a1.pk, configure_first=True).sent == []


def test_a_charger_without_local_lists(
    world: World, a1: TestCharger, cards: dict[str, ChargeCard]
) -> None:
    a1.answers["GetLocalListVersion"] = {"listVersion": -1}
    result = local_list.sync_charger(world.charger_a1.pk, configure_first=True)
    assert (result.status, result.sent) == (LocalListStatus.NOT_SUPPORTED, [])
    assert local_list.sync_charger(world.charger_a1.pk).sent == []
    assert sent(a1) == []


def test_long_lists_go_out_in_chunks(
    world: World, a1: TestCharger, cards: dict[str, ChargeCard], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_list, "MAX_ENTRIES_PER_MESSAGE", 2)
    local_list.sync_charger(world.charger_a1.pk)
    assert [
        (m["listVersion"], m["updateType"], len(m["localAuthorizationList"])) for m in sent(a1)
    ] == [
        (1, "Full", 2),
        (2, "Differential", 1),
    ]
    assert len(state(world).entries) == 3


def test_an_offline_charger_is_left_for_its_next_boot(
    world: World, a1: TestCharger, cards: dict[str, ChargeCard]
) -> None:
    assert local_list.sync_charger(world.charger_a2.pk).error == "charger is offline"


class TestTriggers:
    def queued(self, world: World, *chargers: Any, configure: bool = False) -> set[str]:
        redis = get_redis()
        return {
            c.name
            for c in chargers
            if redis.exists(tasks.QUEUED_KEY.format(charger_id=c.pk, configure=int(configure)))
        }

    def test_boot_queues_the_set_up(self, world: World, a1: TestCharger) -> None:
        boot = {"chargePointVendor": "Acme", "chargePointModel": "One"}
        a1.result("BootNotification", boot)
        a1.settle()
        assert self.queued(world, world.charger_a1, configure=True) == {"A1"}

    def test_changes_queue_the_chargers_concerned_once(
        self, world: World, cards: dict[str, ChargeCard]
    ) -> None:
        all_chargers = (world.charger_a1, world.charger_a2, world.charger_b1)
        redis = get_redis()
        for key in redis.scan_iter("fusebox:access:*"):
            redis.delete(key)
        before = redis.llen("celery")
        services.update_card(world.alice, cards["dora"], {"is_blocked": True})
        services.update_card(world.alice, cards["dave"], {"name": "Dave's"})
        assert self.queued(world, *all_chargers) == {"A1", "A2"}
        assert redis.llen("celery") - before == 2  # debounced: one task per charger

        for key in redis.scan_iter("fusebox:access:*"):
            redis.delete(key)
        membership = world.site_a.memberships.get(user=world.dave)
        services.grant_charger(world.alice, membership, world.charger_a2)
        assert self.queued(world, *all_chargers) == {"A2"}

        for key in redis.scan_iter("fusebox:access:*"):
            redis.delete(key)
        world.charger_a2.authorization_mode = "open"
        world.charger_a2.save()
        assert self.queued(world, *all_chargers, configure=True) == {"A2"}
        world.charger_a2.max_current_a = 16
        world.charger_a2.save()  # not an access change
        assert self.queued(world, *all_chargers) == set()
