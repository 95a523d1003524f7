"""Web pages of chargers: detail, registration, settings, removal and OCPP password rotation.

A charger's OCPP password exists in clear only in the response to the request that generated it
(registration or rotation): it is rendered into that page, never redirected, stored or put in the
session, and the page is marked ``no-store`` so the browser does not cache it either.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import CreateView, DeleteView, DetailView, UpdateView
from django.views.generic.detail import SingleObjectMixin

from chargers import services
from chargers.forms import ChargerForm, ChargerRegisterForm
from chargers.models import Charger, Connector
from commands.routing import live_states
from installations.models import Circuit
from installations.views import InstallationObjectMixin, InstallationPageMixin
from portal.tenancy import Action


def credentials_response(
    request: HttpRequest, context: dict[str, Any], charger: Charger, password: str
) -> HttpResponse:
    """The one page that shows a charger's OCPP password, uncached."""
    context.update(charger=charger, password=password, ocpp_url=services.ocpp_url(charger))
    response = render(request, "chargers/credentials.html", context)
    add_never_cache_headers(response)
    return response


class ChargerDetailView(InstallationObjectMixin, DetailView):
    """A charger: connection, connectors and settings. Drivers see the chargers they may use."""

    model = Charger
    template_name = "chargers/detail.html"
    tab = "chargers"

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        connectors = Prefetch("connectors", queryset=self.restricted(Connector))
        return (
            queryset.distinct()
            .select_related("installation", "circuit")
            .prefetch_related(connectors)
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.access.may_administer:
            context["ocpp_url"] = services.ocpp_url(self.object)
        context["live"] = live_states([self.object.pk])[self.object.pk]
        context["may_operate"] = (
            self.restricted(Charger, Action.OPERATE).filter(pk=self.object.pk).exists()
        )
        return context


class ChargerFormMixin:
    model = Charger
    required_action = Action.ADMINISTER
    template_name = "chargers/charger_form.html"
    tab = "chargers"

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()  # type: ignore[misc]
        kwargs["circuits"] = self.restricted(Circuit).filter(installation=self.installation)  # type: ignore[attr-defined]
        return kwargs


class ChargerRegisterView(ChargerFormMixin, InstallationPageMixin, CreateView):
    """Register a charger; the answer shows its OCPP URL, identity and password, once."""

    form_class = ChargerRegisterForm
    installation_action = Action.ADMINISTER
    installation_kwarg = "installation_pk"

    def get_initial(self) -> dict[str, Any]:
        # A charger that tried to connect is claimed with its identity filled in (?ocpp_identity=).
        return {"ocpp_identity": self.request.GET.get("ocpp_identity", "")}

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = Charger(installation=self.installation)
        return kwargs

    def form_valid(self, form: ChargerRegisterForm) -> HttpResponse:
        fields = {name: getattr(form.instance, name) for name in ChargerForm.Meta.fields}
        charger, password = services.register_charger(
            installation=self.installation,
            connector_count=form.cleaned_data["connector_count"],
            **fields,
        )
        context = self.get_context_data(form=form, registered=True)
        return credentials_response(self.request, context, charger, password)


class ChargerUpdateView(ChargerFormMixin, InstallationObjectMixin, UpdateView):
    form_class = ChargerForm

    def form_valid(self, form: ChargerForm) -> HttpResponse:
        messages.success(self.request, f"Charger {form.instance.name} was saved.")
        return super().form_valid(form)

    def get_success_url(self) -> str:
        return reverse("chargers:detail", args=[self.object.pk])


class ChargerDeleteView(InstallationObjectMixin, DeleteView):
    """Remove a charger; it can no longer connect (its identity becomes free again)."""

    model = Charger
    required_action = Action.ADMINISTER
    template_name = "chargers/charger_confirm_delete.html"
    tab = "chargers"

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, f"Charger {self.object.name} was removed.")
        return super().form_valid(form)

    def get_success_url(self) -> str:
        return reverse("installations:chargers", args=[self.installation.pk])


class ChargerRotatePasswordView(InstallationObjectMixin, SingleObjectMixin, View):
    """Generate a new OCPP password (the old one stops working) and show it once."""

    model = Charger
    required_action = Action.ADMINISTER
    http_method_names = ["post"]
    tab = "chargers"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        password = services.rotate_ocpp_password(self.object)
        context = self.get_context_data(object=self.object, rotated=True)
        return credentials_response(request, context, self.object, password)
