"""Charge modes over the API (docs/modes.md), below the charger, session and installation:

- ``/chargers/{id}/mode/``: the charger's default mode (GET; PUT: owners and installers).
- ``/chargers/{id}/plan/``: the plan of the session running on the charger, or of the next one
  (GET, PUT sets or replaces it, DELETE); ``/sessions/{id}/plan/``: one session's plan (the
  same verbs; PUT and DELETE while it runs).
- ``/installations/{id}/charging-windows/``: allowed hours (GET; PUT replaces the set of the
  installation or of one charger: owners and installers).
- ``/installations/{id}/surplus/``: surplus rules, the live reading and the cars in surplus mode
  (GET and PUT: owners and installers); POST reports a reading (like ``available-current``).

Every object is reached through ``restrict(user, action)``; another tenant's is a 404. A driver
plans only the sessions that are theirs: another driver's session is not found through
``/sessions/``, and refused (403) through the charger's ``plan``. Every rule is
``modes.services``' and answers 400 with the field it is about.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from installations.models import Circuit, Installation
from modes import readouts, services
from modes.api.serializers import (
    ChargerModeSerializer,
    ChargingWindowSerializer,
    ChargingWindowsInputSerializer,
    SessionPlanInputSerializer,
    SessionPlanSerializer,
    SurplusReportSerializer,
    SurplusSerializer,
    SurplusSettingsInputSerializer,
)
from modes.models import ChargingWindow, SessionPlan, SurplusSettings
from portal.api.viewsets import TenantViewSetMixin
from portal.tenancy import Action


def _charger_mode_body(charger: Charger) -> dict[str, Any]:
    return {
        "charger": charger.pk,
        "mode": services.charger_mode(charger),
        "waits_until": readouts.waits_until(charger, None),
    }


class ChargerModeViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """A charger's default charge mode: ``now``, ``scheduled`` or ``surplus`` (By departure is
    set per session, as a plan). Everyone who sees the charger reads it; owners and installers
    set it."""

    queryset = Charger.objects.select_related("installation")
    serializer_class = ChargerModeSerializer
    tenant_actions = {"retrieve": Action.VIEW, "update": Action.ADMINISTER}

    def get_queryset(self) -> QuerySet[Any]:
        return super().get_queryset().distinct()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(ChargerModeSerializer(_charger_mode_body(self.get_object())).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Set the charger's default mode; a new balancing solve follows."""
        charger = self.get_object()
        serializer = ChargerModeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.set_charger_mode(charger, serializer.validated_data["mode"], by=request.user)  # type: ignore[arg-type]
        return Response(ChargerModeSerializer(_charger_mode_body(charger)).data)


