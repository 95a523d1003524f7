"""Settings that change what balancing may give trigger a new solve of the installation."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chargers.models import Charger
from installations.models import Circuit, Installation

# Saves that only record what balancing or the bridge did are not setting changes.
BOOKKEEPING_FIELDS = {
    "last_seen_at",
    "allocated_current_a",
    "allocated_phases",
    "boot_info",
    "last_boot_at",
}


@receiver(post_save, sender=Installation, dispatch_uid="balance-on-installation")
@receiver([post_save, post_delete], sender=Circuit, dispatch_uid="balance-on-circuit")
@receiver([post_save, post_delete], sender=Charger, dispatch_uid="balance-on-charger")
def settings_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    from balancing.tasks import request_balance

    if kwargs.get("raw") or (sender is Installation and kwargs.get("created")):
        return
    update_fields = kwargs.get("update_fields")
    if update_fields and set(update_fields) <= BOOKKEEPING_FIELDS:
        return
    installation_id = instance.pk if sender is Installation else instance.installation_id
    request_balance(installation_id, f"{sender._meta.verbose_name} changed")
