"""The price resources below an installation (``portal/api/urls.py``)."""

from django.urls import path

from tariffs.api.views import (
    DayAheadPricesViewSet,
    HolidaysViewSet,
    PriceSlotsViewSet,
    TariffViewSet,
)

urlpatterns = [
    path(
        "installations/<int:pk>/tariff/",
        TariffViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
        name="installation-tariff",
    ),
    path(
        "installations/<int:pk>/holidays/",
        HolidaysViewSet.as_view({"get": "list", "post": "create"}),
        name="installation-holidays",
    ),
    path(
        "installations/<int:pk>/holidays/<str:date>/",
        HolidaysViewSet.as_view({"delete": "destroy"}),
        name="installation-holiday",
    ),
    path(
        "installations/<int:pk>/day-ahead-prices/",
        DayAheadPricesViewSet.as_view({"get": "list", "post": "create"}),
        name="installation-day-ahead-prices",
    ),
    path(
        "installations/<int:pk>/price-slots/",
        PriceSlotsViewSet.as_view({"get": "list"}),
        name="installation-price-slots",
    ),
]
