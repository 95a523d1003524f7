"""Boot order (issue #11 item 4): the bridge sends a charger no call before its BootNotification
is answered Accepted (OCPP 1.6 4.2); calls issued meanwhile wait, within their timeout, and then
go out in the order they were issued. A charger that reconnects without rebooting (its first
request is not a BootNotification) was accepted at an earlier boot and gets its calls at once."""

from __future__ import annotations

import time
from unittest import mock

from ocpp.v16.enums import RegistrationStatus

from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from commands import routing
from commands.choices import CommandAction, CommandStatus
from commands.models import Command
from ocpp_bridge.presence import NOT_ACCEPTED_CLOSED
from tests.conftest import World
from tests.ocpp.conftest import BridgeHandle, Chargers, eventually
from tests.ocpp.test_transactions import start

BOOT = {"chargePointVendor": "Sim", "chargePointModel": "S1"}


def _issue(charger: Charger, action: str, payload: dict, timeout_s: float = 10) -> Command:
    return routing.issue_command(charger, action, payload, timeout_s=timeout_s)


def _held(*commands: Command) -> None:
    """The node took the commands (claimed) and holds them: nothing reached the charger."""
    ids = [c.pk for c in commands]
    eventually(lambda: Command.objects.filter(pk__in=ids, status=CommandStatus.SENT).count() == 2)
    time.sleep(0.3)  # time enough for a call to arrive, if one were sent


