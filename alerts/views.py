"""Pages of e-mail alerts: the user's Alerts settings (one form per installation they belong
to) and the landing page of the signed unsubscribe link (GET asks, POST does; the one-click
POST of mail clients needs no login and no CSRF token: the signature is the proof)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from alerts import services, unsubscribe
from alerts.forms import SubscriptionForm
from alerts.models import Subscription
from chargers.models import Charger
from portal.tenancy import Action


def _form(request: HttpRequest, subscription: Subscription, data: Any = None) -> SubscriptionForm:
    chargers = (
        Charger.objects.restrict(request.user, Action.VIEW)
        .filter(installation_id=subscription.installation_id)
        .order_by("name")
    )
    return SubscriptionForm(
        data, instance=subscription, chargers=chargers, prefix=f"s{subscription.pk}"
    )


class AlertSettingsView(LoginRequiredMixin, View):
    """Account > E-mail alerts: a card per installation the user is a member of."""

    template_name = "alerts/settings.html"

    def _page(self, request: HttpRequest, bound: SubscriptionForm | None = None) -> HttpResponse:
        services.ensure_subscriptions(request.user)
        subscriptions = Subscription.objects.restrict(request.user, Action.VIEW).select_related(
            "installation"
        )
        forms = [
            bound if bound is not None and bound.instance.pk == sub.pk else _form(request, sub)
            for sub in subscriptions
        ]
        status = 400 if bound is not None else 200
        context = {
            "forms": forms,
            "address": services.verified_address(request.user.pk),  # type: ignore[arg-type]
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        pk = request.POST.get("subscription", "")  # not a number: not found, like another's
        subscription = get_object_or_404(
            Subscription.objects.restrict(request.user, Action.ADMINISTER),
            pk=int(pk) if pk.isdigit() else 0,
        )
        form = _form(request, subscription, request.POST)
        if not form.is_valid():
            return self._page(request, form)
        form.save()
        messages.success(request, f"Alerts of {subscription.installation.name} saved.")
        return redirect("alerts:settings")


@method_decorator(csrf_exempt, name="dispatch")
class UnsubscribeView(View):
    """``/alerts/unsubscribe/<token>/``: a confirm button (GET), unsubscribing (POST)."""

    template_name = "alerts/unsubscribe.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        wanted = unsubscribe.read_token(token)
        if wanted is None:
            return render(request, self.template_name, {"invalid": True}, status=400)
        context = {
            "installations": unsubscribe.installations_of(wanted),
            "everything": wanted.installation_id is None,
        }
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        wanted = unsubscribe.read_token(token)
        if wanted is None:
            return render(request, self.template_name, {"invalid": True}, status=400)
        installations = unsubscribe.installations_of(wanted)
        unsubscribe.apply(wanted)
        context = {
            "installations": installations,
            "done": True,
            "everything": wanted.installation_id is None,
        }
        return render(request, self.template_name, context)
