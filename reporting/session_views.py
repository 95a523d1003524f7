"""Web pages of one session in full: from an installation's History tab (owners, installers, a
driver's own) and from My charging (a driver's own, also at an installation they have left).
Another's session is a 404 (``restrict`` first, then the page's own scope). Its signed meter
values download as verbatim text or the transparency software's XML."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views import View
from django.views.generic import TemplateView

from chargers.models import ChargeSession
from installations.views import InstallationPageMixin
from portal.tenancy import Action
from portal.views import TenantMixin
from reporting.charts import bar_chart, line_chart
from reporting.detail import SessionDetail, session_detail, signed_values
from reporting.queries import with_facts
from reporting.signed import signed_text, signed_xml
from tariffs.choices import PriceSource
from tariffs.models import SessionCost

HOUR_STEP = timedelta(hours=1)


class SessionDetailMixin(TenantMixin):
    """A session the user may see, in full (``detail.session_detail``); another's is a 404."""

    template_name = "reporting/session.html"

    def session_scope(self) -> QuerySet[ChargeSession]:
        raise NotImplementedError

    def get_session(self) -> ChargeSession:
        sessions = with_facts(self.session_scope()).select_related(
            "connector", "charger", "charger__installation", "user", "card"
        )
        return get_object_or_404(sessions, pk=self.kwargs["session_pk"])  # type: ignore[attr-defined]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        detail = session_detail(self.get_session(), self.request.user)  # type: ignore[attr-defined]
        context.update(session_context(detail))
        context["cost_slots"] = cost_slots(detail, self.request.user)  # type: ignore[attr-defined]
        context["signed_urls"] = {
            ext: self.request.path + f"signed.{ext}"  # type: ignore[attr-defined]
            for ext in SIGNED_TYPES
        }
        return context


SIGNED_TYPES = {"txt": "text/plain; charset=utf-8", "xml": "application/xml; charset=utf-8"}


def signed_download(session: ChargeSession, viewer: Any, ext: str) -> HttpResponse:
    """The session's signed meter values as a file: verbatim lines (txt) or the transparency
    software's XML; 404 when there are none (or ``ext`` is neither)."""
    if ext not in SIGNED_TYPES:
        raise Http404("Unknown file type.")
    values = list(signed_values(session, viewer))
    if not values:
        raise Http404("This session has no signed meter values.")
    body = signed_text(values) if ext == "txt" else signed_xml(values, session.pk)
    response = HttpResponse(body, content_type=SIGNED_TYPES[ext])
    response["Content-Disposition"] = f'attachment; filename="session-{session.pk}-signed.{ext}"'
    return response


class SignedDownloadMixin(SessionDetailMixin):
    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        return signed_download(self.get_session(), request.user, kwargs["ext"])


def session_context(detail: SessionDetail) -> dict[str, Any]:
    zone = detail.zone
    session = detail.session
    energy = [(t, wh / 1000) for t, wh in detail.curve.points]
    power = [(t, w / 1000) for t, w in detail.power]
    repeated = Counter(f"{t.astimezone(zone):%H:%M}" for t, _ in detail.hours)
    hour_points = []
    for start, wh in detail.hours:
        local = start.astimezone(zone)
        label = f"{local:%H:%M}"
        if repeated[label] > 1:
            label = f"{label} ({local:%z})"
        hour_points.append((label, wh / 1000))
    many_days = len({t.astimezone(zone).date() for t, _ in detail.hours}) > 1
    if many_days:
        hour_points = [
            (f"{start.astimezone(zone):%d %b} {label}", kwh)
            for (start, _), (label, kwh) in zip(detail.hours, hour_points, strict=True)
        ]
    # The charts escape every label they write.
    return {
        "session": session,
        "detail": detail,
        "zone_name": str(zone),
        "energy_chart": mark_safe(
            line_chart(energy, "kWh", "Energy delivered (kWh)", zone, area=True)
        ),
        "power_chart": mark_safe(line_chart(power, "kW", "Power (kW)", zone)),
        "hours_chart": mark_safe(bar_chart(hour_points, "kWh", "Energy per hour (kWh)"))
        if hour_points
        else None,
        "hour_rows": [
            (start.astimezone(zone), start.astimezone(zone) + HOUR_STEP, wh)
            for start, wh in detail.hours
        ],
    }


@dataclass(frozen=True)
class CostSlot:
    """One price slot of a session priced slot by slot, in the installation's time zone."""

    start: datetime
    end: datetime
    energy_wh: int
    price_per_kwh: Decimal
    currency: str
    source: str
    cost: Decimal


def cost_slots(detail: SessionDetail, viewer: Any) -> list[CostSlot]:
    """The slots of the session's stored cost (``tariffs.SessionCost``), when it was priced slot
    by slot; empty under a flat price (its one line is the Cost figure)."""
    priced = (
        SessionCost.objects.restrict(viewer, Action.VIEW)
        .filter(session=detail.session, cost__isnull=False)
        .first()
    )
    if priced is None:
        return []
    zone = detail.zone
    return [
        CostSlot(
            datetime.fromisoformat(slot["start"]).astimezone(zone),
            datetime.fromisoformat(slot["end"]).astimezone(zone),
            int(slot["energy_wh"]),
            Decimal(str(slot["price_per_kwh"])),
            slot["currency"],
            PriceSource(slot["source"]).label,
            Decimal(str(slot["cost"])).quantize(Decimal("0.01")),
        )
        for slot in priced.slots
        if slot.get("price_per_kwh") is not None
    ]


class InstallationSessionView(SessionDetailMixin, InstallationPageMixin, TemplateView):
    """A session of this installation (owners and installers; a driver: their own)."""

    tab = "history"

    def session_scope(self) -> QuerySet[ChargeSession]:
        return self.restricted(ChargeSession).filter(charger__installation=self.installation)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["crumb"] = f"Session {context['session'].pk}"
        context["back_url"] = reverse("reporting:history", args=[self.installation.pk])
        return context


class MySessionView(SessionDetailMixin, TemplateView):
    """One of your own sessions, from My charging (also at an installation you have left)."""

    def session_scope(self) -> QuerySet[ChargeSession]:
        return self.restricted(ChargeSession).filter(user=self.request.user)  # type: ignore[attr-defined]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["nav_section"] = "charging"
        context["back_url"] = reverse("reporting:my_charging")
        return context


class InstallationSessionSignedView(SignedDownloadMixin, InstallationPageMixin, View):
    def session_scope(self) -> QuerySet[ChargeSession]:
        return self.restricted(ChargeSession).filter(charger__installation=self.installation)


class MySessionSignedView(SignedDownloadMixin, View):
    def session_scope(self) -> QuerySet[ChargeSession]:
        return self.restricted(ChargeSession).filter(user=self.request.user)  # type: ignore[attr-defined]
