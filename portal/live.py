"""Live updates: the per-installation change signal in Redis pub/sub (the view: ``live_views``).

Publishers say *that* something an installation's pages show has changed, never what it is now:
the bridge's presence writer once per round for the installations whose chargers changed
(online, status, readings), the balancing service after a decision that sent new limits, and
``events.emit_many`` at the commit of the events it wrote (a session started or stopped, a
fault, ...). The message is a small JSON, ``{"chargers": [ids]}`` (empty when the change is not
a charger's), with ``"events": [{"charger": id or null, "type": "session.started"}]`` when it
tells of events (the type only: pages fetch what they show).

``portal.live_views.installation_stream`` (``/installations/<pk>/live/``, served by the ASGI
app) passes the installation through the tenancy gate (404 for others), subscribes to the channel
and sends ``event: change`` for each message about a charger the user may see, a comment every
``HEARTBEAT_S`` so proxies keep the connection, checks access again every ``RECHECK_S`` (a
logout or a lost role ends the stream), and ends after ``STREAM_FOR_S`` (the browser's
EventSource reconnects on its own). The subscription is closed when the client goes away (the
ASGI handler cancels the iterator). Pages fetch their JSON on ``change`` and keep a slow poll.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping

from redis.exceptions import RedisError

from portal.redis import get_redis

logger = logging.getLogger(__name__)

CHANNEL = "live:installation:{installation_id}"


def channel(installation_id: int) -> str:
    return CHANNEL.format(installation_id=installation_id)


def change_message(
    charger_ids: Iterable[int] = (), events: Iterable[tuple[int | None, str]] = ()
) -> str:
    """``events``: (charger id or None, event type) of the events the change tells of."""
    message: dict[str, object] = {"chargers": sorted(set(charger_ids))}
    if told := [{"charger": charger, "type": kind} for charger, kind in events]:
        message["events"] = told
    return json.dumps(message, separators=(",", ":"))


def publish_change(installation_id: int, charger_ids: Iterable[int] = ()) -> None:
    """Signal a change (sync callers: the balancing service). Best effort: the pages' slow poll
    catches up when Redis is away, so a failure is logged and never raised."""
    try:
        get_redis().publish(channel(installation_id), change_message(charger_ids))
    except RedisError as error:
        logger.warning("Live change of installation %s not published: %s", installation_id, error)


def publish_events(events_by_installation: Mapping[int, list[tuple[int | None, str]]]) -> None:
    """Signal the events of a commit (``events.services``): one message per installation, all in
    one round trip (the bridge commits events with its batches). Best effort, as above."""
    if not events_by_installation:
        return
    try:
        pipe = get_redis().pipeline(transaction=False)
        for installation_id, events in events_by_installation.items():
            chargers = [charger for charger, _ in events if charger is not None]
            pipe.publish(channel(installation_id), change_message(chargers, events))
        pipe.execute()
    except RedisError as error:
        logger.warning("Live events of %s not published: %s", sorted(events_by_installation), error)
