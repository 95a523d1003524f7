"""Months of realistic charging history for `make demo`, so the reporting screens look real.

Residents of the housing cooperative plug in in the evening and leave in the morning (long
idle time, 5-40 kWh); the depot's vans charge between shifts, and visitors with unknown cards
charge at the open depot. Deterministic (a seeded random generator), finished sessions only,
never two at once on a connector. The price history gets a change in the middle. The sessions
of the last two weeks have meter values every five minutes (the energy register and the power:
the car charges at a steady power, then sits idle), so their curves and hours are measured; the
older ones have none and show their energy spread evenly (estimated).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from auth_access.models import ChargeCard
from chargers.choices import SessionStatus, StopReason
from chargers.models import Charger, ChargeSession, Connector, MeterValue
from installations.choices import Role
from installations.models import Installation, Membership
from reporting.models import PricePeriod

MONTHS = 6
SAMPLED_DAYS = 14
SAMPLE_EVERY = timedelta(minutes=5)
RESIDENTS = 8
FLEET = 5
STOP_REASONS = [StopReason.EV_DISCONNECTED] * 6 + [StopReason.LOCAL] * 3 + [StopReason.REMOTE]


@dataclass
class Driver:
    user: User | None
    card: ChargeCard | None
    id_tag: str


def _drivers(site: Installation, prefix: str, count: int, password: str) -> list[Driver]:
    """Extra demo members with one card each (created once)."""
    drivers = []
    for n in range(1, count + 1):
        email = f"{prefix}{n}@demo.test"
        user = User.objects.filter(email=email).first()
        if user is None:
            name = f"{prefix.capitalize()} {n}"
            user = User.objects.create_user(email=email, password=password, name=name)
            Membership.objects.create(user=user, installation=site, role=Role.DRIVER)
        card, _ = ChargeCard.objects.get_or_create(
            id_tag=f"{prefix.upper()}-{n:02d}",
            defaults={"user": user, "installation": site, "name": f"{user.name}'s tag"},
        )
        drivers.append(Driver(user, card, card.id_tag))
    return drivers


def _power_w(charger: Charger) -> float:
    return 230.0 * charger.max_current_a * charger.phases


def _sessions_at(
    rng: random.Random,
    charger: Charger,
    connector: Connector,
    drivers: list[Driver],
    zone: ZoneInfo,
    first_day: datetime,
    days: int,
    profile: str,
    now: datetime,
) -> list[ChargeSession]:
    sessions: list[ChargeSession] = []
    free_from = first_day
    meter_wh = rng.randint(1_000_000, 9_000_000)
    for day in range(days):
        local = (first_day + timedelta(days=day)).astimezone(zone).date()
        # (earliest start, spread in hours, mean connected hours)
        if profile == "residential":
            slots = [(time(17, 0), 4.0, 12.0)] if rng.random() < 0.55 else []
        else:  # depot: a morning and an afternoon shift change, fewer at weekends
            busy = 0.85 if local.weekday() < 5 else 0.3
            shifts = [(time(5, 30), 2.0, 4.0), (time(14, 0), 3.0, 5.0)]
            slots = [shift for shift in shifts if rng.random() < busy]
        for slot_start, spread_h, mean_h in slots:
            started = datetime.combine(local, slot_start, tzinfo=zone) + timedelta(
                hours=rng.uniform(0, spread_h)
            )
            if started < free_from:
                continue
            connected = timedelta(hours=max(0.4, rng.gauss(mean_h, mean_h / 4)))
            stopped = started + connected
            if stopped > now - timedelta(hours=1):
                break
            energy_wh = int(rng.uniform(4_000, 42_000 if profile == "residential" else 55_000))
            charging_s = min(int(energy_wh / (_power_w(charger) * rng.uniform(0.55, 0.95)) * 3600),
                             int(connected.total_seconds()))  # fmt: skip
            driver = rng.choice(drivers)
            session = ChargeSession(
                charger=charger,
                connector=connector,
                id_tag=driver.id_tag,
                user=driver.user,
                card=driver.card,
                status=SessionStatus.COMPLETED,
                started_at=started,
                stopped_at=stopped,
                meter_start_wh=meter_wh,
                meter_stop_wh=meter_wh + energy_wh,
                energy_wh=energy_wh,
                stop_reason=rng.choice(STOP_REASONS),
                stop_id_tag=driver.id_tag,
                charging_seconds=charging_s,
            )
            sessions.append(session)
            meter_wh += energy_wh
            free_from = stopped + timedelta(minutes=rng.randint(5, 90))
    return sessions


@transaction.atomic
def seed_history(password: str, now: datetime | None = None, seed: int = 12) -> int:
    """Seed the demo installations' past; returns how many sessions were made (0: already seeded)."""
    now = now or timezone.now()
    sites = list(Installation.objects.filter(name__in=[
        "Solbakken housing cooperative", "Nordic logistics depot",
    ]).order_by("name"))  # fmt: skip
    if (
        not sites
        or ChargeSession.objects.filter(
            charger__installation__in=sites, started_at__lt=now - timedelta(days=7)
        ).exists()
    ):
        return 0
    rng = random.Random(seed)
    first_day = now - timedelta(days=30 * MONTHS)
    made: list[ChargeSession] = []
    for site in sites:
        zone = ZoneInfo(site.time_zone)
        residential = site.name.startswith("Solbakken")
        cards = list(ChargeCard.objects.filter(name="Demo card").select_related("user"))
        drivers = [Driver(card.user, card, card.id_tag) for card in cards]
        if residential:
            drivers += _drivers(site, "resident", RESIDENTS, password)
        else:
            drivers += _drivers(site, "fleet", FLEET, password)
            drivers += [Driver(None, None, f"VISITOR{n:03d}") for n in range(1, 6)]
        old_price = (Decimal(site.price_per_kwh) * Decimal("0.84")).quantize(Decimal("0.01"))
        PricePeriod.objects.get_or_create(
            installation=site, effective_from=first_day - timedelta(days=1),
            defaults={"price_per_kwh": old_price, "currency": site.currency},
        )  # fmt: skip
        PricePeriod.objects.get_or_create(
            installation=site, effective_from=now - timedelta(days=30 * MONTHS // 2),
            defaults={"price_per_kwh": site.price_per_kwh, "currency": site.currency},
        )  # fmt: skip
        for charger in Charger.objects.filter(installation=site).order_by("name"):
            for connector in charger.connectors.all():
                made += _sessions_at(
                    rng, charger, connector, drivers, zone, first_day, 30 * MONTHS,
                    "residential" if residential else "depot", now,
                )  # fmt: skip
    ChargeSession.objects.bulk_create(made, batch_size=2000)
    recent = [s for s in made if s.started_at >= now - timedelta(days=SAMPLED_DAYS)]
    MeterValue.objects.bulk_create(
        (value for session in recent for value in _meter_values(session)), batch_size=5000
    )
    return len(made)


def _meter_values(session: ChargeSession) -> list[MeterValue]:
    """What the charger would have sent every five minutes: the energy register and the power
    (steady while the car charges, then 0)."""
    assert session.stopped_at is not None
    charging_s = max(1, session.charging_seconds)
    power_w = session.energy_wh * 3600 / charging_s
    values = []
    moment = session.started_at + SAMPLE_EVERY
    while moment < session.stopped_at:
        elapsed_s = (moment - session.started_at).total_seconds()
        delivered = session.energy_wh * min(elapsed_s, charging_s) / charging_s
        common = {
            "charger_id": session.charger_id,
            "connector_id": session.connector.connector_id,
            "transaction_id": session.pk,
            "timestamp": moment,
            "context": "Sample.Periodic",
        }
        values.append(
            MeterValue(
                **common,
                measurand="Energy.Active.Import.Register",
                value=round(session.meter_start_wh + delivered),
                unit="Wh",
            )
        )
        values.append(
            MeterValue(
                **common,
                measurand="Power.Active.Import",
                value=round(power_w if elapsed_s < charging_s else 0.0),
                unit="W",
            )
        )
        moment += SAMPLE_EVERY
    return values
