"""Who reads which events (docs/events.md, "Tenancy"): owners and installers their
installations' events; a driver only the events of their own sessions; nobody another site's."""

from __future__ import annotations

from django.utils import timezone

from chargers.models import ChargeSession
from events.choices import EventType
from events.models import Event
from events.services import emit
from portal.tenancy import Action
from tests.conftest import World


def session_of(world: World, user: object, id_tag: str) -> ChargeSession:
    charger = world.charger_a1
    return ChargeSession.objects.create(
        charger=charger, connector=charger.connectors.first(), id_tag=id_tag, user=user,
        started_at=timezone.now(), meter_start_wh=0,
    )  # fmt: skip


def test_drivers_see_their_own_sessions_events_only(world: World) -> None:
    dora, dave = session_of(world, world.dora, "D1"), session_of(world, world.dave, "D2")
    for session in (dora, dave):
        emit(
            EventType.SESSION_STARTED,
            charger_id=world.charger_a1.pk,
            session_id=session.pk,
            payload={"session_id": session.pk},
        )
    fault = emit(EventType.CONNECTOR_FAULTED, charger_id=world.charger_a1.pk)
    depot = emit(EventType.CHARGER_BOOTED, charger_id=world.charger_b1.pk)
    assert fault is not None and depot is not None

    def visible(user: object, action: Action = Action.VIEW) -> set[int]:
        return set(Event.objects.restrict(user, action).values_list("session_id", flat=True))

    assert visible(world.dora) == {dora.pk}
    assert visible(world.dave) == {dave.pk}
    assert visible(world.dora, Action.OPERATE) == set()
    owners = Event.objects.restrict(world.alice, Action.VIEW)
    assert fault.pk in owners.values_list("pk", flat=True)
    assert not owners.filter(pk=depot.pk).exists()
    assert not Event.objects.restrict(world.ingrid, Action.VIEW).filter(pk=depot.pk).exists()
    assert list(Event.objects.restrict(world.oscar).values_list("pk", flat=True)) == [depot.pk]
