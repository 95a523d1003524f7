"""Template tags of the access-control UI: ``{% charging_panel charger %}`` on charger pages."""

from __future__ import annotations

from typing import Any

from django import template

from auth_access.charging_views import charging_context
from chargers.models import Charger

register = template.Library()


@register.inclusion_tag("auth_access/_charging.html", takes_context=True)
def charging_panel(context: template.Context, charger: Charger) -> dict[str, Any]:
    """Start / stop charging on ``charger`` (already reached through ``restrict``)."""
    return charging_context(context["request"], charger)
