"""The authorization settings at boot, driven by the charger's configuration (issue #11 item 4),
over real websockets: one GetConfiguration per boot, stored on the charger; ChangeConfiguration
only for the settings it lists whose value differs; nothing again when nothing changed; all of
them, once and logged, when GetConfiguration gets no answer. Then the list version and the list."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from auth_access import local_list, tasks
from auth_access.models import ChargeCard, LocalListState
from chargers.models import Charger
from tests.conftest import World
from tests.ocpp.conftest import NO_ANSWER, BridgeHandle, Chargers, TestCharger

pytestmark = pytest.mark.usefixtures("transactional_db")
BOOT = {"chargePointVendor": "Strict", "chargePointModel": "Sim"}


class KeyStore(dict):
    """A charger's configuration keys, as a strict charger keeps them (the answers of a
    TestCharger): GetConfiguration lists them, ChangeConfiguration of an unknown key is
    NotSupported, of a read-only one Rejected, else Accepted and kept (across connections)."""

    def __init__(
        self, keys: dict[str, str], readonly: frozenset[str] = frozenset(), max_keys: int = 0
    ) -> None:
        super().__init__()
        self.keys = keys
        self.readonly = readonly
        self.max_keys = max_keys  # a full dump is cut after this many keys (0: never)
        self.charger: TestCharger | None = None
        self.list_version = 0

    def get(self, action: str, default: Any = None) -> Any:
        if action in self:  # an answer the test set
            return self[action]
        if action == "GetConfiguration":
            assert self.charger is not None
            asked = self.charger.received[-1][3].get("key")
            names = asked if asked else list(self.keys)[: self.max_keys or None]
            listed = [
                {"key": key, "readonly": key in self.readonly, "value": self.keys[key]}
                for key in names
                if key in self.keys
            ]
            unknown = [key for key in asked or [] if key not in self.keys]
            return {"configurationKey": listed, **({"unknownKey": unknown} if unknown else {})}
        if action == "ChangeConfiguration":
            assert self.charger is not None
            asked = self.charger.received[-1][3]
            if asked["key"] not in self.keys:
                return {"status": "NotSupported"}
            if asked["key"] in self.readonly:
                return {"status": "Rejected"}
            self.keys[asked["key"]] = asked["value"]
            return {"status": "Accepted"}
        if action == "GetLocalListVersion":
            return {"listVersion": self.list_version}
        if action == "SendLocalList":
            assert self.charger is not None
            self.list_version = self.charger.received[-1][3]["listVersion"]
        return default


def boot(chargers: Chargers, charger: Charger, store: KeyStore) -> TestCharger:
    """Connect, boot (answered Accepted), and run the boot's access set-up as the worker does."""
    connection = chargers.connect(charger, accepted=False)
    store.charger = connection
    connection.answers = store
    assert connection.result("BootNotification", BOOT)["status"] == "Accepted"
    connection.settle()
    tasks.sync_local_list(charger.pk, configure=True)
    return connection


def actions(connection: TestCharger) -> list[str]:
    return [call[2] for call in connection.received]


def changed(connection: TestCharger) -> dict[str, str]:
    return {
        c[3]["key"]: c[3]["value"] for c in connection.received if c[2] == "ChangeConfiguration"
    }


def test_only_the_differing_settings_the_charger_supports_are_sent(
    world: World, chargers: Chargers, bridge: BridgeHandle, cards: dict[str, ChargeCard]
) -> None:
    # Knows three of the five settings; one as wanted already, one differently cased.
    store = KeyStore(
        {
            "LocalAuthListEnabled": "True",
            "AuthorizationCacheEnabled": "true",
            "LocalPreAuthorize": "false",
            "HeartbeatInterval": "300",
        }
    )
    a1 = boot(chargers, world.charger_a1, store)
    assert changed(a1) == {"AuthorizationCacheEnabled": "false"}
    # The documented order: configuration read (then the two keys it did not list, by name),
    # settings, list version, list.
    assert actions(a1) == [
        "GetConfiguration",
        "GetConfiguration",
        "ChangeConfiguration",
        "GetLocalListVersion",
        "SendLocalList",
    ]
    assert a1.received[0][3] == {}  # no keys: all of them
    assert a1.received[1][3] == {"key": ["LocalAuthorizeOffline", "AllowOfflineTxForUnknownId"]}

    charger = Charger.objects.get(pk=world.charger_a1.pk)
    assert charger.configuration_read_at is not None
    assert charger.reported_configuration()["AuthorizationCacheEnabled"] == ("false", False)
    assert LocalListState.objects.get(charger=charger).configuration == {
        "LocalAuthListEnabled": "Unchanged",
        "LocalAuthorizeOffline": "NotReported",
        "AuthorizationCacheEnabled": "Accepted",
        "LocalPreAuthorize": "Unchanged",
        "AllowOfflineTxForUnknownId": "NotReported",
    }


def test_a_second_boot_without_a_change_sends_no_setting(
    world: World, chargers: Chargers, bridge: BridgeHandle, cards: dict[str, ChargeCard]
) -> None:
    store = KeyStore(
        {
            "LocalAuthListEnabled": "false",
            "LocalAuthorizeOffline": "true",
            "AuthorizationCacheEnabled": "true",
            "LocalPreAuthorize": "false",
            "AllowOfflineTxForUnknownId": "true",
        }
    )
    first = boot(chargers, world.charger_a1, store)
    assert changed(first) == {
        "LocalAuthListEnabled": "true",
        "AuthorizationCacheEnabled": "false",
        "AllowOfflineTxForUnknownId": "false",
    }
    first.close()
    second = boot(chargers, world.charger_a1, store)
    assert "ChangeConfiguration" not in actions(second)
    assert actions(second) == ["GetConfiguration", "GetLocalListVersion"]
    assert set(LocalListState.objects.get(charger=world.charger_a1).configuration.values()) == {
        "Unchanged"
    }


