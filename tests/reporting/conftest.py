"""Helpers of the reporting tests: sessions as the bridge leaves them, and the web fixtures."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from auth_access.models import ChargeCard
from chargers.choices import SessionStatus, StopReason
from chargers.models import Charger, ChargeSession
from reporting.models import PricePeriod
from tests.ocpp.conftest import bridge, chargers  # noqa: F401  (a real bridge and chargers)
from tests.web.conftest import (  # noqa: F401
    browser,
    client_as,
    live_static,
    page,
    phone,
    screenshot,
)

_meter = itertools.count(1)


def make_session(
    charger: Charger,
    started_at: datetime,
    *,
    minutes: float = 60,
    energy_wh: int = 5000,
    charging_minutes: float | None = None,
    user: object = None,
    card: ChargeCard | None = None,
    id_tag: str = "TAG",
    active: bool = False,
    stop_reason: str = StopReason.LOCAL,
    connector_id: int = 1,
) -> ChargeSession:
    """A finished (or, with ``active``, running) session on ``charger``."""
    meter_start = next(_meter) * 1_000_000
    stopped = None if active else started_at + timedelta(minutes=minutes)
    charging = minutes if charging_minutes is None else charging_minutes
    return ChargeSession.objects.create(
        charger=charger,
        connector=charger.connectors.get(connector_id=connector_id),
        id_tag=card.id_tag if card else id_tag,
        user=user,
        card=card,
        status=SessionStatus.ACTIVE if active else SessionStatus.COMPLETED,
        started_at=started_at,
        stopped_at=stopped,
        meter_start_wh=meter_start,
        meter_stop_wh=None if active else meter_start + energy_wh,
        energy_wh=energy_wh,
        stop_reason="" if active else stop_reason,
        charging_seconds=int(charging * 60),
    )


def price_from(
    installation: object, at: datetime, price: str, currency: str = "EUR"
) -> PricePeriod:
    """A price period written directly (a fixture may set up the past; the services never do)."""
    return PricePeriod.objects.create(
        installation=installation,
        effective_from=at,
        price_per_kwh=Decimal(price),
        currency=currency,
    )
