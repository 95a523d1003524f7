"""The one place that builds Redis clients from ``settings.REDIS_URL`` (sync and asyncio)."""

from __future__ import annotations

from functools import cache

import redis
import redis.asyncio
from django.conf import settings


@cache
def get_redis() -> redis.Redis:
    """A process-wide client (redis-py pools connections and is thread-safe)."""
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


def get_async_redis() -> redis.asyncio.Redis:
    """A new asyncio client; one per event loop (the bridge keeps one for its lifetime)."""
    return redis.asyncio.Redis.from_url(settings.REDIS_URL, decode_responses=True)
