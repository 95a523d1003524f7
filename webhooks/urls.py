"""Web pages of webhooks (namespace ``webhooks``), below an installation's settings."""

from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("installations/<int:pk>/webhooks/", views.EndpointListView.as_view(), name="list"),
    path("webhooks/<int:pk>/", views.EndpointDetailView.as_view(), name="detail"),
    path("webhooks/<int:pk>/test/", views.EndpointActionView.as_view(act="test"), name="test"),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        views.EndpointActionView.as_view(act="rotate"),
        name="rotate",
    ),
    path(
        "webhooks/<int:pk>/enable/", views.EndpointActionView.as_view(act="enable"), name="enable"
    ),
    path(
        "webhooks/<int:pk>/disable/",
        views.EndpointActionView.as_view(act="disable"),
        name="disable",
    ),
    path(
        "webhooks/<int:pk>/delete/", views.EndpointActionView.as_view(act="delete"), name="delete"
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_id>/redeliver/",
        views.EndpointActionView.as_view(act="redeliver"),
        name="redeliver",
    ),
]
