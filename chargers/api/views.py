"""Chargers: register (the OCPP password is returned once), configure, rotate credentials."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from chargers import services
from chargers.api.serializers import (
    ChargerSerializer,
    OcppCredentialsSerializer,
    RegisteredChargerSerializer,
)
from chargers.models import Charger
from commands import reserved, routing
from commands.choices import CommandSource
from commands.serializers import CommandRequestSerializer, CommandSerializer
from portal.api.viewsets import TenantModelViewSet
from portal.tenancy import Action


class CommandRefusedError(exceptions.APIException):
    """400 ``refused``: the command would undo what Fusebox keeps on the charger (recorded)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"


class ChargerViewSet(TenantModelViewSet):
    """Chargers you may see: all of your installations' as owner or installer, those you may use as driver."""

    queryset = Charger.objects.select_related("installation", "circuit").prefetch_related(
        "connectors"
    )
    serializer_class = ChargerSerializer
    filterset_fields = ["installation", "circuit", "is_online", "phases"]
    search_fields = ["name", "ocpp_identity", "serial_number"]
    ordering_fields = ["name", "last_seen_at", "priority"]

    tenant_actions = {"issue_command": Action.OPERATE}

    def get_serializer_class(self) -> type[BaseSerializer]:
        return RegisteredChargerSerializer if self.action == "create" else ChargerSerializer

    @extend_schema(responses={201: RegisteredChargerSerializer})
    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().create(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: OcppCredentialsSerializer})
    @action(detail=True, methods=["post"], url_path="ocpp-password")
    def rotate_ocpp_password(self, request: Request, pk: str | None = None) -> Response:
        """Generate a new OCPP password (the old one stops working); it is shown this once."""
        charger = self.get_object()
        password = services.rotate_ocpp_password(charger)
        body = {
            "ocpp_identity": charger.ocpp_identity,
            "ocpp_password": password,
            "ocpp_url": services.ocpp_url(charger),
        }
        return Response(body, status=status.HTTP_200_OK)

    @extend_schema(request=CommandRequestSerializer, responses={201: CommandSerializer})
    @action(detail=True, methods=["post"], url_path="commands")
    def issue_command(self, request: Request, pk: str | None = None) -> Response:
        """Send an OCPP command to the charger; optionally wait (``wait_s``) for its answer.

        The answer is 201 with the command's state: ``pending``/``sent`` while the charger has
        not answered, then ``accepted``, ``rejected``, ``failed`` (e.g. the charger is offline)
        or ``timed_out``. Follow it at ``/api/v1/commands/{id}/``. A command that would undo
        balancing, the failsafe profile or the synced access settings is refused: 400 with code
        ``refused`` and a message saying what to use instead (``commands/reserved.py``); it
        is recorded with status ``refused``.
        """
        charger = self.get_object()
        serializer = CommandRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            command = reserved.send_manual(
                charger, data["action"], data["payload"], user=request.user, source=CommandSource.API,
                timeout_s=data["timeout_s"],
            )  # fmt: skip
        except reserved.CommandRefused as refused:
            raise CommandRefusedError(refused.reason) from None
        if data["wait_s"] and not command.is_final:
            command = routing.wait_for_command(command, data["wait_s"])
        return Response(CommandSerializer(command).data, status=status.HTTP_201_CREATED)
