"""The machinery of one charger's connection, below the OCPP handlers (``handlers``).

- **Boot order** (OCPP 1.6 4.2): no call goes to the charger before it is accepted on this
  connection: our Accepted answer to its BootNotification, or a first request that is not a
  BootNotification (it reconnected without a reboot). Calls issued meanwhile wait
  (``until_accepted``) and then go out in the order they were issued.
- **Database work in the charger's order**: ``_in_order`` (the answer needs the result) and
  ``_write_behind`` (it does not) queue sync functions for ``bridge.db``; what a charger queued
  meanwhile goes to a thread in one hop, so its messages are stored in the order it sent them.
- **Calls to the charger**: ``call_with_deadline`` sends one call and keeps the answer exactly as
  it came (``CallOutcome``), bounded by the command's own timeout and the connection's life.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ocpp.messages import CallError, CallResult
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.exceptions import ConnectionClosed

from ocpp_bridge.framing import FrameRouter

if TYPE_CHECKING:
    from chargers.models import Charger
    from ocpp_bridge.bridge import Bridge

logger = logging.getLogger(__name__)

# Writes a charger may have waiting before its next frame waits for them.
MAX_BACKLOG = 50
MAX_CALLS_PER_HOP = 20  # a charger's queued calls run together, up to this many per thread hop

R = TypeVar("R")


def run_in_turn(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    """Run a charger's queued database calls one after the other, on a database thread:
    (True, result) or (False, exception) each; one failing does not stop the next."""
    outcomes: list[tuple[bool, Any]] = []
    for function, args in calls:
        try:
            outcomes.append((True, function(*args)))
        except Exception as error:
            outcomes.append((False, error))
    return outcomes


class ChargerConnection(FrameRouter):
    """A connected charger's connection: acceptance, ordered database work, outgoing calls."""

    def __init__(self, charger: Charger, connection: Any, bridge: Bridge) -> None:
        # Commands bound their own waiting time (Command.timeout_s), see call_with_deadline().
        super().__init__(charger.ocpp_identity, connection, response_timeout=24 * 3600)
        self.charger = charger
        self.bridge = bridge
        self.closed = asyncio.Event()
        self._queued: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
        self._runner: asyncio.Task[None] | None = None  # takes _queued to the database
        self._backlog = 0  # writes behind, not done yet
        self._answers: dict[str, CallResult | CallError] = {}
        # Boot order: no call goes to the charger before it is accepted (see _accept()).
        self.accepted = False
        self.replaced = False  # a newer connection of the charger took over (see replace())
        self._boot_seen = False  # a valid BootNotification was answered on this connection
        self._boot_status = RegistrationStatus.accepted  # what its BootNotification was told
        self._waiting: list[tuple[int, asyncio.Future[bool]]] = []  # calls held until accepted

    async def serve(self) -> None:
        """Answer frames until the connection closes."""
        try:
            async for message in self._connection:
                self.bridge.messages += 1
                self.bridge.presence.touch(self.id, self.charger.pk)
                if not self.accepted:
                    self._note_before_acceptance(message)
                await self.route_message(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._release_waiting(False)

    # --- boot order: nothing is sent before the charger is accepted (OCPP 1.6 4.2) -----------

    def _note_before_acceptance(self, raw: str | bytes) -> None:
        """Until accepted: a charger whose first request on this connection is not a
        BootNotification reconnected without rebooting, and was accepted at an earlier boot (a
        charge point sends nothing else before its boot is accepted), so it is accepted now.
        After a BootNotification we answered (Pending or Rejected: ``on_boot_notification``)
        only our Accepted answer accepts it (``after_boot_notification``); one we refused with a
        CallError (malformed) was not answered, so it decides nothing."""
        try:
            frame = json.loads(raw)
        except ValueError:
            return  # answered with a CallError by the router; no evidence either way
        if not (isinstance(frame, list) and len(frame) > 2 and frame[0] == 2):
            return
        if frame[2] != Action.boot_notification and not self._boot_seen:
            self._accept()

    def replace(self) -> None:
        """A newer connection of this charger took over: calls held here move to it at once,
        not when this socket's closing handshake ends (with a dead peer, its close timeout)."""
        self.replaced = True
        self._release_waiting(False)

    def _accept(self) -> None:
        """The charger is accepted: calls held meanwhile go out, in the order they were issued
        (command id); the library sends one call at a time, in the order they ask."""
        self.accepted = True
        self._release_waiting(True)

    def _release_waiting(self, accepted: bool) -> None:
        waiting, self._waiting = sorted(self._waiting, key=lambda item: item[0]), []
        for _, future in waiting:
            if not future.done():
                future.set_result(accepted)

    async def until_accepted(self, order: int, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until the charger is accepted; False if it was not in
        time or the connection closed. ``order`` (the command id) decides who goes first."""
        if self.accepted:
            return True
        if self.closed.is_set() or self.replaced:
            return False
        entry = (order, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        try:
            return await asyncio.wait_for(entry[1], timeout_s)
        except TimeoutError:
            return False
        finally:
            if entry in self._waiting:
                self._waiting.remove(entry)

    # --- database work, in the charger's order ---------------------------------------------

    def _store(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue ``function(*args)`` for the database, after all this charger's earlier calls.
        What a charger queued meanwhile goes to a database thread in one hop (a booting charger
        queues several writes: one wait for a thread, not one each behind the others')."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append((function, args, future))
        if self._runner is None:
            self._runner = self.bridge.track(asyncio.create_task(self._run_queued()))
        return future

    async def _run_queued(self) -> None:
        try:
            while self._queued:
                batch = self._queued[:MAX_CALLS_PER_HOP]
                del self._queued[:MAX_CALLS_PER_HOP]
                calls = [(function, args) for function, args, _ in batch]
                try:
                    outcomes = await self.bridge.db(run_in_turn, calls)
                except BaseException as error:  # cancelled, or the threads are gone
                    for *_, future in batch:
                        if future.done():
                            continue
                        if isinstance(error, asyncio.CancelledError):
                            future.cancel()
                        else:
                            future.set_exception(error)
                    raise
                for (*_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._runner = None

    async def _in_order(self, function: Callable[..., R], *args: Any) -> R:
        """A database call whose result the answer needs, after the writes before it."""
        result: R = await self._store(function, *args)
        return result

    async def _write_behind(self, function: Callable[..., Any], *args: Any) -> None:
        """A write the answer does not wait for (failures are logged). Only when a charger
        runs far ahead of the database does its next frame wait."""
        future = self._store(function, *args)
        future.add_done_callback(self._log_failure)
        self._backlog += 1
        future.add_done_callback(self._written)
        if self._backlog > MAX_BACKLOG:
            await asyncio.wait([future])

    def _written(self, future: asyncio.Future[Any]) -> None:
        self._backlog -= 1

    def _log_failure(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            logger.error("%s: storing failed", self.id, exc_info=future.exception())

    # --- central system -> charger ----------------------------------------------------------

    async def _get_specific_response(self, unique_id: str, timeout: float) -> Any:
        # Keep the charger's answer as it came (the library then validates and converts it),
        # so a command stores exactly what the charger said.
        response = await super()._get_specific_response(unique_id, timeout)
        if isinstance(response, CallResult):
            self._answers[unique_id] = CallResult(response.unique_id, response.payload)
        else:
            self._answers[unique_id] = response
        return response

    async def call_with_deadline(self, request: Any, timeout_s: float) -> CallOutcome:
        """Send one call (a ``ocpp.v16.call`` dataclass) and wait for the answer, at most
        ``timeout_s`` seconds and no longer than the connection lives."""
        unique_id = str(uuid.uuid4())
        calling = asyncio.ensure_future(self.call(request, suppress=False, unique_id=unique_id))
        closing = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait(
                {calling, closing}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (calling, closing):
                task.cancel()
            await asyncio.gather(calling, closing, return_exceptions=True)
        answer = self._answers.pop(unique_id, None)
        if calling in done and not calling.cancelled():
            error = calling.exception()
            closed = isinstance(error, ConnectionClosed)
            return CallOutcome(answer, None if closed else error, closed=closed)
        return CallOutcome(answer, None, closed=closing in done, timed_out=not done)


@dataclass(frozen=True)
class CallOutcome:
    """How a call to a charger ended: its answer as it came, or why there is none."""

    answer: CallResult | CallError | None
    error: BaseException | None = None  # e.g. the answer broke the schema
    closed: bool = False
    timed_out: bool = False
