"""The Upstream tab of an installation: its upstream settings, each charger's override and
status, and "Test connection".

Owners and installers only (``Action.ADMINISTER`` through the tenancy gate: anyone else, drivers
included, gets a 404). The password is write-only: never rendered; empty on edit keeps it.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import FormView, View

from chargers.models import Charger
from installations.views import InstallationObjectMixin, InstallationPageMixin
from portal.tenancy import Action
from upstream import services
from upstream.forms import OverrideForm, UpstreamSettingsForm
from upstream.models import UpstreamSettings, effective_settings
from upstream.probe import probe_connection


def _add_errors(form: UpstreamSettingsForm, error: ValidationError) -> None:
    for name, messages_ in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages_)


def _save(view: FormView, form: UpstreamSettingsForm) -> bool:
    try:
        services.save_settings(form.instance, password=form.cleaned_data.get("password") or None)
    except ValidationError as error:
        _add_errors(form, error)
        return False
    messages.success(view.request, "The upstream settings were saved; the bridge applies them now.")
    return True


class UpstreamView(InstallationPageMixin, FormView):
    """The installation's upstream settings, the chargers' overrides and status."""

    template_name = "upstream/installation.html"
    form_class = UpstreamSettingsForm
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    tab = "upstream"

    @cached_property
    def chargers(self) -> Any:
        return (
            self.restricted(Charger)
            .filter(installation=self.installation)
            .select_related("installation")
            .order_by("name", "id")
        )

    @cached_property
    def settings_row(self) -> UpstreamSettings:
        row = (
            self.restricted(UpstreamSettings)
            .filter(installation=self.installation, charger__isnull=True)
            .first()
        )
        return row or UpstreamSettings(installation=self.installation)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "instance": self.settings_row}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        overrides = {
            row.charger_id: row
            for row in self.restricted(UpstreamSettings).filter(
                installation=self.installation, charger__isnull=False
            )
        }
        context.update(
            settings_row=self.settings_row,
            statuses=services.charger_statuses(self.chargers),
            overrides=overrides,
            override_form=OverrideForm(chargers=self.chargers.exclude(pk__in=list(overrides))),
            crumb="Upstream",
        )
        return context

    def form_valid(self, form: UpstreamSettingsForm) -> HttpResponse:
        if not _save(self, form):
            return self.form_invalid(form)
        return redirect("upstream:installation", pk=self.installation.pk)


class DeleteSettingsView(InstallationPageMixin, View):
    """Delete the installation's upstream settings (chargers' overrides stay)."""

    http_method_names = ["post"]
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rows = self.restricted(UpstreamSettings).filter(
            installation=self.installation, charger__isnull=True
        )
        row = get_object_or_404(rows)
        services.delete_settings(row)
        messages.success(request, "The installation's upstream settings were deleted.")
        return redirect("upstream:installation", pk=self.installation.pk)


class AddOverrideView(InstallationPageMixin, View):
    """Pick a charger to give settings of its own (its page opens, prefilled)."""

    http_method_names = ["post"]
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        chargers = self.restricted(Charger).filter(installation=self.installation)
        form = OverrideForm(request.POST, chargers=chargers)
        if not form.is_valid():
            messages.error(request, "Choose one of this installation's chargers.")
            return redirect("upstream:installation", pk=self.installation.pk)
        return redirect("upstream:charger", pk=form.cleaned_data["charger"].pk)


class ChargerMixin(InstallationObjectMixin):
    """A page or button of one charger's upstream settings (another tenant's charger: 404)."""

    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    tab = "upstream"

    @cached_property
    def object(self) -> Charger:
        chargers = self.restricted(Charger).select_related("installation")
        return get_object_or_404(chargers, pk=self.kwargs["pk"])

    @cached_property
    def override(self) -> UpstreamSettings | None:
        return self.restricted(UpstreamSettings).filter(charger=self.object).first()


class ChargerOverrideView(ChargerMixin, FormView):
    """One charger's override: its own settings, or "not bridged" (enabled off)."""

    template_name = "upstream/charger.html"
    form_class = UpstreamSettingsForm

    def get_form_kwargs(self) -> dict[str, Any]:
        row = self.override
        if row is None:  # a new override starts from the installation's settings
            base = (
                self.restricted(UpstreamSettings)
                .filter(installation=self.object.installation, charger__isnull=True)
                .first()
            )
            row = UpstreamSettings(installation=self.object.installation, charger=self.object)
            if base is not None:
                for field in UpstreamSettingsForm.Meta.fields:
                    if field != "password":
                        setattr(row, field, getattr(base, field))
                row.identity = ""
        return {**super().get_form_kwargs(), "instance": row}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        status = services.charger_statuses([self.object])[0]
        context.update(
            charger=self.object,
            override=self.override,
            status=status,
            status_list=[status],
            crumb="Upstream",
        )
        return context

    def form_valid(self, form: UpstreamSettingsForm) -> HttpResponse:
        if not _save(self, form):
            return self.form_invalid(form)
        return redirect("upstream:charger", pk=self.object.pk)


class ChargerActionView(ChargerMixin, View):
    """The buttons of a charger's upstream (POST): test the connection, delete the override."""

    http_method_names = ["post"]
    act: ClassVar[str] = ""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        charger = self.object
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("upstream:charger", args=[charger.pk])
        if self.act == "delete":
            if self.override is not None:
                services.delete_settings(self.override)
                messages.success(request, f"{charger.name} follows the installation's settings.")
            return redirect("upstream:installation", pk=charger.installation_id)
        row = effective_settings(charger)
        if row is None:
            messages.error(request, f"{charger.name} is not bridged: there is nothing to test.")
            return redirect(back)
        outcome = probe_connection(row, charger)
        report = (
            f"Test connection to {outcome.url}: {outcome.detail} ({outcome.duration_ms:.0f} ms)"
        )
        (messages.success if outcome.ok else messages.error)(request, report)
        return redirect(back)
