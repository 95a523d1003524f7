"""The "alerts" event consumer. Incident events make the installations they touch be looked
at again (the "incidents" consumer, registered before this one, has applied them; one it has
not yet applied is seen by the beat's next look); ``session.stopped`` tells the driver who
asked. E-mails are written in the consumer's transaction (with its cursor): exactly once."""

from __future__ import annotations

from alerts import services
from events.choices import EventType
from events.consumers import consumer
from events.models import Event

INCIDENT_EVENTS = {
    EventType.CHARGER_OFFLINE,
    EventType.CHARGER_ONLINE,
    EventType.CONNECTOR_FAULTED,
    EventType.CONNECTOR_RECOVERED,
    EventType.FUSE_OVERLOADED,
    EventType.FUSE_RECOVERED,
}


@consumer("alerts")
def alert(events: list[Event]) -> None:
    installations = {event.installation_id for event in events if event.type in INCIDENT_EVENTS}
    if installations:
        services.evaluate_incidents(installations)
    for event in events:
        if event.type == EventType.SESSION_STOPPED:
            services.session_alert(event)
