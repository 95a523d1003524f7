"""Commands to chargers, issued as the web and worker processes do (``routing.issue_command``),
executed by the bridge node that holds the charger."""

from __future__ import annotations

from typing import Any

import pytest

from commands import routing
from commands.choices import CommandAction, CommandStatus
from commands.models import Command
from portal.redis import get_redis
from tests.conftest import World
from tests.ocpp.conftest import NO_ANSWER, BridgeHandle, Chargers, TestCharger, eventually

PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0, "numberPhases": 3}],
    },
}
SCHEDULE = {
    "status": "Accepted",
    "connectorId": 1,
    "scheduleStart": "2026-01-01T00:00:00Z",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.5}],
    },
}

# action: (payload sent, the charger's answer, resulting command status)
ACCEPTED, REJECTED = CommandStatus.ACCEPTED, CommandStatus.REJECTED
CONFIGURATION = {
    "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
    "unknownKey": ["Nope"],
}
LOCAL_LIST = {
    "listVersion": 2,
    "updateType": "Full",
    "localAuthorizationList": [{"idTag": "DORA-1", "idTagInfo": {"status": "Accepted"}}],
}
FIRMWARE = {"location": "https://example.com/fw.bin", "retrieveDate": "2030-01-01T00:00:00Z"}
COMMANDS: dict[str, tuple[dict[str, Any], dict[str, Any], CommandStatus]] = {
    "RemoteStartTransaction": (
        {"idTag": "DORA-1", "connectorId": 1},
        {"status": "Accepted"},
        ACCEPTED,
    ),
    "RemoteStopTransaction": ({"transactionId": 42}, {"status": "Rejected"}, REJECTED),
    "Reset": ({"type": "Soft"}, {"status": "Accepted"}, ACCEPTED),
    "UnlockConnector": ({"connectorId": 1}, {"status": "Unlocked"}, ACCEPTED),
    "ChangeAvailability": (
        {"connectorId": 0, "type": "Inoperative"},
        {"status": "Scheduled"},
        ACCEPTED,
    ),
    "ChangeConfiguration": (
        {"key": "HeartbeatInterval", "value": "60"},
        {"status": "RebootRequired"},
        ACCEPTED,
    ),
    "GetConfiguration": ({"key": ["HeartbeatInterval", "Nope"]}, CONFIGURATION, ACCEPTED),
    "ClearCache": ({}, {"status": "Rejected"}, REJECTED),
    "TriggerMessage": (
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        {"status": "NotImplemented"},
        REJECTED,
    ),
    "SetChargingProfile": (
        {"connectorId": 1, "csChargingProfiles": PROFILE},
        {"status": "Accepted"},
        ACCEPTED,
    ),
    "ClearChargingProfile": ({"id": 1}, {"status": "Unknown"}, REJECTED),
    "GetCompositeSchedule": (
        {"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"},
        SCHEDULE,
        ACCEPTED,
    ),
    "SendLocalList": (LOCAL_LIST, {"status": "VersionMismatch"}, REJECTED),
    "GetLocalListVersion": ({}, {"listVersion": 3}, ACCEPTED),
    "GetDiagnostics": (
        {"location": "ftp://example.com/diag/", "retries": 2},
        {"fileName": "diag.zip"},
        ACCEPTED,
    ),
    "UpdateFirmware": (FIRMWARE, {}, ACCEPTED),
    "DataTransfer": (
        {"vendorId": "com.acme", "messageId": "ping", "data": "1"},
        {"status": "Accepted", "data": "pong"},
        ACCEPTED,
    ),
    "ReserveNow": (
        {
            "connectorId": 1,
            "expiryDate": "2030-01-01T00:00:00Z",
            "idTag": "DORA-1",
            "reservationId": 7,
        },
        {"status": "Occupied"},
        REJECTED,
    ),
    "CancelReservation": ({"reservationId": 7}, {"status": "Accepted"}, ACCEPTED),
}


def test_every_command_action_is_covered() -> None:
    assert set(COMMANDS) == set(CommandAction.values)


@pytest.fixture
def a1(world: World, chargers: Chargers) -> TestCharger:
    return chargers.connect(world.charger_a1)


def _issue(world: World, action: str, payload: dict[str, Any], timeout_s: float = 5) -> Command:
    command = routing.issue_command(world.charger_a1, action, payload, timeout_s=timeout_s)
    return routing.wait_for_command(command, timeout_s=timeout_s + 5)


@pytest.mark.parametrize("action", list(COMMANDS))
def test_a_command_reaches_the_charger_and_its_answer_is_stored(
    world: World, a1: TestCharger, action: str
) -> None:
    payload, answer, status = COMMANDS[action]
    a1.answers[action] = answer
    command = _issue(world, action, payload)
    assert (command.status, command.error) == (status, "")
    assert command.response == answer
    assert command.sent_at is not None and command.completed_at is not None
    [(message_type, _, sent_action, sent_payload)] = a1.received
    assert (message_type, sent_action, sent_payload) == (2, action, payload)


