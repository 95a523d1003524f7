"""Access control over the API: cards, permissions, seen cards, decisions, policies, remote starts,
reservations, local lists. Every viewset goes through the tenancy gate; the rules beyond it are
the services' (``auth_access.services``, ``remote``, ``reservations``), whose refusals are 403
with their message."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from auth_access import external, remote, reservations, services
from auth_access.api.serializers import (
    AccessPolicySerializer,
    AssignSeenCardSerializer,
    AuthorizationRecordSerializer,
    ChargeCardSerializer,
    ChargerPermissionSerializer,
    ChargingRightsSerializer,
    ExternalTestSerializer,
    LocalListStateSerializer,
    LocalListSyncSerializer,
    RemoteStartRequestSerializer,
    RemoteStartSerializer,
    RemoteStopRequestSerializer,
    ReservationRequestSerializer,
    ReservationSerializer,
    SeenCardSerializer,
)
from auth_access.models import (
    AccessPolicy,
    AuthorizationRecord,
    ChargeCard,
    ChargerPermission,
    LocalListState,
    RemoteStart,
    Reservation,
    SeenCard,
)
from auth_access.tasks import request_local_list_sync
from commands import routing
from commands.serializers import CommandSerializer
from installations.models import Membership
from portal.api.viewsets import (
    TenantListRetrieveDestroyViewSet,
    TenantModelViewSet,
    TenantReadOnlyViewSet,
    TenantViewSetMixin,
)
from portal.tenancy import Action


class AccessErrorsMixin:
    """A service's AccessError is a 403 with its message."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.AccessError):
            exc = exceptions.PermissionDenied(str(exc))
        return super().handle_exception(exc)  # type: ignore[misc,no-any-return]


class ChargeCardFilter(django_filters.FilterSet):
    installation = django_filters.NumberFilter(label="Cards registered at this installation")

    class Meta:
        model = ChargeCard
        fields = ["installation", "user", "is_blocked"]


