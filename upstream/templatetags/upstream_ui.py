"""The charger page's Upstream panel: the charger's upstream status and "Test connection"."""

from __future__ import annotations

from typing import Any

from django import template

from chargers.models import Charger
from upstream import services

register = template.Library()


@register.inclusion_tag("upstream/_charger_panel.html", takes_context=True)
def upstream_panel(context: dict[str, Any], charger: Charger) -> dict[str, Any]:
    """``charger`` was reached through ``restrict``; the page shows this to administrators only."""
    status = services.charger_statuses([charger])[0]
    return {
        "charger": charger,
        "status": status,
        "statuses": [status],
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
