"""Web pages of e-mail alerts (namespace ``alerts``)."""

from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("accounts/alerts/", views.AlertSettingsView.as_view(), name="settings"),
    path("alerts/unsubscribe/<str:token>/", views.UnsubscribeView.as_view(), name="unsubscribe"),
]
