"""Installations, circuits, members and invitations: tenant-scoped viewsets."""

from __future__ import annotations

from django.db.models import ProtectedError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from installations import services
from installations.api.serializers import (
    AvailableCurrentSerializer,
    CircuitSerializer,
    InstallationSerializer,
    InvitationSerializer,
    MembershipSerializer,
    PendingInvitationSerializer,
)
from installations.models import Circuit, Installation, Invitation, Membership
from portal.api.viewsets import TenantModelViewSet
from portal.tenancy import Action


class InstallationViewSet(TenantModelViewSet):
    """Installations you are a member of. Creating one makes you its owner."""

    queryset = Installation.objects.all()
    serializer_class = InstallationSerializer
    search_fields = ["name", "address"]
    ordering_fields = ["name", "created_at"]
    filterset_fields = ["authorization_mode"]
    tenant_actions = {"available_current": Action.OPERATE}

    def perform_destroy(self, instance: Installation) -> None:
        services.delete_installation(self.request.user, instance)

    @extend_schema(request=AvailableCurrentSerializer, responses={200: AvailableCurrentSerializer})
    @action(detail=True, methods=["post"], url_path="available-current")
    def available_current(self, request: Request, pk: str | None = None) -> Response:
        """Report the current available per phase now (building meter, EMS); a new solve follows.

        ``null``/absent ``valid_until``: until the next report. Allowed to owners and installers,
        and to API tokens of users with those roles (e.g. a dedicated integration account).
        """
        installation = self.get_object()
        serializer = AvailableCurrentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        installation.available_current_a = serializer.validated_data["current_a"]
        installation.available_current_valid_until = serializer.validated_data.get("valid_until")
        installation.save(update_fields=["available_current_a", "available_current_valid_until"])
        return Response(serializer.data)


class CircuitViewSet(TenantModelViewSet):
    """The fuse tree: each installation's main fuse and the sub-circuits below it."""

    queryset = Circuit.objects.select_related("installation")
    serializer_class = CircuitSerializer
    filterset_fields = ["installation", "parent"]
    ordering_fields = ["name", "max_current_a"]

    def perform_destroy(self, instance: Circuit) -> None:
        if instance.is_main_fuse:
            raise serializers.ValidationError(
                "The main fuse cannot be deleted; change its rating instead."
            )
        try:
            instance.delete()
        except ProtectedError:
            raise serializers.ValidationError(
                "Chargers are connected to this circuit (or one below it); move them first."
            ) from None


class MembershipViewSet(TenantModelViewSet):
    """Members of installations; new members join through invitations."""

    queryset = Membership.objects.select_related("user", "installation")
    serializer_class = MembershipSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]
    filterset_fields = ["installation", "role"]

    # Leaving is allowed to every member (their own membership); the service checks the rest.
    tenant_actions = {"destroy": Action.VIEW}

    def perform_destroy(self, instance: Membership) -> None:
        services.remove_member(self.request.user, instance)


class InvitationViewSet(TenantModelViewSet):
    """Open and accepted invitations; create one to invite a person by e-mail, delete it to revoke."""

    queryset = Invitation.objects.select_related("installation", "invited_by")
    serializer_class = InvitationSerializer
    http_method_names = ["get", "post", "delete", "head", "options"]
    filterset_fields = ["installation", "role"]

    def perform_destroy(self, instance: Invitation) -> None:
        services.revoke_invitation(self.request.user, instance)


class MyInvitationsView(generics.ListAPIView):
    """Invitations addressed to your verified e-mail addresses that wait for your answer. Nothing
    is joined until you accept one (``POST .../<id>/accept/``); ``.../decline/`` says no."""

    serializer_class = PendingInvitationSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return services.pending_invitations(self.request.user)  # type: ignore[arg-type]


class AnswerInvitationView(generics.GenericAPIView):
    """Accept (you become a member with its role) or decline one of your pending invitations;
    someone else's invitation is a 404."""

    serializer_class = MembershipSerializer
    answer = "accept"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return services.pending_invitations(self.request.user)  # type: ignore[arg-type]

    @extend_schema(
        request=None,
        responses={200: MembershipSerializer},
        description="Accept: the new membership. Decline: the invitation, with `declined_at`.",
    )
    def post(self, request: Request, pk: int) -> Response:
        invitation = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            if self.answer == "decline":
                invitation = services.decline_invitation(invitation, request.user)  # type: ignore[arg-type]
                return Response(PendingInvitationSerializer(invitation).data)
            membership = services.accept_invitation(invitation, request.user)  # type: ignore[arg-type]
        except services.MembershipError as error:
            raise exceptions.ValidationError(str(error)) from None
        return Response(MembershipSerializer(membership).data)
