"""Charger workflows: registration with generated OCPP credentials."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from chargers.models import Charger, Connector
from ocpp_bridge.choices import AttemptReason
from ocpp_bridge.models import ConnectionAttempt


@transaction.atomic
def register_charger(*, connector_count: int = 1, **fields: Any) -> tuple[Charger, str]:
    """Create a charger with its connectors; return it and its OCPP password (stored hashed only)."""
    if "installation" not in fields and fields.get("circuit") is not None:
        fields["installation"] = fields["circuit"].installation
    charger = Charger(**fields)
    password = charger.set_ocpp_password()
    charger.planned_connectors = connector_count  # for the failsafe check in clean()
    charger.full_clean()
    charger.save()
    Connector.objects.bulk_create(
        [
            Connector(charger=charger, connector_id=number)
            for number in range(1, connector_count + 1)
        ]
    )
    # Claiming a charger that already tried to connect: its "unknown identity" record is resolved.
    ConnectionAttempt.objects.filter(
        identity=charger.ocpp_identity, reason=AttemptReason.UNKNOWN_IDENTITY
    ).delete()
    return charger, password


def rotate_ocpp_password(charger: Charger) -> str:
    password = charger.set_ocpp_password()
    charger.save(update_fields=["ocpp_password_hash"])
    return password


def ocpp_url(charger: Charger) -> str:
    """Where the charger connects: the bridge's public URL plus its identity."""
    return f"{settings.OCPP_PUBLIC_URL.rstrip('/')}/{charger.ocpp_identity}"
