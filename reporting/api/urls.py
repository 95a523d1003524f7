"""The reporting resources, registered on the API router by ``portal/api/urls.py``."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from reporting.api import views

ROUTES = [
    ("reports/usage", views.UsageReportViewSet, "report-usage"),
    ("reports/export", views.ExportViewSet, "report-export"),
    ("reports/exports", views.ExportJobViewSet, "report-export-job"),
    ("reports/energy", views.EnergyReportViewSet, "report-energy"),
    ("prices", views.PricePeriodViewSet, "price-period"),
    (r"sessions/(?P<session_pk>[0-9]+)/energy", views.SessionEnergyViewSet, "session-energy"),
    (r"sessions/(?P<session_pk>[0-9]+)/signed-data", views.SignedDataViewSet, "session-signed"),
]


def register(router: BaseRouter) -> None:
    for prefix, viewset, basename in ROUTES:
        router.register(prefix, viewset, basename=basename)
