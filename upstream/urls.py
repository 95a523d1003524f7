"""Web pages of the upstream bridge's configuration (namespace ``upstream``)."""

from django.urls import path

from upstream import views

app_name = "upstream"

urlpatterns = [
    path("installations/<int:pk>/upstream/", views.UpstreamView.as_view(), name="installation"),
    path(
        "installations/<int:pk>/upstream/delete/",
        views.DeleteSettingsView.as_view(),
        name="delete",
    ),
    path(
        "installations/<int:pk>/upstream/override/",
        views.AddOverrideView.as_view(),
        name="add_override",
    ),
    path("chargers/<int:pk>/upstream/", views.ChargerOverrideView.as_view(), name="charger"),
    path(
        "chargers/<int:pk>/upstream/test/",
        views.ChargerActionView.as_view(act="test"),
        name="test",
    ),
    path(
        "chargers/<int:pk>/upstream/delete/",
        views.ChargerActionView.as_view(act="delete"),
        name="delete_override",
    ),
]
