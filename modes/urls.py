"""Web pages of charge modes (namespace ``modes``)."""

from django.urls import path

from modes import views

app_name = "modes"

urlpatterns = [
    path("chargers/<int:pk>/plan/", views.PlanView.as_view(), name="plan"),
    path("chargers/<int:pk>/plan/clear/", views.ClearPlanView.as_view(), name="clear_plan"),
    path(
        "installations/<int:pk>/charging-modes/",
        views.InstallationModesView.as_view(),
        name="installation",
    ),
]
