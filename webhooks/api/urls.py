"""The webhooks resources, registered on the API router by ``portal/api/urls.py``."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from webhooks.api.views import EndpointViewSet


def register(router: BaseRouter) -> None:
    router.register("webhooks", EndpointViewSet, basename="webhooks")
