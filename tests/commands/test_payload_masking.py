"""The command log never shows the card numbers a Local Authorization List carries."""

from __future__ import annotations

import pytest

from commands.choices import CommandAction, CommandSource, CommandStatus
from commands.models import Command
from commands.serializers import mask_id_tag, shown_payload
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


def test_an_id_tag_keeps_its_last_four_characters() -> None:
    assert mask_id_tag("04A1B2C3D4E5") == "********D4E5"
    assert mask_id_tag("ABC") == "ABC"


def test_only_local_list_entries_are_masked() -> None:
    sent = {
        "listVersion": 7,
        "updateType": "Full",
        "localAuthorizationList": [
            {"idTag": "DORA-CARD-0001", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "DAVE-CARD-0002"},
        ],
    }
    shown = shown_payload(CommandAction.SEND_LOCAL_LIST, sent)
    assert [e["idTag"] for e in shown["localAuthorizationList"]] == [
        "**********0001",
        "**********0002",
    ]
    assert shown["localAuthorizationList"][0]["idTagInfo"] == {"status": "Accepted"}
    assert shown["listVersion"] == 7
    assert sent["localAuthorizationList"][0]["idTag"] == "DORA-CARD-0001"  # stored as sent
    reset = {"type": "Soft"}
    assert shown_payload(CommandAction.RESET, reset) == reset
    assert shown_payload(CommandAction.SEND_LOCAL_LIST, {"listVersion": 1}) == {"listVersion": 1}


def test_the_owner_reads_the_local_list_command_with_masked_cards(world: World) -> None:
    Command.objects.create(
        charger=world.charger_a1,
        action=CommandAction.SEND_LOCAL_LIST,
        payload={
            "listVersion": 3,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "DORA-OWN-CARD-77"}],
        },
        status=CommandStatus.ACCEPTED,
        source=CommandSource.SYSTEM,
    )
    response = api_as(world.alice).get("/api/v1/commands/", {"charger": world.charger_a1.pk})
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert rows[0]["payload"]["localAuthorizationList"] == [{"idTag": "************D-77"}]
    assert b"DORA-OWN-CARD-77" not in response.content


def test_secret_configuration_values_are_masked_and_others_kept() -> None:
    from commands.secrets import MASK, mask_change, mask_configuration

    answer = {
        "configurationKey": [
            {"key": "AuthorizationKey", "readonly": False, "value": "0011"},
            {"key": "BackOfficePassword", "value": "pw"},
            {"key": "SecurityProfile", "value": "1"},
            {"key": "HeartbeatInterval", "value": "300"},
            {"key": "ModemApiKey"},  # no value: nothing to hide
            "not an entry",
        ],
        "unknownKey": ["Foo"],
    }
    masked = mask_configuration(answer)
    values = [e.get("value") if isinstance(e, dict) else e for e in masked["configurationKey"]]
    assert values == [MASK, MASK, "1", "300", None, "not an entry"]
    assert masked["unknownKey"] == ["Foo"]
    assert answer["configurationKey"][0]["value"] == "0011"  # a copy, the input untouched
    assert mask_configuration({"status": "Accepted"}) == {"status": "Accepted"}
    assert mask_configuration(None) is None
    assert mask_change({"key": "authorizationkey", "value": "ab"}) == {
        "key": "authorizationkey",
        "value": MASK,
    }
    assert mask_change({"key": "HeartbeatInterval", "value": "60"})["value"] == "60"
    shown = shown_payload(CommandAction.CHANGE_CONFIGURATION, {"key": "WifiPassword", "value": "x"})
    assert shown["value"] == MASK
