"""``/api/v1/``: every resource of every app, the token endpoint and the OpenAPI schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from accounts.api.views import ApiTokenViewSet, MeView, ObtainTokenView
from alerts.api.urls import register as register_alerts
from audit.api.views import AuditEntryViewSet
from auth_access.api.urls import register as register_access
from balancing.api.views import BalancingDecisionViewSet, InstallationLoadViewSet
from chargers.api.views import ChargerViewSet
from events.api.urls import register as register_events
from installations.api.views import (
    AnswerInvitationView,
    CircuitViewSet,
    InstallationViewSet,
    InvitationViewSet,
    MembershipViewSet,
    MyInvitationsView,
)
from modes.api.urls import urlpatterns as modes_urls
from ocpp_bridge.api.views import (
    ChargerEventViewSet,
    ChargeSessionViewSet,
    CommandViewSet,
    ConnectionAttemptViewSet,
)
from planning.api.urls import urlpatterns as planning_urls
from reporting.api.urls import register as register_reporting
from tariffs.api.urls import urlpatterns as tariffs_urls
from upstream.api.urls import urlpatterns as upstream_urls
from webhooks.api.urls import register as register_webhooks

router = DefaultRouter()
router.register("installations", InstallationViewSet)
router.register("circuits", CircuitViewSet)
router.register("members", MembershipViewSet)
router.register("invitations", InvitationViewSet)
router.register("chargers", ChargerViewSet)
router.register("sessions", ChargeSessionViewSet)
router.register("charger-events", ChargerEventViewSet)
router.register("commands", CommandViewSet)
router.register("connection-attempts", ConnectionAttemptViewSet)
register_access(router)
router.register("balancing-decisions", BalancingDecisionViewSet)
register_reporting(router)
register_events(router)
register_webhooks(router)
router.register("auth/tokens", ApiTokenViewSet, basename="api-tokens")
router.register("audit-log", AuditEntryViewSet)
register_alerts(router)

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("me/", MeView.as_view(), name="api-me"),
    path("me/invitations/", MyInvitationsView.as_view(), name="api-my-invitations"),
    path(
        "me/invitations/<int:pk>/accept/",
        AnswerInvitationView.as_view(answer="accept"),
        name="api-invitation-accept",
    ),
    path(
        "me/invitations/<int:pk>/decline/",
        AnswerInvitationView.as_view(answer="decline"),
        name="api-invitation-decline",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "installations/<int:pk>/load/",
        InstallationLoadViewSet.as_view({"get": "retrieve"}),
        name="installation-load",
    ),
    *upstream_urls,
    *modes_urls,
    *planning_urls,
    *tariffs_urls,
    path("", include(router.urls)),
]
