"""Charge modes never get around balancing (hypothesis; docs/balancing.md "Charge modes"):

- no fuse is overloaded under any mix of modes, and no car gets more than its mode's cap;
- a departure is met whenever the fuses make it possible (a simple simulated timeline: the car
  and Now cars plugged in throughout, one fuse);
- a car behind its plan takes from Now cars of equal base priority only its catch-up current:
  they get what they would get if it were a fixed load of what it got.

The modes' answers come from the real pure functions (``modes.planner``, ``modes.surplus``)
and are folded in by the service's own ``fold_mode`` (balancing.folding); the engine solves.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from balancing.engine import solve
from balancing.folding import fold_mode, solve_with_floors
from modes import planner, surplus
from modes.choices import ChargeMode
from modes.inputs import PRIORITY_BOOST, ModeInput
from tests.balancing.builders import charger, fuse, scenario
from tests.balancing.oracle import loaded_phases, rotation_of, violations
from tests.balancing.strategies import snapshots

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SAFETY = settings(max_examples=400, deadline=None, derandomize=True)


@st.composite
def mode_inputs(draw: st.DrawFn, entry: dict[str, Any]) -> ModeInput:
    """A random mode's answer for one car, from the modes' own pure functions."""
    mode = draw(st.sampled_from(list(ChargeMode)))
    if mode == ChargeMode.NOW:
        return ModeInput(mode, None, 0, "now")
    if mode == ChargeMode.SCHEDULED:
        return ModeInput(mode, draw(st.sampled_from((None, 0.0))), 0, "scheduled")
    phases = entry["phases"]
    if mode == ChargeMode.DEPARTURE:
        hours = draw(st.floats(0.1, 12))
        prices = [
            planner.PriceSlot(NOW + timedelta(hours=h), NOW + timedelta(hours=h + 1), price)
            for h, price in enumerate(draw(st.lists(st.integers(0, 5), min_size=13, max_size=13)))
        ]
        plan = planner.make_plan(
            NOW,
            NOW + timedelta(hours=hours),
            draw(st.integers(0, 120_000)),
            min_current_a=entry["min_current"],
            max_current_a=entry["max_current"],
            phases=phases,
            voltage_v=230,
            prices=prices,
        )
        boost = PRIORITY_BOOST if plan.boost else 0
        return ModeInput(
            mode, plan.cap_a, boost, plan.reason, floor_a=plan.cap_a if plan.boost else None
        )
    rotation = rotation_of(entry)
    car = surplus.SurplusCar(
        id=0,
        phases=tuple(rotation[:phases]),
        min_current_a=entry["min_current"],
        max_current_a=entry["max_current"],
        can_switch=bool(entry.get("can_switch_phases")),
        priority=entry["priority"],
        arrived_at=NOW,
        state=surplus.CarState(active=draw(st.booleans()), one_phase=draw(st.booleans())),
    )
    decision = surplus.decide(
        [car],
        draw(st.lists(st.floats(0, 40), min_size=3, max_size=3)),
        NOW,
        start_after=timedelta(0),
        stop_after=timedelta(minutes=draw(st.integers(0, 10))),
        one_phase=draw(st.booleans()),
    )[0]
    return ModeInput(mode, decision.cap_a, 0, decision.reason, one_phase=decision.one_phase)


@st.composite
def snapshots_with_modes(draw: st.DrawFn) -> dict[str, Any]:
    snapshot = draw(snapshots())
    for entry in snapshot["chargers"]:
        fold_mode(entry, draw(mode_inputs(entry)))
    return snapshot


@SAFETY
@given(snapshots_with_modes())
def test_no_mix_of_modes_overloads_a_fuse_or_passes_a_cap(snapshot: dict[str, Any]) -> None:
    result = solve_with_floors(snapshot)
    assert violations(snapshot, result) == []
    entries = {entry["id"]: entry for entry in snapshot["chargers"]}
    for allocation in result["allocations"]:
        entry = entries[allocation["id"]]
        cap = entry.get("mode_cap")
        if not entry["online"]:
            continue  # it applies its failsafe by itself (the engine reserves that)
        if cap is not None and allocation["current"] > 0:
            assert allocation["current"] <= cap + 1e-9, (entry, allocation)


def _timeline(
    *, fuse_a: float, need_wh: float, hours: float, now_cars: int, max_a: float, prices: list[int]
) -> tuple[float, list[float]]:
    """Simulate in 5-minute steps: the departure car (3-phase, 6 A to ``max_a``) and ``now_cars``
    Now cars on one fuse of ``fuse_a`` per phase, every car taking what it is allowed. Returns
    the energy the departure car got by its departure, and the Now cars' currents per step."""
    step = timedelta(minutes=5)
    departure = NOW + timedelta(hours=hours)
    price_slots = [
        planner.PriceSlot(NOW + timedelta(hours=h), NOW + timedelta(hours=h + 1), price)
        for h, price in enumerate(prices)
    ]
    delivered, moment, now_currents = 0.0, NOW, []
    while moment < departure:
        plan = planner.make_plan(
            moment,
            departure,
            need_wh - delivered,
            min_current_a=6.0,
            max_current_a=min(max_a, fuse_a),
            phases=3,
            voltage_v=230,
            prices=price_slots,
        )
        planned = charger("plan", fuse="main", min_current=6.0, max_current=max_a)
        boost = PRIORITY_BOOST if plan.boost else 0
        floor = plan.cap_a if plan.boost else None
        fold_mode(
            planned,
            ModeInput(ChargeMode.DEPARTURE, plan.cap_a, boost, plan.reason, floor_a=floor),
        )
        others = [
            charger(f"now-{n}", fuse="main", min_current=6.0, max_current=32.0)
            for n in range(now_cars)
        ]
        snapshot = scenario(fuses=[fuse("main", limit=fuse_a)], chargers=[planned, *others])
        snapshot["now"] = moment.isoformat()
        result = solve_with_floors(snapshot)
        assert violations(snapshot, result) == []
        currents = {a["id"]: a["current"] for a in result["allocations"]}
        seconds = min(step, departure - moment).total_seconds()
        delivered += currents["plan"] * 230 * 3 * seconds / 3600
        now_currents.append(sum(currents[o["id"]] for o in others))
        moment += step
    return delivered, now_currents


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    fuse_a=st.sampled_from((16.0, 20.0, 32.0, 40.0)),
    hours=st.floats(1.0, 10.0),
    share=st.floats(0.05, 0.97),
    now_cars=st.integers(0, 3),
    max_a=st.sampled_from((16.0, 32.0)),
    prices=st.lists(st.integers(0, 4), min_size=11, max_size=11),
)
# Found by hypothesis: "on track" 2.5 minutes before the departure with no slack, the car shared
# its current with a Now car and left 115 Wh short (planner.MIN_RESERVE).
@example(fuse_a=16.0, hours=2.125, share=0.75, now_cars=1, max_a=16.0, prices=[0] * 11)
def test_a_departure_is_met_whenever_the_fuses_make_it_possible(
    fuse_a: float, hours: float, share: float, now_cars: int, max_a: float, prices: list[int]
) -> None:
    # possible: the car alone at its maximum (or the fuse's) until the departure would get
    # `need / share`; ``share`` < 1 leaves what the 5-minute steps lose at the edges
    possible_wh = min(max_a, fuse_a) * 230 * 3 * hours
    need = share * possible_wh
    delivered, _ = _timeline(
        fuse_a=fuse_a, need_wh=need, hours=hours, now_cars=now_cars, max_a=max_a, prices=prices
    )
    assert delivered >= need - planner.MET_BELOW_WH, (delivered, need)


