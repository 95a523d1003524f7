"""What-if changes (planning.changes) and presets (planning.presets): checks and the cars they
add. Pure, no database."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from planning.changes import Changes, changed_site, extra_visits, problems
from planning.presets import PRESETS, PresetName, visits
from planning.replay import ChargerSpec, FuseSpec, Site, Visit

START = datetime(2026, 11, 2, tzinfo=UTC)
END = START + timedelta(days=7)
SITE = Site(
    fuses=(FuseSpec("main", None, 63.0, "Main fuse"), FuseSpec("row", "main", 32.0, "Row A")),
    chargers=(
        ChargerSpec("cp-1", "row", max_current_a=16.0),
        ChargerSpec("cp-2", "main", max_current_a=16.0),
    ),
)
HISTORY = [
    Visit(
        f"cp-{1 + day % 2}",
        START + timedelta(days=day, hours=8),
        START + timedelta(days=day, hours=17),
        12000.0,
        16.0,
        3,
    )
    for day in range(7)
]


def test_a_site_without_chargers_needs_some_added() -> None:
    empty = Site(fuses=SITE.fuses, chargers=())
    assert "extra_chargers" in problems(empty, Changes())
    assert (
        problems(
            empty,
            Changes(extra_chargers=2, extra_chargers_fuse="row", extra_charger_max_current_a=16),
        )
        == {}
    )


def test_a_fuse_below_the_failsafe_of_its_chargers_names_the_field() -> None:
    # 2 chargers at 16 A failsafe = 32 A per phase through the main fuse: a 30 A one cannot.
    found = problems(
        SITE, Changes(main_fuse_a=40.0, failsafe_current_a=16.0, circuit_fuse="row", circuit_a=10)
    )
    assert set(found) == {"failsafe_current_a"}
    assert "Row A would carry 16 A on L1 (limit 10 A)" in found["failsafe_current_a"]
    found = problems(
        SITE, Changes(extra_chargers=10, extra_chargers_fuse="row", extra_charger_max_current_a=16)
    )
    assert set(found) == {"extra_chargers"}
    assert "failsafe of at most" in found["extra_chargers"]


def test_a_circuit_above_its_parent_and_a_charger_above_its_circuit_are_refused() -> None:
    assert "main_fuse_a" in problems(SITE, Changes(main_fuse_a=25.0))
    assert "circuit_a" in problems(SITE, Changes(circuit_fuse="row", circuit_a=80.0))
    found = problems(
        SITE, Changes(extra_chargers=1, extra_chargers_fuse="row", extra_charger_max_current_a=40)
    )
    assert set(found) == {"extra_charger_max_current_a"}
    assert "extra_chargers_circuit" in problems(SITE, Changes(extra_chargers=1))


def test_changes_apply_to_a_copy_of_the_site() -> None:
    changed = changed_site(
        SITE,
        Changes(
            extra_chargers=3,
            extra_chargers_fuse="row",
            extra_charger_max_current_a=11,
            main_fuse_a=100,
            failsafe_current_a=4,
            max_phase_imbalance_a=16,
        ),
    )
    assert [c.id for c in changed.chargers] == ["cp-1", "cp-2", "new-1", "new-2", "new-3"]
    assert changed.main_fuse.limit_a == 100
    assert (changed.failsafe_current_a, changed.max_phase_imbalance_a) == (4, 16)
    assert SITE.main_fuse.limit_a == 63 and len(SITE.chargers) == 2


def test_new_chargers_and_more_cars_get_visits_like_history_deterministically() -> None:
    changes = Changes(extra_chargers=4, extra_chargers_fuse="main", more_cars_percent=100, seed=7)
    added, turned_away = extra_visits(HISTORY, SITE, changes, START, END)
    again, _ = extra_visits(HISTORY, SITE, changes, START, END)
    assert added == again
    assert added and all(START <= v.arrival < END for v in added)
    assert all(
        v.need_wh == 12000 and (v.departure - v.arrival) == timedelta(hours=9) for v in added
    )
    assert {v.charger for v in added} <= {"cp-1", "cp-2", "new-1", "new-2", "new-3", "new-4"}
    # No charger holds two cars at once.
    by_charger: dict[str, list[Visit]] = {}
    for v in [*HISTORY, *added]:
        by_charger.setdefault(v.charger, []).append(v)
    for stays in by_charger.values():
        stays.sort(key=lambda v: v.arrival)
        assert all(a.departure <= b.arrival for a, b in itertools.pairwise(stays))
    assert turned_away + sum(1 for v in added) >= 7


def test_more_cars_than_chargers_are_counted_as_turned_away() -> None:
    _, turned_away = extra_visits(HISTORY, SITE, Changes(more_cars_percent=500), START, END)
    assert turned_away > 0


def test_presets_are_deterministic_and_never_ask_more_than_a_car_can_take() -> None:
    chargers = [ChargerSpec(f"cp-{n}", "main", max_current_a=32.0) for n in range(20)]
    for name in PresetName:
        first = visits(PRESETS[name], chargers, date(2026, 11, 2), 7, UTC, seed=3)
        assert first == visits(PRESETS[name], chargers, date(2026, 11, 2), 7, UTC, seed=3)
        assert first
        for v in first:
            hours = (v.departure - v.arrival).total_seconds() / 3600
            assert v.need_wh <= (v.car_max_a or 32) * (v.car_phases or 3) * 230 * hours
    office = visits(PRESETS[PresetName.OFFICE], chargers, date(2026, 11, 2), 7, UTC, seed=3)
    assert sum(1 for v in office if v.arrival.weekday() < 5) > 5 * sum(
        1 for v in office if v.arrival.weekday() >= 5
    )


def test_a_three_phase_charger_cannot_join_a_one_phase_installation() -> None:
    one_phase = Site(fuses=SITE.fuses, chargers=SITE.chargers, phases=1)
    found = problems(one_phase, Changes(extra_chargers=1, extra_chargers_fuse="row"))
    assert found == {
        "extra_charger_phases": "A 3-phase charger cannot sit on a 1-phase installation."
    }
    assert (
        problems(
            one_phase,
            Changes(
                extra_chargers=1,
                extra_chargers_fuse="row",
                extra_charger_phases=1,
                extra_charger_max_current_a=16,
            ),
        )
        == {}
    )