class _PlanViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """A plan below its charger or session: a singleton resource."""

    serializer_class = SessionPlanSerializer
    # Drivers plan their own sessions: the service tells theirs from another driver's.
    tenant_actions = {"retrieve": Action.VIEW, "update": Action.VIEW, "destroy": Action.VIEW}

    def get_queryset(self) -> QuerySet[Any]:
        return super().get_queryset().distinct()

    def plan_of(self, owner: Any) -> SessionPlan | None:
        raise NotImplementedError

    def charger_of(self, owner: Any) -> Charger:
        raise NotImplementedError

    def _visible(self, plan: SessionPlan | None) -> SessionPlan | None:
        if plan is None:
            return None
        return (
            SessionPlan.objects.restrict(self.request.user, Action.VIEW)
            .select_related("charger__installation")
            .filter(pk=plan.pk)
            .first()
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        plan = self._visible(self.plan_of(self.get_object()))
        if plan is None:
            raise exceptions.NotFound("No plan here.")
        return Response(SessionPlanSerializer(plan).data)

    @extend_schema(request=SessionPlanInputSerializer, responses={200: SessionPlanSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Set the mode of the session (for By departure: the departure and the need), replacing
        its plan; a new balancing solve computes the plan. With no car plugged in, the plan
        waits for the next session on the charger (30 minutes)."""
        owner = self.get_object()
        serializer = SessionPlanInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.check_owner(owner)
        plan = services.set_session_plan(  # another driver's session: 403 with the reason
            self.charger_of(owner),
            by=request.user,  # type: ignore[arg-type]
            **serializer.validated_data,
        )
        plan = SessionPlan.objects.select_related("charger__installation").get(pk=plan.pk)
        return Response(SessionPlanSerializer(plan).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Remove the plan: the session follows its charger's default mode again."""
        owner = self.get_object()
        plan = self._visible(self.plan_of(owner))
        if plan is None:
            raise exceptions.NotFound("No plan here.")
        services.clear_session_plan(plan, by=request.user)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)

    def check_owner(self, owner: Any) -> None:
        """Refuse a plan on what cannot take one (an ended session)."""


class ChargerPlanViewSet(_PlanViewSet):
    """The plan of the session running on a charger, or of the next session there. A driver may
    plan the chargers they may charge on, for their own session (another driver's: 403)."""

    queryset = Charger.objects.select_related("installation")

    def plan_of(self, owner: Any) -> SessionPlan | None:
        return services.current_plan(owner)

    def charger_of(self, owner: Any) -> Charger:
        return owner  # type: ignore[no-any-return]


class SessionPlanViewSet(_PlanViewSet):
    """One session's plan. Drivers reach their own sessions only (another's is not found)."""

    queryset = ChargeSession.objects.select_related("charger__installation")

    def plan_of(self, owner: Any) -> SessionPlan | None:
        return SessionPlan.objects.filter(session=owner).first()

    def charger_of(self, owner: Any) -> Charger:
        return owner.charger  # type: ignore[no-any-return]

    def check_owner(self, owner: Any) -> None:
        if owner.status != SessionStatus.ACTIVE:
            raise exceptions.ValidationError({"session": ["The session has ended."]})
        running = (
            ChargeSession.objects.filter(charger_id=owner.charger_id, status=SessionStatus.ACTIVE)
            .order_by("-started_at", "-id")
            .values_list("pk", flat=True)
            .first()
        )
        if running != owner.pk:
            raise exceptions.ValidationError(
                {"session": ["A later session runs on this charger; plan that one."]}
            )


class ChargingWindowsViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """An installation's allowed charging hours (Scheduled mode) and its chargers' own.
    Members read them; owners and installers replace a set."""

    queryset = Installation.objects.all()
    serializer_class = ChargingWindowSerializer
    tenant_actions = {"list": Action.VIEW, "update": Action.ADMINISTER}

    def _windows(self, installation: Installation) -> QuerySet[Any]:
        return ChargingWindow.objects.restrict(self.request.user, Action.VIEW).filter(
            installation=installation
        )

    @extend_schema(responses={200: ChargingWindowSerializer(many=True)})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every window of the installation, the installation's (``charger`` null) first."""
        rows = self._windows(self.get_object()).order_by(
            "charger_id", "day_type", "start_time", "id"
        )
        return Response(ChargingWindowSerializer(rows, many=True).data)

    @extend_schema(
        request=ChargingWindowsInputSerializer, responses={200: ChargingWindowSerializer(many=True)}
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replace the windows of the installation (``charger`` null) or of one charger."""
        installation = self.get_object()
        serializer = ChargingWindowsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        charger = None
        charger_id = serializer.validated_data["charger"]
        if charger_id is not None:
            charger = (
                Charger.objects.restrict(request.user, Action.ADMINISTER)
                .filter(installation=installation, pk=charger_id)
                .first()
            )
            if charger is None:
                raise exceptions.ValidationError({"charger": ["No such charger here."]})
        specs = [
            services.WindowSpec(row["day_type"], row["start_time"], row["end_time"])
            for row in serializer.validated_data["windows"]
        ]
        services.save_windows(installation, specs, charger=charger)
        rows = (
            self._windows(installation).filter(charger=charger).order_by("day_type", "start_time")
        )
        return Response(ChargingWindowSerializer(rows, many=True).data)


class SurplusViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """An installation's surplus rules and live reading (owners and installers), and the
    reading's report from a building meter or energy manager (POST, like
    ``available-current``: owners, installers and their API tokens)."""

    queryset = Installation.objects.all()
    serializer_class = SurplusSerializer
    tenant_actions = {
        "retrieve": Action.VIEW,
        "update": Action.ADMINISTER,
        "create": Action.OPERATE,
    }

    def _answer(self, installation: Installation, row: SurplusSettings | None) -> Response:
        row = row or SurplusSettings(installation=installation)
        chargers = Charger.objects.restrict(self.request.user, Action.VIEW)
        cars = readouts.surplus_cars(installation, chargers)
        return Response(SurplusSerializer(row, context={"cars": cars}).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        installation = self.get_object()
        # Owners and installers only (with read-only tokens too): what they reach by role,
        # like the fuse tree, which drivers do not.
        if (
            not Circuit.objects.restrict(request.user, Action.VIEW)
            .filter(installation=installation)
            .exists()
        ):
            raise exceptions.NotFound("Not found.")
        row = (
            SurplusSettings.objects.restrict(request.user, Action.VIEW)
            .filter(installation=installation)
            .first()
        )
        return self._answer(installation, row)

    @extend_schema(request=SurplusSettingsInputSerializer, responses={200: SurplusSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Set how surplus-mode cars start and stop (minutes, 0-240)."""
        installation = self.get_object()
        serializer = SurplusSettingsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services.save_surplus_settings(installation, **serializer.validated_data)
        return self._answer(installation, row)

    @extend_schema(request=SurplusReportSerializer, responses={200: SurplusSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Report the surplus now (A per phase); it applies until ``valid_until`` (default 5
        minutes), then counts as zero. A new solve follows."""
        installation = self.get_object()
        serializer = SurplusReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services.report_surplus(
            installation,
            serializer.validated_data["surplus_a"],
            valid_until=serializer.validated_data["valid_until"],
        )
        return self._answer(installation, row)