@SAFETY
@given(snapshots(with_history=False), st.data())
def test_a_car_behind_its_plan_takes_from_now_cars_only_its_catch_up_current(
    snapshot: dict[str, Any], data: st.DataObject
) -> None:
    """Against the same snapshot with the raised car replaced by a fixed load of what it got,
    no car of a lower priority after the raise gets less. Without an imbalance limit: with one,
    the raised car's draw counts in the chargers' imbalance, a fixed load's does not."""
    snapshot["installation"]["max_phase_imbalance"] = None
    wanting = [
        entry
        for entry in snapshot["chargers"]
        if entry["car_connected"] and entry["online"] and not entry.get("car_finished")
    ]
    if not wanting:
        return
    raised = data.draw(st.sampled_from(wanting))
    catch_up = data.draw(
        st.floats(raised["min_current"], raised["max_current"]).map(lambda a: round(a, 1))
    )
    fold_mode(
        raised,
        ModeInput(ChargeMode.DEPARTURE, catch_up, PRIORITY_BOOST, "behind", floor_a=catch_up),
    )
    result = solve_with_floors(snapshot)
    got = next(a for a in result["allocations"] if a["id"] == raised["id"])
    fixed = copy.deepcopy(snapshot)
    fixed["chargers"] = [c for c in fixed["chargers"] if c["id"] != raised["id"]]
    load_phases = loaded_phases(raised, got["phases"])
    by_id = {f["id"]: f for f in fixed["fuses"]}
    node = by_id[raised["fuse"]]
    while node is not None:
        load = node.setdefault("base_load", [0.0, 0.0, 0.0])
        for phase in load_phases:
            load[phase] = max(0.0, load[phase]) + got["current"]
        node = by_id.get(node["parent"]) if node["parent"] else None
    reference = {a["id"]: a["current"] for a in solve(fixed)["allocations"]}
    for allocation in result["allocations"]:
        entry = next(c for c in snapshot["chargers"] if c["id"] == allocation["id"])
        if entry is raised or entry["priority"] >= raised["priority"]:
            continue
        assert allocation["current"] >= reference[allocation["id"]] - 0.1, (
            allocation,
            reference[allocation["id"]],
            got,
        )
