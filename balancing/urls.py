"""Web pages of balancing (namespace ``balancing``), below ``/installations/``."""

from django.urls import path

from balancing import views

app_name = "balancing"

urlpatterns = [
    path("<int:pk>/load/", views.InstallationLoadView.as_view(), name="load"),
]
