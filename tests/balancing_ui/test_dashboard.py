"""The Load tab's read model: the numbers an owner sees for a small site, who sees what, and
that it costs a constant number of queries whatever the size of the site."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from balancing.dashboard import (
    ChargerState,
    LoadDashboard,
    LoadLevel,
    load_dashboard,
    load_level,
)
from balancing.engine.notes import NoteWriter
from balancing.models import BalancingDecision
from chargers.models import Charger
from chargers.services import register_charger
from installations.models import Circuit, Installation
from portal.tenancy import Action
from tests.balancing_ui.conftest import (
    give_limit,
    record_decision,
    set_live,
    set_offline_with_car,
)
from tests.conftest import World

pytestmark = pytest.mark.django_db


def dashboard_for(user: User, installation: Installation) -> LoadDashboard:
    return load_dashboard(
        Installation.objects.get(pk=installation.pk),
        circuits=Circuit.objects.restrict(user, Action.VIEW),
        chargers=Charger.objects.restrict(user, Action.VIEW),
        decisions=BalancingDecision.objects.restrict(user, Action.VIEW),
    )


@pytest.fixture
def busy_site(world: World) -> World:
    """Harbour car park (main fuse 63 A, Row A 32 A below it), with a meter reporting less:

    - A1 on Row A, wired L2 L3 L1, charging at 16 A: its phases 1-3 draw 10, 11, 12 A;
    - A2 on the main fuse, car plugged in, paused (0 A) because the main fuse is full on L1;
    - A3 on Row A, unreachable with a car: it applies the 6 A failsafe by itself.
    """
    Charger.objects.filter(pk=world.charger_a1.pk).update(phase_rotation="L2L3L1")
    a3, _ = register_charger(circuit=world.row_a, name="A3", ocpp_identity="HARBOUR-A3")
    set_live(world.charger_a1, (10.0, 11.0, 12.0), power_w=7400)
    set_live(world.charger_a2, (0.0, 0.0, 0.0))
    set_offline_with_car(a3)
    give_limit(world.charger_a1, 16)
    give_limit(world.charger_a2, 0)
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[13, 40, 40])
    main, row = world.main_a, world.row_a
    record_decision(
        world.site_a,
        at=timezone.now() - timedelta(seconds=30),
        commands_sent=2,
        trigger="event",
        reason="car plugged in",
        notes=["HARBOUR-A1 held near its draw: 3.0 A of 16 A allowed, so at most 6 A"],
    )
    record_decision(
        world.site_a,
        paused=["HARBOUR-A2"],
        notes=[
            "HARBOUR-A3 offline: 6 A failsafe reserved on L1, L2, L3",
            f"HARBOUR-A2 paused: circuit-{main.pk} cannot give every car 6 A (L1 full)",
            f"circuit-{row.pk} is overloaded before any car is served",
        ],
    )
    return world


def test_fuses_carry_the_live_draw_of_the_chargers_below_them_per_installation_phase(
    busy_site: World,
) -> None:
    dashboard = dashboard_for(busy_site.alice, busy_site.site_a)
    main, row = dashboard.fuses
    assert (main.name, main.depth, row.name, row.depth) == ("Main fuse", 0, "Row A", 1)
    # A1's phases 1-3 are wired to L2, L3, L1: 10 A on L2, 11 A on L3, 12 A on L1.
    assert [p.load_a for p in row.phases] == [12.0, 10.0, 11.0]
    assert [p.load_a for p in main.phases] == [12.0, 10.0, 11.0]
    assert [p.phase for p in main.phases] == ["L1", "L2", "L3"]
    # Row A keeps its rating; the main fuse follows the meter while it is below the rating.
    assert [p.limit_a for p in row.phases] == [32.0, 32.0, 32.0]
    assert [p.limit_a for p in main.phases] == [13.0, 40.0, 40.0]
    assert main.live_limited and not row.live_limited
    assert main.rating_a == 63.0
    # Allowed: A1's 16 A and A3's 6 A failsafe on all three phases; A2 paused at 0 A.
    assert [p.allowed_a for p in row.phases] == [22.0, 22.0, 22.0]
    assert [p.allowed_a for p in main.phases] == [22.0, 22.0, 22.0]
    assert (row.charger_count, main.charger_count) == (2, 3)
    # 12 of 13 A on L1 is "near the limit" (92 %); the fuse shows its worst phase.
    assert [p.level for p in main.phases] == [LoadLevel.HIGH, LoadLevel.OK, LoadLevel.OK]
    assert main.level == LoadLevel.HIGH and row.level == LoadLevel.OK
    assert main.phases[0].percent == pytest.approx(92.3)
    assert dashboard.live_available_a == [13.0, 40.0, 40.0]


def test_each_charger_shows_its_allocation_draw_and_state_with_the_reason(
    busy_site: World,
) -> None:
    dashboard = dashboard_for(busy_site.alice, busy_site.site_a)
    chargers = {charger.name: charger for charger in dashboard.chargers}
    assert list(chargers) == ["A1", "A2", "A3"]
    a1, a2, a3 = chargers["A1"], chargers["A2"], chargers["A3"]

    assert a1.state == ChargerState.CHARGING and a1.reason == ""
    assert (a1.allocated_a, a1.allocated_phases, a1.fuse_name) == (16.0, 3, "Row A")
    assert [(d.phase, d.current_a) for d in a1.draw] == [("L2", 10.0), ("L3", 11.0), ("L1", 12.0)]
    assert a1.draw_a == 12.0 and a1.draw_percent == 75.0
    assert (a1.power_w, a1.power_kw) == (7400, 7.4)  # the charger's own reading

    assert a2.state == ChargerState.PAUSED and a2.allocated_a == 0
    assert a2.reason == "Main fuse cannot give every car 6 A (L1 full)."

    assert a3.state == ChargerState.OFFLINE_FAILSAFE and not a3.online
    assert "falls back to 6 A" in a3.reason

    assert dashboard.totals == {
        "power_w": 7400.0, "power_kw": 7.4, "charging": 1.0, "paused": 1.0, "cars": 3.0,
    }  # fmt: skip


def test_states_without_a_car_when_offline_finished_and_before_any_decision(
    world: World,
) -> None:
    set_live(world.charger_a1, car=False)
    chargers = {c.name: c for c in dashboard_for(world.alice, world.site_a).chargers}
    assert chargers["A1"].state == ChargerState.NO_CAR
    assert chargers["A2"].state == ChargerState.OFFLINE  # never connected, no car
    set_live(world.charger_a1, car=True)
    chargers = {c.name: c for c in dashboard_for(world.alice, world.site_a).chargers}
    assert chargers["A1"].state == ChargerState.WAITING  # no limit sent yet
    give_limit(world.charger_a1, 16)
    record_decision(world.site_a, finished=["HARBOUR-A1"])
    chargers = {c.name: c for c in dashboard_for(world.alice, world.site_a).chargers}
    assert chargers["A1"].state == ChargerState.FINISHED


def test_decisions_newest_first_with_notes_in_names(busy_site: World) -> None:
    dashboard = dashboard_for(busy_site.ingrid, busy_site.site_a)
    latest, earlier = dashboard.decisions
    assert latest.created_at > earlier.created_at
    assert (earlier.trigger, earlier.trigger_label, earlier.reason) == (
        "event",
        "Event",
        "car plugged in",
    )
    assert (earlier.commands_sent, latest.commands_sent, latest.solve_ms) == (2, 0, 1.25)
    assert [(note.kind, note.text) for note in latest.notes] == [
        ("offline", "A3 offline: 6 A failsafe reserved on L1, L2, L3"),
        ("paused", "A2 paused: Main fuse cannot give every car 6 A (L1 full)"),
        ("overload", "Row A is overloaded before any car is served"),
    ]
    assert latest.notes[1].charger_id == busy_site.charger_a2.pk
    assert dashboard.last_decision_at == latest.created_at


def test_a_driver_sees_only_the_chargers_they_may_use(busy_site: World) -> None:
    dashboard = dashboard_for(busy_site.dave, busy_site.site_a)  # may charge on A1 only
    assert [charger.name for charger in dashboard.chargers] == ["A1"]
    assert dashboard.chargers[0].fuse_name == ""  # circuits are for owners and installers
    assert dashboard.fuses == [] and dashboard.decisions == []
    dora = dashboard_for(busy_site.dora, busy_site.site_a)  # may charge everywhere
    assert [charger.name for charger in dora.chargers] == ["A1", "A2", "A3"]
    assert dora.chargers[1].reason == "A fuse cannot give every car 6 A (L1 full)."


def test_notes_about_chargers_the_reader_may_not_see_are_left_out() -> None:
    writer = NoteWriter(
        circuits={7: "Garage"},
        chargers={"CP-1": (1, "Bay 1")},
        known_chargers={"CP-1", "CP-2"},
    )
    assert writer("CP-2 paused: circuit-7 cannot give every car 6 A") is None
    note = writer("CP-1 told to charge on 1 phase: on 3 phases circuit-9 cannot give every car 6 A")
    assert note is not None and note.kind == "phases" and note.charger_id == 1
    assert (
        note.text == "Bay 1 told to charge on 1 phase: on 3 phases a fuse cannot give every car 6 A"
    )
    assert writer("circuit-7 phase imbalance L1-L2").text == "Garage phase imbalance L1-L2"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("load", "limit", "level"),
    [
        (0, 32, LoadLevel.OK),
        (25.5, 32, LoadLevel.OK),
        (25.6, 32, LoadLevel.HIGH),
        (30.4, 32, LoadLevel.FULL),
        (32, 32, LoadLevel.FULL),
        (32.1, 32, LoadLevel.OVER),
        (1, 0, LoadLevel.OVER),
    ],
)
def test_load_levels(load: float, limit: float, level: LoadLevel) -> None:
    assert load_level(load, limit) == level


def test_the_main_fuse_limit_is_its_rating_once_the_meter_reading_expires(world: World) -> None:
    Installation.objects.filter(pk=world.site_a.pk).update(
        available_current_a=[20, 20, 20],
        available_current_valid_until=timezone.now() - timedelta(seconds=1),
    )
    main = dashboard_for(world.alice, world.site_a).fuses[0]
    assert [p.limit_a for p in main.phases] == [63.0, 63.0, 63.0] and not main.live_limited


def test_a_constant_number_of_queries_whatever_the_size_of_the_site(
    busy_site: World, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            dashboard_for(busy_site.alice, busy_site.site_a)
        return len(captured)

    small = count()
    # 15 chargers at 6 A would not fit the main fuse if all went offline: a lower failsafe.
    Installation.objects.filter(pk=busy_site.site_a.pk).update(failsafe_current_a=2)
    site = Installation.objects.get(pk=busy_site.site_a.pk)
    for number in range(12):
        circuit = Circuit.objects.create(
            installation=site, parent=busy_site.main_a, name=f"Row {number}",
            max_current_a=16,
        )  # fmt: skip
        charger, _ = register_charger(
            circuit=circuit, name=f"B{number}", ocpp_identity=f"B-{number}", max_current_a=16
        )
        set_live(charger, (6.0, 6.0, 6.0))
        give_limit(charger, 6)
    assert count() == small
    with django_assert_max_num_queries(12):
        dashboard = dashboard_for(busy_site.alice, busy_site.site_a)
    assert len(dashboard.chargers) == 15 and len(dashboard.fuses) == 14
    assert dashboard.fuses[0].phases[1].load_a == 10.0 + 12 * 6.0


def test_an_unrestricted_queryset_is_refused(world: World) -> None:
    from portal.tenancy import UnscopedQueryError

    with pytest.raises(UnscopedQueryError):
        load_dashboard(
            world.site_a,
            circuits=Circuit.objects.all(),  # forgot restrict()
            chargers=Charger.objects.restrict(world.alice, Action.VIEW),
            decisions=None,
        )
