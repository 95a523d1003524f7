"""History for the planning tests: sessions on the Harbour car park as the bridge leaves them,
with the car's current samples."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from chargers.models import MeterValue
from tests.conftest import World
from tests.reporting.conftest import make_session
from tests.web.conftest import browser, client_as, live_static, page, phone, screenshot  # noqa: F401


def record_history(world: World, *, days: int = 14, now: datetime | None = None) -> float:
    """Two weeks of sessions on A1 and A2 (one a day each, 9 kWh over 4 hours, a 16 A 3-phase
    car on A1 and a 1-phase 16 A car on A2); returns the energy recorded (kWh)."""
    now = now or timezone.now()
    recorded_wh = 0
    for day in range(1, days + 1):
        for charger, phases in (
            (world.charger_a1, ("L1", "L2", "L3")),
            (world.charger_a2, ("L1",)),
        ):
            started = (now - timedelta(days=day)).replace(hour=8, minute=0, second=0, microsecond=0)
            session = make_session(charger, started, minutes=240, energy_wh=9000)
            recorded_wh += 9000
            MeterValue.objects.bulk_create(
                MeterValue(
                    charger=charger,
                    connector_id=1,
                    transaction_id=session.pk,
                    timestamp=started + timedelta(minutes=minute),
                    measurand="Current.Import",
                    phase=phase,
                    value=15.9 if minute < 120 else 0.0,
                    unit="A",
                )
                for phase in phases
                for minute in (10, 60, 200)
            )
    return recorded_wh / 1000


@pytest.fixture
def history(world: World) -> float:
    return record_history(world)
