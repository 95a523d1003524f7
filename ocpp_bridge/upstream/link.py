"""One bridged charger's OCPP-J 1.6 client connection to its upstream central system.

The bridge node that holds a charger's websocket also holds its upstream link (docs/upstream.md).
``UpstreamManager`` (``bridge.upstream``) opens a ``Link`` when a bridged charger is accepted and
closes it when the charger leaves (or, by option, keeps it and reports Unavailable). A ``Link``
runs ``UpstreamChargePoint`` (the library's ``ChargePoint`` through the bridge's ``FrameRouter``,
so a bad frame from upstream gets its CallError and never reaches the charger) over
``websockets.connect`` with subprotocol ocpp1.6, reconnecting with exponential backoff and full
jitter. Nothing upstream does can block or end the charger's connection: every task is guarded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ocpp_bridge.framing import FrameRouter
from ocpp_bridge.upstream.inbound import InboundHandlers

if TYPE_CHECKING:
    from ocpp_bridge.bridge import Bridge
    from upstream.models import UpstreamSettings

logger = logging.getLogger(__name__)


class Link:
    """A bridged charger's upstream connection and what it relays.

    Attributes the inbound handlers rely on: ``charger_id``, ``identity`` (the charger's Fusebox
    OCPP identity), ``settings`` (the ``UpstreamSettings`` in force), ``bridge``."""

    def __init__(
        self, bridge: Bridge, charger_id: int, identity: str, settings: UpstreamSettings
    ) -> None:
        self.bridge = bridge
        self.charger_id = charger_id
        self.identity = identity
        self.settings = settings

    async def trigger(self, requested_message: str, connector_id: int | None) -> bool:
        """Send upstream the message a TriggerMessage asked for (BootNotification, Heartbeat,
        StatusNotification, MeterValues), from the state the link holds; False if it cannot
        (not connected, or nothing to send)."""
        return False

    def note_remote_start(self, id_tag: str) -> None:
        """Upstream started a transaction for ``id_tag`` (RemoteStartTransaction accepted): in
        the modes where upstream decides, the charger's following Authorize/StartTransaction for
        it is accepted as upstream's decision."""


class UpstreamChargePoint(InboundHandlers, FrameRouter):
    """The charge point Fusebox presents upstream for one charger; ``self.link`` is its Link."""

    def __init__(self, link: Link, connection: Any) -> None:
        super().__init__(link.identity, connection, response_timeout=30)
        self.link = link
