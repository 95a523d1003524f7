"""An installation's setup and recorded history, read for a replay.

``load_history`` reads, through querysets the caller restricted (``restrict(user, action)``):
the fuse tree and chargers as a ``replay.Site``; the sessions that began in the period as
visits (arrival = start, departure = stop, or the last meter sample of an open session, energy =
what the session recorded, the car's largest current and its phases from its ``Current.Import``
samples where it sent them); and the base load from the stored balancing decisions (the main
fuse's rating minus the available current a meter reported, plus any ``base_load``), from each
decision until the next. Decisions are pruned after ``BALANCING_DECISION_RETENTION_DAYS``, and a
site without a meter has none: the base load is then zero, and ``History.base_load_share`` says
over which share of the period it was known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Max, QuerySet
from django.db.models.fields.json import KeyTransform

from balancing.engine.tuning import PHASE_UNUSED_BELOW_A
from balancing.snapshot import fuse_id
from chargers.models import MeterValue
from installations.models import Installation
from planning.replay import BaseLoad, ChargerSpec, FuseSpec, Site, Visit

# A car's observed largest current is its own limit only when it reached at least this much
# (below, the samples say nothing about the car: a car waiting at 0 A, or a few samples).
MIN_OBSERVED_A = 6.0


@dataclass
class History:
    """What a replay of the installation needs, and what history recorded."""

    site: Site
    visits: list[Visit]
    base_load: BaseLoad
    base_load_share: float  # of the period, 0-1
    recorded_kwh: float
    start: datetime
    end: datetime
    fuse_names: dict[str, str]


def load_history(
    installation: Installation,
    start: datetime,
    end: datetime,
    *,
    circuits: QuerySet[Any],
    chargers: QuerySet[Any],
    sessions: QuerySet[Any],
    decisions: QuerySet[Any],
) -> History:
    """The installation's site and its visits from ``start`` to ``end``."""
    circuit_rows = list(circuits.filter(installation=installation).order_by("id"))
    fuses = tuple(
        FuseSpec(
            fuse_id(row.pk),
            fuse_id(row.parent_id) if row.parent_id else None,
            row.max_current_a,
            row.name,
        )
        for row in circuit_rows
    )
    charger_rows = list(
        chargers.filter(installation=installation)
        .annotate(connector_count=Count("connectors"))
        .order_by("id")
    )
    specs = tuple(
        ChargerSpec(
            id=row.ocpp_identity,
            fuse=fuse_id(row.circuit_id),
            phases=row.phases,
            rotation=row.phase_rotation,
            min_current_a=row.min_current_a,
            max_current_a=row.max_current_a,
            priority=row.priority,
            can_switch_phases=row.can_switch_phases and row.phases == 3,
            connectors=max(1, row.connector_count),
        )
        for row in charger_rows
    )
    site = Site(
        fuses=fuses,
        chargers=specs,
        voltage_v=float(installation.voltage_v),
        failsafe_current_a=installation.failsafe_current_a,
        max_phase_imbalance_a=installation.max_phase_imbalance_a,
        phases=installation.phases,
    )
    identities = {row.pk: row.ocpp_identity for row in charger_rows}
    rows = list(
        sessions.filter(
            charger__installation=installation, started_at__gte=start, started_at__lt=end
        )
        .order_by("started_at", "id")
        .values("id", "charger_id", "started_at", "stopped_at", "energy_wh")
    )
    cars = _cars(rows, list(identities))
    visits = []
    recorded_wh = 0.0
    for row in rows:
        if row["charger_id"] not in identities:
            continue
        car_max_a, car_phases, last_sample = cars.get(row["id"], (None, None, None))
        departure = row["stopped_at"] or last_sample or end
        energy_wh = max(0, row["energy_wh"])  # a meter that went backwards delivered nothing
        recorded_wh += energy_wh
        visits.append(
            Visit(
                identities[row["charger_id"]],
                row["started_at"],
                max(departure, row["started_at"]),
                float(energy_wh),
                car_max_a,
                car_phases,
            )
        )
    main = next((fuse for fuse in fuses if fuse.parent is None), None)
    base_load, known_from = _base_load(decisions, installation, start, end, main)
    share = 0.0 if known_from is None else (end - known_from) / (end - start)
    return History(
        site=site,
        visits=visits,
        base_load=base_load,
        base_load_share=max(0.0, min(1.0, share)),
        recorded_kwh=recorded_wh / 1000,
        start=start,
        end=end,
        fuse_names={fuse.id: fuse.name for fuse in fuses},
    )


