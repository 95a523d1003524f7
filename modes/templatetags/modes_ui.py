"""Charge-mode panels for other apps' pages: the charger page's "Charging plan" and My
charging's running sessions (``modes.views``)."""

from __future__ import annotations

from typing import Any

from django import template

from chargers.models import Charger
from modes.views import my_plan_rows, plan_context

register = template.Library()


@register.inclusion_tag("modes/_plan_panel.html", takes_context=True)
def plan_panel(context: template.Context, charger: Charger) -> dict[str, Any]:
    """Now / By departure for the session on ``charger`` (already reached through
    ``restrict``), and its plan."""
    return plan_context(context["request"], charger)


@register.inclusion_tag("modes/_my_plans.html", takes_context=True)
def my_plans(context: template.Context) -> dict[str, Any]:
    """The plans of the user's running sessions (and of a next session they set)."""
    return {"rows": my_plan_rows(context["request"])}
