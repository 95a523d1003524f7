"""Capacity planning benchmark: a what-if replay of a 1,000-charger depot over 30 days.

Run it with the embedded database and Redis (its own folder; the history is generated once and
reused by later runs)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-planning -- \\
        .venv/bin/python -m bench.planning

The depot: a 4,000 A main fuse, 20 rows of 50 three-phase 16 A chargers behind 200 A fuses
(rotating phases), failsafe 4 A (the fuses carry every charger at it). Its history is made as a
real site would have recorded it: the fleet-depot preset's vans (``planning.presets``) for 30
days, run through the balancing engine at a fine grid (``--history-step``, 10 minutes by
default; each session's energy is what the van got, its stop is when it left) and written with
bulk inserts: the sessions, and per session two ``Current.Import`` samples per phase it used at
the largest current it drew. No balancing decision is stored: the base load is zero.

Then the what-if is timed as the background job runs it (``planning.services.what_if``: the history read
from the database through the tenancy gate, today's replay on its coarse grid, and a changed
setup: 50 more chargers on row 1, doubled to 400 A, a 3.8 A failsafe and 10 % more vans).
Printed: the time to read the history, each replay's time, grid, solves and time inside the
engine, the replay's energy against the recorded one (must be within 5 %), and the whole
what-if (today's replay must take under 60 s).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta

import django

OWNER = "owner@planning.bench"
ROWS = 20
PER_ROW = 50
MAIN_A = 4000.0
ROW_A = 200.0
FAILSAFE_A = 4.0
DAYS = 30
ROTATIONS = ("L1L2L3", "L2L3L1", "L3L1L2")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.planning", description=__doc__)
    parser.add_argument("--history-step", type=int, default=600, help="seconds (history grid)")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def build(history_step_s: int, seed: int) -> tuple[object, float]:
    """The depot and its history (once per --var folder); its pk and the recorded kWh."""
    from django.db import transaction
    from django.db.models import Sum

    from accounts.models import User
    from chargers.choices import SessionStatus, StopReason
    from chargers.models import Charger, ChargeSession, Connector, MeterValue
    from installations.models import Circuit, Installation
    from installations.services import create_installation
    from planning.presets import PRESETS, PresetName, visits
    from planning.replay import ChargerSpec, FuseSpec, Site, replay

    owner = User.objects.filter(email=OWNER).first()
    if owner is not None:
        depot = Installation.objects.get(name="Bench depot")
        recorded = ChargeSession.objects.filter(charger__installation=depot).aggregate(
            total=Sum("energy_wh")
        )["total"]
        return depot, (recorded or 0) / 1000
    started = time.perf_counter()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DAYS)
    with transaction.atomic():
        owner = User.objects.create_user(email=OWNER, password="bench", name="Bench Owner")
        depot = create_installation(
            owner,
            name="Bench depot",
            main_fuse_a=MAIN_A,
            failsafe_current_a=FAILSAFE_A,
            time_zone="UTC",
        )
        main = depot.main_fuse
        rows = Circuit.objects.bulk_create(
            [
                Circuit(installation=depot, parent=main, name=f"Row {r + 1}", max_current_a=ROW_A)
                for r in range(ROWS)
            ]
        )
        template = Charger(name="x", ocpp_identity="x")
        password_hash = (template.set_ocpp_password(), template.ocpp_password_hash)[1]
        chargers = Charger.objects.bulk_create(
            [
                Charger(
                    installation=depot,
                    circuit=row,
                    name=f"R{r + 1:02d}-{n:02d}",
                    ocpp_identity=f"PLAN-{r + 1:02d}-{n:02d}",
                    ocpp_password_hash=password_hash,
                    phases=3,
                    phase_rotation=ROTATIONS[n % 3],
                    max_current_a=16,
                )
                for r, row in enumerate(rows)
                for n in range(PER_ROW)
            ],
            batch_size=1000,
        )
        connectors = Connector.objects.bulk_create(
            [Connector(charger=charger, connector_id=1) for charger in chargers], batch_size=1000
        )
    print(f"depot: {len(chargers)} chargers in {ROWS} rows ({time.perf_counter() - started:.1f} s)")

    site = Site(
        fuses=(
            FuseSpec("main", None, MAIN_A),
            *(FuseSpec(f"row-{row.pk}", "main", ROW_A) for row in rows),
        ),
        chargers=tuple(
            ChargerSpec(
                str(charger.pk), f"row-{charger.circuit_id}", 3, charger.phase_rotation, 6, 16
            )
            for charger in chargers
        ),
        failsafe_current_a=FAILSAFE_A,
    )
    vans = visits(PRESETS[PresetName.DEPOT], site.chargers, start.date(), DAYS, UTC, seed=seed)
    vans = [van for van in vans if start <= van.arrival < end]
    began = time.perf_counter()
    real = replay(site, vans, start, end, step_s=history_step_s)
    print(
        f"history: {len(vans):,} visits run through the engine at {history_step_s // 60}-minute "
        f"steps in {time.perf_counter() - began:.1f} s ({real.solves:,} solves); "
        f"{real.delivered_kwh:,.0f} of {real.needed_kwh:,.0f} kWh wanted delivered"
    )
    began = time.perf_counter()
    connector_of = {connector.charger_id: connector for connector in connectors}
    by_pk = {str(charger.pk): charger for charger in chargers}
    sessions = []
    for number, van in enumerate(vans):
        charger = by_pk[van.charger]
        energy_wh = round(real.delivered_wh[number])
        sessions.append(
            ChargeSession(
                charger=charger,
                connector=connector_of[charger.pk],
                id_tag=f"VAN{number % 2000:04d}",
                status=SessionStatus.COMPLETED,
                started_at=van.arrival,
                stopped_at=min(van.departure, end),
                meter_start_wh=number * 100_000,
                meter_stop_wh=number * 100_000 + energy_wh,
                energy_wh=energy_wh,
                stop_reason=StopReason.EV_DISCONNECTED,
                charging_seconds=int((min(van.departure, end) - van.arrival).total_seconds()),
            )
        )
    with transaction.atomic():
        created = ChargeSession.objects.bulk_create(sessions, batch_size=5000)
        samples = []
        for number, (van, session) in enumerate(zip(vans, created, strict=True)):
            peak = round(real.peak_draw_a[number], 1)
            phases = ("L1", "L2", "L3")[: van.car_phases or 3]
            for minutes in (15, 75):
                samples += [
                    MeterValue(
                        charger_id=session.charger_id,
                        connector_id=1,
                        transaction_id=session.pk,
                        timestamp=van.arrival + timedelta(minutes=minutes),
                        measurand="Current.Import",
                        phase=phase,
                        value=peak,
                        unit="A",
                    )
                    for phase in phases
                ]
        MeterValue.objects.bulk_create(samples, batch_size=10_000)
    print(
        f"stored: {len(created):,} sessions and {len(samples):,} samples "
        f"({time.perf_counter() - began:.1f} s)"
    )
    return depot, sum(session.energy_wh for session in sessions) / 1000


def run(depot: object, recorded_kwh: float) -> None:
    from accounts.models import User
    from balancing.snapshot import fuse_id
    from installations.models import Circuit
    from planning import history as history_module
    from planning import services
    from planning.changes import Changes

    owner = User.objects.get(email=OWNER)
    row_one = Circuit.objects.filter(installation=depot, parent__isnull=False).order_by("id")[0]
    changes = Changes(
        extra_chargers=50,
        extra_chargers_fuse=fuse_id(row_one.pk),
        extra_charger_max_current_a=16,
        circuit_fuse=fuse_id(row_one.pk),
        circuit_a=ROW_A * 2,
        failsafe_current_a=3.8,  # 1,050 chargers at 4 A would overload the main fuse
        more_cars_percent=10,
    )
    timings: dict[str, float] = {}
    original_load, original_replay = history_module.load_history, services.replay

    def timed_load(*args: object, **kwargs: object) -> object:
        began = time.perf_counter()
        found = original_load(*args, **kwargs)  # type: ignore[arg-type]
        timings["history"] = time.perf_counter() - began
        return found

    def timed_replay(*args: object, **kwargs: object) -> object:
        began = time.perf_counter()
        found = original_replay(*args, **kwargs)  # type: ignore[arg-type]
        timings[f"replay {len(timings)}"] = time.perf_counter() - began
        return found

    services.load_history = timed_load  # type: ignore[assignment]
    services.replay = timed_replay  # type: ignore[assignment]
    began = time.perf_counter()
    from django.db.models import Max

    from chargers.models import ChargeSession

    last_stop = ChargeSession.objects.filter(charger__installation=depot).aggregate(
        last=Max("stopped_at")
    )["last"]
    now = last_stop.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    # As the worker runs it (a page or the API hands a site this large to one: planning.jobs).
    report = services.what_if(depot, owner, changes, days=DAYS, now=now, inline=False)  # type: ignore[arg-type]
    total = time.perf_counter() - began
    services.load_history, services.replay = original_load, original_replay
    validation = report.validation
    assert validation is not None
    today, changed = report.scenarios
    print(f"\nwhat-if over {DAYS} days, {len(today.site.chargers)} chargers:")
    print(f"  history read (sessions, cars, base load): {timings['history']:.1f} s")
    for scenario, key in ((today, "replay 1"), (changed, "replay 2")):
        outcome = scenario.outcome
        print(
            f"  {scenario.label:8} replay {timings[key]:5.1f} s: {outcome.step_s // 60}-minute grid, "
            f"{outcome.solves:,} solves ({outcome.solve_seconds:.1f} s in the engine), "
            f"{outcome.cars:,} cars, {outcome.delivered_kwh:,.0f} kWh delivered, "
            f"{outcome.not_delivered_kwh:,.0f} kWh not, {outcome.cars_short:,} short, "
            f"{outcome.hours_at_limit:.0f} h at a fuse limit, peak {outcome.peak_main_a} A"
        )
    print(
        f"  validation: replayed {validation.replayed_kwh:,.0f} kWh against "
        f"{validation.recorded_kwh:,.0f} kWh recorded by the sessions that began in the period "
        f"({recorded_kwh:,.0f} kWh in all) ({validation.difference_percent:+.2f} %): "
        f"{'within' if validation.within_tolerance else 'NOT within'} 5 %"
    )
    print(f"  the what-if in all (history, both replays): {total:.1f} s (target < 60 s)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    depot, recorded_kwh = build(args.history_step, args.seed)
    run(depot, recorded_kwh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
