"""An installation's price saved through its settings (page or API) becomes a price period."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from installations.models import Installation


@receiver(post_save, sender=Installation, dispatch_uid="reporting-price-history")
def installation_saved(sender: type, instance: Installation, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    update_fields = kwargs.get("update_fields")
    if update_fields and not {"price_per_kwh", "currency"} & set(update_fields):
        return
    from reporting.services import record_installation_price

    record_installation_price(instance)
