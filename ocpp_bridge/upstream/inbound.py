"""What an upstream central system asks of a bridged charger (docs/upstream.md, "What upstream
may ask of the charger" and "The safety rule").

``InboundHandlers`` is a mixin of the upstream charge point (``link.UpstreamChargePoint``): its
``@on`` handlers answer upstream's calls. ``self.link`` is the charger's ``link.Link``. The
bridge's ``FrameRouter`` has already answered malformed frames, unknown actions and payloads
against the schema with their CallError; here:

- an action the owner does not allow (``UpstreamSettings.allowed_commands``; UpdateFirmware and
  GetDiagnostics only with ``allow_firmware``) answers NotSupported, and a connector the charger
  does not have PropertyConstraintViolation; neither reaches the charger;
- what is allowed goes through Fusebox's command path: a ``Command`` (source "upstream")
  executed by this node's ``CommandRunner``, and upstream gets the charger's own answer. A
  charger's CallError is passed on with its code; no answer in time, or a charger that is not
  connected, is an InternalError saying so;
- some calls never reach the charger: ChangeConfiguration of a key Fusebox keeps (Rejected),
  SetChargingProfile / ClearChargingProfile (kept as caps: ``upstream.caps``), TriggerMessage of
  what the link holds (``Link.trigger``);
- ReserveNow / CancelReservation are Fusebox reservations held for upstream's idTag
  (``auth_access.reservations.reserve_for_upstream``): the site's rules may answer Rejected or
  Occupied without asking the charger; otherwise the charger's answer. CancelReservation of an
  id upstream holds no reservation under at this charger is Rejected.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import (
    InternalError,
    NotSupportedError,
    OCPPError,
    PropertyConstraintViolationError,
)
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from commands import reserved
from commands.choices import CommandStatus
from ocpp_bridge.framing import NOT_SUPPORTED, OCPP16_CODES, snake_case
from ocpp_bridge.upstream import inbound_store as store
from upstream import caps
from upstream.choices import FIRMWARE_COMMANDS

if TYPE_CHECKING:
    from ocpp_bridge.upstream.link import Link

# ChangeConfiguration keys upstream may not change (compared case-insensitively): what would take
# the charger away from Fusebox (its central system's address, under any vendor's name), its
# security, what Fusebox manages (authorization settings, the local list, smart charging), and
# what Fusebox's connection and balancing rely on (heartbeat and ping intervals, meter values).
FORBIDDEN_KEY_PATTERN = re.compile(
    r"url|(?-i:Uri|URI)|(?<![a-z])uri|centralsystem|csms|backend|ocpp.?(server|host)|endpoint"
    r"|serveraddress"
    r"|authorizationkey|securityprofile|certificate|cpopassword|password|secret"
    r"|localauth|locallist|chargeprofile|chargingprofile|chargingschedule|smartcharging"
    r"|heartbeatinterval|websocketpinginterval|metervalue",
    re.IGNORECASE,
)
MANAGED_KEYS = frozenset(key.casefold() for key in reserved.MANAGED_CONFIGURATION_KEYS)
LIBRARY_CODES = {ocpp16: library for library, ocpp16 in OCPP16_CODES.items()}
LINK_TRIGGERS = frozenset({"BootNotification", "Heartbeat", "StatusNotification", "MeterValues"})


def forbidden_key(key: str) -> bool:
    """Whether upstream's ChangeConfiguration of ``key`` is answered Rejected, unsent."""
    return key.strip().casefold() in MANAGED_KEYS or FORBIDDEN_KEY_PATTERN.search(key) is not None


