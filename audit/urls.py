from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("installations/<int:pk>/audit-log/", views.AuditLogView.as_view(), name="log"),
    path("installations/<int:pk>/audit-log.csv", views.AuditLogExportView.as_view(), name="export"),
]