class ChargeCardViewSet(AccessErrorsMixin, TenantModelViewSet):
    """Charge cards (RFID idTags). Everyone manages their own (valid wherever they may charge);
    owners and installers also register cards at their installation for its members (valid only
    there) and see, block and expire those, never a member's own cards. A card number is unique
    across the system (upper-case)."""

    queryset = ChargeCard.objects.select_related("user", "created_by")
    serializer_class = ChargeCardSerializer
    filterset_class = ChargeCardFilter
    search_fields = ["id_tag", "name", "user__email"]
    ordering_fields = ["id_tag", "name", "created_at", "expires_at"]

    def perform_destroy(self, instance: ChargeCard) -> None:
        services.delete_card(self.request.user, instance)

    @extend_schema(request=None, responses={200: ChargeCardSerializer})
    @action(detail=True, methods=["post"])
    def block(self, request: Request, pk: str | None = None) -> Response:
        """Block the card from its next authorization on (a card registered at an installation
        charges only there anyway)."""
        card = services.update_card(request.user, self.get_object(), {"is_blocked": True})
        return Response(ChargeCardSerializer(card, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={200: ChargeCardSerializer})
    @action(detail=True, methods=["post"])
    def unblock(self, request: Request, pk: str | None = None) -> Response:
        """Unblock the card (a card blocked by its installation: owners and installers only)."""
        card = services.update_card(request.user, self.get_object(), {"is_blocked": False})
        return Response(ChargeCardSerializer(card, context=self.get_serializer_context()).data)


class ChargerPermissionFilter(django_filters.FilterSet):
    installation = django_filters.NumberFilter(field_name="charger__installation")
    user = django_filters.NumberFilter(field_name="membership__user")

    class Meta:
        model = ChargerPermission
        fields = ["installation", "charger", "membership", "user"]


class ChargerPermissionViewSet(AccessErrorsMixin, TenantModelViewSet):
    """Per-charger permissions: a member may charge on a named charger. Owners and installers
    grant (POST) and revoke (DELETE); drivers see their own."""

    queryset = ChargerPermission.objects.select_related("membership__user", "charger", "granted_by")
    serializer_class = ChargerPermissionSerializer
    filterset_class = ChargerPermissionFilter
    http_method_names = ["get", "post", "delete", "head", "options"]

    def perform_destroy(self, instance: ChargerPermission) -> None:
        services.revoke_charger(self.request.user, instance)


class ChargingRightsViewSet(
    AccessErrorsMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Each member's right to charge, by membership: on the whole installation
    (``may_charge_everywhere``) or on the chargers listed. PATCH to grant or revoke either."""

    queryset = Membership.objects.select_related("user").prefetch_related("charger_permissions")
    serializer_class = ChargingRightsSerializer
    filterset_fields = ["installation", "role", "may_charge_everywhere"]
    http_method_names = ["get", "patch", "head", "options"]


class SeenCardFilter(django_filters.FilterSet):
    installation = django_filters.NumberFilter(field_name="charger__installation")

    class Meta:
        model = SeenCard
        fields = ["installation", "charger", "id_tag"]


class SeenCardViewSet(AccessErrorsMixin, TenantListRetrieveDestroyViewSet):
    """Unknown cards shown at your chargers (owners and installers); assign one to a member in
    one step, or delete it from the list."""

    queryset = SeenCard.objects.select_related("charger")
    serializer_class = SeenCardSerializer
    filterset_class = SeenCardFilter
    ordering_fields = ["last_seen_at", "times_seen"]

    @extend_schema(request=AssignSeenCardSerializer, responses={201: ChargeCardSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        """Register the card for a member of the installation; it leaves the seen list."""
        seen = self.get_object()
        serializer = AssignSeenCardSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        card = services.assign_seen_card(
            request.user, seen, serializer.validated_data["user"], serializer.validated_data["name"]
        )
        body = ChargeCardSerializer(card, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class AuthorizationRecordFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    result = django_filters.CharFilter(field_name="status", label="OCPP status, e.g. Accepted")

    class Meta:
        model = AuthorizationRecord
        fields = [
            "installation", "charger", "user", "card", "id_tag", "status", "result", "source",
            "trigger", "created_after", "created_before",
        ]  # fmt: skip


class AuthorizationRecordViewSet(TenantReadOnlyViewSet):
    """Every authorization decision: owners and installers see their installations', drivers
    their own."""

    queryset = AuthorizationRecord.objects.select_related("user")
    serializer_class = AuthorizationRecordSerializer
    filterset_class = AuthorizationRecordFilter
    ordering_fields = ["created_at", "latency_ms"]


class AccessPolicyViewSet(
    AccessErrorsMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Each installation's access policy, by installation id: what happens to running sessions
    on revocation, and the external authorizer (its secret is write-only)."""

    queryset = AccessPolicy.objects.all()
    serializer_class = AccessPolicySerializer
    lookup_field = "installation"
    filterset_fields = ["external_enabled", "running_session_policy"]
    http_method_names = ["get", "patch", "post", "head", "options"]
    tenant_actions = {"test_external": Action.ADMINISTER}

    @extend_schema(request=None, responses={200: ExternalTestSerializer})
    @action(detail=True, methods=["post"], url_path="test-external")
    def test_external(self, request: Request, installation: str | None = None) -> Response:
        """Send a signed test request (``"type": "test"``) to the external authorizer and show
        its answer: status, or what went wrong, and the time it took."""
        policy = self.get_object()
        if not (policy.external_url and policy.external_secret):
            raise exceptions.ValidationError("Set the external authorizer's URL and secret first.")
        result = external.send_test(policy)
        body = {"status": result.status, "error": result.error, "latency_ms": result.latency_ms}
        return Response(body)


class RemoteStartViewSet(
    AccessErrorsMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Start charging from the portal or app (RemoteStartTransaction with your virtual idTag),
    and stop a session. Drivers see their own starts; owners and installers all of theirs."""

    queryset = RemoteStart.objects.select_related("command__requested_by")
    serializer_class = RemoteStartSerializer
    filterset_fields = ["charger", "user", "status"]
    tenant_actions = {"create": Action.VIEW, "stop": Action.VIEW}

    # Every start shown is brought up to date first (``RemoteStart.refresh_outcome``: the
    # charger's answer, the window), so ``status`` never says "requested" about a start the
    # charger rejected. Final ones cost nothing; the access sweep settles the rest every minute.
    def get_object(self) -> RemoteStart:
        remote_start: RemoteStart = super().get_object()
        remote_start.refresh_outcome()
        return remote_start

    def paginate_queryset(self, queryset: QuerySet) -> list[RemoteStart] | None:
        page = super().paginate_queryset(queryset)
        now = timezone.now()
        for remote_start in page or []:
            remote_start.refresh_outcome(now)
        return page

    @extend_schema(request=RemoteStartRequestSerializer, responses={201: RemoteStartSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Start charging on a connector, as yourself. 403 when you may not charge there (the
        refusal is recorded), 400 for a busy or unknown connector."""
        serializer = RemoteStartRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        started = remote.start_charging(request.user, data["charger"], data["connector_id"])
        started = remote.follow(started, data["wait_s"])
        return Response(RemoteStartSerializer(started).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RemoteStopRequestSerializer, responses={201: CommandSerializer})
    @action(detail=False, methods=["post"])
    def stop(self, request: Request) -> Response:
        """Stop a session in progress (RemoteStopTransaction): your own, or any on chargers you
        operate."""
        serializer = RemoteStopRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        command = remote.stop_charging(request.user, serializer.validated_data["session"])
        if serializer.validated_data["wait_s"] and not command.is_final:
            command = routing.wait_for_command(command, serializer.validated_data["wait_s"])
        return Response(CommandSerializer(command).data, status=status.HTTP_201_CREATED)


class LocalListFilter(django_filters.FilterSet):
    installation = django_filters.NumberFilter(field_name="charger__installation")

    class Meta:
        model = LocalListState
        fields = ["installation", "charger", "status"]


class LocalListViewSet(TenantReadOnlyViewSet):
    """Where each charger's Local Authorization List stands (owners and installers)."""

    queryset = LocalListState.objects.all()
    serializer_class = LocalListStateSerializer
    filterset_class = LocalListFilter
    tenant_actions = {"sync": Action.OPERATE}

    @extend_schema(request=LocalListSyncSerializer, responses={202: None})
    @action(detail=False, methods=["post"])
    def sync(self, request: Request) -> Response:
        """Queue a sync of a charger's list now (a worker sends what differs)."""
        serializer = LocalListSyncSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        request_local_list_sync(
            [serializer.validated_data["charger"].pk],
            configure=serializer.validated_data["configure"],
        )
        return Response(status=status.HTTP_202_ACCEPTED)


class ReservationFilter(django_filters.FilterSet):
    installation = django_filters.NumberFilter(field_name="charger__installation")

    class Meta:
        model = Reservation
        fields = ["installation", "charger", "connector_id", "user", "status"]


class ReservationViewSet(
    AccessErrorsMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Connectors reserved for a driver (OCPP ReserveNow) until an expiry. Owners and installers
    reserve and see all of theirs; a driver sees the reservations held for them and may cancel
    them. ``status``: requested, active, rejected (``charger_answer`` says why), cancelled, used,
    expired."""

    queryset = Reservation.objects.select_related(
        "user", "created_by", "reserve_command__requested_by", "cancel_command__requested_by"
    )
    serializer_class = ReservationSerializer
    filterset_class = ReservationFilter
    tenant_actions = {"create": Action.VIEW, "cancel": Action.VIEW}

    @extend_schema(request=ReservationRequestSerializer, responses={201: ReservationSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Reserve a connector (0: any) of a charger for a member who may charge there, until
        ``expires_at`` (or ``duration_minutes`` from now; at most 24 h), and send ReserveNow.
        400 for an unknown connector, a past or too distant expiry, a driver who may not charge
        there, a card not registered for them here, or a connector already reserved; 403 for
        anyone but the installation's owners and installers."""
        serializer = ReservationRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reservation = reservations.reserve(
            request.user,
            data["charger"],
            data["connector_id"],
            data["user"],
            data["expires_at"],
            card=data["card"],
        )
        command = reservation.reserve_command
        if data["wait_s"] and command is not None and not command.is_final:
            routing.wait_for_command(command, data["wait_s"])
        reservation = self.get_queryset().get(pk=reservation.pk)
        return Response(ReservationSerializer(reservation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ReservationSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """End the reservation now and send CancelReservation (the driver it is for, or the
        installation's owners and installers). 400 when it has already ended."""
        reservation = reservations.cancel(request.user, self.get_object())
        return Response(ReservationSerializer(self.get_queryset().get(pk=reservation.pk)).data)
