"""The benchmark's chargers in the database: BENCH-00001... with one password, created in bulk.

Idempotent: existing chargers are kept (their password is reset to the benchmark's), missing ones
are added, 100 per installation (open authorization, so every card is accepted). Each charger's
phases, rotation and connectors are those the simulator derives from its identity
(``ocpp_bridge.simulator.fleet.synthetic_spec``), so both sides agree without talking.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from accounts.models import User
from chargers.models import Charger, ChargeSession, Connector, MeterValue
from installations.choices import AuthorizationMode
from installations.models import Installation
from installations.services import create_installation
from ocpp_bridge.simulator.fleet import synthetic_spec

PREFIX = "BENCH-"
PER_SITE = 100
OWNER_EMAIL = "bench-owner@bench.test"


def identity(number: int) -> str:
    return f"{PREFIX}{number:05d}"


def _site(owner: User, index: int) -> Installation:
    name = f"Bench site {index:03d}"
    site = Installation.objects.filter(name=name, memberships__user=owner).first()
    if site is None:
        site = create_installation(
            owner, name=name, main_fuse_a=4000, authorization_mode=AuthorizationMode.OPEN
        )
    return site


@transaction.atomic
def ensure_chargers(count: int, password: str) -> int:
    """Make BENCH-00001..count exist with ``password``; return how many were created."""
    owner = User.objects.filter(email=OWNER_EMAIL).first()
    if owner is None:
        owner = User.objects.create_user(email=OWNER_EMAIL, password=None, name="Bench owner")
    template = Charger()
    template.set_ocpp_password(password)
    existing = set(
        Charger.objects.filter(ocpp_identity__startswith=PREFIX).values_list(
            "ocpp_identity", flat=True
        )
    )
    new: list[tuple[Charger, int]] = []
    sites: dict[int, Installation] = {}
    for number in range(1, count + 1):
        name = identity(number)
        if name in existing:
            continue
        index = (number - 1) // PER_SITE
        if index not in sites:
            sites[index] = _site(owner, index)
        site = sites[index]
        spec = synthetic_spec(name, password)
        charger = Charger(
            installation=site,
            circuit=site.main_fuse,
            name=name,
            ocpp_identity=name,
            ocpp_password_hash=template.ocpp_password_hash,
            phases=spec.phases,
            phase_rotation=spec.phase_rotation,
            max_current_a=spec.max_current_a,
        )
        new.append((charger, spec.connectors))
    Charger.objects.bulk_create([c for c, _ in new], batch_size=1000)
    Connector.objects.bulk_create(
        [
            Connector(charger=charger, connector_id=n)
            for charger, connectors in new
            for n in range(1, connectors + 1)
        ],
        batch_size=2000,
    )
    Charger.objects.filter(ocpp_identity__startswith=PREFIX).update(
        ocpp_password_hash=template.ocpp_password_hash, is_online=False
    )
    return len(new)


def counts_since(start: datetime, count: int) -> dict[str, int]:
    """What the bridge stored for the benchmark's chargers since ``start`` (charger timestamps)."""
    chargers = Charger.objects.filter(
        ocpp_identity__in=[identity(n) for n in range(1, count + 1)]
    ).values("pk")
    meter_rows = MeterValue.objects.filter(charger__in=chargers, timestamp__gte=start)
    sessions = ChargeSession.objects.filter(charger__in=chargers, started_at__gte=start)
    return {
        "meter_value_rows": meter_rows.count(),
        "sessions_started": sessions.count(),
        "sessions_completed": sessions.exclude(stopped_at=None).count(),
        "chargers_online": Charger.objects.filter(pk__in=chargers, is_online=True).count(),
    }
