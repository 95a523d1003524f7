"""The events resources, registered on the API router by ``portal/api/urls.py``."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from events.api import views
from events.api.events import EventViewSet
from events.api.fleet import FleetViewSet


def register(router: BaseRouter) -> None:
    router.register("incidents", views.IncidentViewSet)
    router.register("events", EventViewSet)
    router.register("fleet", FleetViewSet, basename="fleet")
