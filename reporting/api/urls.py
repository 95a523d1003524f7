"""The reporting resources, registered on the API router by ``portal/api/urls.py``."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from reporting.api import views

ROUTES = [
    ("reports/usage", views.UsageReportViewSet, "report-usage"),
    ("reports/export", views.ExportViewSet, "report-export"),
    ("prices", views.PricePeriodViewSet, "price-period"),
]


def register(router: BaseRouter) -> None:
    for prefix, viewset, basename in ROUTES:
        router.register(prefix, viewset, basename=basename)
