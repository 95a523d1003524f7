"""Pages of prices: an installation's Prices tab."""

from django.urls import path

from tariffs import views

app_name = "tariffs"

urlpatterns = [
    path("installations/<int:pk>/tariff/", views.PricesView.as_view(), name="prices"),
]
