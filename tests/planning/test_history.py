"""What a replay reads from an installation's history (planning.history): sessions, cars from
their samples, the base load from stored balancing decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from balancing.models import BalancingDecision, BalancingTrigger
from balancing.snapshot import fuse_id
from chargers.models import ChargeSession
from planning import services
from planning.changes import Changes
from tests.conftest import World
from tests.planning.conftest import record_history
from tests.reporting.conftest import make_session

pytestmark = pytest.mark.django_db


def decision(world: World, at_days_ago: float, main_limit_a: float, row_base_a: float) -> None:
    row = BalancingDecision.objects.create(
        installation=world.site_a,
        trigger=BalancingTrigger.SWEEP,
        scenario={
            "fuses": [
                {
                    "id": fuse_id(world.main_a.pk),
                    "limit": [main_limit_a] * 3,
                    "base_load": [0, 0, 0],
                },
                {"id": fuse_id(world.row_a.pk), "limit": [32] * 3, "base_load": [row_base_a] * 3},
            ],
            "chargers": [],
        },
        result={"allocations": []},
        solve_ms=1.0,
    )
    BalancingDecision.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(days=at_days_ago)
    )


def test_the_base_load_comes_from_the_stored_decisions(world: World) -> None:
    record_history(world)
    # A meter said 43 of the 63 A were available: 20 A of building load on the main fuse.
    decision(world, 40, main_limit_a=43, row_base_a=5)
    report = services.what_if(world.site_a, world.alice, Changes(), days=28)
    (today,) = report.scenarios
    assert report.base_load_share == 1.0 and len(report.notes) == 1  # the grid's note only
    assert today.outcome.peak_main_a == [52.0, 36.0, 36.0]  # 20 A of building + the cars
    assert report.validation is not None and report.validation.within_tolerance


def test_a_base_load_known_for_part_of_the_period_is_said(world: World) -> None:
    record_history(world)
    decision(world, 7, main_limit_a=53, row_base_a=0)
    report = services.what_if(world.site_a, world.alice, Changes(), days=28)
    assert report.base_load_share == pytest.approx(0.25, abs=0.01)
    assert "known for the last 25% of the period" in report.notes[1]
    assert report.scenarios[0].outcome.peak_main_a[0] == 42.0


def test_cars_come_from_their_samples_and_sessions_from_the_period_only(world: World) -> None:
    record_history(world, days=3)
    now = timezone.now()
    # A session without samples: the charger's own maximum (32 A) and its phases.
    evening = (now - timedelta(days=2)).replace(hour=20, minute=0, second=0, microsecond=0)
    make_session(world.charger_a1, evening, minutes=600, energy_wh=60000)
    # Before the period, on another tenant's charger, a meter that went backwards: not counted.
    make_session(world.charger_a1, now - timedelta(days=40), energy_wh=9000)
    make_session(world.charger_b1, now - timedelta(days=2), energy_wh=9000)
    broken = make_session(world.charger_a2, now - timedelta(days=2, hours=5), energy_wh=1000)
    ChargeSession.objects.filter(pk=broken.pk).update(energy_wh=-500)
    report = services.what_if(world.site_a, world.alice, Changes(), days=7)
    (today,) = report.scenarios
    assert today.outcome.cars == 6 + 1 + 1
    assert report.validation is not None
    assert report.validation.recorded_kwh == 6 * 9 + 60
    # The unknown car at A1's 32 A on every phase (the others: 16 A, and 16 A on L1 only).
    assert today.outcome.peak_main_a == [32.0, 32.0, 32.0]
