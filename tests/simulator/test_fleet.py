"""Reproducibility and the fleet's building blocks: seeds, synthetic chargers, command-line options."""

from __future__ import annotations

import argparse

from ocpp_bridge.simulator.charger import SimulatedCharger
from ocpp_bridge.simulator.cli import add_simulation_arguments, settings_from_args
from ocpp_bridge.simulator.fleet import synthetic_spec, synthetic_specs
from ocpp_bridge.simulator.settings import SimSettings


def visits(seed: int, identity: str = "SIM-00001") -> list[tuple[str, float, float, str]]:
    charger = SimulatedCharger(synthetic_spec(identity, "pw"), SimSettings(seed=seed))
    connector = charger.station.connectors[1]
    cars = []
    for _ in range(6):
        charger.arrive(connector, swipe_after_s=10)
        car = connector.car
        assert car is not None
        cars.append((car.model.name, car.soc, car.target_soc, car.id_tag))
    return cars


def test_a_seed_gives_the_same_cars_and_another_seed_others() -> None:
    assert visits(seed=1) == visits(seed=1)
    assert visits(seed=1) != visits(seed=2)
    assert visits(seed=1) != visits(seed=1, identity="SIM-00002")


def test_synthetic_chargers_follow_from_their_identity() -> None:
    specs = synthetic_specs("BENCH-", 1, 400, "secret")
    assert specs[0].identity == "BENCH-00001" and specs[-1].identity == "BENCH-00400"
    assert specs == synthetic_specs("BENCH-", 1, 400, "secret")
    assert {s.phases for s in specs} == {1, 3}
    assert {s.connectors for s in specs} == {1, 2}
    assert {s.phase_rotation for s in specs} == {"L1L2L3", "L2L3L1", "L3L1L2"}
    assert all(s.password == "secret" for s in specs)


def test_command_line_options_become_settings() -> None:
    parser = argparse.ArgumentParser()
    add_simulation_arguments(parser, url="ws://127.0.0.1:9000/ocpp")
    args = parser.parse_args(
        ["--speed", "60", "--seed", "7", "--cards", "A, B", "--dwell", "10", "20", "--no-validate"]
    )
    settings = settings_from_args(args)
    assert settings.speed == 60 and settings.seed == 7
    assert settings.cards == ("A", "B")
    assert settings.dwell_s == (600, 1200)
    assert settings.validate is False
    assert settings.url == "ws://127.0.0.1:9000/ocpp"
