"""Chargers: register (the OCPP password is returned once), configure, rotate credentials."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
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
from portal.api.viewsets import TenantModelViewSet


class ChargerViewSet(TenantModelViewSet):
    """Chargers you may see: all of your installations' as owner or installer, those you may use as driver."""

    queryset = Charger.objects.select_related("installation", "circuit").prefetch_related(
        "connectors"
    )
    serializer_class = ChargerSerializer
    filterset_fields = ["installation", "circuit", "is_online", "phases"]
    search_fields = ["name", "ocpp_identity", "serial_number"]
    ordering_fields = ["name", "last_seen_at", "priority"]

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
