"""The benchmark's side of the database: bridge the bench installations, count the queue."""

from __future__ import annotations

from django.db import transaction

from bench.ocpp_load.registry import PREFIX
from chargers.models import Charger
from installations.models import Installation
from upstream import outbox
from upstream.models import UpstreamMessage, UpstreamSettings


def _sites() -> list[int]:
    return list(
        Installation.objects.filter(chargers__ocpp_identity__startswith=PREFIX)
        .distinct()
        .values_list("pk", flat=True)
    )


def bridge_all(url: str) -> None:
    """Every bench installation presented to ``url`` (security profile 0, Fusebox decides)."""
    with transaction.atomic():
        for site in _sites():
            UpstreamSettings.objects.update_or_create(
                installation_id=site, charger=None, defaults={"url": url, "enabled": True}
            )
    for site in _sites():
        outbox.settings_changed(site)


def unbridge_all() -> None:
    sites = _sites()
    UpstreamSettings.objects.filter(installation_id__in=sites).delete()
    UpstreamMessage.objects.filter(charger__ocpp_identity__startswith=PREFIX).delete()


def queued_messages() -> int:
    return UpstreamMessage.objects.filter(
        charger__in=Charger.objects.filter(ocpp_identity__startswith=PREFIX), sent_at__isnull=True
    ).count()
