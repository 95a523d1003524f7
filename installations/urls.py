from django.urls import path

from installations import views

app_name = "installations"

urlpatterns = [
    path("", views.InstallationListView.as_view(), name="list"),
    path("<int:pk>/", views.InstallationDetailView.as_view(), name="detail"),
]
