"""What the charger's side asks of its upstream link (``link.Link`` extends ``ChargerSide``):
the connectors' statuses sent upstream (re-sent on connect and when the charger comes back, or
Unavailable while it is away), TriggerMessage answered from what the link holds, the cards
upstream vouched for (its remote starts, reservations and Authorize answers), Authorize and
DataTransfer passed to upstream, and the charger's reboot relayed (docs/upstream.md).

``Link`` provides what this uses: ``upstream``, ``ready``, ``call``, ``manager``,
``charge_point``, ``charger_id``, ``identity``, ``settings``, ``state``, ``boot_payload``,
``_spawn``, ``_note_state``, and the live queue of ``delivery.QueueDelivery``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ocpp.messages import MessageType

from ocpp_bridge.framing import schema_error
from ocpp_bridge.upstream.delivery import UpstreamUnavailable, _describe, _now
from upstream.choices import LinkState, UpstreamAuthorization

if TYPE_CHECKING:
    from ocpp_bridge.handlers import BridgeChargePoint

logger = logging.getLogger("ocpp_bridge.upstream.link")  # the link's log, as before the split

AUTHORIZE_TIMEOUT_S = 5.0  # the charger waits for its Authorize answer meanwhile
DATA_TRANSFER_TIMEOUT_S = 3.0
REMOTE_START_VALID_S = 300.0  # how long upstream's remote start (or Authorize) vouches for a card

STATUSES = frozenset(
    {"Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing",
     "Reserved", "Unavailable", "Faulted"}
)  # fmt: skip


def _ocpp_time(moment: datetime | None = None) -> str:
    return (moment or _now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _boot_payload(boot_info: Any, charger: Any) -> dict[str, Any]:
    """The BootNotification upstream gets: the charger's own (its last), else its row's fields."""
    keys = (
        "chargePointVendor", "chargePointModel", "chargePointSerialNumber",
        "chargeBoxSerialNumber", "firmwareVersion", "iccid", "imsi", "meterType",
        "meterSerialNumber",
    )  # fmt: skip
    payload = {k: v for k, v in (boot_info or {}).items() if k in keys and isinstance(v, str)}
    if charger is not None:
        payload.setdefault("chargePointVendor", charger.vendor or "Unknown")
        payload.setdefault("chargePointModel", charger.model or "Unknown")
        if charger.serial_number:
            payload.setdefault("chargePointSerialNumber", charger.serial_number)
        if charger.firmware_version:
            payload.setdefault("firmwareVersion", charger.firmware_version)
    if schema_error(MessageType.Call, "BootNotification", payload) is not None:
        payload = {
            "chargePointVendor": str(payload.get("chargePointVendor") or "Unknown")[:20],
            "chargePointModel": str(payload.get("chargePointModel") or "Unknown")[:20],
        }
    return payload


class ChargerSide:
    """The charger's side of one ``Link``: statuses, triggers, vouched cards, Authorize and
    DataTransfer."""

    upstream: Any
    manager: Any
    charge_point: BridgeChargePoint | None
    charger_id: int
    identity: str
    settings: Any
    state: Any
    boot_payload: dict[str, Any]
    _vouched: dict[str, float]
    _remote_started: dict[str, float]
    _last_meter_values: dict[int, dict[str, Any]]
    _live: Any
    _wake: asyncio.Event

    @property
    def ready(self) -> bool:  # Link's
        raise NotImplementedError

    async def call(self, action: str, payload: dict[str, Any], **kwargs: Any) -> Any:  # Link's
        raise NotImplementedError

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:  # Link's
        raise NotImplementedError

    def _note_state(self, state: LinkState, reason: str) -> None:  # Link's
        raise NotImplementedError

    async def _resend_statuses(self) -> None:
        """Every connector's current status (OCPP 1.6: status is re-sent, not replayed)."""
        for payload in self.status_payloads():
            try:
                await self.call("StatusNotification", payload)
            except UpstreamUnavailable:
                return
            except Exception as error:
                logger.info("%s: upstream status: %s", self.identity, _describe(error))

    def status_payloads(self, connector_id: int | None = None) -> list[dict[str, Any]]:
        """StatusNotifications of the connectors' current states (Unavailable for each while the
        charger is away), connector ``connector_id`` only if given."""
        now = _ocpp_time()
        if self.charge_point is None:
            known = self.manager.last_connectors.get(self.charger_id, {0: None})
            return [
                {
                    "connectorId": c,
                    "errorCode": "NoError",
                    "status": "Unavailable",
                    "timestamp": now,
                }
                for c in sorted(known)
                if connector_id is None or c == connector_id
            ]
        payloads = []
        for cid, state in sorted(self.charge_point.connectors.items()):
            if (connector_id is not None and cid != connector_id) or state.status not in STATUSES:
                continue  # e.g. "Unknown": the connector has not reported yet
            payload: dict[str, Any] = {
                "connectorId": cid,
                "errorCode": state.error_code or "NoError",
                "status": state.status,
                "timestamp": now,
            }
            if state.info:
                payload["info"] = state.info
            if state.vendor_error_code:
                payload["vendorErrorCode"] = state.vendor_error_code
            payloads.append(payload)
        return payloads

    # --- what inbound handlers and the charger's connection use -----------------------------

    async def trigger(self, requested_message: str, connector_id: int | None) -> bool:
        """Send upstream the message a TriggerMessage asked for (BootNotification, Heartbeat,
        StatusNotification, MeterValues), from the state the link holds, right after the
        TriggerMessage's answer; False if it cannot (not connected, or nothing to send)."""
        if self.upstream is None:
            return False
        if requested_message == "BootNotification":
            calls = [("BootNotification", self.boot_payload)]
        elif requested_message == "Heartbeat":
            calls = [("Heartbeat", {})]
        elif requested_message == "StatusNotification":
            calls = [("StatusNotification", p) for p in self.status_payloads(connector_id)]
        elif requested_message == "MeterValues":
            calls = [
                ("MeterValues", payload)
                for cid, payload in sorted(self._last_meter_values.items())
                if connector_id is None or cid == connector_id
            ]
        else:
            return False
        if not calls:
            return False

        async def send_after_the_answer() -> None:
            await asyncio.sleep(0.05)  # the TriggerMessage's answer goes first
            for action, payload in calls:
                await self.call(action, payload, require_accepted=False)

        self._spawn(send_after_the_answer(), f"triggered {requested_message}")
        return True

    def note_remote_start(self, id_tag: str) -> None:
        """Upstream started a transaction for ``id_tag`` (RemoteStartTransaction accepted): in
        the modes where upstream decides, the charger's following Authorize/StartTransaction for
        it is accepted as upstream's decision."""
        until = time.monotonic() + REMOTE_START_VALID_S
        self._vouched[id_tag] = self._remote_started[id_tag] = until
        for table in (self._vouched, self._remote_started):  # forget the expired ones
            if len(table) > 100:
                now = time.monotonic()
                for tag in [tag for tag, at in table.items() if at < now]:
                    del table[tag]

    def note_reservation(self, id_tag: str, expires_at: datetime) -> None:
        """The charger accepted upstream's ReserveNow for ``id_tag``: in the modes where upstream
        decides, the card's Authorize/StartTransaction is accepted as upstream's decision until
        the reservation's expiry."""
        seconds = (expires_at - _now()).total_seconds()
        until = time.monotonic() + max(0.0, seconds)
        self._vouched[id_tag] = max(until, self._vouched.get(id_tag, 0.0))

    def vouched(self, id_tag: str) -> bool:
        """Whether upstream accepted ``id_tag`` lately (a remote start, or its Authorize)."""
        until = self._vouched.get(id_tag)
        if until is None:
            return False
        if until < time.monotonic():
            del self._vouched[id_tag]
            return False
        return True

    @property
    def decides(self) -> bool:
        """Upstream takes part in authorization (modes "upstream decides" and "both")."""
        return self.settings.authorization in (
            UpstreamAuthorization.UPSTREAM,
            UpstreamAuthorization.BOTH,
        )

    async def authorize(self, id_tag: str) -> dict[str, Any] | None:
        """Upstream's idTagInfo for ``id_tag`` (an Authorize within ``AUTHORIZE_TIMEOUT_S``), or
        None when upstream cannot say (unreachable, no answer, an error)."""
        if self._remote_started.get(id_tag, 0) > time.monotonic():
            return {"status": "Accepted"}  # upstream started it: it decided already
        try:
            answer = await self.call("Authorize", {"idTag": id_tag}, timeout_s=AUTHORIZE_TIMEOUT_S)
        except Exception as error:
            logger.info("%s: upstream Authorize: %s", self.identity, _describe(error))
            return None
        info = answer.get("idTagInfo") if isinstance(answer, dict) else None
        if not isinstance(info, dict):
            return None
        if info.get("status") == "Accepted":
            self._vouched[id_tag] = time.monotonic() + REMOTE_START_VALID_S
        return info

    async def data_transfer(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The charger's DataTransfer passed to upstream: its answer, or None (not connected,
        no answer in ``DATA_TRANSFER_TIMEOUT_S``, an error)."""
        if not self.ready:
            return None
        try:
            answer = await self.call("DataTransfer", payload, timeout_s=DATA_TRANSFER_TIMEOUT_S)
        except Exception as error:
            logger.info("%s: upstream DataTransfer: %s", self.identity, _describe(error))
            return None
        return answer if isinstance(answer, dict) else None

    def charger_booted(self, boot_payload: dict[str, Any]) -> None:
        """The charger booted again: upstream hears the BootNotification too (when accepted)."""
        self.boot_payload = _boot_payload(boot_payload, None)
        if self.ready:
            self._spawn(self.call("BootNotification", self.boot_payload), "boot relay")

    def charger_back(self, charge_point: BridgeChargePoint) -> None:
        """The charger connected again (or anew) while the link stayed: re-send its statuses."""
        self.charge_point = charge_point
        if self.state == LinkState.CHARGER_OFFLINE:
            self._note_state(LinkState.CONNECTED if self.ready else LinkState.CONNECTING, "")
        self._queue_statuses()

    def charger_away(self) -> None:
        """The charger left and ``charger_down`` is "unavailable": every connector Unavailable."""
        if self.charge_point is not None:
            self.manager.last_connectors[self.charger_id] = dict(self.charge_point.connectors)
        self.charge_point = None
        self._note_state(LinkState.CHARGER_OFFLINE, "the charger is not connected to Fusebox")
        self._queue_statuses()

    def _queue_statuses(self) -> None:
        """The connectors' current statuses, in the live queue: ahead of anything the charger
        says next, so a later status is never overtaken by this older one."""
        if self.ready:
            for payload in self.status_payloads():
                self._live.append(("StatusNotification", payload))
            self._wake.set()
