"""The alerts resources, registered on the API router by ``portal/api/urls.py``."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from alerts.api.views import SubscriptionViewSet


def register(router: BaseRouter) -> None:
    router.register("alert-subscriptions", SubscriptionViewSet, basename="alert-subscriptions")
