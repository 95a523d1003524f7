"""Rule 4: a car drawing clearly less than its limit is held near its draw, and the current it
does not use goes to the others."""

from __future__ import annotations

from typing import Any

from balancing.engine import solve
from tests.balancing.builders import charger, charging_at, scenario, solve_currents


def test_a_car_capped_at_10_amps_is_held_at_its_draw_plus_a_margin() -> None:
    # It was allowed 16 A and draws 10 A: held at 10 + 2 = 12 A; the other car gets 20 A.
    snapshot = scenario(
        [
            charger("capped", current_limit=16, measured=[10.0, 10.0, 10.0], car_phases=3),
            charger("other", **charging_at(16)),
        ],
        main_limit=32,
    )

    result = solve(snapshot)

    assert solve_currents(snapshot) == {"capped": 12.0, "other": 20.0}
    assert any("capped held near its draw: 10.0 A of 16 A" in note for note in result["notes"])


def test_a_held_car_that_draws_up_to_its_limit_again_is_released() -> None:
    snapshot = scenario(
        [
            charger("was-held", current_limit=12, measured=[11.8, 11.7, 11.8], car_phases=3),
            charger("other", **charging_at(20)),
        ],
        main_limit=32,
    )

    assert solve_currents(snapshot) == {"was-held": 16.0, "other": 16.0}


def test_a_finished_car_gives_its_current_to_a_car_that_can_take_it() -> None:
    snapshot = scenario(
        [
            charger("full", current_limit=16, measured=[0.2, 0.1, 0.2], energy_wh=30_000),
            charger("other", **charging_at(16)),
        ],
        main_limit=32,
    )

    result = solve(snapshot)

    assert solve_currents(snapshot) == {"full": 0.0, "other": 32.0}
    assert result["finished"] == ["full"]
    assert result["paused"] == []


def test_a_finished_car_keeps_its_minimum_when_nobody_else_can_use_it() -> None:
    # "other" is at its 16 A maximum: 16 A are left, enough to keep "full" at 6 A should it
    # start drawing again (preconditioning, a battery that balanced its cells).
    snapshot = scenario(
        [
            charger("full", current_limit=16, measured=[0.2, 0.1, 0.2], energy_wh=30_000),
            charger("other", max_current=16, **charging_at(16)),
        ],
        main_limit=32,
    )

    assert solve_currents(snapshot) == {"full": 6.0, "other": 16.0}


def test_a_car_flagged_finished_stays_out_of_the_queue_while_paused() -> None:
    # At 0 A a finished car looks like any paused car; the service passes back the engine's
    # "finished" list as car_finished so that it does not take a waiting car's turn.
    def snapshot(flagged: bool) -> dict[str, Any]:
        return scenario(
            [
                charger("done", energy_wh=100, car_finished=flagged),
                charger("waiting", energy_wh=20_000),
            ],
            main_limit=6,
        )

    assert solve_currents(snapshot(flagged=False)) == {"done": 6.0, "waiting": 0.0}
    assert solve_currents(snapshot(flagged=True)) == {"done": 0.0, "waiting": 6.0}


def test_a_flagged_car_that_draws_again_is_served_again() -> None:
    snapshot = scenario(
        [charger("again", car_finished=True, **charging_at(6)), charger("other")],
        main_limit=12,
    )

    result = solve(snapshot)

    assert solve_currents(snapshot) == {"again": 6.0, "other": 6.0}
    assert result["finished"] == []


def test_a_one_phase_car_on_a_three_phase_charger_frees_the_other_two_phases() -> None:
    # The measurement shows the car of unknown phases drawing on L1 only. Accounted on L1 alone,
    # it leaves L2 whole to the 1-phase charger there (instead of half of it).
    snapshot = scenario(
        [
            charger("single", current_limit=16, measured=[15.8, 0.0, 0.1], car_phases=None),
            charger("l2", phases=1, rotation="L2"),
        ],
        main_limit=32,
    )

    result = solve(snapshot)

    assert solve_currents(snapshot) == {"single": 32.0, "l2": 32.0}
    assert any("single car draws on L1 only" in note for note in result["notes"])


def test_an_ambiguous_measurement_keeps_the_car_on_all_phases() -> None:
    # Barely drawing (2 A): it might be a 3-phase car waking up, so every phase stays reserved.
    snapshot = scenario(
        [
            charger("waking", current_limit=16, measured=[2.0, 0.0, 0.0], car_phases=None),
            charger("l2", phases=1, rotation="L2"),
        ],
        main_limit=20,
    )

    currents = solve_currents(snapshot)

    assert currents["waking"] + currents["l2"] <= 20.0


def test_no_current_is_left_unused_while_a_car_could_take_more() -> None:
    # After the water-filling rounds down, every tenth of an ampere of L1 is handed out.
    snapshot = scenario(
        [charger(name, phases=1, rotation="L1") for name in "abc"] + [charger("d", max_current=7)],
        main_limit=32.3,
    )

    currents = solve_currents(snapshot)

    assert round(sum(currents[name] for name in "abc") + currents["d"], 1) == 32.3
    assert currents["d"] == 7.0
