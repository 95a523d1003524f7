"""The "Incidents" section of a charger page: ``{% incidents_panel charger %}``."""

from __future__ import annotations

from typing import Any

from django import template

from chargers.models import Charger
from events.forms import AcknowledgeForm
from events.models import Incident
from events.views import with_members
from installations.models import Installation
from portal.tenancy import Action

register = template.Library()

RECENT = 10  # incidents shown on the charger page


@register.inclusion_tag("events/_charger_incidents.html", takes_context=True)
def incidents_panel(context: template.Context, charger: Charger) -> dict[str, Any]:
    """The charger's latest incidents, for owners and installers (drivers see none)."""
    request = context["request"]
    mine = Incident.objects.restrict(request.user, Action.OPERATE)
    found = list(with_members(mine.filter(members__charger=charger).distinct())[:RECENT])
    return {
        "charger": charger,
        "incidents": found,
        "operates": Installation.objects.restrict(request.user, Action.OPERATE)
        .filter(pk=charger.installation_id)
        .exists(),
        "form": AcknowledgeForm(),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
