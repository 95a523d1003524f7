"""The planning pages."""

from django.urls import path

from planning import views

app_name = "planning"

urlpatterns = [
    path("installations/<int:pk>/planning/", views.PlanningView.as_view(), name="installation"),
    path("planning/new-site/", views.NewSiteView.as_view(), name="new_site"),
]
