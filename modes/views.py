"""Charge-mode pages (docs/modes.md "Where to set it").

- The "Charging plan" panel of a charger page (``{% plan_panel charger %}``) and its page
  (``modes:plan``): a driver chooses Now or By departure for their session (or their next one
  on the charger) and sees the plan; a car waiting for its allowed hours says until when.
- My charging lists the plans of the user's running sessions (``{% my_plans %}``).
- The installation tab "Charging modes" (``modes:installation``, owners and installers): the
  chargers' default modes (set several at once), allowed hours with a week bar, per-charger
  hours, surplus settings, the live surplus and the cars in surplus mode.

Every object comes through ``restrict``; a driver plans only their own session (the service
says no to another driver's, and the page says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from commands import routing
from installations.views import InstallationPageMixin
from modes import readouts, services
from modes.choices import ChargeMode, DayType, PlanStatus
from modes.forms import ChargerModesForm, PlanForm, SurplusForm, WindowsForm, windows_text
from modes.models import ChargerMode, ChargingWindow, SessionPlan, SurplusSettings
from portal.tenancy import Action
from portal.views import TenantMixin

# The panel fetches itself again this often: soon while a plan waits for balancing's first
# solve, slowly while a session runs (the plan is recomputed at every solve).
PENDING_POLL_MS = 5_000
SESSION_POLL_MS = 60_000
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MINUTES_PER_DAY = 24 * 60


# --- the driver's panel --------------------------------------------------------------------


def _running_session(charger: Charger) -> ChargeSession | None:
    return (
        ChargeSession.objects.filter(charger=charger, status=SessionStatus.ACTIVE)
        .order_by("-started_at", "-id")
        .first()
    )


def _visible_plan(user: Any, plan: SessionPlan | None) -> SessionPlan | None:
    if plan is None:
        return None
    return SessionPlan.objects.restrict(user, Action.VIEW).filter(pk=plan.pk).first()


def waits_text(moment: datetime | None, time_zone: str, now: datetime) -> str:
    """ "waits until 22:00" (today), "until Sat 06:00" (another day)."""
    if moment is None:
        return ""
    zone = ZoneInfo(time_zone)
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return f"{local:%H:%M}"
    return f"{WEEKDAYS[local.weekday()]} {local:%H:%M}"


def plan_context(
    request: HttpRequest, charger: Charger, form: PlanForm | None = None
) -> dict[str, Any]:
    """What the panel shows to ``request.user`` about ``charger`` (reached through
    ``restrict`` by the caller, ``installation`` loaded)."""
    user = request.user
    now = timezone.now()
    session = _running_session(charger)
    operates = Charger.objects.restrict(user, Action.OPERATE).filter(pk=charger.pk).exists()
    own_session = session is not None and session.user_id == user.pk
    may_plan = operates or session is None or session.user_id in (None, user.pk)
    plan = services.current_plan(charger, now)
    shown = _visible_plan(user, plan)
    summary = readouts.summarize(shown, charger) if shown is not None else None
    reports_soc = routing.live_states([charger.pk])[charger.pk].soc_percent is not None
    if form is None:
        form = PlanForm(
            initial=_initial(shown, charger.installation.time_zone),
            time_zone=charger.installation.time_zone,
            reports_soc=reports_soc and session is not None,
        )
    waits = readouts.waits_until(charger, plan, now)
    poll_ms = None
    if shown is not None and shown.status == PlanStatus.PENDING and session is not None:
        poll_ms = PENDING_POLL_MS
    elif session is not None:
        poll_ms = SESSION_POLL_MS
    return {
        "charger": charger,
        "session": session,
        "own_session": own_session,
        "may_plan": may_plan,
        "plan": shown,
        "summary": summary,
        "default_mode": ChargeMode(services.charger_mode(charger)),
        "waits_until": waits_text(waits, charger.installation.time_zone, now),
        "never_opens": session is not None and readouts.never_opens(charger, plan),
        "form": form,
        "next": request.GET.get("next") or request.get_full_path(),
        "poll_ms": poll_ms,
    }


def _initial(plan: SessionPlan | None, time_zone: str) -> dict[str, Any]:
    if plan is None or plan.mode != ChargeMode.DEPARTURE or plan.departure_at is None:
        return {"mode": ChargeMode.DEPARTURE}
    return {
        "mode": plan.mode,
        "departure_time": plan.departure_at.astimezone(ZoneInfo(time_zone)).time(),
        "energy_need_kwh": plan.energy_need_wh / 1000 if plan.energy_need_wh else None,
        "target_soc_percent": plan.target_soc_percent,
    }


class _ChargerMixin(TenantMixin):
    """A charger the user may see (drivers: those they may charge on)."""

    model = Charger

    def charger(self) -> Charger:
        queryset = self.get_queryset().distinct().select_related("installation")
        return get_object_or_404(queryset, pk=self.kwargs["pk"])  # type: ignore[attr-defined]

    def back(self, charger: Charger) -> str:
        target = self.request.POST.get("next") or self.request.GET.get("next")  # type: ignore[attr-defined]
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
            return str(target)
        return reverse("chargers:detail", args=[charger.pk]) + "#plan"


class PlanView(_ChargerMixin, View):
    """Set how the session on a charger charges (Now, By departure), and see its plan."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        charger = self.charger()
        context = plan_context(request, charger)
        if request.GET.get("fragment"):  # the panel alone, for its polling (static/js/modes.js)
            context["fragment"] = True
            return render(request, "modes/_plan_panel.html", context)
        return render(request, "modes/plan.html", context)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        charger = self.charger()
        session = _running_session(charger)
        reports_soc = routing.live_states([charger.pk])[charger.pk].soc_percent is not None
        form = PlanForm(
            request.POST,
            time_zone=charger.installation.time_zone,
            reports_soc=reports_soc and session is not None,
        )
        if form.is_valid():
            try:
                services.set_session_plan(
                    charger,
                    by=request.user,  # type: ignore[arg-type]
                    **form.service_arguments(timezone.now()),
                )
            except PermissionDenied as error:
                messages.error(request, str(error) or "This is another driver's session.")
                return redirect(self.back(charger))
            except ValidationError as error:
                for name, problems in error.message_dict.items():
                    field = PlanForm.FIELD_OF.get(name)
                    form.add_error(field if field in form.fields else None, problems)
            else:
                done = "Charging at once." if form.cleaned_data["mode"] == ChargeMode.NOW else None
                messages.success(
                    request,
                    done
                    or (
                        "Departure set: the plan follows within a minute."
                        if session is not None
                        else "Departure set for your next session on this charger (plug in "
                        "within 30 minutes)."
                    ),
                )
                return redirect(self.back(charger))
        context = plan_context(request, charger, form)
        context["next"] = self.back(charger)
        return render(request, "modes/plan.html", context, status=400)