def test_a_charger_that_delays_its_boot_gets_no_call_before_the_accepted_answer(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    a1 = chargers.connect(world.charger_a1, accepted=False)
    first = _issue(world.charger_a1, CommandAction.CLEAR_CACHE, {})
    second = _issue(world.charger_a1, CommandAction.RESET, {"type": "Soft"})
    _held(first, second)
    assert a1.frames == []

    reply = a1.call("BootNotification", BOOT, unique_id="boot")
    assert reply[:2] == [3, "boot"] and reply[2]["status"] == "Accepted"
    eventually(lambda: len(a1.received) == 2)
    # The charger saw our Accepted answer first, then the held calls in the order issued.
    assert [frame[0] for frame in a1.frames] == [3, 2, 2]
    assert [call[2] for call in a1.received] == ["ClearCache", "Reset"]
    assert routing.wait_for_command(first, 5).status == CommandStatus.ACCEPTED
    assert routing.wait_for_command(second, 5).status == CommandStatus.ACCEPTED


def test_a_call_held_past_its_timeout_times_out_unsent(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    a1 = chargers.connect(world.charger_a1, accepted=False)
    command = routing.wait_for_command(
        _issue(world.charger_a1, CommandAction.CLEAR_CACHE, {}, timeout_s=0.5), 5
    )
    assert command.status == CommandStatus.TIMED_OUT
    assert "BootNotification was not accepted within 0.5 s" in command.error
    assert a1.frames == []
    a1.call("BootNotification", BOOT)  # accepted later: the timed-out call is not sent then
    time.sleep(0.3)
    assert a1.received == []


def test_a_call_held_when_the_connection_closes_fails(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    a1 = chargers.connect(world.charger_a1, accepted=False)
    command = _issue(world.charger_a1, CommandAction.CLEAR_CACHE, {})
    eventually(lambda: Command.objects.get(pk=command.pk).status == CommandStatus.SENT)
    a1.close()
    command = routing.wait_for_command(command, 5)
    assert (command.status, command.error) == (CommandStatus.FAILED, NOT_ACCEPTED_CLOSED)


def test_a_call_held_for_a_replaced_connection_goes_to_the_newer_one_once_it_is_accepted(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    old = chargers.connect(world.charger_a1, accepted=False)
    command = _issue(world.charger_a1, CommandAction.CLEAR_CACHE, {})
    eventually(lambda: Command.objects.get(pk=command.pk).status == CommandStatus.SENT)
    new = chargers.connect(world.charger_a1, accepted=False)
    old.wait_closed()
    time.sleep(0.3)
    assert new.frames == []
    assert new.result("BootNotification", BOOT)["status"] == "Accepted"
    assert routing.wait_for_command(command, 5).status == CommandStatus.ACCEPTED
    assert [call[2] for call in new.received] == ["ClearCache"] and old.received == []


def test_a_held_call_moves_to_the_newer_connection_without_waiting_for_the_old_socket(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    """The old connection's peer is gone (it answers no closing handshake, which then waits for
    its close timeout, 10 s): the held call goes to the newer connection as soon as it is
    accepted, well within the call's own 4 s."""
    old = chargers.connect(world.charger_a1, accepted=False)
    command = _issue(world.charger_a1, CommandAction.CLEAR_CACHE, {}, timeout_s=4)
    eventually(lambda: Command.objects.get(pk=command.pk).status == CommandStatus.SENT)
    old.freeze()
    new = chargers.connect(world.charger_a1, accepted=False)
    began = time.monotonic()
    assert new.result("BootNotification", BOOT)["status"] == "Accepted"
    assert routing.wait_for_command(command, 6).status == CommandStatus.ACCEPTED
    assert time.monotonic() - began < 3
    assert [call[2] for call in new.received] == ["ClearCache"] and old.received == []


def test_a_charger_reconnecting_without_a_boot_gets_its_calls_after_its_first_request(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    a1 = chargers.connect(world.charger_a1, accepted=False)
    command = _issue(world.charger_a1, CommandAction.CLEAR_CACHE, {})
    eventually(lambda: Command.objects.get(pk=command.pk).status == CommandStatus.SENT)
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    assert a1.call("StatusNotification", status, unique_id="s1")[0] == 3
    assert routing.wait_for_command(command, 5).status == CommandStatus.ACCEPTED
    assert [frame[0] for frame in a1.frames] == [3, 2]
    # Once accepted, calls go at once (a later BootNotification does not hold them again).
    assert a1.result("BootNotification", BOOT)["status"] == "Accepted"
    later = _issue(world.charger_a1, CommandAction.CLEAR_CACHE, {})
    assert routing.wait_for_command(later, 5).status == CommandStatus.ACCEPTED


def test_a_boot_answered_pending_sends_records_and_closes_nothing(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    """Fusebox answers every BootNotification Accepted (``registration_status``); were it to
    answer Pending, nothing would go out, no boot would be recorded and no session closed."""
    before = chargers.connect(world.charger_a1)
    tx = before.result("StartTransaction", start(meter=100))["transactionId"]
    before.settle()
    before.close()
    eventually(lambda: not bridge.bridge.server.connections)
    a1 = chargers.connect(world.charger_a1, accepted=False)
    command = _issue(world.charger_a1, CommandAction.CLEAR_CACHE, {}, timeout_s=1)
    pending = RegistrationStatus.pending
    with mock.patch("ocpp_bridge.handlers.registration_status", return_value=pending):
        assert a1.result("BootNotification", BOOT)["status"] == "Pending"
        a1.settle()
    assert routing.wait_for_command(command, 5).status == CommandStatus.TIMED_OUT
    assert a1.received == []
    assert Charger.objects.get(pk=world.charger_a1.pk).last_boot_at is None
    assert ChargeSession.objects.get(pk=tx).status == SessionStatus.ACTIVE


def test_a_boot_refused_as_malformed_does_not_hold_calls_once_the_charger_goes_on(
    world: World, chargers: Chargers, bridge: BridgeHandle
) -> None:
    """A BootNotification answered with a CallError (here a vendor name beyond its 20
    characters, common in the field) was never answered Pending or Rejected: when the charger
    goes on with other requests, it takes itself as accepted, and so does the bridge."""
    a1 = chargers.connect(world.charger_a1, accepted=False)
    command = _issue(world.charger_a1, CommandAction.CLEAR_CACHE, {})
    eventually(lambda: Command.objects.get(pk=command.pk).status == CommandStatus.SENT)
    bad = {**BOOT, "chargePointVendor": "V" * 21}
    assert a1.call("BootNotification", bad, unique_id="boot")[0] == 4
    assert a1.call("Heartbeat", {}, unique_id="h1")[0] == 3
    assert routing.wait_for_command(command, 5).status == CommandStatus.ACCEPTED
    assert [call[2] for call in a1.received] == ["ClearCache"]
