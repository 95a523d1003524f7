"""Web pages of reporting (namespace ``reporting``)."""

from django.urls import path

from reporting import energy_views, job_views, price_views, session_views, views

app_name = "reporting"

urlpatterns = [
    path(
        "installations/<int:pk>/history/", views.InstallationHistoryView.as_view(), name="history"
    ),
    path(
        "installations/<int:pk>/history/export/<str:fmt>/",
        views.InstallationHistoryExportView.as_view(),
        name="history_export",
    ),
    path(
        "installations/<int:pk>/history/<int:session_pk>/",
        session_views.InstallationSessionView.as_view(),
        name="session",
    ),
    path(
        "installations/<int:pk>/history/<int:session_pk>/signed.<str:ext>",
        session_views.InstallationSessionSignedView.as_view(),
        name="session_signed",
    ),
    path("installations/<int:pk>/usage/", views.InstallationUsageView.as_view(), name="usage"),
    path(
        "installations/<int:pk>/usage/export/<str:fmt>/",
        views.InstallationUsageExportView.as_view(),
        name="usage_export",
    ),
    path(
        "installations/<int:pk>/usage/energy/<str:fmt>/",
        energy_views.InstallationEnergyExportView.as_view(),
        name="energy_export",
    ),
    path(
        "installations/<int:pk>/prices/", price_views.PriceCreateView.as_view(), name="price_create"
    ),
    path(
        "installations/<int:pk>/prices/<int:period_pk>/cancel/",
        price_views.PriceCancelView.as_view(),
        name="price_cancel",
    ),
    path("my/charging/", views.MyChargingView.as_view(), name="my_charging"),
    path("my/charging/export/<str:fmt>/", views.MyChargingExportView.as_view(), name="my_export"),
    path("my/charging/<int:session_pk>/", session_views.MySessionView.as_view(), name="my_session"),
    path(
        "my/charging/<int:session_pk>/signed.<str:ext>",
        session_views.MySessionSignedView.as_view(),
        name="my_session_signed",
    ),
    path("usage/", views.UsageAcrossView.as_view(), name="across"),
    path("usage/export/<str:fmt>/", views.UsageAcrossExportView.as_view(), name="across_export"),
    path("my/exports/", job_views.ExportJobListView.as_view(), name="export_jobs"),
    path("my/exports/<int:pk>/", job_views.ExportJobView.as_view(), name="export_job"),
    path(
        "my/exports/<int:pk>/status/",
        job_views.ExportJobStatusView.as_view(),
        name="export_status",
    ),
    path(
        "my/exports/<int:pk>/download/",
        job_views.ExportJobDownloadView.as_view(),
        name="export_download",
    ),
]
