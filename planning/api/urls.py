"""The planning resources (``portal/api/urls.py`` includes them)."""

from django.urls import path

from planning.api.views import JobViewSet, NewSiteViewSet, WhatIfViewSet

urlpatterns = [
    path(
        "installations/<int:pk>/what-if/",
        WhatIfViewSet.as_view({"post": "create"}),
        name="installation-what-if",
    ),
    path("what-if/new-site/", NewSiteViewSet.as_view({"post": "create"}), name="what-if-new-site"),
    path("what-if/jobs/<str:token>/", JobViewSet.as_view({"get": "retrieve"}), name="what-if-job"),
]
