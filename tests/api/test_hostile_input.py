"""What a hostile user sends gets a 400 in the one error shape, never a server error: text no
JSON column can store and numbers no charger can take in command payloads, and a live available
current that is not three currents the fuses could have (issue #11 item 15)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from commands.models import Command
from commands.payloads import payload_errors
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


def _profile(limit: Any, profile_id: Any = 7) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": profile_id,
            "transactionId": 42,
            "stackLevel": 2,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            },
        },
    }


LIMIT = "csChargingProfiles.chargingSchedule.chargingSchedulePeriod.0.limit"
# (action, payload, the field named, words of its message)
HOSTILE_PAYLOADS = {
    "NUL in vendorId": (
        "DataTransfer", {"vendorId": "com.example\x00", "messageId": "ping"}, "vendorId",
        "not allowed",
    ),
    "NUL in messageId": (
        "DataTransfer", {"vendorId": "com.example", "messageId": "\x00"}, "messageId",
        "not allowed",
    ),
    "NUL in data": (
        "DataTransfer", {"vendorId": "com.example", "data": "a\x00b"}, "data", "not allowed"
    ),
    "lone surrogate in data": (
        "DataTransfer", {"vendorId": "com.example", "data": "\ud800"}, "data", "not allowed"
    ),
    "NUL in a key": (
        "DataTransfer", {"vendorId": "com.example", "da\x00ta": "x"}, "payload", "not allowed"
    ),
    "limit 10**30": ("SetChargingProfile", _profile(10**30), LIMIT, "Out of range"),
    "limit 1e308": ("SetChargingProfile", _profile(1e308), LIMIT, "Out of range"),
    "profile id 10**30": (
        "SetChargingProfile", _profile(16, profile_id=10**30),
        "csChargingProfiles.chargingProfileId", "Out of range",
    ),
    "limit 1e308 in a remote start": (
        "RemoteStartTransaction",
        {"idTag": "PORTAL", "chargingProfile": _profile(1e308)["csChargingProfiles"]},
        "chargingProfile.chargingSchedule.chargingSchedulePeriod.0.limit", "Out of range",
    ),
    "huge connector id": ("UnlockConnector", {"connectorId": -(10**30)}, "connectorId", "Out of range"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HOSTILE_PAYLOADS))
def test_api_refuses_hostile_payloads_with_a_message(world: World, case: str) -> None:
    action, payload, field, words = HOSTILE_PAYLOADS[case]
    response = api_as(world.alice).post(
        f"/api/v1/chargers/{world.charger_a1.pk}/commands/",
        json.dumps({"action": action, "payload": payload}),  # escaped: a lone surrogate too
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["payload"] == [
        f"{field}: {message}" for message in payload_errors(action, payload)[field]
    ]
    assert words in error["fields"]["payload"][0]
    assert not Command.objects.exists()


@pytest.mark.parametrize("case", list(HOSTILE_PAYLOADS))
def test_command_page_refuses_hostile_payloads_with_a_message(
    world: World, client: Client, case: str
) -> None:
    action, payload, field, words = HOSTILE_PAYLOADS[case]
    client.force_login(world.alice)
    response = client.post(
        f"/chargers/{world.charger_a1.pk}/commands/",
        {"action": action, "payload": json.dumps(payload)},
    )
    assert response.status_code == 400
    assert f"{field}: " in response.content.decode() and words in response.content.decode()
    assert not Command.objects.exists()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_command_page_refuses_numbers_json_cannot_store(
    world: World, client: Client, number: str
) -> None:
    """The page's JSON field reads NaN and Infinity (Python's json does; 1e999 is Infinity)."""
    client.force_login(world.alice)
    response = client.post(
        f"/chargers/{world.charger_a1.pk}/commands/",
        {"action": "UnlockConnector", "payload": f'{{"connectorId": {number}}}'},
    )
    assert response.status_code == 400
    assert "connectorId: Not a finite number." in response.content.decode()
    assert not Command.objects.exists()


def test_ordinary_payloads_are_untouched_by_the_checks() -> None:
    assert payload_errors("DataTransfer", {"vendorId": "com.example", "data": "Ålesund ✓"}) == {}
    assert payload_errors("UnlockConnector", {"connectorId": 2**31 - 1}) == {}
    assert payload_errors("GetCompositeSchedule", {"connectorId": 1, "duration": 86400}) == {}


class TestAvailableCurrent:
    """The installation's ``available_current_a`` (PATCH) and the EMS endpoint share one rule:
    three finite currents, 0 to 4000 A, one per phase."""

    @pytest.mark.parametrize(
        ("value", "words"),
        [
            ([40, 40], "three currents"),
            ([1e308, 40, 40], "between 0 and 4000 A"),
            ([4000.5, 40, 40], "between 0 and 4000 A"),
            ([40, -1, 40], "greater than or equal to 0"),
            ([40, 40, 40, 40], "no more than 3"),
            ([40, "NaN", 40], "valid number"),
            ([40, "Infinity", 40], "valid number"),
        ],
    )
    def test_an_unusable_value_is_refused_on_the_installation(
        self, world: World, value: list[Any], words: str
    ) -> None:
        response = api_as(world.alice).patch(
            f"/api/v1/installations/{world.site_a.pk}/",
            {"available_current_a": value},
            format="json",
        )
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert words in json.dumps(error["fields"]["available_current_a"])
        world.site_a.refresh_from_db()
        assert world.site_a.available_current_a is None

    @pytest.mark.parametrize(
        "value", [[40, 40], [1e308, 40, 40], [40, -1, 40], [40, "NaN", 40], ["Infinity"] * 3]
    )
    def test_an_unusable_report_is_refused_by_the_endpoint(
        self, world: World, value: list[Any]
    ) -> None:
        response = api_as(world.alice).post(
            f"/api/v1/installations/{world.site_a.pk}/available-current/",
            {"current_a": value},
            format="json",
        )
        assert response.status_code == 400, response.content
        assert "current_a" in response.json()["error"]["fields"]
        world.site_a.refresh_from_db()
        assert world.site_a.available_current_a is None

    def test_three_currents_or_none_are_accepted(self, world: World) -> None:
        url = f"/api/v1/installations/{world.site_a.pk}/"
        response = api_as(world.alice).patch(
            url, {"available_current_a": [40, 45.5, 4000]}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["available_current_a"] == [40, 45.5, 4000]
        response = api_as(world.alice).patch(url, {"available_current_a": None}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["available_current_a"] is None
