"""The "webhooks" event consumer: each new event becomes one delivery per endpoint that wants
it, written in the consumer's transaction (with its cursor), so exactly once."""

from __future__ import annotations

from events.consumers import consumer
from events.models import Event
from webhooks import services


@consumer("webhooks")
def fan_out(events: list[Event]) -> None:
    services.fan_out(events)