class ClearPlanView(_ChargerMixin, View):
    """Remove the plan of the session on a charger: it follows the charger's default again."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        charger = self.charger()
        plan = _visible_plan(request.user, services.current_plan(charger))
        if plan is None:
            messages.info(request, "There was no plan to remove.")
        else:
            try:
                services.clear_session_plan(plan, by=request.user)  # type: ignore[arg-type]
            except PermissionDenied as error:
                messages.error(request, str(error))
            else:
                messages.success(request, "Plan removed: the car charges in the default mode.")
        return redirect(self.back(charger))


@dataclass(frozen=True)
class MyPlanRow:
    charger: Charger
    session: ChargeSession | None
    summary: readouts.PlanSummary | None
    waits_until: str


def my_plan_rows(request: HttpRequest) -> list[MyPlanRow]:
    """The user's running sessions, and the plans they set for a next session, with where
    each stands (My charging)."""
    user = request.user
    now = timezone.now()
    sessions = (
        ChargeSession.objects.restrict(user, Action.VIEW)
        .filter(user=user, status=SessionStatus.ACTIVE)
        .select_related("charger__installation")
        .order_by("-started_at")
    )
    plans = {
        plan.session_id: plan
        for plan in SessionPlan.objects.restrict(user, Action.VIEW).filter(
            session__in=[session.pk for session in sessions]
        )
    }
    rows = []
    for session in sessions:
        charger = session.charger
        plan = plans.get(session.pk)
        rows.append(
            MyPlanRow(
                charger,
                session,
                readouts.summarize(plan, charger) if plan else None,
                waits_text(
                    readouts.waits_until(charger, plan, now), charger.installation.time_zone, now
                ),
            )
        )
    waiting = (
        SessionPlan.objects.restrict(user, Action.VIEW)
        .filter(set_by=user, session__isnull=True)
        .select_related("charger__installation")
    )
    for plan in waiting:
        if plan.claim_deadline() > now:
            rows.append(MyPlanRow(plan.charger, None, readouts.summarize(plan, plan.charger), ""))
    return rows


# --- the installation tab ------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    left: float  # % of the day
    width: float
    label: str


@dataclass(frozen=True)
class DayBar:
    name: str
    segments: list[Segment]


def week_bars(windows: list[ChargingWindow]) -> list[DayBar]:
    """Monday to Sunday, the allowed stretches of each day (a window past midnight continues on
    the next day's bar). Holidays count as weekend but are not drawn."""
    days: list[list[Segment]] = [[] for _ in WEEKDAYS]
    for window in windows:
        start = window.start_time.hour * 60 + window.start_time.minute
        end = window.end_time.hour * 60 + window.end_time.minute
        label = f"{window.start_time:%H:%M}-{window.end_time:%H:%M}"
        weekend = window.day_type == DayType.WEEKEND
        for day in range(7):
            if (day >= 5) != weekend:
                continue
            stop = end if end > start else MINUTES_PER_DAY
            days[day].append(_segment(start, stop, label))
            if end <= start and end > 0:
                days[(day + 1) % 7].append(_segment(0, end, label))
    return [
        DayBar(name, sorted(day, key=lambda s: s.left))
        for name, day in zip(WEEKDAYS, days, strict=True)
    ]


def _segment(start: int, stop: int, label: str) -> Segment:
    return Segment(
        round(start / MINUTES_PER_DAY * 100, 2),
        round((stop - start) / MINUTES_PER_DAY * 100, 2),
        label,
    )


@dataclass(frozen=True)
class ChargerRow:
    charger: Charger
    mode: ChargeMode
    own_hours: str


class InstallationModesView(InstallationPageMixin, TemplateView):
    """The "Charging modes" tab (owners and installers). POSTs carry ``form``: ``chargers``
    (default modes), ``hours`` (the installation's or ``?hours_for=`` a charger's) or
    ``surplus``; the page comes back with the errors of the one posted."""

    template_name = "modes/installation.html"
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    tab = "modes"

    @cached_property
    def chargers(self) -> QuerySet[Any]:
        return (
            self.restricted(Charger)
            .filter(installation=self.installation)
            .select_related("installation")
            .order_by("name", "id")
        )

    @cached_property
    def hours_charger(self) -> Charger | None:
        wanted = self.request.GET.get("hours_for", "")
        if not wanted.isdigit():
            return None
        return get_object_or_404(self.chargers, pk=int(wanted))

    def windows(self) -> list[ChargingWindow]:
        return list(
            self.restricted(ChargingWindow)
            .filter(installation=self.installation)
            .order_by("day_type", "start_time")
        )

    def surplus_row(self) -> SurplusSettings:
        row = self.restricted(SurplusSettings).filter(installation=self.installation).first()
        return row or SurplusSettings(installation=self.installation)

    def forms(self, posted: str | None = None) -> dict[str, Any]:
        data = self.request.POST if posted else None
        windows = [
            w for w in self.windows() if w.charger_id == getattr(self.hours_charger, "pk", None)
        ]
        surplus = self.surplus_row()
        return {
            "modes_form": ChargerModesForm(
                data if posted == "chargers" else None, chargers=self.chargers
            ),
            "hours_form": WindowsForm(
                data if posted == "hours" else None,
                initial={
                    "weekday": windows_text(windows, DayType.WEEKDAY),
                    "weekend": windows_text(windows, DayType.WEEKEND),
                },
            ),
            "surplus_form": SurplusForm(
                data if posted == "surplus" else None,
                initial={
                    "start_after_minutes": surplus.start_after_minutes,
                    "stop_after_minutes": surplus.stop_after_minutes,
                    "one_phase_at_low_surplus": surplus.one_phase_at_low_surplus,
                },
            ),
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if "modes_form" not in context:
            context.update(self.forms())
        windows = self.windows()
        chargers = list(self.chargers)
        defaults = dict(
            self.restricted(ChargerMode)
            .filter(charger__in=chargers)
            .values_list("charger_id", "mode")
        )
        own = {
            charger.pk: [w for w in windows if w.charger_id == charger.pk] for charger in chargers
        }
        context["rows"] = [
            ChargerRow(
                charger,
                ChargeMode(defaults.get(charger.pk, ChargeMode.NOW)),
                ", ".join(
                    f"{w.get_day_type_display()} {w.start_time:%H:%M}-{w.end_time:%H:%M}"
                    for w in own[charger.pk]
                ),
            )
            for charger in chargers
        ]
        installation_windows = [w for w in windows if w.charger_id is None]
        context["week"] = week_bars(installation_windows)
        context["has_hours"] = bool(installation_windows)
        context["charger_weeks"] = [
            (charger, week_bars(own[charger.pk])) for charger in chargers if own[charger.pk]
        ]
        context["hours_charger"] = self.hours_charger
        surplus = self.surplus_row()
        context["surplus"] = surplus
        context["live_surplus_a"] = surplus.live_surplus_a(timezone.now())
        context["surplus_cars"] = readouts.surplus_cars(self.installation, self.chargers)
        context["mode_choices"] = ChargeMode
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        posted = request.POST.get("form", "")
        if posted not in ("chargers", "hours", "surplus"):
            messages.error(request, "Unknown form.")
            return redirect(reverse("modes:installation", args=[self.installation.pk]))
        forms = self.forms(posted)
        form = forms[
            {"chargers": "modes_form", "hours": "hours_form", "surplus": "surplus_form"}[posted]
        ]
        if form.is_valid():
            try:
                done = getattr(self, f"save_{posted}")(form)
            except ValidationError as error:
                for name, problems in error.message_dict.items():
                    form.add_error(name if name in form.fields else None, problems)
            else:
                messages.success(request, done)
                target = reverse("modes:installation", args=[self.installation.pk])
                if posted == "hours" and self.hours_charger is not None:
                    target += f"?hours_for={self.hours_charger.pk}"
                return redirect(f"{target}#{posted}")
        return self.render_to_response(self.get_context_data(**forms), status=400)

    def save_chargers(self, form: ChargerModesForm) -> str:
        mode = form.cleaned_data["mode"]
        chosen = list(form.cleaned_data["chargers"])
        for charger in chosen:
            services.set_charger_mode(charger, mode, by=self.request.user)  # type: ignore[arg-type]
        names = ", ".join(charger.name for charger in chosen)
        return f"{ChargeMode(mode).label} is now the default on {names}."

    def save_hours(self, form: WindowsForm) -> str:
        services.save_windows(self.installation, form.specs(), charger=self.hours_charger)
        whose = self.hours_charger.name if self.hours_charger else "the installation"
        if not form.specs():
            return f"Allowed hours of {whose} removed."
        return f"Allowed hours of {whose} saved."

    def save_surplus(self, form: SurplusForm) -> str:
        services.save_surplus_settings(self.installation, **form.cleaned_data)
        return "Surplus settings saved."
