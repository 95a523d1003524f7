"""Incident pages: the incidents of an installation (a tab), and acknowledging one; and a
charger's timeline (``events.timeline``).

Owners and installers only (``Action.OPERATE``): drivers have no incidents. The charger page
shows the charger's own incidents through ``{% incidents_panel charger %}``
(``events.templatetags.events_ui``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views import View
from django.views.generic import DetailView, ListView

from chargers.models import Charger, ChargerEvent, ChargeSession
from events import incidents, timeline
from events.choices import IncidentKind
from events.forms import AcknowledgeForm
from events.models import Incident, IncidentCharger
from events.timeline import SHOW_LABELS, Show
from installations.views import InstallationObjectMixin, InstallationPageMixin
from portal.tenancy import Action
from portal.views import TenantMixin

PAGE_SIZE = 50
SHOWN_VALUES = frozenset(show.value for show in Show)


def with_members(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    members = IncidentCharger.objects.select_related("charger").order_by("started_at", "id")
    return queryset.select_related("acknowledged_by", "circuit").prefetch_related(
        Prefetch("members", queryset=members)
    )


class InstallationIncidentsView(InstallationPageMixin, ListView):
    """Offline and fault incidents of one installation, newest first; ``?state=open`` for those
    still going on, ``?kind=offline|fault|overload``."""

    model = Incident
    required_action = Action.OPERATE
    installation_action = Action.OPERATE
    template_name = "events/incidents.html"
    context_object_name = "incidents"
    paginate_by = PAGE_SIZE
    tab = "incidents"

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = queryset.filter(installation=self.installation)
        if self.request.GET.get("state") == "open":
            queryset = queryset.filter(ended_at__isnull=True)
        if (kind := self.request.GET.get("kind")) in IncidentKind.values:
            queryset = queryset.filter(kind=kind)
        return with_members(queryset)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            state=self.request.GET.get("state", ""),
            kind=self.request.GET.get("kind", ""),
            kinds=IncidentKind.choices,
            form=AcknowledgeForm(),
        )
        return context


class AcknowledgeIncidentView(TenantMixin, View):
    """POST: acknowledge an incident with an optional note; back to where it was listed."""

    model = Incident
    required_action = Action.OPERATE

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        incident = get_object_or_404(self.get_queryset(), pk=pk)
        form = AcknowledgeForm(request.POST, instance=Incident(note=incident.note))
        if form.is_valid():
            incidents.acknowledge(incident, request.user, form.cleaned_data["note"])  # type: ignore[arg-type]
            messages.success(request, f"Incident acknowledged: {incident.summary}")
        else:
            errors = "; ".join(error for errors in form.errors.values() for error in errors)
            messages.error(request, f"Not acknowledged: {errors}")
        return HttpResponseRedirect(self._back(request, incident))

    def _back(self, request: HttpRequest, incident: Incident) -> str:
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
            return target
        return reverse("events:installation_incidents", args=[incident.installation_id])


class ChargerTimelineView(InstallationObjectMixin, DetailView):
    """Everything about one charger in one list, newest first: connections with their reason,
    boots, statuses, faults, commands and answers, sessions; ``?show=`` filters (repeatable),
    ``?before=`` the keyset cursor. Owners and installers."""

    model = Charger
    required_action = Action.OPERATE
    template_name = "events/timeline.html"
    tab = "chargers"

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.distinct().select_related("installation")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        asked = {value for value in self.request.GET.getlist("show") if value in SHOWN_VALUES}
        shown = {Show(value) for value in asked} or set(Show)
        sources = timeline.Sources(
            log=self.restricted(ChargerEvent),
            # The Command model through the charger's relation: events sits below the command
            # path, which emits command events (tests/test_codebase.py: no import of commands).
            commands=self.restricted(self.object.commands.model),
            sessions=self.restricted(ChargeSession),
        )
        cursor = timeline.Cursor.parse(self.request.GET.get("before", ""))
        entries, next_cursor = timeline.page(self.object, shown, sources, cursor)
        query = [("show", value) for value in sorted(asked)]
        context.update(
            entries=entries,
            shown=shown,
            filters=[(show.value, label, show in shown) for show, label in SHOW_LABELS.items()],
            next_url=f"?{urlencode([*query, ('before', next_cursor)])}" if next_cursor else "",
            first_url=f"?{urlencode(query)}" if cursor else "",
        )
        return context
