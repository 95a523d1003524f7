"""Installations, circuits, members and invitations: tenant-scoped viewsets."""

from __future__ import annotations

from django.db.models import ProtectedError
from rest_framework import serializers

from installations import services
from installations.api.serializers import (
    CircuitSerializer,
    InstallationSerializer,
    InvitationSerializer,
    MembershipSerializer,
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

    def perform_destroy(self, instance: Installation) -> None:
        services.delete_installation(self.request.user, instance)


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
