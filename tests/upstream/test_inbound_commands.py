"""What upstream may ask of the charger, end to end: a real central system sends calls to the
charge point Fusebox presents, a test charger behind the bridge answers (docs/upstream.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.exceptions import InternalError, NotSupportedError, PropertyConstraintViolationError
from ocpp.v16 import call

from auth_access.models import ChargeCard
from balancing import service, snapshot
from balancing.models import BalancingTrigger
from chargers.models import Charger, ChargeSession
from commands.choices import CommandSource
from commands.models import Command
from commands.secrets import MASK
from installations.models import Installation
from ocpp_bridge.upstream import inbound_store
from tests.conftest import World
from tests.ocpp.conftest import Chargers, TestCharger, eventually
from tests.upstream.central import Central
from tests.upstream.conftest import boot, bridge_to
from upstream.models import UpstreamCap, UpstreamTransaction

T0 = datetime(2026, 2, 1, 18, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def a1(world: World, central: Central, chargers: Chargers) -> TestCharger:
    bridge_to(central, world.charger_a1)
    charger = chargers.connect(world.charger_a1, accepted=False)
    boot(charger)
    eventually(lambda: central.is_connected(world.charger_a1.ocpp_identity))
    eventually(lambda: central.of(world.charger_a1.ocpp_identity, "BootNotification"))
    return charger


def _sent_to_charger(a1: TestCharger, action: str) -> list[dict]:
    return [frame[3] for frame in a1.received if frame[2] == action]


def test_remote_start_and_stop_go_through_the_command_path_and_both_histories_agree(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    ChargeCard.objects.create(user=world.dora, id_tag="UPSTREAM-7")  # Fusebox decides: known
    answer = central.call(
        identity, call.RemoteStartTransaction(id_tag="UPSTREAM-7", connector_id=1)
    )
    assert answer.status == "Accepted"
    assert _sent_to_charger(a1, "RemoteStartTransaction") == [
        {"idTag": "UPSTREAM-7", "connectorId": 1}
    ]
    command = Command.objects.get(action="RemoteStartTransaction")
    assert (command.source, command.status) == (CommandSource.UPSTREAM, "accepted")
    # The charger starts: the card upstream started is accepted although Fusebox does not know it.
    started = a1.result(
        "StartTransaction",
        {"connectorId": 1, "idTag": "UPSTREAM-7", "meterStart": 1000, "timestamp": at(0)},
    )
    assert started["idTagInfo"]["status"] == "Accepted"
    ours = started["transactionId"]
    theirs = eventually(
        lambda: UpstreamTransaction.objects.filter(session_id=ours).first(), timeout=15
    ).upstream_transaction_id
    assert theirs != ours  # upstream's own numbering (from 9001)
    # Upstream stops it with its id; the charger hears Fusebox's.
    stopped = central.call(identity, call.RemoteStopTransaction(transaction_id=theirs))
    assert stopped.status == "Accepted"
    assert _sent_to_charger(a1, "RemoteStopTransaction") == [{"transactionId": ours}]
    a1.result(
        "StopTransaction",
        {"transactionId": ours, "meterStop": 8500, "timestamp": at(45), "reason": "Remote"},
    )
    start, stop = eventually(
        lambda: (
            central.of(identity, "StartTransaction", "StopTransaction")
            if len(central.of(identity, "StartTransaction", "StopTransaction")) == 2
            else None
        ),
        timeout=15,
    )
    session = ChargeSession.objects.get(pk=ours)
    assert stop.payload["transactionId"] == theirs
    assert stop.payload["meterStop"] - start.payload["meterStart"] == session.energy_wh == 7500
    assert (start.payload["timestamp"], stop.payload["timestamp"]) == (at(0), at(45))
    assert session.started_at == T0 and session.stopped_at == T0 + timedelta(minutes=45)
    assert central.violations == []


def test_an_unknown_transaction_id_is_rejected_unsent(
    world: World, central: Central, a1: TestCharger
) -> None:
    answer = central.call(
        world.charger_a1.ocpp_identity, call.RemoteStopTransaction(transaction_id=99)
    )
    assert answer.status == "Rejected"
    answer = central.call(
        world.charger_a1.ocpp_identity, call.RemoteStopTransaction(transaction_id=2**40)
    )
    assert answer.status == "Rejected"
    assert _sent_to_charger(a1, "RemoteStopTransaction") == []


def test_an_action_the_owner_does_not_allow_is_not_supported_and_never_reaches_the_charger(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    with pytest.raises(NotSupportedError):  # Reset is not in the default allowlist
        central.call(identity, call.Reset(type="Hard"))
    with pytest.raises(NotSupportedError):  # firmware requests need allow_firmware
        central.call(identity, call.UpdateFirmware(location="ftp://x/fw.bin", retrieve_date=at(0)))
    assert a1.received == [] and not Command.objects.exists()


def test_forbidden_configuration_keys_are_rejected_unsent_and_others_get_the_chargers_answer(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    for key in (
        "CentralSystemUrl", "OcppEndpoint", "Wallbox.BackendURL", "AuthorizationKey",
        "SecurityProfile", "LocalAuthListEnabled", "AuthorizationCacheEnabled",
        "HeartbeatInterval", "WebSocketPingInterval", "MeterValuesSampledData",
    ):  # fmt: skip
        answer = central.call(identity, call.ChangeConfiguration(key=key, value="x"))
        assert answer.status == "Rejected", key
    assert _sent_to_charger(a1, "ChangeConfiguration") == []
    a1.answers["ChangeConfiguration"] = {"status": "RebootRequired"}
    answer = central.call(identity, call.ChangeConfiguration(key="ConnectionTimeOut", value="90"))
    assert answer.status == "RebootRequired"  # the charger's own answer
    assert _sent_to_charger(a1, "ChangeConfiguration") == [
        {"key": "ConnectionTimeOut", "value": "90"}
    ]


def test_get_configuration_gives_the_chargers_answer_with_secrets_masked(
    world: World, central: Central, a1: TestCharger
) -> None:
    a1.answers["GetConfiguration"] = {
        "configurationKey": [
            {"key": "AuthorizationKey", "readonly": False, "value": "0123456789abcdef"},
            {"key": "ConnectionTimeOut", "readonly": False, "value": "60"},
        ],
        "unknownKey": ["Nope"],
    }
    answer = central.call(world.charger_a1.ocpp_identity, call.GetConfiguration())
    values = {entry["key"]: entry["value"] for entry in answer.configuration_key}
    assert values == {"AuthorizationKey": MASK, "ConnectionTimeOut": "60"}
    assert answer.unknown_key == ["Nope"]


def test_a_connector_the_charger_does_not_have_is_a_property_violation(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    with pytest.raises(PropertyConstraintViolationError):
        central.call(identity, call.UnlockConnector(connector_id=9))
    with pytest.raises(PropertyConstraintViolationError):
        central.call(identity, call.ChangeAvailability(connector_id=4, type="Inoperative"))
    assert a1.received == []
    answer = central.call(identity, call.ChangeAvailability(connector_id=0, type="Inoperative"))
    assert answer.status == "Accepted"
    assert _sent_to_charger(a1, "ChangeAvailability") == [{"connectorId": 0, "type": "Inoperative"}]


def test_the_chargers_call_error_is_passed_on_and_no_answer_is_an_internal_error(
    world: World, central: Central, a1: TestCharger, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = world.charger_a1.ocpp_identity
    a1.answers["ClearCache"] = ("NotSupported", "no cache here")
    with pytest.raises(NotSupportedError):
        central.call(identity, call.ClearCache())
    monkeypatch.setattr(inbound_store, "COMMAND_TIMEOUT_S", 0.5)
    from tests.ocpp.conftest import NO_ANSWER

    a1.answers["ClearCache"] = NO_ANSWER
    with pytest.raises(InternalError) as raised:
        central.call(identity, call.ClearCache())
    assert "did not answer" in raised.value.description


def test_bad_frames_from_upstream_get_call_errors_and_never_reach_the_charger(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    wrong_type = central.send_raw(identity, [2, "w1", "UnlockConnector", {"connectorId": "one"}])
    assert wrong_type[:3] == [4, "w1", "TypeConstraintViolation"]
    unknown = central.send_raw(identity, [2, "u1", "MakeCoffee", {}])
    assert unknown[:3] == [4, "u1", "NotImplemented"]
    missing = central.send_raw(identity, [2, "m1", "RemoteStartTransaction", {}])
    assert missing[:3] == [4, "m1", "ProtocolError"]
    not_ours = central.send_raw(identity, [2, "n1", "BootNotification", {
        "chargePointVendor": "x", "chargePointModel": "y"}])  # fmt: skip
    assert not_ours[:3] == [4, "n1", "NotSupported"]
    assert a1.received == []


def test_trigger_message_is_answered_by_the_link_or_forwarded(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    a1.result(
        "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    )
    before = len(central.of(identity, "StatusNotification"))
    answer = central.call(
        identity, call.TriggerMessage(requested_message="StatusNotification", connector_id=1)
    )
    assert answer.status == "Accepted"
    eventually(lambda: len(central.of(identity, "StatusNotification")) > before)
    answer = central.call(
        identity, call.TriggerMessage(requested_message="DiagnosticsStatusNotification")
    )
    assert answer.status == "Accepted"
    assert [p["requestedMessage"] for p in _sent_to_charger(a1, "TriggerMessage")] == [
        "DiagnosticsStatusNotification"
    ]


def test_upstream_profiles_are_caps_32_a_while_balancing_allows_10_a_gives_10_a(
    world: World, central: Central, a1: TestCharger, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = world.charger_a1.ocpp_identity
    solves: list[str] = []  # storing and clearing ask balancing for a solve
    monkeypatch.setattr(inbound_store, "charger_changed", lambda _id, reason: solves.append(reason))
    a1.result(
        "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
    )
    a1.settle()
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[10, 10, 10])
    Charger.objects.filter(pk=world.charger_a1.pk).update(failsafe_sent_a=6)
    profile = {
        "chargingProfileId": 77,
        "stackLevel": 5,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": at(0),
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32}],
        },
    }
    answer = central.call(
        identity, call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile)
    )
    assert answer.status == "Accepted"
    assert _sent_to_charger(a1, "SetChargingProfile") == []  # a wish, never sent
    assert UpstreamCap.objects.get().profile_id == 77
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    sent = eventually(lambda: _sent_to_charger(a1, "SetChargingProfile"))
    profiles = [p["csChargingProfiles"] for p in sent]
    assert [p["chargingProfileId"] for p in profiles] == [service.BALANCING_PROFILE_ID]
    assert profiles[0]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 10
    # A lower wish lowers the car; clearing it gives balancing's current back.
    profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = 7
    central.call(identity, call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile))
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    sent = eventually(lambda: _sent_to_charger(a1, "SetChargingProfile")[1:])
    assert (
        sent[0]["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 7
    )
    cleared = central.call(identity, call.ClearChargingProfile(id=77))
    assert cleared.status == "Accepted"
    assert central.call(identity, call.ClearChargingProfile(id=77)).status == "Unknown"
    assert _sent_to_charger(a1, "ClearChargingProfile") == []
    assert solves == ["upstream charging profile"] * 2 + ["upstream charging profile cleared"]
    assert central.violations == []


def test_a_remote_start_profile_becomes_a_cap_of_that_transaction(
    world: World, central: Central, a1: TestCharger
) -> None:
    identity = world.charger_a1.ocpp_identity
    profile = {
        "chargingProfileId": 3,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}],
        },
    }
    answer = central.call(
        identity,
        call.RemoteStartTransaction(id_tag="UPSTREAM-8", connector_id=1, charging_profile=profile),
    )
    assert answer.status == "Accepted"
    assert _sent_to_charger(a1, "RemoteStartTransaction") == [
        {"idTag": "UPSTREAM-8", "connectorId": 1}
    ]  # the profile is not sent
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = a1.result(
        "StartTransaction",
        {"connectorId": 1, "idTag": "UPSTREAM-8", "meterStart": 0, "timestamp": now},
    )
    a1.result(
        "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
    )
    a1.settle()
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[32, 32, 32])
    scenario = snapshot.build_scenario(Installation.objects.get(pk=world.site_a.pk))
    entry = next(c for c in scenario["chargers"] if c["id"] == identity)
    assert entry["max_current"] == 8
    assert UpstreamCap.objects.get().session_id == started["transactionId"]


def test_what_the_owner_allows_is_forwarded_firmware_only_with_allow_firmware(
    world: World, central: Central, chargers: Chargers
) -> None:
    from upstream.choices import DEFAULT_COMMANDS

    bridge_to(
        central,
        world.charger_a1,
        allowed_commands=[*DEFAULT_COMMANDS, "Reset"],
        allow_firmware=True,
    )
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    identity = world.charger_a1.ocpp_identity
    eventually(lambda: central.of(identity, "BootNotification"))
    assert central.call(identity, call.Reset(type="Soft")).status == "Accepted"
    a1.answers["UpdateFirmware"] = {}
    central.call(identity, call.UpdateFirmware(location="ftp://x/fw.bin", retrieve_date=at(0)))
    assert [frame[2] for frame in a1.received] == ["Reset", "UpdateFirmware"]
    assert set(Command.objects.values_list("source", flat=True)) == {CommandSource.UPSTREAM}
