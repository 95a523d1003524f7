"""``/api/v1/webhooks/``: endpoints, their delivery log, redelivery, a test message."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from portal.api.viewsets import TenantModelViewSet
from portal.tenancy import Action
from webhooks import services
from webhooks.api.serializers import (
    CreatedEndpointSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
    EndpointSerializer,
    SecretSerializer,
)
from webhooks.choices import DeliveryStatus
from webhooks.models import Delivery, Endpoint


class EndpointViewSet(TenantModelViewSet):
    """Webhook endpoints of the installations you administer (owners and installers).

    Creating one answers its ``secret`` (``whsec_...``) once; ``rotate-secret`` makes a new
    one. Deliveries follow the Standard Webhooks specification (docs/webhooks.md)."""

    queryset = Endpoint.objects.select_related("installation", "created_by")
    serializer_class = EndpointSerializer
    filterset_fields = ["installation", "enabled"]
    ordering_fields = ["created_at", "id"]
    # Endpoints and their log are for the people who administer the installation, reads too.
    tenant_actions = {
        "list": Action.ADMINISTER,
        "retrieve": Action.ADMINISTER,
        "deliveries": Action.ADMINISTER,
    }

    def get_serializer_class(self) -> type[BaseSerializer]:
        return CreatedEndpointSerializer if self.action == "create" else EndpointSerializer

    @extend_schema(responses={201: CreatedEndpointSerializer})
    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().create(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: SecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """A new secret; the old one stops signing at once. Shown this once."""
        endpoint = self.get_object()
        return Response({"secret": services.rotate_secret(endpoint)})

    @extend_schema(
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=DeliveryStatus.values)],
        responses={200: DeliverySerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="deliveries", filter_backends=[])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        """The delivery log, newest first; ``?status=`` pending, failed, succeeded, gave_up."""
        endpoint = self.get_object()
        filters = DeliveryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        log: QuerySet[Delivery] = Delivery.objects.restrict(request.user, Action.ADMINISTER).filter(
            endpoint=endpoint
        )
        if "status" in filters.validated_data:
            log = log.filter(status=filters.validated_data["status"])
        page = self.paginate_queryset(log.order_by("-id"))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: DeliverySerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_id>[0-9]+)/redeliver",
    )
    def redeliver(self, request: Request, pk: str | None = None, delivery_id: str = "") -> Response:
        """Send one delivery again now, with the same ``webhook-id`` (the receiver dedups);
        the answer is the delivery after the attempt (or still pending when a send is under
        way to this endpoint)."""
        endpoint = self.get_object()
        log = Delivery.objects.restrict(request.user, Action.ADMINISTER).filter(endpoint=endpoint)
        delivery = get_object_or_404(log, pk=delivery_id)
        return Response(DeliverySerializer(services.redeliver(delivery)).data)

    @extend_schema(request=None, responses={201: DeliverySerializer})
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request: Request, pk: str | None = None) -> Response:
        """Send a ``webhook.test`` message now, signed like every delivery; the answer is its
        delivery (status, response code, excerpt)."""
        endpoint = self.get_object()
        delivery = services.send_test(endpoint)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_201_CREATED)
