"""The charge-mode resources: paths below a charger, a session and an installation
(``portal/api/urls.py``)."""

from django.urls import path

from modes.api.views import (
    ChargerModeViewSet,
    ChargerPlanViewSet,
    ChargingWindowsViewSet,
    SessionPlanViewSet,
    SurplusViewSet,
)

PLAN_VERBS = {"get": "retrieve", "put": "update", "delete": "destroy"}

urlpatterns = [
    path(
        "chargers/<int:pk>/mode/",
        ChargerModeViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="charger-mode",
    ),
    path("chargers/<int:pk>/plan/", ChargerPlanViewSet.as_view(PLAN_VERBS), name="charger-plan"),
    path("sessions/<int:pk>/plan/", SessionPlanViewSet.as_view(PLAN_VERBS), name="session-plan"),
    path(
        "installations/<int:pk>/charging-windows/",
        ChargingWindowsViewSet.as_view({"get": "list", "put": "update"}),
        name="installation-charging-windows",
    ),
    path(
        "installations/<int:pk>/surplus/",
        SurplusViewSet.as_view({"get": "retrieve", "put": "update", "post": "create"}),
        name="installation-surplus",
    ),
]
