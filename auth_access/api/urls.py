"""The access-control resources, registered on the API router by ``portal/api/urls.py``."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from auth_access.api import views

ROUTES = [
    ("cards", views.ChargeCardViewSet),
    ("charger-permissions", views.ChargerPermissionViewSet),
    ("charging-rights", views.ChargingRightsViewSet),
    ("seen-cards", views.SeenCardViewSet),
    ("authorization-records", views.AuthorizationRecordViewSet),
    ("access-policies", views.AccessPolicyViewSet),
    ("remote-starts", views.RemoteStartViewSet),
    ("reservations", views.ReservationViewSet),
    ("local-lists", views.LocalListViewSet),
]


def register(router: BaseRouter) -> None:
    for prefix, viewset in ROUTES:
        router.register(prefix, viewset, basename=f"access-{prefix}")