def _cars(
    rows: list[dict[str, Any]], charger_ids: list[int]
) -> dict[int, tuple[float | None, int | None, datetime]]:
    """Per session: the car's largest current, its phase count, the last sample's time. One
    query over the samples' transaction index; the samples are not loaded."""
    ids = [row["id"] for row in rows]
    found: dict[int, tuple[float | None, int | None, datetime]] = {}
    if not ids:
        return found
    peaks: dict[int, dict[str, float]] = {}
    last: dict[int, datetime] = {}
    for chunk_at in range(0, len(ids), 5000):
        chunk = ids[chunk_at : chunk_at + 5000]
        samples = (
            MeterValue.objects.filter(transaction_id__in=chunk, charger_id__in=charger_ids)
            .values("transaction_id", "measurand", "phase")
            .annotate(peak=Max("value"), last=Max("timestamp"))
        )
        for sample in samples:
            transaction = sample["transaction_id"]
            last[transaction] = max(last.get(transaction, sample["last"]), sample["last"])
            phase = (sample["phase"] or "")[:2]
            if sample["measurand"] == "Current.Import" and phase in ("L1", "L2", "L3"):
                peaks.setdefault(transaction, {})[phase] = sample["peak"]
    for transaction, moment in last.items():
        phases = peaks.get(transaction, {})
        largest = max(phases.values(), default=0.0)
        if largest < MIN_OBSERVED_A:
            found[transaction] = (None, None, moment)
            continue
        used = sum(1 for amps in phases.values() if amps >= PHASE_UNUSED_BELOW_A)
        found[transaction] = (round(largest + 0.05, 1), 1 if used == 1 else 3, moment)
    return found


def _base_load(
    decisions: QuerySet[Any],
    installation: Installation,
    start: datetime,
    end: datetime,
    main: FuseSpec | None,
) -> tuple[list[tuple[datetime, dict[str, list[float]]]], datetime | None]:
    """From each decision on: per fuse, the load that was not ours; and when it starts."""
    before = (
        decisions.filter(installation=installation, created_at__lte=start)
        .order_by("-created_at", "-id")
        .annotate(fuses=KeyTransform("fuses", F("scenario")))
        .values("created_at", "fuses")[:1]
    )
    within = (
        decisions.filter(installation=installation, created_at__gt=start, created_at__lt=end)
        .order_by("created_at", "id")
        .annotate(fuses=KeyTransform("fuses", F("scenario")))
        .values("created_at", "fuses")
    )
    timeline: list[tuple[datetime, dict[str, list[float]]]] = []
    for row in [*before, *within.iterator(chunk_size=2000)]:
        loads: dict[str, list[float]] = {}
        for fuse in row["fuses"] or []:
            if not isinstance(fuse, dict):
                continue
            base = [float(value) for value in (fuse.get("base_load") or [0.0, 0.0, 0.0])][:3]
            if main is not None and fuse.get("id") == main.id:
                limit = [float(value) for value in fuse.get("limit") or [main.limit_a] * 3][:3]
                base = [
                    b + max(0.0, main.limit_a - lim) for b, lim in zip(base, limit, strict=False)
                ]
            if len(base) == 3 and any(base):
                loads[str(fuse.get("id"))] = [round(value, 1) for value in base]
        timeline.append((max(start, row["created_at"]), loads))
    known_from = timeline[0][0] if timeline else None
    return timeline, known_from
