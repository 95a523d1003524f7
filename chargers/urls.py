from django.urls import path

from chargers import views

app_name = "chargers"

urlpatterns = [
    path("<int:pk>/", views.ChargerDetailView.as_view(), name="detail"),
]
