"""Web pages of the OCPP side (namespace ``ocpp``)."""

from django.urls import path

from ocpp_bridge import views

app_name = "ocpp"

urlpatterns = [
    path("chargers/<int:pk>/commands/", views.ChargerCommandsView.as_view(), name="commands"),
    path(
        "chargers/connection-attempts/",
        views.ConnectionAttemptListView.as_view(),
        name="connection_attempts",
    ),
]
