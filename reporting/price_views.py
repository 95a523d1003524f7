"""An installation's price on its History tab: the card's context, a new price, a cancelled one."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import (
    HttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views import View
from django.views.generic import FormView

from installations.views import InstallationPageMixin
from portal.tenancy import Action
from reporting import services
from reporting.forms import (
    PriceForm,
)
from reporting.models import PricePeriod


def price_context(installation: Any, restricted: Any) -> dict[str, Any]:
    now = timezone.now()
    periods = restricted(PricePeriod, Action.VIEW).filter(installation=installation)
    in_force = periods.filter(effective_from__lte=now).order_by("-effective_from").first()
    return {
        "price_now": in_force,
        "prices_scheduled": list(periods.filter(effective_from__gt=now).order_by("effective_from")),
        "prices_past": list(
            periods.filter(effective_from__lte=now).order_by("-effective_from")[1:6]
        ),
        "price_form": PriceForm(
            initial={
                "price_per_kwh": in_force.price_per_kwh if in_force else None,
                "currency": in_force.currency if in_force else installation.currency,
            }
        ),
    }


class PriceCreateView(InstallationPageMixin, FormView):
    """A new price from a chosen time (owners and installers); history is never rewritten."""

    form_class = PriceForm
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    template_name = "reporting/price_form.html"
    tab = "history"

    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        return redirect("reporting:history", pk=self.installation.pk)

    def post(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(ZoneInfo(self.installation.time_zone)):  # the form's local times
            return super().post(request, *args, **kwargs)

    def form_valid(self, form: PriceForm) -> HttpResponse:
        try:
            period = services.schedule_price(
                self.installation,
                price_per_kwh=form.cleaned_data["price_per_kwh"],
                currency=form.cleaned_data["currency"],
                effective_from=form.cleaned_data["effective_from"],
                user=self.request.user,  # type: ignore[arg-type]
            )
        except services.PriceError as error:
            form.add_error(None, error)
            return self.form_invalid(form)
        local = timezone.localtime(period.effective_from, ZoneInfo(self.installation.time_zone))
        messages.success(
            self.request,
            f"{period.price_per_kwh.normalize():f} {period.currency} per kWh from {local:%d %b %Y %H:%M}.",
        )
        return redirect("reporting:history", pk=self.installation.pk)


class PriceCancelView(InstallationPageMixin, View):
    """Cancel a scheduled price that has not begun (POST)."""

    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER

    def post(self, request: Any, pk: int, period_pk: int) -> HttpResponse:
        period = get_object_or_404(
            self.restricted(PricePeriod).filter(installation=self.installation), pk=period_pk
        )
        try:
            services.cancel_price(period)
        except services.PriceError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "The scheduled price was cancelled.")
        return redirect("reporting:history", pk=self.installation.pk)
