from django.urls import path

from events import fleet_views, views

app_name = "events"

urlpatterns = [
    path("fleet/", fleet_views.FleetView.as_view(), name="fleet"),
    path(
        "installations/<int:pk>/incidents/",
        views.InstallationIncidentsView.as_view(),
        name="installation_incidents",
    ),
    path(
        "incidents/<int:pk>/acknowledge/",
        views.AcknowledgeIncidentView.as_view(),
        name="acknowledge",
    ),
    path(
        "chargers/<int:pk>/timeline/",
        views.ChargerTimelineView.as_view(),
        name="charger_timeline",
    ),
]
