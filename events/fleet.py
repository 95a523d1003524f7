"""The fleet read model: every installation a user serves, with its health, worst first.

One row per installation the user may administer (owners and installers; drivers have none),
annotated in ONE query whatever the number of sites: correlated aggregates per installation
(chargers online / offline / faulted / charging, the latest contact, open incidents), so sorting,
filtering and paging happen in PostgreSQL and a page of 50 rows out of 1,000 costs the same as
one of 5. The chargers' state is the one the installations list reads (``Charger.is_online``,
``Connector.status``, kept by the bridge); the subqueries are scoped by the installation, which
went through ``restrict``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Count, Exists, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from chargers.choices import ConnectorStatus
from chargers.models import Charger, Connector
from events.models import Incident
from installations.models import Installation
from portal.tenancy import Action

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class FleetSort(models.TextChoices):
    WORST = "worst", "Worst first"
    NAME = "name", "Name"
    OFFLINE = "offline", "Most offline"


ORDERINGS: dict[str, tuple[str, ...]] = {
    FleetSort.WORST: (
        "-fleet_faulted",
        "-fleet_offline",
        "-fleet_open_incidents",
        "fleet_oldest_incident_at",
        "name",
        "id",
    ),
    FleetSort.NAME: ("name", "id"),
    FleetSort.OFFLINE: ("-fleet_offline", "-fleet_faulted", "name", "id"),
}


def _per_installation(queryset: QuerySet[Any], value: Any, field: Any = None) -> Subquery:
    """``value`` (an aggregate) of ``queryset``'s rows of the outer installation."""
    grouped = (
        queryset.filter(installation=OuterRef("pk"))
        .order_by()
        .values("installation")
        .annotate(value=value)
        .values("value")
    )
    return Subquery(grouped, output_field=field or IntegerField())


def _count(queryset: QuerySet[Any]) -> Coalesce:
    return Coalesce(_per_installation(queryset, Count("pk")), 0)


def annotate(installations: QuerySet[Installation]) -> QuerySet[Installation]:
    """``installations`` with the fleet columns (``fleet_*``)."""
    with_status = Connector.objects.filter(charger=OuterRef("pk"))
    chargers = Charger.objects.all()
    faulted = chargers.filter(Exists(with_status.filter(status=ConnectorStatus.FAULTED)))
    charging = chargers.filter(Exists(with_status.filter(status=ConnectorStatus.CHARGING)))
    open_incidents = Incident.objects.filter(ended_at__isnull=True)
    return installations.annotate(
        fleet_chargers=_count(chargers),
        fleet_online=_count(chargers.filter(is_online=True)),
        fleet_offline=_count(chargers.filter(is_online=False)),
        fleet_faulted=_count(faulted),
        fleet_charging=_count(charging),
        fleet_last_contact=_per_installation(chargers, Max("last_seen_at"), models.DateTimeField()),
        fleet_open_incidents=_count(open_incidents),
        fleet_unacknowledged=_count(open_incidents.filter(acknowledged_at__isnull=True)),
        fleet_oldest_incident_at=_per_installation(
            open_incidents, Min("started_at"), models.DateTimeField()
        ),
    )


def fleet(
    user: AbstractBaseUser | AnonymousUser,
    *,
    query: str = "",
    problems_only: bool = False,
    sort: str = FleetSort.WORST,
) -> QuerySet[Installation]:
    """The installations ``user`` serves (may administer), annotated, filtered and sorted.

    ``query`` searches names; ``problems_only`` keeps sites with a charger offline or faulted
    or an open incident; ``sort`` is a ``FleetSort`` (unknown values sort worst first)."""
    installations = served_by(user)
    if query:
        installations = installations.filter(name__icontains=query.replace("\x00", ""))
    rows = annotate(installations)
    if problems_only:
        rows = rows.filter(
            Q(fleet_offline__gt=0) | Q(fleet_faulted__gt=0) | Q(fleet_open_incidents__gt=0)
        )
    return rows.order_by(*ORDERINGS.get(sort, ORDERINGS[FleetSort.WORST]))


def served_by(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Installation]:
    """The installations ``user`` may view and administers (owner or installer; staff: all).

    Viewed, then narrowed to the roles that administer, rather than ``restrict(ADMINISTER)``:
    the fleet only reads, so a read-only API token lists the same sites as the user."""
    from installations.choices import roles_allowed
    from installations.models import Membership

    installations = Installation.objects.restrict(user, Action.VIEW)
    if user.is_superuser:
        return installations
    roles = roles_allowed(Action.ADMINISTER)
    mine = Membership.objects.filter(user_id=user.pk, role__in=roles).values("installation_id")
    return installations.filter(pk__in=mine)


def serves_any(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether ``user`` administers at least one installation (the fleet link shows)."""
    return served_by(user).exists()
