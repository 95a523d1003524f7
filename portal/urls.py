"""Top-level URL map: the web UI, accounts (allauth), the admin and the REST API."""

from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from installations import member_views
from installations import views as installation_views
from portal import live_views

urlpatterns = [
    path("", installation_views.home, name="home"),
    path("installations/", include("installations.urls")),
    path("installations/<int:pk>/live/", live_views.installation_stream, name="installation_live"),
    path("installations/", include("balancing.urls")),
    path("", include("ocpp_bridge.urls")),
    path("", include("auth_access.urls")),
    path("chargers/", include("chargers.urls")),
    path("", include("events.urls")),
    path("", include("reporting.urls")),
    path("", include("audit.urls")),
    path("", include("webhooks.urls")),
    path("", include("upstream.urls")),
    path("", include("modes.urls")),
    path("", include("planning.urls")),
    path("", include("tariffs.urls")),
    path("", include("alerts.urls")),
    path("invitations/<str:token>/", member_views.InvitationView.as_view(), name="invitation"),
    path("accounts/api-tokens/", account_views.ApiTokensView.as_view(), name="api_tokens"),
    path(
        "accounts/api-tokens/<int:pk>/revoke/",
        account_views.RevokeApiTokenView.as_view(),
        name="api_token_revoke",
    ),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api.urls")),
]
