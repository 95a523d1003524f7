"""A bridge node's upstream links (``bridge.upstream``): which bridged charger gets a ``Link``
and when it closes, settings changes heard over Redis, and the links' status rows and events
written in batches on a database lane of their own (docs/upstream.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpp_bridge.upstream.link import RECONNECTS_PER_S, SPREAD_MAX_S, Link, _now
from upstream import outbox
from upstream.choices import ChargerDown, LinkState

if TYPE_CHECKING:
    from ocpp_bridge.bridge import Bridge
    from ocpp_bridge.handlers import BridgeChargePoint
    from upstream.models import UpstreamSettings

logger = logging.getLogger(__name__)

DB_THREADS = 2
STATE_WRITE_INTERVAL_S = 5.0  # UpstreamLink rows: at most this often per link


class UpstreamManager:
    """A bridge node's upstream links, one per bridged charger it holds (``bridge.upstream``).

    The hot path of unbridged chargers stays as it was: whether a charger is bridged is read at
    its upgrade with its row (``persistence.find_chargers``), and an unbridged connection's
    ``upstream`` is None."""

    def __init__(self, bridge: Bridge, *, state_interval_s: float = STATE_WRITE_INTERVAL_S) -> None:
        self.bridge = bridge
        # A database lane of the links' own: the queue's reads and marks never wait behind the
        # chargers' writes, nor they behind them.
        from ocpp_bridge.bridge import DatabaseThreads  # (bridge imports this module)

        self.db = DatabaseThreads(DB_THREADS, "bridge-db-upstream")
        self.links: dict[int, Link] = {}  # charger id -> link
        self.last_connectors: dict[int, dict[int, Any]] = {}
        self.state_interval_s = state_interval_s
        self._dirty: dict[int, dict[str, Any]] = {}
        self._events: list[tuple[int, str, dict[str, Any], datetime]] = []
        self._forget: set[int] = set()
        self._flush_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[Any]] = set()
        # Links waiting in reconnection backoff, by central system (scheme, host, port).
        self._backing_off: dict[tuple[str, str, int], set[Link]] = {}

    async def start(self) -> None:
        for name, coroutine in [
            ("upstream-states", self._state_loop()),
            ("upstream-settings", self._listen()),
        ]:
            task = asyncio.create_task(coroutine, name=name)
            self._tasks.append(task)

    async def stop(self) -> None:
        links = list(self.links.values())
        self.links.clear()
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for link in links:
            link._status_fields.update(
                state=LinkState.UNREACHABLE, reason="bridge node stopped", since=_now()
            )
            self._dirty[link.charger_id] = link.take_status()
        with contextlib.suppress(Exception):
            await self._write_states()
        await asyncio.to_thread(self.db.close)  # not from the loop

    # --- the charger's connection tells -------------------------------------------------------

    def accepted(self, charge_point: BridgeChargePoint) -> None:
        """A charger was accepted: open its link if it is bridged (or hand it the one kept)."""
        settings = charge_point.upstream_settings
        link = self.links.get(charge_point.charger.pk)
        if link is not None and (settings is None or not _same(link.settings, settings)):
            self._close(link)
            link = None
        if settings is None or settings.paused:
            charge_point.upstream = None
            if settings is not None:
                self.status_only(charge_point.charger.pk, LinkState.PAUSED, "paused by the owner")
            return
        if link is None:
            link = Link(self, charge_point, settings)
            self.links[link.charger_id] = link
            link.start()
        else:
            link.charger_back(charge_point)
        charge_point.upstream = link

    def gone(self, charge_point: BridgeChargePoint) -> None:
        """The charger's connection ended (not replaced): close the link, or keep it and report
        Unavailable (``charger_down``)."""
        link = self.links.get(charge_point.charger.pk)
        if link is None or link.charge_point is not charge_point:
            return
        if self.bridge.shutting_down or link.settings.charger_down != ChargerDown.UNAVAILABLE:
            self._close(link)
            if not self.bridge.shutting_down:
                self.status_only(
                    link.charger_id, LinkState.CHARGER_OFFLINE, "the charger is offline"
                )
            return
        link.charger_away()

    def drop(self, link: Link, reason: str) -> None:
        """Close a link kept for an absent charger (another node opens its own)."""
        logger.info("%s: upstream link closed: %s", link.identity, reason)
        self._close(link)

    def _close(self, link: Link) -> None:
        if self.links.get(link.charger_id) is link:
            del self.links[link.charger_id]
        self.last_connectors.pop(link.charger_id, None)
        task = asyncio.create_task(link.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # --- reconnection ---------------------------------------------------------------------------

    def backing_off(self, link: Link, waiting: bool) -> None:
        """``link`` starts (or ends) waiting in reconnection backoff."""
        if waiting:
            self._backing_off.setdefault(link.origin, set()).add(link)
            return
        waiting_links = self._backing_off.get(link.origin)
        if waiting_links is not None:
            waiting_links.discard(link)
            if not waiting_links:
                del self._backing_off[link.origin]

    def reached(self, link: Link) -> None:
        """``link`` connected to its central system: the links to the same one that wait in
        backoff try again soon, spread over their number / ``RECONNECTS_PER_S`` seconds (at
        least 1, at most ``SPREAD_MAX_S``) so that a central system that is back is not left
        waiting minutes, nor hit by all of them at once."""
        waiting_links = self._backing_off.get(link.origin)
        if not waiting_links:
            return
        spread_s = min(SPREAD_MAX_S, max(1.0, len(waiting_links) / RECONNECTS_PER_S))
        for other in waiting_links:
            other.retry_soon(spread_s)

    # --- settings changes ---------------------------------------------------------------------

    async def _listen(self) -> None:
        """Settings changes (``upstream.outbox.settings_changed``): the links of the installation
        reconnect with the new settings; chargers newly bridged get theirs."""
        while True:
            pubsub = self.bridge.redis.pubsub()
            try:
                await pubsub.subscribe(outbox.CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        installation_id = int(json.loads(message["data"])["installation_id"])
                    except (ValueError, KeyError, TypeError):
                        continue
                    await self.reload(installation_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Upstream settings listener failed; resubscribing")
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def reload(self, installation_id: int) -> None:
        """Re-read the installation's upstream settings and apply them to the chargers held."""
        held = [
            cp
            for cp in self.bridge.server.connections.values()
            if cp.charger.installation_id == installation_id
        ]
        away = [
            link
            for link in self.links.values()
            if link.installation_id == installation_id and link.charge_point is None
        ]
        found = await self.db(outbox.settings_of_installations, [installation_id])
        for charge_point in held:
            charge_point.upstream_settings = found.get(charge_point.charger.pk)
            link = self.links.get(charge_point.charger.pk)
            if link is not None and (
                charge_point.upstream_settings is None
                or not _same(link.settings, charge_point.upstream_settings)
            ):
                self._close(link)
            if charge_point.accepted:
                self.accepted(charge_point)
            if charge_point.upstream_settings is None and link is not None:
                self._forget.add(charge_point.charger.pk)
        for link in away:
            settings = found.get(link.charger_id)
            if settings is None or not _same(link.settings, settings):
                self._close(link)

    # --- status rows and events ------------------------------------------------------------

    def status_changed(self, link: Link, *, urgent: bool) -> None:
        if urgent:
            self._flush_now.set()

    def status_only(self, charger_id: int, state: LinkState, reason: str) -> None:
        self._dirty[charger_id] = {
            "state": state,
            "reason": reason,
            "since": _now(),
            "node": self.bridge.node_id,
        }
        self._flush_now.set()

    def emit(self, link: Link, event_type: str) -> None:
        """An ``upstream.*`` event (docs/events.md), written with the next status rows."""
        logger.info("%s: %s %s", link.identity, event_type, link.reason)
        payload = {} if event_type == "upstream.connected" else {"reason": link.reason[:200]}
        self._events.append((link.charger_id, event_type, payload, _now()))
        self._flush_now.set()

    async def _state_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self.state_interval_s)
            await asyncio.sleep(min(1.0, self.state_interval_s))  # gather a moment's changes
            self._flush_now.clear()
            try:
                await self._write_states()
            except Exception:
                logger.exception("Writing upstream link states failed")

    async def _write_states(self) -> None:
        for link in self.links.values():
            fields = link.take_status()
            if fields:
                self._dirty.setdefault(link.charger_id, {}).update(fields)
        dirty, self._dirty = self._dirty, {}
        forget, self._forget = self._forget, set()
        events, self._events = self._events, []
        if dirty:
            states = [
                outbox.LinkState(cid, fields) for cid, fields in dirty.items() if cid not in forget
            ]
            await self.db(outbox.write_link_states, states)
        if forget:
            await self.db(outbox.forget_links, sorted(forget))
        if events:
            try:
                await self.db(outbox.record_link_events, events)
            except Exception:
                self._events[:0] = events  # kept for the next round
                raise

    async def flush(self) -> None:
        await self._write_states()


def _same(a: UpstreamSettings, b: UpstreamSettings) -> bool:
    """Whether two settings rows would connect and behave alike (same row, same update)."""
    return a.pk == b.pk and a.updated_at == b.updated_at