def test_a_read_only_setting_with_another_value_is_not_sent(
    world: World, chargers: Chargers, bridge: BridgeHandle, cards: dict[str, ChargeCard]
) -> None:
    store = KeyStore(
        {"LocalAuthListEnabled": "false", "LocalPreAuthorize": "true"},
        readonly=frozenset({"LocalPreAuthorize"}),
    )
    a1 = boot(chargers, world.charger_a1, store)
    assert changed(a1) == {"LocalAuthListEnabled": "true"}
    outcomes = LocalListState.objects.get(charger=world.charger_a1).configuration
    assert outcomes["LocalPreAuthorize"] == "ReadOnly"


def test_without_an_answer_to_get_configuration_every_setting_is_sent_once(
    world: World,
    chargers: Chargers,
    bridge: BridgeHandle,
    cards: dict[str, ChargeCard],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(local_list, "COMMAND_TIMEOUT_S", 1.0)
    store = KeyStore({"LocalAuthListEnabled": "true"})
    store["GetConfiguration"] = NO_ANSWER
    with caplog.at_level(logging.WARNING, logger="auth_access.local_list"):
        a1 = boot(chargers, world.charger_a1, store)
    assert actions(a1)[0] == "GetConfiguration"
    assert set(changed(a1)) == {key for key, _ in local_list.configuration(world.charger_a1)}
    assert "GetConfiguration at boot got no usable answer" in caplog.text
    assert Charger.objects.get(pk=world.charger_a1.pk).configuration_read_at is None


def test_the_charger_page_shows_what_the_charger_does_not_support(
    world: World, chargers: Chargers, bridge: BridgeHandle, cards: dict[str, ChargeCard]
) -> None:
    boot(chargers, world.charger_a1, KeyStore({"LocalAuthListEnabled": "true"}))
    client = Client()
    client.force_login(world.alice)
    page = client.get(reverse("chargers:detail", args=[world.charger_a1.pk])).content.decode()
    assert page.count("Not supported (not in the charger&#x27;s configuration)") == 4
    assert "Already set" in page


def test_a_setting_cut_from_a_truncated_dump_is_read_by_name_and_sent(
    world: World, chargers: Chargers, bridge: BridgeHandle, cards: dict[str, ChargeCard]
) -> None:
    """A charger that lists at most three keys in a full dump: the managed ones it left out are
    asked for by name; those it has are compared and sent like the others."""
    keys = {f"Vendor{i}": str(i) for i in range(3)}
    keys.update({"LocalAuthListEnabled": "false", "AuthorizationCacheEnabled": "false"})
    store = KeyStore(keys, max_keys=3)
    a1 = boot(chargers, world.charger_a1, store)
    assert changed(a1) == {"LocalAuthListEnabled": "true"}
    charger = Charger.objects.get(pk=world.charger_a1.pk)
    assert charger.reported_configuration()["LocalAuthListEnabled"] == ("true", False)
    outcomes = LocalListState.objects.get(charger=charger).configuration
    assert outcomes["LocalAuthListEnabled"] == "Accepted"
    assert outcomes["AuthorizationCacheEnabled"] == "Unchanged"
    assert outcomes["LocalAuthorizeOffline"] == "NotReported"  # named unknown by the charger


def test_secret_values_of_the_configuration_are_never_stored_or_shown(
    world: World, chargers: Chargers, bridge: BridgeHandle, cards: dict[str, ChargeCard]
) -> None:
    """Firmwares list their secrets in GetConfiguration (AuthorizationKey, which OCPP says is
    write-only, back-office and Wi-Fi passwords, tokens). Neither the command record nor the
    stored configuration keeps them; the managed settings still compare as before."""
    from commands.choices import CommandAction
    from commands.models import Command
    from commands.secrets import MASK
    from tests.conftest import api_as

    store = KeyStore(
        {
            "AuthorizationKey": "0011223344556677",
            "Vendor_WifiPassword": "hunter2-wifi",
            "CloudApiToken": "tok-123",
            "LocalAuthListEnabled": "false",
            "HeartbeatInterval": "300",
        }
    )
    a1 = boot(chargers, world.charger_a1, store)
    charger = Charger.objects.get(pk=world.charger_a1.pk)
    reported = charger.reported_configuration()
    assert reported["AuthorizationKey"] == (MASK, False)
    assert reported["Vendor_WifiPassword"] == (MASK, False)
    assert reported["CloudApiToken"] == (MASK, False)
    assert reported["HeartbeatInterval"] == ("300", False)
    reads = Command.objects.filter(charger=charger, action=CommandAction.GET_CONFIGURATION)
    assert reads.exists()
    for command in reads:
        assert "hunter2" not in str(command.response)
        assert "0011223344556677" not in str(command.response)
    assert changed(a1)["LocalAuthListEnabled"] == "true"  # managed keys compare as before

    # An owner setting a secret key through the console: sent as given, shown masked.
    Command.objects.create(
        charger=charger,
        action=CommandAction.CHANGE_CONFIGURATION,
        payload={"key": "AuthorizationKey", "value": "ffeeddccbbaa9988"},
    )
    answer = api_as(world.alice).get("/api/v1/commands/", {"charger": charger.pk})
    assert answer.status_code == 200
    assert b"ffeeddccbbaa9988" not in answer.content and b"hunter2" not in answer.content
    page = Client()
    page.force_login(world.alice)
    html = page.get(reverse("ocpp:commands", args=[charger.pk])).content
    assert b"hunter2" not in html and b"ffeeddccbbaa9988" not in html
