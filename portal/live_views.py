"""The server-sent events view of ``portal.live``'s change signal (served by the ASGI app).

``event: change`` carries ``{"chargers": [ids]}`` and, when the change tells of events,
``"events": [{"charger": id or null, "type": ...}]``: only the chargers (and their events) the
user may see, plus the installation's own events.

Access is checked again every ``RECHECK_S`` while the stream is open, from the session as it is
in the store then: a user who logged out, changed their password, was deactivated or lost their
role on the installation stops hearing of it within that time (the stream ends; EventSource's
reconnect then gets 404), and a driver's visible chargers follow their permissions."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotFound,
    StreamingHttpResponse,
)
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from chargers.models import Charger
from installations.models import Installation
from portal.live import channel
from portal.redis import get_async_redis
from portal.tenancy import Action

logger = logging.getLogger(__name__)

HEARTBEAT_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
STREAM_FOR_S = 300.0  # then the stream ends and EventSource reconnects (and re-checks access)
RETRY_MS = 3000  # the reconnect delay the browser is told
RECHECK_S = 30.0  # access is checked again this often while a stream is open


def _visible_chargers(user: object, installation_pk: int) -> set[int] | None:
    """The ids of the installation's chargers ``user`` may see; None if the installation is not
    theirs to view (a driver sees the chargers their permissions reach, as on the page)."""
    try:
        installations = Installation.objects.restrict(user, Action.VIEW)
        if not installations.filter(pk=installation_pk).exists():
            return None
        chargers = Charger.objects.restrict(user, Action.VIEW)
        return set(chargers.filter(installation_id=installation_pk).values_list("pk", flat=True))
    finally:
        # The stream lasts minutes and needs no database: do not keep this request thread's
        # connection (under ASGI the thread ends with the request; see docs/architecture.md).
        connection.close()


def _visible_now(session_key: str | None, installation_pk: int) -> set[int] | None:
    """``_visible_chargers`` for the user the session holds now (read again from the session
    store: a logout, a password change or a deactivated account gives the anonymous user)."""
    if session_key is None:
        return None
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    try:
        user = get_user(request)  # type: ignore[arg-type]
    finally:
        connection.close()
    return _visible_chargers(user, installation_pk)


def _event(name: str, data: dict[str, object]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _stream(
    installation_pk: int, visible: set[int], session_key: str | None
) -> AsyncIterator[str]:
    redis = get_async_redis()
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel(installation_pk))
        yield f"retry: {RETRY_MS}\n: live installation {installation_pk}\n\n"
        ends_at = time.monotonic() + STREAM_FOR_S
        heartbeat_at = time.monotonic() + HEARTBEAT_S
        recheck_at = time.monotonic() + RECHECK_S
        while (now := time.monotonic()) < ends_at:
            if now >= recheck_at:
                recheck_at = now + RECHECK_S
                rechecked = await sync_to_async(_visible_now)(session_key, installation_pk)
                if rechecked is None:
                    return  # no longer theirs: the reconnect gets 404
                visible = rechecked
            wait_s = max(0.0, min(heartbeat_at, ends_at, recheck_at) - now)
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_s)
            if message is not None and message["type"] == "message":
                data = _parse(message["data"])
                if data is None:
                    continue
                chargers = [c for c in data["chargers"] if c in visible]
                if data["chargers"] and not chargers:
                    continue  # only chargers this user may not see changed
                change: dict[str, object] = {"chargers": chargers}
                if data["events"]:  # an installation's events (no charger) and those it may see
                    told = [
                        e for e in data["events"] if e["charger"] is None or e["charger"] in visible
                    ]
                    change["events"] = told
                yield _event("change", change)
            if time.monotonic() >= heartbeat_at:
                heartbeat_at = time.monotonic() + HEARTBEAT_S
                yield ": heartbeat\n\n"
        yield _event("bye", {"reconnect": True})
    finally:
        # Runs when the stream ends and when the client went away (the iterator is cancelled).
        await _close(pubsub, redis)


async def _close(pubsub: PubSub, redis: Redis) -> None:
    try:
        await pubsub.aclose()
        await redis.aclose()
    except (RedisError, OSError) as error:
        logger.warning("Closing a live subscription failed: %s", error)


def _parse(raw: str) -> dict[str, list[Any]] | None:
    try:
        data = json.loads(raw)
        chargers = [int(c) for c in data.get("chargers", [])]
        events = [
            {
                "charger": None if e.get("charger") is None else int(e["charger"]),
                "type": str(e["type"]),
            }
            for e in data.get("events", [])
        ]
    except (ValueError, TypeError, AttributeError, KeyError):
        logger.warning("Ignored a malformed live message: %r", raw[:200])
        return None
    return {"chargers": chargers, "events": events}


async def installation_stream(request: HttpRequest, pk: int) -> HttpResponseBase:
    """``GET /installations/<pk>/live/``: this installation's change signal as text/event-stream."""
    if not isinstance(request, ASGIRequest):
        # Served by WSGI (runserver, a test client), a stream would hold a worker thread for
        # minutes: 204 tells EventSource not to reconnect, and the pages keep polling.
        return HttpResponse(status=204)
    user = await request.auser()
    visible = await sync_to_async(_visible_chargers)(user, pk)
    if visible is None:
        # A plain 404, not the rendered page: Django renders an async view's exceptions in a
        # pooled executor thread whose database connection no request would close.
        return HttpResponseNotFound("No such installation.", content_type="text/plain")
    session_key = request.session.session_key
    response = StreamingHttpResponse(
        _stream(pk, visible, session_key), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events on at once
    return response
