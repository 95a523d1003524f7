"""Manual commands never undo safety: what balancing, the failsafe profile and access keep on a
charger is refused with the reason, over the API and on the charger's command page, and every
command a person sends, refused or not, is recorded with who sent it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from auth_access.local_list import configuration
from balancing import service
from chargers.models import Charger
from commands import reserved, routing
from commands.choices import CommandStatus
from commands.models import Command
from commands.payloads import payload_errors
from installations.choices import AuthorizationMode
from portal.redis import get_redis
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    get_redis().flushdb()


def _present(charger: Charger, node: str = "node-test") -> str:
    get_redis().set(routing.PRESENCE_KEY.format(identity=charger.ocpp_identity), node, ex=60)
    return routing.NODE_QUEUE_KEY.format(node=node)


def _profile(purpose: str, stack_level: int, *, connector: int = 0, limit: float = 32) -> dict:
    profile: dict[str, Any] = {
        "chargingProfileId": 7,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }
    if purpose == "TxProfile":
        profile["transactionId"] = 42
    return {"connectorId": connector, "csChargingProfiles": profile}


# (action, payload, the refusal message) for each way a manual command could undo safety.
REFUSED = {
    "limit above balancing": (
        "SetChargingProfile", _profile("TxDefaultProfile", 2), reserved.CURRENT_IS_BALANCED
    ),
    "failsafe replaced": (
        "SetChargingProfile", _profile("TxDefaultProfile", 0), reserved.CURRENT_IS_BALANCED
    ),
    "balancing limit replaced": (
        "SetChargingProfile", _profile("TxDefaultProfile", 1), reserved.CURRENT_IS_BALANCED
    ),
    "charger cap": (
        "SetChargingProfile", _profile("ChargePointMaxProfile", 3), reserved.CURRENT_IS_BALANCED
    ),
    "transaction profile": (
        "SetChargingProfile",
        _profile("TxProfile", 0, connector=1, limit=6),
        reserved.CURRENT_IS_BALANCED,
    ),
    "remote start with a profile": (
        "RemoteStartTransaction",
        {"connectorId": 1, "idTag": "PORTAL",
         "chargingProfile": _profile("TxProfile", 5)["csChargingProfiles"]},
        reserved.CURRENT_IS_BALANCED,
    ),
    "clear everything": ("ClearChargingProfile", {}, reserved.FUSEBOX_PROFILES_KEPT),
    "clear the balancing limit": (
        "ClearChargingProfile", {"id": 1001}, reserved.FUSEBOX_PROFILES_KEPT
    ),
    "clear the failsafe profile": (
        "ClearChargingProfile", {"id": 1000}, reserved.FUSEBOX_PROFILES_KEPT
    ),
    "clear the charger cap": (
        "ClearChargingProfile", {"id": 1002}, reserved.FUSEBOX_PROFILES_KEPT
    ),
    "clear defaults": (
        "ClearChargingProfile",
        {"chargingProfilePurpose": "TxDefaultProfile"},
        reserved.FUSEBOX_PROFILES_KEPT,
    ),
    "clear stack level 0": (
        "ClearChargingProfile", {"connectorId": 0, "stackLevel": 0}, reserved.FUSEBOX_PROFILES_KEPT
    ),
    "clear a connector": ("ClearChargingProfile", {"connectorId": 1}, reserved.FUSEBOX_PROFILES_KEPT),
    "authorization cache on": (
        "ChangeConfiguration", {"key": "AuthorizationCacheEnabled", "value": "true"},
        "AuthorizationCacheEnabled is set by Fusebox",
    ),
    "local list off, other spelling": (
        "ChangeConfiguration", {"key": "localauthlistenabled", "value": "false"},
        "LocalAuthListEnabled is set by Fusebox",
    ),
    "replace the local list": (
        "SendLocalList",
        {"listVersion": 99, "updateType": "Full",
         "localAuthorizationList": [{"idTag": "STRANGER", "idTagInfo": {"status": "Accepted"}}]},
        reserved.LIST_IS_SYNCED,
    ),
    "reserve by hand": (
        "ReserveNow",
        {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "DORA-1",
         "reservationId": 7},
        reserved.RESERVATIONS_ARE_RECORDED,
    ),
    "cancel by hand": (
        "CancelReservation", {"reservationId": 7}, reserved.RESERVATIONS_ARE_RECORDED
    ),
}  # fmt: skip

ALLOWED = {
    "clear another profile by id": ("ClearChargingProfile", {"id": 5}),
    "clear transaction profiles": (
        "ClearChargingProfile",
        {"connectorId": 1, "chargingProfilePurpose": "TxProfile"},
    ),
    "clear a stack level Fusebox does not use": ("ClearChargingProfile", {"stackLevel": 4}),
    "heartbeat interval": ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"}),
    "remote start": ("RemoteStartTransaction", {"connectorId": 1, "idTag": "PORTAL"}),
    "local list version": ("GetLocalListVersion", {}),
    "reset": ("Reset", {"type": "Soft"}),
}


def test_the_refused_payloads_are_valid_ocpp_so_the_refusal_is_the_reason() -> None:
    for action, payload, _ in REFUSED.values():
        assert payload_errors(action, payload) == {}, (action, payload)


@pytest.mark.parametrize("case", list(REFUSED))
def test_api_refuses_with_the_reason_and_records_who_tried(world: World, case: str) -> None:
    action, payload, message = REFUSED[case]
    queue = _present(world.charger_a1)
    response = api_as(world.alice).post(
        f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
        {"action": action, "payload": payload},
        format="json",
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "refused"
    assert message in error["message"]
    command = Command.objects.get()
    assert (command.action, command.payload, command.status, command.source) == (
        action, payload, CommandStatus.REFUSED, "api"
    )  # fmt: skip
    assert command.requested_by == world.alice
    assert command.error == error["message"]
    assert get_redis().llen(queue) == 0  # nothing goes to the charger
    listed = api_as(world.alice).get(f"/api/v1/commands/?charger={world.charger_a1.pk}").json()
    assert [(row["status"], row["requested_by"]) for row in listed["results"]] == [
        ("refused", "alice@example.com")
    ]


@pytest.mark.parametrize("case", list(REFUSED))
def test_command_page_refuses_with_the_reason_and_records_who_tried(
    world: World, client: Client, case: str
) -> None:
    action, payload, message = REFUSED[case]
    queue = _present(world.charger_a1)
    client.force_login(world.ingrid)
    url = f"/chargers/{world.charger_a1.pk}/commands/"
    response = client.post(url, {"action": action, "payload": json.dumps(payload)})
    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    command = Command.objects.get()
    assert (command.action, command.status, command.source, command.requested_by) == (
        action, CommandStatus.REFUSED, "ui", world.ingrid
    )  # fmt: skip
    assert get_redis().llen(queue) == 0
    history = client.get(url).content.decode()
    assert "Refused" in history and "ingrid@example.com" in history


@pytest.mark.parametrize("case", list(ALLOWED))
def test_commands_that_leave_safety_alone_still_go_through(
    world: World, client: Client, case: str, django_capture_on_commit_callbacks: Any
) -> None:
    action, payload = ALLOWED[case]
    queue = _present(world.charger_a1)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(world.alice).post(
            f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
            {"action": action, "payload": payload},
            format="json",
        )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending"
    client.force_login(world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            f"/chargers/{world.charger_a1.pk}/commands/",
            {"action": action, "payload": json.dumps(payload)},
        )
    assert page.status_code == 302
    commands = list(Command.objects.order_by("id"))
    assert [(c.source, c.requested_by, c.status) for c in commands] == [
        ("api", world.alice, CommandStatus.PENDING),
        ("ui", world.alice, CommandStatus.PENDING),
    ]
    assert get_redis().lrange(queue, 0, -1) == [str(c.pk) for c in reversed(commands)]


def test_another_tenant_cannot_even_be_refused(world: World) -> None:
    action, payload, _ = REFUSED["clear everything"]
    response = api_as(world.oscar).post(
        f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
        {"action": action, "payload": payload},
        format="json",
    )
    assert response.status_code == 404
    assert not Command.objects.exists()


@pytest.mark.parametrize("mode", [AuthorizationMode.LOCKED, AuthorizationMode.OPEN])
def test_every_key_access_sets_at_boot_is_refused(world: World, mode: str) -> None:
    world.site_a.authorization_mode = mode
    world.site_a.save(update_fields=["authorization_mode"])
    charger = Charger.objects.get(pk=world.charger_a1.pk)
    for key, value in configuration(charger):
        assert reserved.refusal("ChangeConfiguration", {"key": key, "value": value}), key


def test_every_profile_balancing_sends_is_refused_by_hand_and_kept_from_clearing(
    world: World,
) -> None:
    ids = [
        service.FAILSAFE_PROFILE_ID,
        service.BALANCING_PROFILE_ID,
        service.CHARGER_MAX_PROFILE_ID,
    ]
    for profile_id, stack_level, purpose in zip(
        ids,
        [0, 1, 1],
        ["TxDefaultProfile", "TxDefaultProfile", "ChargePointMaxProfile"],
        strict=True,
    ):
        payload = service.charging_profile(
            16, 3, profile_id=profile_id, stack_level=stack_level, purpose=purpose
        )
        assert reserved.refusal("SetChargingProfile", payload)
        profile = payload["csChargingProfiles"]
        for clear in (
            {"id": profile_id},
            {"connectorId": 0, "chargingProfilePurpose": purpose},
            {"stackLevel": profile["stackLevel"]},
        ):
            assert reserved.refusal("ClearChargingProfile", clear), clear


def test_every_refusal_fits_the_recorded_error() -> None:
    limit = Command._meta.get_field("error").max_length
    for action, payload, _ in REFUSED.values():
        reason = reserved.refusal(action, payload)
        assert reason is not None and len(reason) <= limit, (action, reason)
