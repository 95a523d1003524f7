"""Reading the Load tab's inputs: the engine's snapshot, names, live states and decisions.

A constant number of queries and two Redis round trips, whatever the size of the site; the
user's restricted querysets decide who sees what (``assert_restricted``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from balancing.dashboard.compose import compose_dashboard
from balancing.dashboard.view import DEFAULT_DECISION_COUNT, LoadDashboard
from balancing.models import BalancingDecision
from balancing.snapshot import build_scenario
from commands import routing
from installations.models import Installation
from portal.tenancy import assert_restricted


def load_dashboard(
    installation: Installation,
    *,
    circuits: QuerySet[Any],
    chargers: QuerySet[Any],
    decisions: QuerySet[Any] | None,
    decision_count: int = DEFAULT_DECISION_COUNT,
    now: datetime | None = None,
) -> LoadDashboard:
    """The dashboard of ``installation`` as the user behind the restricted querysets sees it.

    ``circuits``, ``chargers``, ``decisions``: the user's restricted querysets (any
    installation; they are filtered here). ``decisions=None``: no decision list.
    A constant number of queries and two Redis round trips, whatever the size of the site.
    """
    for queryset in (circuits, chargers) if decisions is None else (circuits, chargers, decisions):
        assert_restricted(queryset)  # who sees what is the caller's gate; never skip it
    now = now or timezone.now()
    scenario = build_scenario(installation, now)
    circuit_rows = list(
        circuits.filter(installation=installation)
        .order_by()
        .values("id", "name", "parent_id", "max_current_a")
    )
    charger_rows = list(
        chargers.filter(installation=installation)
        .order_by("name", "id")
        .distinct()
        .values("id", "name", "ocpp_identity", "circuit_id", "allocated_phases")
    )
    live = routing.live_states([row["id"] for row in charger_rows])
    latest = (
        BalancingDecision.objects.filter(installation=installation)  # internal: per-charger state
        .order_by("-created_at", "-id")
        .values("created_at")
        .annotate(
            paused=KeyTransform("paused", "result"),
            finished=KeyTransform("finished", "result"),
            notes=KeyTransform("notes", "result"),
        )
        .first()
    )
    decision_rows: list[dict[str, Any]] = []
    if decisions is not None:
        decision_rows = list(
            decisions.filter(installation=installation)
            .order_by("-created_at", "-id")
            .values("id", "created_at", "trigger", "reason", "solve_ms", "commands_sent")
            .annotate(notes=KeyTransform("notes", "result"))[:decision_count]
        )
    return compose_dashboard(
        installation=installation,
        scenario=scenario,
        circuits=circuit_rows,
        chargers=charger_rows,
        live=live,
        latest=latest,
        decisions=decision_rows,
        now=now,
    )
