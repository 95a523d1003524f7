"""Web pages of chargers (namespace ``chargers``)."""

from django.urls import path

from chargers import views

app_name = "chargers"

urlpatterns = [
    path("register/<int:installation_pk>/", views.ChargerRegisterView.as_view(), name="register"),
    path("<int:pk>/", views.ChargerDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.ChargerUpdateView.as_view(), name="edit"),
    path("<int:pk>/delete/", views.ChargerDeleteView.as_view(), name="delete"),
    path(
        "<int:pk>/rotate-password/",
        views.ChargerRotatePasswordView.as_view(),
        name="rotate_password",
    ),
]