def _date_time(value: str, name: str) -> datetime:
    """Upstream's date-time (a zone required; ``Z`` accepted)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PropertyConstraintViolationError(
            details={"cause": f"{name} is not a date-time with a zone: {value[:40]!r}"}
        )
    return parsed


def _int32(value: int, name: str) -> None:
    if not caps.INT32_MIN <= value <= caps.INT32_MAX:
        raise PropertyConstraintViolationError(details={"cause": f"{name} is not a 32-bit integer"})


def charger_error(code: str, description: Any) -> OCPPError:
    """The charger's CallError as the exception that answers upstream with the same code (the
    1.6 spellings included); a code OCPP does not define becomes InternalError."""
    code = LIBRARY_CODES.get(code, code)
    text = str(description or "")[:255]
    for error in OCPPError.__subclasses__():
        if error.code == code:
            return error(description=text or error.default_description)
    return InternalError(description=f"The charger answered {code}: {text}"[:255])


class InboundHandlers:
    """Upstream's calls to the charge point Fusebox presents."""

    link: Link
    current_payload: dict[str, Any]

    # --- the gates --------------------------------------------------------------------------

    def _allow(self, action: str) -> None:
        settings = self.link.settings
        allowed = (
            settings.allow_firmware
            if action in FIRMWARE_COMMANDS
            else action in settings.allowed_commands
        )
        if not allowed:
            raise NotSupportedError(
                description=NOT_SUPPORTED,
                details={"cause": f"{action} is not allowed for this charge point"},
            )

    async def _check_connector(self, connector_id: int | None, *, zero: bool) -> None:
        if connector_id is None or (zero and connector_id == 0):
            return
        known = await self.link.bridge.db(store.connector_ids, self.link.charger_id)
        if connector_id not in known:
            raise PropertyConstraintViolationError(
                details={"cause": f"connectorId {connector_id}: no such connector"}
            )

    async def _execute(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send ``action`` to the charger through the command path; its answer's payload."""
        bridge = self.link.bridge
        command_id = await bridge.db(store.create_command, self.link.charger_id, action, payload)
        return await self._run(command_id)

    async def _run(self, command_id: int) -> dict[str, Any]:
        """Execute the pending command ``command_id`` on the charger; its answer's payload."""
        bridge = self.link.bridge
        await bridge.commands.execute(command_id)
        done = await bridge.db(store.outcome, command_id)
        if done.status in (CommandStatus.ACCEPTED, CommandStatus.REJECTED):
            return done.response if isinstance(done.response, dict) else {}
        response = done.response if isinstance(done.response, dict) else {}
        if response.get("errorCode"):  # the charger's own CallError, passed on
            raise charger_error(str(response["errorCode"]), response.get("errorDescription"))
        raise InternalError(description=f"The charger did not answer: {done.error}"[:255])

    async def _forward(self, action: str, **payload: Any) -> Any:
        """The call as upstream sent it (camelCase), executed; the charger's answer."""
        answer = await self._execute(action, payload or dict(self.current_payload))
        return getattr(call_result, action)(**snake_case(answer))

    # --- transactions -----------------------------------------------------------------------

    @on(Action.remote_start_transaction)
    async def on_upstream_remote_start(
        self, id_tag: str, connector_id: int | None = None, **kwargs: Any
    ) -> Any:
        self._allow(Action.remote_start_transaction)
        await self._check_connector(connector_id, zero=False)
        profile = self.current_payload.get("chargingProfile")
        if profile is not None:  # a wish: kept as a cap, never sent (the safety rule)
            stored = await self.link.bridge.db(
                store.store_cap, self.link.charger_id, connector_id or 1, profile, True
            )
            if not stored:
                return call_result.RemoteStartTransaction(status="Rejected")
        self.link.note_remote_start(id_tag)
        payload: dict[str, Any] = {"idTag": id_tag}
        if connector_id is not None:
            payload["connectorId"] = connector_id
        return await self._forward(Action.remote_start_transaction, **payload)

    @on(Action.remote_stop_transaction)
    async def on_upstream_remote_stop(self, transaction_id: int) -> Any:
        self._allow(Action.remote_stop_transaction)
        ours = await self.link.bridge.db(
            store.fusebox_transaction, self.link.charger_id, transaction_id
        )
        if ours is None:  # not a transaction upstream knows on this charger (or it ended)
            return call_result.RemoteStopTransaction(status="Rejected")
        return await self._forward(Action.remote_stop_transaction, transactionId=ours)

    # --- the charger ------------------------------------------------------------------------

    @on(Action.reset)
    async def on_upstream_reset(self, **kwargs: Any) -> Any:
        self._allow(Action.reset)
        return await self._forward(Action.reset)

    @on(Action.clear_cache)
    async def on_upstream_clear_cache(self) -> Any:
        self._allow(Action.clear_cache)
        return await self._forward(Action.clear_cache)

    @on(Action.unlock_connector)
    async def on_upstream_unlock(self, connector_id: int) -> Any:
        self._allow(Action.unlock_connector)
        await self._check_connector(connector_id, zero=False)
        return await self._forward(Action.unlock_connector)

    @on(Action.change_availability)
    async def on_upstream_change_availability(self, connector_id: int, **kwargs: Any) -> Any:
        self._allow(Action.change_availability)
        await self._check_connector(connector_id, zero=True)
        return await self._forward(Action.change_availability)

    @on(Action.data_transfer)
    async def on_upstream_data_transfer(self, vendor_id: str, **kwargs: Any) -> Any:
        self._allow(Action.data_transfer)
        return await self._forward(Action.data_transfer)

    @on(Action.trigger_message)
    async def on_upstream_trigger(
        self, requested_message: str, connector_id: int | None = None
    ) -> Any:
        self._allow(Action.trigger_message)
        await self._check_connector(connector_id, zero=True)
        if requested_message in LINK_TRIGGERS:  # answered from what the link holds
            sent = await self.link.trigger(requested_message, connector_id)
            return call_result.TriggerMessage(status="Accepted" if sent else "Rejected")
        return await self._forward(Action.trigger_message)

    # --- configuration ----------------------------------------------------------------------

    @on(Action.get_configuration)
    async def on_upstream_get_configuration(self, **kwargs: Any) -> Any:
        self._allow(Action.get_configuration)
        return await self._forward(Action.get_configuration)  # stored (and answered) masked

    @on(Action.change_configuration)
    async def on_upstream_change_configuration(self, key: str, value: str) -> Any:
        self._allow(Action.change_configuration)
        if forbidden_key(key):
            return call_result.ChangeConfiguration(status="Rejected")
        return await self._forward(Action.change_configuration)

    # --- charging profiles: caps, never sent (the safety rule) --------------------------------

    @on(Action.set_charging_profile)
    async def on_upstream_set_charging_profile(self, connector_id: int, **kwargs: Any) -> Any:
        self._allow(Action.set_charging_profile)
        await self._check_connector(connector_id, zero=True)
        profile = self.current_payload["csChargingProfiles"]
        stored = await self.link.bridge.db(
            store.store_cap, self.link.charger_id, connector_id, profile
        )
        return call_result.SetChargingProfile(status="Accepted" if stored else "Rejected")

    @on(Action.clear_charging_profile)
    async def on_upstream_clear_charging_profile(
        self,
        id: int | None = None,  # OCPP names it so
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
    ) -> Any:
        self._allow(Action.clear_charging_profile)
        cleared = await self.link.bridge.db(
            store.clear_caps,
            self.link.charger_id,
            profile_id=id,
            connector_id=connector_id,
            purpose=charging_profile_purpose,
            stack_level=stack_level,
        )
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    # --- reservations: Fusebox's, held for upstream's idTag (docs/upstream.md) ----------------

    @on(Action.reserve_now)
    async def on_upstream_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        parent_id_tag: str | None = None,
    ) -> Any:
        self._allow(Action.reserve_now)
        await self._check_connector(connector_id, zero=True)
        expires_at = _date_time(expiry_date, "expiryDate")
        _int32(reservation_id, "reservationId")
        command_id, refused = await self.link.bridge.db(
            store.reserve,
            self.link.charger_id,
            connector_id,
            id_tag,
            parent_id_tag or "",
            expires_at,
            reservation_id,
            self.link.origin[1],
        )
        if command_id is None:  # the site's rules refused it: the charger is not asked
            return call_result.ReserveNow(status=refused)
        answer = await self._run(command_id)
        if answer.get("status") == "Accepted":
            self.link.note_reservation(id_tag, expires_at)
        return call_result.ReserveNow(**snake_case(answer))

    @on(Action.cancel_reservation)
    async def on_upstream_cancel_reservation(self, reservation_id: int) -> Any:
        self._allow(Action.cancel_reservation)
        if not caps.INT32_MIN <= reservation_id <= caps.INT32_MAX:
            return call_result.CancelReservation(status="Rejected")
        command_id = await self.link.bridge.db(
            store.cancel_reservation, self.link.charger_id, reservation_id
        )
        if command_id is None:  # no reservation of upstream's with that id here
            return call_result.CancelReservation(status="Rejected")
        return call_result.CancelReservation(**snake_case(await self._run(command_id)))

    # --- firmware and diagnostics (``allow_firmware``) --------------------------------------

    @on(Action.get_diagnostics)
    async def on_upstream_get_diagnostics(self, location: str, **kwargs: Any) -> Any:
        self._allow(Action.get_diagnostics)
        return await self._forward(Action.get_diagnostics)

    @on(Action.update_firmware)
    async def on_upstream_update_firmware(self, location: str, **kwargs: Any) -> Any:
        self._allow(Action.update_firmware)
        return await self._forward(Action.update_firmware)
