"""The bridge side of the Redis contract in ``commands.routing``: presence, live state, commands.

``Presence`` is the one writer of this node's presence keys and live-state hashes. Connects and
disconnects are written with the next round, which starts at once; nobody waits for it (a
connection is served whether Redis is quick, slow or away: in a reconnect storm thousands of
them would otherwise wait for rounds that Redis is slow to answer). A round that fails is logged
once and its connects and disconnects go first in the next one. Last-seen times and live readings
are merged in memory and written every ``flush_interval_s``, so a busy charger costs no Redis round
trip per message. A round is an
ordered list of actions applied by one Lua script (a few calls per round, not a command per
charger: packing and parsing thousands of commands in Python would stall the event loop).
Everything goes through one task in order, so a late write can never undo a disconnect. Presence
keys are refreshed for the chargers heard from in each round and for all of them every
``refresh_interval_s``; the refresh only extends a key this node owns, so a charger that
reconnected to another node stays with that node.

The database side of presence is batched the same way: connects and disconnects (the online flag
and their events) are logged here and written once a second, last-seen times at most once a
minute (the bridge takes them with ``take_online_changes()`` and ``take_seen()``).

``CommandRunner`` BRPOPs this node's command queue and executes each command in a task of its own:
claim the row (pending -> sent), hold it until the charger's boot is accepted (within its timeout;
see ``BridgeChargePoint.until_accepted``), send the call, store the answer, PUBLISH the id.

After a round is written, ``Presence`` PUBLISHes one ``portal.live`` change per installation whose
chargers connected, disconnected or changed live state in it (one pipelined call per round, never
a round trip per message; a lost signal costs only the pages' slow poll, so it is not retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ocpp.v16.call
from ocpp.charge_point import camel_to_snake_case
from ocpp.messages import CallError, CallResult
from redis.asyncio import Redis
from redis.exceptions import RedisError

from commands.choices import CommandAction, CommandStatus
from commands.payloads import payload_errors
from commands.routing import (
    COMMAND_DONE_CHANNEL,
    LIVE_KEY,
    NODE_QUEUE_KEY,
    PRESENCE_KEY,
    PRESENCE_TTL_S,
)
from ocpp_bridge import persistence
from portal.live import change_message
from portal.live import channel as live_channel

if TYPE_CHECKING:
    from ocpp_bridge.connection import CallOutcome
    from ocpp_bridge.handlers import BridgeChargePoint

logger = logging.getLogger(__name__)

# One round of writes, in order. KEYS: (presence key, live key) per action. ARGV: node, ttl, and
# the actions as one string (packing thousands of arguments costs redis-py more than the writes
# cost Redis): records separated by RS (\30), each "code US field US value ..." (US = \31):
#   c: connected (take presence, fresh live state)   r: released (if this node owns it)
#   f: refreshed (extend presence this node owns, or claim it if expired), then fields if any
#   u: fields of the live hash only
ROUND_SCRIPT = r"""
local function split(text, separator)
  local parts, start = {}, 1
  while true do
    local at = string.find(text, separator, start, true)
    if not at then
      parts[#parts + 1] = string.sub(text, start)
      return parts
    end
    parts[#parts + 1] = string.sub(text, start, at - 1)
    start = at + 1
  end
end
local node, ttl = ARGV[1], ARGV[2]
local records = split(ARGV[3], '\30')
for k, record in ipairs(records) do
  local presence, live = KEYS[2 * k - 1], KEYS[2 * k]
  local parts = split(record, '\31')
  local code = parts[1]
  if code == 'c' then
    redis.call('SET', presence, node, 'EX', ttl)
    redis.call('DEL', live)
    redis.call('HSET', live, unpack(parts, 2))
    redis.call('EXPIRE', live, ttl)
  elseif code == 'r' then
    if redis.call('GET', presence) == node then
      redis.call('DEL', presence, live)
      redis.call('HSET', live, unpack(parts, 2))
    end
  else
    if code == 'f' then
      local owner = redis.call('GET', presence)
      if owner == node or not owner then
        redis.call('SET', presence, node, 'EX', ttl)
        redis.call('EXPIRE', live, ttl)
      end
    end
    if #parts > 1 then
      redis.call('HSET', live, unpack(parts, 2))
    end
  end
end
return #records
"""
ROUND_CHUNK = 500  # actions per script call, so Redis is never busy with us for long
RS, US = "\x1e", "\x1f"  # record and unit separators (never in identities or field values)
# Answers to commands that count as accepted; any other "status" is a refusal.
ACCEPTED_ANSWERS = {"Accepted", "Unlocked", "Scheduled", "RebootRequired"}
NOT_ACCEPTED_CLOSED = "Connection closed before the charger's BootNotification was accepted."
NOT_ACCEPTED_IN_TIME = "Not sent: the charger's BootNotification was not accepted within {:g} s."
STOP = "stop"  # pushed on our own queue to end the BRPOP loop
WRITE_TIMEOUT_S = 10  # a graceful stop waits this long for Redis at most
MAX_KEPT_ACTIONS = 100_000  # connects/disconnects kept while Redis is away (then the oldest go)
RETRY_AFTER_S = 1.0  # after Redis failed the BRPOP
BRPOP_TIMEOUT_S = 2

# An action of a round: code, identity, charger id, live-hash fields.
Action = tuple[str, str, int, dict[str, str]]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Presence:
    """Presence keys and live-state hashes of the chargers this node holds."""

    def __init__(
        self,
        redis: Redis,
        node_id: str,
        *,
        flush_interval_s: float = 0.5,
        refresh_interval_s: float = PRESENCE_TTL_S / 3,
        ttl_s: int = PRESENCE_TTL_S,
    ) -> None:
        self.redis = redis
        self.node_id = node_id
        self.flush_interval_s = flush_interval_s
        self.refresh_interval_s = refresh_interval_s
        self.ttl_s = ttl_s
        self.held: dict[str, int] = {}  # identity -> charger id
        self._identities: dict[int, str] = {}  # charger id -> identity, of those held
        self._installations: dict[int, int] = {}  # charger id -> installation id, for signals
        self._ops: list[Action] = []  # connects and disconnects, in order
        self._live: dict[int, dict[str, str]] = {}
        self._touched: dict[str, int] = {}
        self._seen: dict[int, datetime] = {}  # for the database, taken by the bridge
        self._online_changes: list[persistence.OnlineChange] = []  # likewise
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._script = redis.register_script(ROUND_SCRIPT)
        self._last_full_refresh = time.monotonic()
        self.slowest_round_s = 0.0  # for the stats line

    # --- what connections call ------------------------------------------------------------

    def connected(
        self,
        identity: str,
        charger_id: int,
        connectors: dict[str, str],
        summary: str,
        installation_id: int | None = None,
    ) -> None:
        """Take over presence (a newer connection always wins) and start a fresh live state."""
        self.held[identity] = charger_id
        if installation_id is not None:
            self._installations[charger_id] = installation_id
        self._identities[charger_id] = identity
        self._changed(charger_id, True, summary)
        self._live.pop(charger_id, None)
        fields = {
            "online": "1",
            "node": self.node_id,
            "last_seen": _iso(datetime.now(UTC)),
            "connectors": _json(connectors),
        }
        self._enqueue(("c", identity, charger_id, fields))

    def disconnected(self, identity: str, charger_id: int, summary: str) -> None:
        """Release presence and mark the live state offline, if this node still owns them."""
        self.held.pop(identity, None)
        self._identities.pop(charger_id, None)
        self._changed(charger_id, False, summary)
        self._live.pop(charger_id, None)
        self._touched.pop(identity, None)
        fields = {"online": "0", "last_seen": _iso(datetime.now(UTC))}
        self._enqueue(("r", identity, charger_id, fields))

    async def release_all(self, summary: str) -> None:
        """Shutdown: release every charger at once."""
        held, self.held = self.held, {}
        self._identities.clear()
        self._live.clear()
        self._touched.clear()
        fields = {"online": "0", "last_seen": _iso(datetime.now(UTC))}
        for identity, charger_id in held.items():
            self._changed(charger_id, False, summary)
            self._enqueue(("r", identity, charger_id, fields))
        await asyncio.wait_for(self.flush(), WRITE_TIMEOUT_S)
        if self._ops:
            raise RedisError(f"{len(self._ops)} releases not written")

    def touch(self, identity: str, charger_id: int) -> None:
        """A message arrived: last seen now (written with the next round)."""
        self._touched[identity] = charger_id
        self._seen[charger_id] = datetime.now(UTC)

    def update_live(self, charger_id: int, fields: dict[str, Any]) -> None:
        """Merge live-state fields (``routing.LiveState`` names) into the next round."""
        pending = self._live.setdefault(charger_id, {})
        for key, value in fields.items():
            pending[key] = value if isinstance(value, str) else _json(value)

    def take_seen(self) -> dict[int, datetime]:
        seen, self._seen = self._seen, {}
        return seen

    def take_online_changes(self) -> list[persistence.OnlineChange]:
        changes, self._online_changes = self._online_changes, []
        return changes

    def put_back(self, changes: list[persistence.OnlineChange], seen: dict[int, datetime]) -> None:
        """Writing them failed: they go first in the next batch."""
        self._online_changes[:0] = changes
        for charger_id, at in seen.items():
            self._seen[charger_id] = max(at, self._seen.get(charger_id, at))

    def _changed(self, charger_id: int, online: bool, summary: str) -> None:
        now = datetime.now(UTC)
        self._online_changes.append(persistence.OnlineChange(charger_id, online, now, summary))

    # --- the writer -----------------------------------------------------------------------

    def _enqueue(self, action: Action) -> None:
        self._ops.append(action)
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            try:
                await self.flush()
            except Exception:  # a bug must not stop presence for every charger
                logger.exception("Presence round failed")

    async def flush(self) -> None:
        """One round: waiting connects/disconnects in order, then merged updates, refreshes."""
        async with self._lock:
            self._wake.clear()
            actions, connects = self._round()
            if not actions:
                return
            started = time.monotonic()
            written = 0
            try:
                for first in range(0, len(actions), ROUND_CHUNK):
                    await self._write(actions[first : first + ROUND_CHUNK])
                    written = first + ROUND_CHUNK
            except Exception as error:
                self._keep(actions[written:connects])
                # One line per failed round (not one per charger), a traceback only for a bug.
                logger.error(
                    "Writing presence and live state to Redis failed (%d connects and"
                    " disconnects kept for the next round): %s: %s",
                    len(self._ops),
                    type(error).__name__,
                    error,
                    exc_info=not isinstance(error, RedisError | OSError | TimeoutError),
                )
                return
            self.slowest_round_s = max(self.slowest_round_s, time.monotonic() - started)
            await self._signal(actions)

    async def _signal(self, actions: list[Action]) -> None:
        """One live change per installation whose chargers changed in this round (a refresh of
        presence or last-seen alone is not a change the pages show)."""
        changed: dict[int, set[int]] = {}
        for code, _identity, charger_id, fields in actions:
            if code == "f" and fields.keys() <= {"last_seen"}:
                continue
            installation_id = self._installations.get(charger_id)
            if installation_id is not None:
                changed.setdefault(installation_id, set()).add(charger_id)
            if code == "r" and charger_id not in self._identities:
                self._installations.pop(charger_id, None)
        if not changed:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for installation_id, charger_ids in changed.items():
                    pipe.publish(live_channel(installation_id), change_message(charger_ids))
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as error:
            logger.warning("Live change signals of this round not published: %s", error)

    def _keep(self, unwritten: list[Action]) -> None:
        """Connects and disconnects a failed round did not write go first in the next one."""
        self._ops[:0] = unwritten
        if len(self._ops) > MAX_KEPT_ACTIONS:
            dropped = len(self._ops) - MAX_KEPT_ACTIONS
            del self._ops[:dropped]  # the periodic refresh claims the held chargers again
            logger.error("Redis away too long: %d connects and disconnects dropped", dropped)

    def _round(self) -> tuple[list[Action], int]:
        """Everything waiting, as an ordered list of actions (no await in here), and how many
        of them (the first ones) are connects and disconnects."""
        ops, self._ops = self._ops, []
        live, self._live = self._live, {}
        touched, self._touched = self._touched, {}
        actions = list(ops)
        now = _iso(datetime.now(UTC))
        refreshed = set()
        for identity, charger_id in touched.items():
            if self.held.get(identity) == charger_id:
                fields = live.pop(charger_id, {})
                fields["last_seen"] = now
                actions.append(("f", identity, charger_id, fields))
                refreshed.add(identity)
        for charger_id, fields in live.items():
            identity = self._identities.get(charger_id)
            if identity is not None:
                actions.append(("u", identity, charger_id, fields))
        if time.monotonic() - self._last_full_refresh >= self.refresh_interval_s:
            self._last_full_refresh = time.monotonic()
            actions += [
                ("f", identity, charger_id, {})
                for identity, charger_id in self.held.items()
                if identity not in refreshed
            ]
        return actions, len(ops)

    async def _write(self, actions: list[Action]) -> None:
        keys: list[str] = []
        records: list[str] = []
        for code, identity, charger_id, fields in actions:
            keys += [PRESENCE_KEY.format(identity=identity), LIVE_KEY.format(charger_id=charger_id)]
            records.append(US.join([code, *(x for item in fields.items() for x in item)]))
        await self._script(keys=keys, args=[self.node_id, self.ttl_s, RS.join(records)])


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# --- commands ------------------------------------------------------------------------------------

Database = Callable[..., Awaitable[Any]]


class CommandRunner:
    """Executes the commands queued for this node (``routing.issue_command`` pushes them)."""

    def __init__(
        self,
        redis: Redis,
        node_id: str,
        db: Database,
        lookup: Callable[[str], BridgeChargePoint | None],
    ) -> None:
        self.redis = redis
        self.queue = NODE_QUEUE_KEY.format(node=node_id)
        self.db = db
        self.lookup = lookup
        self.running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """BRPOP until ``stop()``; each command runs in its own task."""
        while True:
            try:
                # Shorter than the client's socket timeout, so a quiet queue is no error.
                popped = await self.redis.brpop([self.queue], timeout=BRPOP_TIMEOUT_S)
            except RedisError:
                logger.exception("Reading the command queue failed; retrying")
                await asyncio.sleep(RETRY_AFTER_S)
                continue
            if popped is None:
                continue
            _, value = popped
            if value == STOP:
                return
            try:
                command_id = int(value)
            except ValueError:
                logger.warning("Ignoring %r on the command queue", value)
                continue
            task = asyncio.create_task(self.execute(command_id), name=f"command-{command_id}")
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def stop(self) -> None:
        """End the loop (ahead of anything queued), and fail what was still queued."""
        await self.redis.rpush(self.queue, STOP)

    async def fail_queued(self) -> None:
        while (value := await self.redis.rpop(self.queue)) is not None:
            if value.isdigit():
                await self._finish(
                    int(value), CommandStatus.FAILED, None, "Bridge node stopped before sending."
                )

    async def execute(self, command_id: int) -> None:
        try:
            command = await self.db(persistence.claim_command, command_id)
            if command is None:  # not pending any more (expired, or another node took it)
                return
            status, response, error = await self._send(command)
            await self._finish(command_id, status, response, error)
        except Exception:
            logger.exception("Command %s failed", command_id)
            await self._finish(command_id, CommandStatus.FAILED, None, "Bridge error.")

    async def _send(self, command: persistence.CommandToSend) -> tuple[str, Any, str]:
        charger = self.lookup(command.identity)
        if charger is None:
            return CommandStatus.FAILED, None, "Charger is not connected to this bridge node."
        if command.action not in CommandAction.values:
            return CommandStatus.FAILED, None, f"Unknown action {command.action}."
        errors = payload_errors(command.action, command.payload)
        if errors:
            text = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in errors.items())
            return CommandStatus.FAILED, None, f"Invalid payload: {text}"
        try:
            request_class = getattr(ocpp.v16.call, command.action)
            request = request_class(**camel_to_snake_case(command.payload))
        except TypeError as error:
            return CommandStatus.FAILED, None, f"Invalid payload: {error}"
        # Nothing goes out before the charger's boot is accepted: held, within the timeout. A
        # newer connection of the charger that replaced this one takes the command over.
        deadline = time.monotonic() + command.timeout_s
        while not await charger.until_accepted(command.id, deadline - time.monotonic()):
            newer = self.lookup(command.identity)
            if not (charger.closed.is_set() or charger.replaced):
                return CommandStatus.TIMED_OUT, None, NOT_ACCEPTED_IN_TIME.format(command.timeout_s)
            if newer is None or newer is charger:
                return CommandStatus.FAILED, None, NOT_ACCEPTED_CLOSED
            charger = newer
        remaining_s = max(0.001, deadline - time.monotonic())
        outcome = await charger.call_with_deadline(request, remaining_s)
        return command_result(outcome, command.timeout_s)

    async def _finish(self, command_id: int, status: str, response: Any, error: str) -> None:
        try:
            await self.db(persistence.finish_command, command_id, status, response, error)
        finally:
            await self.redis.publish(COMMAND_DONE_CHANNEL, str(command_id))


def command_result(outcome: CallOutcome, timeout_s: float) -> tuple[str, Any, str]:
    """(CommandStatus, response JSON, error text) of a call's outcome."""
    answer = outcome.answer
    if isinstance(answer, CallError):
        response = {
            "errorCode": answer.error_code,
            "errorDescription": answer.error_description,
            "errorDetails": answer.error_details,
        }
        return CommandStatus.FAILED, response, f"{answer.error_code}: {answer.error_description}"
    if isinstance(answer, CallResult):
        if outcome.error is not None:
            return CommandStatus.FAILED, answer.payload, f"Invalid answer: {outcome.error}"
        status = answer.payload.get("status") if isinstance(answer.payload, dict) else None
        accepted = status is None or status in ACCEPTED_ANSWERS
        return (
            CommandStatus.ACCEPTED if accepted else CommandStatus.REJECTED,
            answer.payload,
            "",
        )
    if outcome.timed_out:
        return CommandStatus.TIMED_OUT, None, f"No answer from the charger within {timeout_s:g} s."
    if outcome.closed:
        return CommandStatus.FAILED, None, "Connection closed before the charger answered."
    return CommandStatus.FAILED, None, f"{type(outcome.error).__name__}: {outcome.error}"
