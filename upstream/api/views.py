"""The upstream configuration over the API, below the installation and the charger it belongs to:

- ``/installations/{id}/upstream/``: the installation's settings (GET, PUT creates or replaces,
  PATCH, DELETE); ``/installations/{id}/upstream/status/``: every charger's link (GET).
- ``/chargers/{id}/upstream/``: the charger's override, same verbs (``enabled: false``: not
  bridged); ``/chargers/{id}/upstream/status/``; ``/chargers/{id}/upstream/test/`` (POST).

Owners and installers only, reads too (``Action.ADMINISTER`` through the tenancy gate: anyone
else, a read-only token or a token limited to other installations gets a 404). The password
is write-only. Every change is audited and reaches the bridge on commit (``upstream.services``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from chargers.models import Charger
from installations.models import Installation
from portal.api.viewsets import TenantViewSetMixin
from portal.tenancy import Action
from upstream import services
from upstream.api.serializers import (
    WRITABLE,
    ChargerStatusSerializer,
    ProbeResultSerializer,
    UpstreamSettingsSerializer,
)
from upstream.models import UpstreamSettings, effective_settings
from upstream.probe import ProbeResult, probe_connection

ALL_ADMINISTER = {
    name: Action.ADMINISTER
    for name in ("retrieve", "update", "partial_update", "destroy", "status", "test")
}


class NotBridged(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_bridged"
    default_detail = "This charger is not bridged: there is no upstream to test."


class _SettingsViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """A settings row below its owner (an installation or a charger), a singleton resource."""

    serializer_class = UpstreamSettingsSerializer
    tenant_actions = ALL_ADMINISTER

    def row_of(self, owner: Model) -> UpstreamSettings | None:
        raise NotImplementedError

    def new_row(self, owner: Model) -> UpstreamSettings:
        raise NotImplementedError

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = self.row_of(self.get_object())
        if row is None:
            raise NotFound("No upstream settings here.")
        return Response(UpstreamSettingsSerializer(row).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        owner = self.get_object()
        row = self.row_of(owner)
        created = row is None
        return self._write(request, row or self.new_row(owner), partial=False, created=created)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = self.row_of(self.get_object())
        if row is None:
            raise NotFound("No upstream settings here: PUT them first.")
        return self._write(request, row, partial=True, created=False)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = self.row_of(self.get_object())
        if row is None:
            raise NotFound("No upstream settings here.")
        services.delete_settings(row)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _write(
        self, request: Request, row: UpstreamSettings, *, partial: bool, created: bool
    ) -> Response:
        serializer = UpstreamSettingsSerializer(row, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        password = data.pop("password", None) or None
        if not partial:  # PUT: what is not given takes its default (the password is kept)
            fresh = UpstreamSettings()
            for name in WRITABLE:
                data.setdefault(name, getattr(fresh, name))
        for name, value in data.items():
            setattr(row, name, value)
        services.save_settings(row, password=password)  # ValidationError: 400 with fields
        answer = UpstreamSettingsSerializer(row).data
        return Response(answer, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class InstallationUpstreamViewSet(_SettingsViewSet):
    """An installation's upstream central system and what it may do (docs/upstream.md)."""

    queryset = Installation.objects.all()

    def row_of(self, owner: Model) -> UpstreamSettings | None:
        return (
            UpstreamSettings.objects.restrict(self.request.user, Action.ADMINISTER)
            .filter(installation=owner, charger__isnull=True)
            .first()
        )

    def new_row(self, owner: Model) -> UpstreamSettings:
        return UpstreamSettings(installation=owner)

    @extend_schema(responses={200: ChargerStatusSerializer(many=True)})
    def status(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every charger's upstream link (state, since, last message each way, queued count)."""
        installation = self.get_object()
        chargers = (
            Charger.objects.restrict(request.user, Action.ADMINISTER)
            .filter(installation=installation)
            .select_related("installation")
            .order_by("name", "id")
        )
        statuses = services.charger_statuses(chargers)
        return Response(ChargerStatusSerializer(statuses, many=True).data)


class ChargerUpstreamViewSet(_SettingsViewSet):
    """A charger's own upstream settings, replacing its installation's (``enabled: false``:
    the charger is not bridged)."""

    queryset = Charger.objects.select_related("installation")

    def row_of(self, owner: Model) -> UpstreamSettings | None:
        return (
            UpstreamSettings.objects.restrict(self.request.user, Action.ADMINISTER)
            .filter(charger=owner)
            .first()
        )

    def new_row(self, owner: Model) -> UpstreamSettings:
        assert isinstance(owner, Charger)
        return UpstreamSettings(installation=owner.installation, charger=owner)

    @extend_schema(responses={200: ChargerStatusSerializer})
    def status(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The charger's upstream link (state, since, last message each way, queued count)."""
        status_ = services.charger_statuses([self.get_object()])[0]
        return Response(ChargerStatusSerializer(status_).data)

    @extend_schema(request=None, responses={200: ProbeResultSerializer})
    def test(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Open a websocket to the charger's upstream URL (subprotocol ocpp1.6, its credentials
        and TLS settings, a short timeout) and close it: no OCPP message is sent. 409 when the
        charger is not bridged."""
        charger = self.get_object()
        row = effective_settings(charger)
        if row is None:
            raise NotBridged()
        return Response(_probe_json(probe_connection(row, charger)))


def _probe_json(result: ProbeResult) -> dict[str, Any]:
    return ProbeResultSerializer(
        {
            "ok": result.ok,
            "outcome": result.outcome.value,
            "detail": result.detail,
            "url": result.url,
            "duration_ms": result.duration_ms,
            "http_status": result.http_status,
        }
    ).data