def test_a_call_error_from_the_charger_fails_the_command(world: World, a1: TestCharger) -> None:
    a1.answers["Reset"] = ("NotSupported", "No resets here")
    command = _issue(world, "Reset", {"type": "Hard"})
    assert (command.status, command.error) == (CommandStatus.FAILED, "NotSupported: No resets here")
    assert command.response == {
        "errorCode": "NotSupported",
        "errorDescription": "No resets here",
        "errorDetails": {},
    }


def test_an_answer_against_the_schema_fails_the_command_and_is_kept(
    world: World, a1: TestCharger
) -> None:
    a1.answers["ClearCache"] = {"status": "Maybe"}
    command = _issue(world, "ClearCache", {})
    assert command.status == CommandStatus.FAILED
    assert command.error.startswith("Invalid answer:")
    assert command.response == {"status": "Maybe"}


def test_a_command_to_an_offline_charger_fails_at_once(world: World, bridge: BridgeHandle) -> None:
    command = routing.issue_command(world.charger_a1, "Reset", {"type": "Soft"})
    assert (command.status, command.error) == (CommandStatus.FAILED, "Charger is offline.")


def test_a_command_the_charger_never_answers_times_out(world: World, a1: TestCharger) -> None:
    a1.answers["Reset"] = NO_ANSWER
    command = _issue(world, "Reset", {"type": "Soft"}, timeout_s=0.5)
    assert command.status == CommandStatus.TIMED_OUT
    assert command.error.startswith("No answer from the charger within 0.5")
    assert a1.heartbeat_answers()  # and the charger is still served


def test_a_late_answer_is_ignored_and_the_next_command_works(world: World, a1: TestCharger) -> None:
    a1.answers["Reset"] = NO_ANSWER
    assert _issue(world, "Reset", {"type": "Soft"}, timeout_s=0.3).status == CommandStatus.TIMED_OUT
    late_id = a1.received[-1][1]
    a1.loop.run(a1.websocket.send(f'[3,"{late_id}",{{"status":"Accepted"}}]'))
    a1.answers["ClearCache"] = {"status": "Accepted"}
    assert _issue(world, "ClearCache", {}).status == CommandStatus.ACCEPTED


def test_commands_wait_their_turn_one_call_at_a_time(world: World, a1: TestCharger) -> None:
    issued = [
        routing.issue_command(
            world.charger_a1, "ChangeConfiguration", {"key": f"K{n}", "value": "1"}
        )
        for n in range(5)
    ]
    done = [routing.wait_for_command(command, timeout_s=10) for command in issued]
    assert [c.status for c in done] == [CommandStatus.ACCEPTED] * 5
    assert sorted(m[3]["key"] for m in a1.received) == [f"K{n}" for n in range(5)]


def test_a_command_fails_when_the_connection_drops_before_the_answer(
    world: World, a1: TestCharger
) -> None:
    a1.answers["Reset"] = NO_ANSWER
    command = routing.issue_command(world.charger_a1, "Reset", {"type": "Hard"}, timeout_s=10)
    eventually(lambda: a1.received)
    a1.abort()
    command = routing.wait_for_command(command, timeout_s=5)
    assert (command.status, command.error) == (
        CommandStatus.FAILED,
        "Connection closed before the charger answered.",
    )


def test_a_command_for_a_charger_that_left_this_node_fails(
    world: World, bridge: BridgeHandle
) -> None:
    queue = routing.NODE_QUEUE_KEY.format(node=bridge.bridge.node_id)
    get_redis().set(routing.PRESENCE_KEY.format(identity="HARBOUR-A1"), bridge.bridge.node_id)
    command = routing.issue_command(world.charger_a1, "ClearCache", {})
    command = routing.wait_for_command(command, timeout_s=5)
    assert (command.status, command.error) == (
        CommandStatus.FAILED,
        "Charger is not connected to this bridge node.",
    )
    assert get_redis().llen(queue) == 0


def test_commands_still_queued_when_the_node_stops_fail(world: World) -> None:
    from tests.ocpp.conftest import start_bridge, stop_bridge

    handle = start_bridge()
    node = handle.bridge.node_id
    handle.run(handle.bridge.commands.stop())  # the node no longer takes commands
    eventually(lambda: not handle.bridge.commands.running)
    get_redis().set(routing.PRESENCE_KEY.format(identity="HARBOUR-A1"), node)
    command = routing.issue_command(world.charger_a1, "ClearCache", {})
    stop_bridge(handle)
    command.refresh_from_db()
    assert (command.status, command.error) == (
        CommandStatus.FAILED,
        "Bridge node stopped before sending.",
    )
