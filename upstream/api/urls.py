"""The upstream resources: paths below an installation and a charger (``portal/api/urls.py``)."""

from django.urls import path

from upstream.api.views import ChargerUpstreamViewSet, InstallationUpstreamViewSet

SETTINGS_VERBS = {
    "get": "retrieve",
    "put": "update",
    "patch": "partial_update",
    "delete": "destroy",
}

urlpatterns = [
    path(
        "installations/<int:pk>/upstream/",
        InstallationUpstreamViewSet.as_view(SETTINGS_VERBS),
        name="installation-upstream",
    ),
    path(
        "installations/<int:pk>/upstream/status/",
        InstallationUpstreamViewSet.as_view({"get": "status"}),
        name="installation-upstream-status",
    ),
    path(
        "chargers/<int:pk>/upstream/",
        ChargerUpstreamViewSet.as_view(SETTINGS_VERBS),
        name="charger-upstream",
    ),
    path(
        "chargers/<int:pk>/upstream/status/",
        ChargerUpstreamViewSet.as_view({"get": "status"}),
        name="charger-upstream-status",
    ),
    path(
        "chargers/<int:pk>/upstream/test/",
        ChargerUpstreamViewSet.as_view({"post": "test"}),
        name="charger-upstream-test",
    ),
]
