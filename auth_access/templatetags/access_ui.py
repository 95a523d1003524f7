"""Template tags of the access-control UI on charger pages: ``{% charging_panel charger %}`` and
``{% configuration_panel charger %}`` (the authorization settings and what the charger made of
them at its last boot)."""

from __future__ import annotations

from typing import Any

from django import template

from auth_access.charging_views import charging_context
from auth_access.local_list import configuration
from auth_access.models import LocalListState
from auth_access.reservation_views import reservations_context
from chargers.models import Charger

register = template.Library()


@register.inclusion_tag("auth_access/_charging.html", takes_context=True)
def charging_panel(context: template.Context, charger: Charger) -> dict[str, Any]:
    """Start / stop charging on ``charger`` (already reached through ``restrict``)."""
    return charging_context(context["request"], charger)


# What each outcome of a setting at boot means (the charger's answers and local_list.SettingOutcome).
SETTING_OUTCOMES = {
    "Accepted": "Set at boot",
    "RebootRequired": "Set; applies after the charger's next reboot",
    "Rejected": "Rejected by the charger",
    "NotSupported": "Not supported (the charger says)",
    "Unchanged": "Already set",
    "NotReported": "Not supported (not in the charger's configuration)",
    "ReadOnly": "Read-only on the charger",
}


@register.inclusion_tag("auth_access/_configuration.html")
def configuration_panel(charger: Charger) -> dict[str, Any]:
    """The authorization settings Fusebox keeps on ``charger`` (already reached through
    ``restrict``): the value wanted, the charger's value as read at its last boot, and what
    became of each."""
    state = LocalListState.objects.filter(charger=charger).first()
    outcomes = state.configuration if state else {}
    reported = {key.casefold(): value for key, value in charger.reported_configuration().items()}
    rows = []
    for key, wanted in configuration(charger):
        outcome = str(outcomes.get(key, ""))
        current = reported.get(key.casefold())
        rows.append(
            {
                "key": key,
                "wanted": wanted,
                "value": current[0] if current else None,
                "outcome": SETTING_OUTCOMES.get(outcome, outcome),
                "unsupported": outcome in ("NotReported", "NotSupported"),
            }
        )
    return {
        "charger": charger,
        "rows": rows,
        "configured_at": state.configured_at if state else None,
    }


@register.inclusion_tag("auth_access/_reservations.html", takes_context=True)
def reservations_panel(context: template.Context, charger: Charger) -> dict[str, Any]:
    """Reserve connectors of ``charger`` for drivers, and the reservations the user may see."""
    return reservations_context(context["request"], charger)
