"""How the rest of Fusebox reaches chargers: presence, command queues and live state in Redis.

Contract between the bridge nodes (asyncio) and web/worker processes (sync):

- ``fusebox:presence:<identity>`` = node id, with a TTL of ``PRESENCE_TTL_S`` refreshed by the node
  that holds the charger's websocket (on connect, on every message, and periodically).
- ``fusebox:node:<node>:commands``: a list; producers LPUSH a command id, the node BRPOPs it,
  sends the OCPP call, and writes the outcome to the Command row, then PUBLISHes the command id
  on ``fusebox:command-done`` so a waiting request can return at once.
- ``fusebox:live:<charger id>``: a hash with the latest live state (see ``LiveState``).

A command for a charger that no node holds fails at once ("charger is offline"); a command whose
node died stays pending until ``expire_commands()`` marks it timed out.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from commands.choices import CommandSource, CommandStatus
from commands.models import Command
from commands.outcomes import emit_unsuccessful
from portal.redis import get_redis

if TYPE_CHECKING:
    from accounts.models import User
    from chargers.models import Charger

PRESENCE_TTL_S = 90
PRESENCE_KEY = "fusebox:presence:{identity}"
NODE_QUEUE_KEY = "fusebox:node:{node}:commands"
COMMAND_DONE_CHANNEL = "fusebox:command-done"
LIVE_KEY = "fusebox:live:{charger_id}"


def node_of(identity: str) -> str | None:
    """The bridge node holding this charger's connection, or None when it is not connected."""
    return get_redis().get(PRESENCE_KEY.format(identity=identity))


def issue_command(
    charger: Charger,
    action: str,
    payload: dict[str, Any] | None = None,
    *,
    user: User | None = None,
    source: CommandSource = CommandSource.API,
    timeout_s: float = 30.0,
) -> Command:
    """Record a command and queue it for the node that holds the charger (after the commit)."""
    command = Command.objects.create(
        charger=charger,
        action=action,
        payload=payload or {},
        source=source,
        requested_by=user,
        timeout_s=timeout_s,
    )
    node = node_of(charger.ocpp_identity)
    if node is None:
        with transaction.atomic():  # the outcome and its event (command.failed) together
            Command.objects.filter(pk=command.pk).update(
                status=CommandStatus.FAILED,
                error="Charger is offline.",
                completed_at=timezone.now(),
            )
            emit_unsuccessful([command.pk])
        command.refresh_from_db()
        return command
    queue = NODE_QUEUE_KEY.format(node=node)
    transaction.on_commit(lambda: get_redis().lpush(queue, command.pk))
    return command


def wait_for_command(command: Command, timeout_s: float) -> Command:
    """Block until the command is final or ``timeout_s`` passes; return its latest state."""
    deadline = time.monotonic() + timeout_s
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(COMMAND_DONE_CHANNEL)
    try:
        while True:
            command.refresh_from_db()
            remaining = deadline - time.monotonic()
            if command.is_final or remaining <= 0:
                return command
            message = pubsub.get_message(timeout=min(remaining, 0.5))
            while message is not None and message.get("data") != str(command.pk):
                message = pubsub.get_message(timeout=0)
    finally:
        pubsub.close()


# A node that took a command answers it within its timeout from then (the call's deadline,
# ``presence``); this much more covers writing that answer before the sweep gives up on it.
SENT_GRACE_S = 10


def expire_commands(now: datetime | None = None) -> int:
    """Mark open commands past their timeout as timed out (safe to run twice): a pending one
    counted from its creation, one a node took (sent) from then, as the node counts it, plus
    ``SENT_GRACE_S``; so a command held while its charger boots, or queued a while, is not
    declared lost while the charger may be answering it."""
    now = now or timezone.now()
    expired = 0
    open_commands = Command.objects.filter(status__in=[CommandStatus.PENDING, CommandStatus.SENT])
    for command_id, status, created_at, sent_at, timeout_s in open_commands.values_list(
        "id", "status", "created_at", "sent_at", "timeout_s"
    ):
        taken = status == CommandStatus.SENT and sent_at is not None
        start, grace_s = (sent_at, SENT_GRACE_S) if taken else (created_at, 0)
        if start + timedelta(seconds=timeout_s + grace_s) > now:
            continue
        with transaction.atomic():  # the outcome and its event (command.timed_out) together
            timed_out = Command.objects.filter(
                # As read: a pending command a node took meanwhile is judged again next time.
                pk=command_id,
                status=status,
            ).update(
                status=CommandStatus.TIMED_OUT,
                completed_at=now,
                error="No answer from the charger in time.",
            )
            if timed_out:
                emit_unsuccessful([command_id])
        expired += timed_out
    return expired


@dataclass
class LiveState:
    """What dashboards show without touching the database. Written by the bridge."""

    online: bool = False
    node: str | None = None
    last_seen: str | None = None  # ISO-8601 UTC
    # Per phase as the charger reports it (its own terminals L1-L3); balancing applies the rotation.
    current_a: list[float | None] = field(default_factory=lambda: [None, None, None])
    power_w: float | None = None
    energy_wh: float | None = None
    soc_percent: float | None = None
    connectors: dict[str, str] = field(default_factory=dict)  # connector id -> OCPP status
    measured_at: datetime | None = None  # when the currents above were measured (charger clock)

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> LiveState:
        def number(key: str) -> float | None:
            return float(raw[key]) if raw.get(key) not in (None, "") else None

        return cls(
            online=raw.get("online") == "1",
            node=raw.get("node") or None,
            last_seen=raw.get("last_seen") or None,
            current_a=[number("current_l1"), number("current_l2"), number("current_l3")],
            power_w=number("power_w"),
            energy_wh=number("energy_wh"),
            soc_percent=number("soc_percent"),
            connectors=json.loads(raw.get("connectors") or "{}"),
            measured_at=datetime.fromisoformat(raw["measured_at"])
            if raw.get("measured_at")
            else None,
        )


def live_states(charger_ids: list[int]) -> dict[int, LiveState]:
    """Live state of many chargers in one round trip."""
    pipe = get_redis().pipeline(transaction=False)
    for charger_id in charger_ids:
        pipe.hgetall(LIVE_KEY.format(charger_id=charger_id))
    return {
        cid: LiveState.from_hash(raw) for cid, raw in zip(charger_ids, pipe.execute(), strict=True)
    }
