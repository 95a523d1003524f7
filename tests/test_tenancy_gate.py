"""The one tenancy gate, checked generically: every tenant model, every API viewset, every action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIRequestFactory, force_authenticate

from accounts.models import User
from alerts.models import Subscription
from audit.models import AuditEntry
from auth_access.models import (
    AuthorizationRecord,
    ChargeCard,
    ChargerPermission,
    LocalListState,
    RemoteStart,
    Reservation,
    SeenCard,
)
from balancing.models import BalancingDecision
from chargers.models import ChargerEvent, ChargeSession
from chargers.models.session import SignedMeterValue
from commands.models import Command
from events.models import Event, Incident, IncidentCharger
from installations.models import Invitation, Membership
from modes.models import ChargerMode, ChargingWindow, SessionPlan, SurplusSettings, SurplusState
from portal.api.urls import router
from portal.api.viewsets import TenantViewSetMixin
from portal.tenancy import Action, TenantModel, TenantQuerySet, UnscopedQueryError
from tariffs.models import DayAheadPrice, Holiday, SessionCost, Tariff, TariffBand
from tests.conftest import World
from upstream.models import UpstreamLink, UpstreamSettings
from webhooks.models import Delivery, Endpoint

TENANT_MODELS = [m for m in apps.get_models() if issubclass(m, TenantModel)]


def test_every_api_viewset_goes_through_the_gate() -> None:
    for prefix, viewset, _ in router.registry:
        assert issubclass(viewset, TenantViewSetMixin), prefix
        assert isinstance(viewset.queryset, TenantQuerySet), prefix


@pytest.mark.django_db
def test_a_viewset_that_skips_restrict_fails_loudly(world: World) -> None:
    from installations.api.views import InstallationViewSet

    class Careless(InstallationViewSet):
        def get_queryset(self):  # type: ignore[no-untyped-def]
            return self.queryset.all()  # forgot restrict()

    request = APIRequestFactory().get("/api/v1/installations/")
    force_authenticate(request, user=world.alice)
    with pytest.raises(UnscopedQueryError):
        Careless.as_view({"get": "list"})(request)


def _populate_everything(world: World) -> None:
    """One object of every tenant model at both sites, so the generic check has something to find."""
    now = timezone.now()
    bea = User.objects.create_user(email="bea@example.com", password="x")
    bea_at_b = Membership.objects.create(
        user=bea, installation=world.site_b, role="driver", may_charge_everywhere=False
    )
    ChargerPermission.objects.create(membership=bea_at_b, charger=world.charger_b1)
    for charger, user in [(world.charger_a1, world.dora), (world.charger_b1, world.oscar)]:
        ChargeSession.objects.create(
            charger=charger, connector=charger.connectors.first(), id_tag=f"T{charger.pk}", user=user,
            started_at=now, meter_start_wh=0,
        )  # fmt: skip
        ChargeSession.objects.create(  # finished: a row of the daily usage rollup
            charger=charger, connector=charger.connectors.first(), id_tag=f"F{charger.pk}",
            user=user, status="completed", started_at=now - timedelta(hours=2),
            stopped_at=now - timedelta(hours=1), meter_start_wh=0, energy_wh=1000,
        )  # fmt: skip
        ChargerEvent.objects.create(charger=charger, kind="boot", timestamp=now, summary="boot")
        SignedMeterValue.objects.create(
            charger=charger, session=charger.sessions.first(), connector_id=1, timestamp=now,
            signed_data="OCMF|{}|{}", digest=f"{charger.pk:064d}",
        )  # fmt: skip
        Command.objects.create(charger=charger, action="Reset", payload={"type": "Soft"})
        ChargeCard.objects.create(id_tag=f"CARD{charger.pk}", user=user)
        Invitation.objects.create(
            installation=charger.installation, email=f"x{charger.pk}@example.com", role="driver"
        )
        BalancingDecision.objects.create(
            installation=charger.installation,
            trigger="manual",
            scenario={},
            result={},
            solve_ms=1.0,
        )
        # Access control (each installation's AccessPolicy is created with it).
        SeenCard.record(charger.pk, f"SEEN{charger.pk}", now)
        AuthorizationRecord.objects.create(
            installation=charger.installation, charger=charger, id_tag="X", user=user,
            trigger="authorize", status="Accepted", reason="test", source="local", latency_ms=1,
        )  # fmt: skip
        RemoteStart.objects.create(
            charger=charger, connector_id=1, user=user, id_tag="FBX", expires_at=now
        )
        LocalListState.objects.create(charger=charger)
        Reservation.objects.create(
            charger=charger, connector_id=1, user=user, id_tag="FBR", created_at=now,
            expires_at=now + timedelta(minutes=5),
        )  # fmt: skip
        Event.objects.create(
            installation=charger.installation, charger=charger, type="session.started",
            session=charger.sessions.first(), occurred_at=now, severity="info",
        )  # fmt: skip
        incident = Incident.objects.create(
            installation=charger.installation, kind="offline", started_at=now, summary="x"
        )
        IncidentCharger.objects.create(incident=incident, charger=charger, started_at=now)
        Subscription.objects.create(user=user, installation=charger.installation)
        endpoint = Endpoint.objects.create(
            installation=charger.installation, url=f"https://hooks{charger.pk}.example.com/"
        )
        Delivery.objects.create(
            endpoint=endpoint, event_type="webhook.test", message_id="msg_test", payload={}
        )
        AuditEntry.objects.create(
            installation=charger.installation, actor=user, via="web", action="changed",
            object_type="Circuit", object_id="1", object_repr="Row",
        )  # fmt: skip
        UpstreamSettings.objects.create(
            installation=charger.installation, url="wss://csms.example.com/ocpp"
        )
        UpstreamLink.objects.create(charger=charger, since=now)
        ChargerMode.objects.create(charger=charger, mode="surplus")
        SessionPlan.objects.create(charger=charger, session=charger.sessions.first())
        ChargingWindow.objects.create(
            installation=charger.installation, day_type="weekday", start_time="22:00",
            end_time="06:00",
        )  # fmt: skip
        SurplusSettings.objects.create(installation=charger.installation)
        SurplusState.objects.create(charger=charger)
        Holiday.objects.create(installation=charger.installation, date=now.date())
        tariff = Tariff.objects.create(
            installation=charger.installation, currency="EUR", effective_from=now
        )
        TariffBand.objects.create(
            tariff=tariff, day_type="weekday", start_time="07:00", end_time="22:00",
            price_per_kwh="0.32",
        )  # fmt: skip
        DayAheadPrice.objects.create(
            installation=charger.installation, start=now, end=now + timedelta(hours=1),
            price_per_kwh="0.10", currency="EUR",
        )  # fmt: skip
        SessionCost.objects.create(
            session=charger.sessions.filter(status="completed").first(), cost="1.00",
            currency="EUR", energy_wh=1000, stopped_at=now,
        )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("action", list(Action))
def test_no_persona_of_tenant_a_reaches_any_object_of_tenant_b(
    world: World, model: type, action: Action
) -> None:
    _populate_everything(world)
    if model is ChargeCard:
        # Cards belong to people, not sites: B's cards are those of B's members.
        foreign = model.objects.filter(user=world.oscar)
    else:
        lookup = model.installation_lookup("id") if model.tenancy_path else "id"
        foreign = model.objects.filter(**{lookup: world.site_b.pk})
    assert foreign.exists(), f"no {model.__name__} at site B to test with"
    for persona in ["alice", "ingrid", "dora", "dave"]:
        visible = model.objects.restrict(getattr(world, persona), action)
        assert not visible.filter(pk__in=foreign.values("pk")).exists(), (
            persona,
            model.__name__,
            action,
        )


@pytest.mark.django_db
@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m.__name__)
def test_anonymous_users_reach_nothing(world: World, model: type) -> None:
    from django.contrib.auth.models import AnonymousUser

    _populate_everything(world)
    assert not model.objects.restrict(AnonymousUser(), Action.VIEW).exists()


@pytest.mark.django_db
def test_a_superuser_reaches_every_site_but_only_their_own_personal_records(world: World) -> None:
    """Tokens, export jobs and alert subscriptions are a person's own, even for a superuser."""
    from accounts.models import ApiToken
    from reporting.models import ExportJob

    _populate_everything(world)
    root = User.objects.create_superuser(email="root@example.com", password="x")
    ApiToken.objects.create(user=world.alice, name="alice's", prefix="abc", key_hash="1" * 64)
    ExportJob.objects.create(
        requested_by=world.alice, source="history", format="csv", expires_at=timezone.now()
    )
    assert (
        Subscription.objects.exists() and ApiToken.objects.exists() and ExportJob.objects.exists()
    )
    for personal in (Subscription, ApiToken, ExportJob):
        for action in Action:
            assert not personal.objects.restrict(root, action).exists(), (personal, action)
    assert Event.objects.restrict(root, Action.VIEW).count() == Event.objects.count()
    assert ApiToken.objects.restrict(world.alice, Action.VIEW).count() == 1
