"""Workflows of reporting: scheduling and cancelling prices (the price history is append-only).

``PriceError`` is the one error class of this module (a ``ValidationError``: 400 in the API, a
form error on the pages).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from installations.models import Installation
from reporting.models import PricePeriod

if TYPE_CHECKING:
    from accounts.models import User

# A price "from now" typed into a form reaches the server a little later; this much is still now.
NOW_TOLERANCE = timedelta(minutes=5)


class PriceError(ValidationError):
    """A price change that is not allowed (a start in the past, a period that has begun)."""


def price_in_force(installation: Installation, at: datetime) -> PricePeriod | None:
    """The period that applies at ``at`` (the first one for a moment before every period)."""
    periods = PricePeriod.objects.filter(installation=installation)
    return (
        periods.filter(effective_from__lte=at).order_by("-effective_from").first()
        or periods.order_by("effective_from").first()
    )


@transaction.atomic
def schedule_price(
    installation: Installation,
    *,
    price_per_kwh: Decimal,
    currency: str,
    effective_from: datetime | None = None,
    user: User | None = None,
    now: datetime | None = None,
) -> PricePeriod:
    """Add a price period from ``effective_from`` (default: now), never in the past.

    A period starting now is mirrored into the installation's current price at once; a later one
    when it begins (``apply_due_prices``). A scheduled period at the same time is replaced.
    """
    now = now or timezone.now()
    start = effective_from or now
    if start < now - NOW_TOLERANCE:
        raise PriceError({"effective_from": "A new price cannot start in the past."})
    start = max(start, now)
    period = PricePeriod(
        installation=installation,
        price_per_kwh=price_per_kwh,
        currency=(currency or "").upper(),
        effective_from=start,
        created_by=user,
    )
    period.full_clean(exclude=["installation", "effective_from"])
    PricePeriod.objects.filter(installation=installation, effective_from=start).filter(
        effective_from__gt=now
    ).delete()
    if PricePeriod.objects.filter(installation=installation, effective_from=start).exists():
        raise PriceError({"effective_from": "A price already starts at this time."})
    period.save()
    if start <= now:
        _mirror(installation.pk, period)
    return period


def cancel_price(period: PricePeriod, now: datetime | None = None) -> None:
    """Drop a scheduled price that has not begun; one that has begun is history."""
    if period.effective_from <= (now or timezone.now()):
        raise PriceError("This price has begun; it is history and cannot be cancelled.")
    period.delete()


def _mirror(installation_id: int, period: PricePeriod) -> None:
    """Show ``period`` as the installation's current price (an UPDATE: no new period from it)."""
    Installation.objects.filter(pk=installation_id).update(
        price_per_kwh=period.price_per_kwh, currency=period.currency
    )


def apply_due_prices(now: datetime | None = None) -> int:
    """Mirror every installation's price in force now into its current price; safe to run twice.

    Returns how many installations changed.
    """
    now = now or timezone.now()
    changed = 0
    due = (
        PricePeriod.objects.filter(effective_from__lte=now)
        .order_by("installation_id", "-effective_from")
        .distinct("installation_id")
    )
    for period in due:
        changed += (
            Installation.objects.filter(pk=period.installation_id)
            .exclude(price_per_kwh=period.price_per_kwh, currency=period.currency)
            .update(price_per_kwh=period.price_per_kwh, currency=period.currency)
        )
    return changed


def record_installation_price(installation: Installation, now: datetime | None = None) -> None:
    """The installation's own price fields were saved: when they differ from the price in force,
    that is a new price from now (settings page, installations API), never a rewrite."""
    now = now or timezone.now()
    current = price_in_force(installation, now)
    price = Decimal(installation.price_per_kwh)
    currency = (installation.currency or "").upper()
    if (
        current is not None
        and current.effective_from <= now
        and (current.price_per_kwh, current.currency) == (price, currency)
    ):
        return
    start = now if current is not None else min(installation.created_at or now, now)
    PricePeriod.objects.get_or_create(
        installation=installation,
        effective_from=start,
        defaults={"price_per_kwh": price, "currency": currency},
    )
