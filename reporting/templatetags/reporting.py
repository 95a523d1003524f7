"""Template helpers of the reporting pages: durations, energy, and a charger's recent history."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from chargers.models import ChargeSession
from portal.tenancy import Action
from reporting.queries import keyset_page, with_facts

register = template.Library()

CHARGER_HISTORY_ROWS = 10


@register.filter
def duration(seconds: Any) -> str:
    """Seconds as ``2 h 05`` (or ``45 min``, ``30 s``)."""
    try:
        total = int(seconds)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(max(total, 0), 3600)
    minutes = rest // 60
    if hours:
        return f"{hours} h {minutes:02d}"
    if minutes:
        return f"{minutes} min"
    return f"{rest} s"


@register.filter
def kwh(energy_wh: Any) -> str:
    """Wh as kWh with three decimals."""
    try:
        return f"{int(energy_wh) / 1000:,.3f}"
    except (TypeError, ValueError):
        return ""


@register.inclusion_tag("reporting/_charger_history_section.html", takes_context=True)
def charger_history(context: template.Context, charger: Any) -> dict[str, Any]:
    """The latest sessions on a charger that the user may see (a driver: their own)."""
    user = context["request"].user
    sessions = ChargeSession.objects.restrict(user, Action.VIEW).filter(charger=charger)
    page = keyset_page(with_facts(sessions), size=CHARGER_HISTORY_ROWS)
    history_url = reverse("reporting:history", args=[charger.installation_id])
    return {
        "charger": charger,
        "sessions": page.rows,
        "has_more": page.next_cursor is not None,
        "history_url": f"{history_url}?charger={charger.pk}",
        "time_zone": charger.installation.time_zone,
    }
