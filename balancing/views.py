"""The Load tab of an installation: fuses, chargers and balancing decisions, live.

The page renders the state at request time (it works without JavaScript); ``static/js/
balancing.js`` then polls ``GET /api/v1/installations/{id}/load/`` (session auth) and updates
the bars, the charger rows and the decision list in place.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.views.generic import TemplateView

from balancing.dashboard import load_dashboard
from balancing.models import BalancingDecision
from chargers.models import Charger
from installations.models import Circuit, Installation
from installations.views import InstallationPageMixin

POLL_INTERVAL_MS = 5000


class InstallationLoadView(InstallationPageMixin, TemplateView):
    """Everyone who may view the installation; each sees the fuses, chargers and decisions
    their role allows (drivers: the chargers they may use)."""

    model = Installation
    template_name = "balancing/load.html"
    tab = "load"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["dashboard"] = load_dashboard(
            self.installation,
            circuits=self.restricted(Circuit),
            chargers=self.restricted(Charger),
            decisions=self.restricted(BalancingDecision),
        )
        context["load_url"] = reverse("installation-load", args=[self.installation.pk])
        context["poll_interval_ms"] = POLL_INTERVAL_MS
        return context
