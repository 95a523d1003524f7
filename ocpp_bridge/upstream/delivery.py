"""The delivery side of an upstream link (``link.Link`` extends ``QueueDelivery``): the durable
queue (``upstream.outbox``) sent in order, one message at a time, with upstream's transaction
ids; a message upstream refuses or leaves unanswered tried again after a pause and given up
(marked failed) after ``outbox.MAX_ATTEMPTS`` attempts; live messages in between
(docs/upstream.md, "Delivery").

A transaction MeterValues is handed over once its row is written (``queued``): while the link
knows the queue holds nothing else unsent (``_in_sync``), it is sent from memory, without
reading the queue back; anything else (a Start or Stop, a message upstream refused, a new
connection, the minute's poll) makes the link read the queue again, in order.

``Link`` provides what this uses: ``ready``, ``upstream``, ``call``, ``manager``,
``charger_id``, ``identity``, ``call_timeout_s``, ``retry_interval_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any

from upstream import outbox

logger = logging.getLogger("ocpp_bridge.upstream.link")  # the link's log, as before the split

QUEUE_BATCH = 50
POLL_S = 60.0  # the queue is read at least this often (a wake-up lost is late, never lost)


class UpstreamUnavailable(Exception):
    """No answer from upstream: not connected, not accepted, closed or too late."""


def _now() -> datetime:
    return datetime.now(UTC)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class QueueDelivery:
    """The durable queue's delivery and retries, and the live messages, of one ``Link``."""

    _live: deque[tuple[str, dict[str, Any]]]
    _wake: asyncio.Event
    _queue_dirty: bool
    _in_sync: bool
    _memory: deque[outbox.Pending]
    _last_meter_values: dict[int, dict[str, Any]]
    upstream: Any
    manager: Any
    charger_id: int
    identity: str
    call_timeout_s: float
    retry_interval_s: float

    @property
    def ready(self) -> bool:  # Link's
        raise NotImplementedError

    async def call(self, action: str, payload: dict[str, Any], **kwargs: Any) -> Any:  # Link's
        raise NotImplementedError

    # --- the durable queue and live messages ------------------------------------------------

    def wake(self) -> None:
        """A message was queued durably: deliver it when connected and accepted."""
        self._reread()
        self._wake.set()

    def queued(self, message: outbox.Pending) -> None:
        """A transaction MeterValues was queued durably (``message``: its row, as ``pending``
        gives it): sent from memory when every unsent row of the queue is known to the link,
        else read back with the others."""
        if self._in_sync and not self._queue_dirty and message.mapped and self.ready:
            self._memory.append(message)
            self._wake.set()
        else:
            self.wake()

    def _reread(self) -> None:
        """The queue may hold rows the link does not know: read it before sending more."""
        self._queue_dirty = True
        self._in_sync = False

    @property
    def db(self) -> Any:
        """The database lane of the node's links (not the chargers' own)."""
        return self.manager.db

    def relay(self, action: str, payload: dict[str, Any]) -> None:
        """A live message (StatusNotification, MeterValues outside a transaction, firmware or
        diagnostics status): sent when connected and accepted, dropped otherwise."""
        if action == "MeterValues":
            self._last_meter_values[int(payload.get("connectorId", 0))] = payload
        if self.ready:
            self._live.append((action, payload))
            self._wake.set()

    async def _deliver(self) -> None:
        """Until the connection ends: the durable queue in order, live messages in between."""
        self._reread()  # a new connection starts from the queue as written
        while self.ready:
            self._wake.clear()
            progressed = await self._deliver_queued()
            while self._live and self.ready:
                action, payload = self._live.popleft()
                try:
                    await self.call(action, payload)
                except (TimeoutError, UpstreamUnavailable):
                    break
                except Exception as error:  # upstream's CallError: the message is dropped
                    logger.info("%s: upstream refused %s: %s", self.identity, action, error)
            if not progressed and not self._live:
                # Woken by a message, or by the connection closing (``closed``'s callback; a
                # closed link is not ``ready``, which ends the loop).
                try:
                    async with asyncio.timeout(POLL_S):
                        await self._wake.wait()
                except TimeoutError:
                    self._reread()

    async def _deliver_queued(self) -> bool:
        """Send what the queue holds, in order; True if anything was sent."""
        progressed = False
        while self.ready:
            if self._queue_dirty:
                self._queue_dirty = False  # set again by wake() for what is queued from now on
                self._in_sync = False
                self._memory.clear()  # written, so read back below
                batch = await self.db(outbox.pending, self.charger_id, QUEUE_BATCH)
                if len(batch) == QUEUE_BATCH:
                    self._queue_dirty = True  # more behind this batch
            elif self._memory:
                batch = list(self._memory)
                self._memory.clear()
            else:
                return progressed
            for message in batch:
                if not self.ready:
                    self._reread()
                    return progressed
                if not message.mapped:
                    # Its StartTransaction may have been answered in this batch: ask again.
                    upstream_id = await self.db(outbox.upstream_transaction_id, message.session_id)
                    if upstream_id is None:
                        await self.db(
                            outbox.delivered,
                            self.charger_id,
                            message.id,
                            {"skipped": "upstream has no transaction for this session"},
                            _now(),
                        )
                        continue
                    message = outbox.Pending(
                        message.id,
                        message.action,
                        {**message.payload, "transactionId": upstream_id},
                        message.session_id,
                        True,
                    )
                sent = await self._send_queued(message)
                if sent is None:
                    self._reread()
                    return progressed  # the connection is gone: it stays queued
                progressed = True
                if not sent:  # tried again after a pause, before anything behind it
                    self._reread()
                    return progressed
            # Every row read (or handed over) is answered, and a row written since would have
            # asked for a read: the queue holds nothing unsent the link does not know.
            if not self._queue_dirty:
                self._in_sync = True
        return progressed

    async def _send_queued(self, message: outbox.Pending) -> bool | None:
        """Send one queued message. True: answered, or given up after ``outbox.MAX_ATTEMPTS``
        attempts (marked failed; the queue goes on); False: refused or unanswered this time, to
        be tried again (after a pause of ``outbox.RETRY_INTERVAL_S`` times the attempts so
        far); None: not connected (it stays queued)."""
        start_of = message.session_id if message.action == "StartTransaction" else None
        try:
            answer = await self.call(message.action, message.payload)
        except UpstreamUnavailable:
            return None
        except Exception as error:  # no answer in time, upstream's CallError, a bad answer
            attempts = await self.db(outbox.attempt_failed, message.id)
            why = (
                f"no answer within {self.call_timeout_s:g} s"
                if isinstance(error, TimeoutError)
                else _describe(error)
            )
            logger.info("%s: upstream %s #%s: %s", self.identity, message.action, message.id, why)
            if attempts < outbox.MAX_ATTEMPTS:
                await self._pause(self.retry_interval_s * attempts)
                return False
            given_up = {"error": f"{why} ({attempts} attempts)"}
            await self.db(
                outbox.delivered, self.charger_id, message.id, given_up, _now(), failed=True
            )
            logger.warning("%s: upstream %s #%s failed", self.identity, message.action, message.id)
            return True
        await self.db(outbox.delivered, self.charger_id, message.id, answer, _now(), start_of)
        return True

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, less if the connection ends meanwhile."""
        upstream = self.upstream
        if upstream is None:
            return
        await asyncio.wait({upstream.closed}, timeout=seconds)
