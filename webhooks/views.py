"""Web pages of webhooks, in an installation's settings: the endpoints, one endpoint with its
delivery log, and the buttons (test, redeliver, rotate the secret, enable, disable, delete).

Owners and installers only (``Action.ADMINISTER`` through the tenancy gate: anyone else gets a
404). A new secret is shown once: it is handed from the POST that made it to the next page
through the session, then forgotten.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import FormView, View

from installations.views import InstallationObjectMixin, InstallationPageMixin
from portal.tenancy import Action
from webhooks import services
from webhooks.choices import DeliveryStatus
from webhooks.forms import DeliveryFilter, EndpointForm
from webhooks.models import Delivery, Endpoint

LOG_PAGE_SIZE = 50
SECRET_SESSION_KEY = "webhooks:new-secret:{pk}"


def _add_errors(form: EndpointForm, error: ValidationError) -> None:
    for name, messages_ in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages_)


def _remember_secret(request: HttpRequest, endpoint: Endpoint) -> None:
    request.session[SECRET_SESSION_KEY.format(pk=endpoint.pk)] = endpoint.secret


class EndpointListView(InstallationPageMixin, FormView):
    """An installation's webhook endpoints (their state and deliveries) and the form to add one."""

    template_name = "webhooks/list.html"
    form_class = EndpointForm
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    tab = "settings"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["endpoints"] = (
            self.restricted(Endpoint)
            .filter(installation=self.installation)
            .annotate(
                succeeded=Count(
                    "deliveries", filter=Q(deliveries__status=DeliveryStatus.SUCCEEDED)
                ),
                failing=Count(
                    "deliveries",
                    filter=Q(
                        deliveries__status__in=[DeliveryStatus.FAILED, DeliveryStatus.GAVE_UP]
                    ),
                ),
                waiting=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
            )
            .order_by("id")
        )
        return context

    def form_valid(self, form: EndpointForm) -> HttpResponse:
        try:
            endpoint = services.create_endpoint(
                self.installation,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
                user=self.request.user,  # type: ignore[arg-type]
            )
        except ValidationError as error:
            _add_errors(form, error)
            return self.form_invalid(form)
        _remember_secret(self.request, endpoint)
        messages.success(self.request, "The endpoint was added. Copy its secret now.")
        return redirect("webhooks:detail", pk=endpoint.pk)


class EndpointMixin(InstallationObjectMixin):
    """A page or button of one endpoint, found through the gate (another tenant's: 404)."""

    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    tab = "settings"

    @cached_property
    def object(self) -> Endpoint:
        endpoints = self.restricted(Endpoint).select_related("installation")
        return get_object_or_404(endpoints, pk=self.kwargs["pk"])


class EndpointDetailView(EndpointMixin, FormView):
    """One endpoint: its settings, the secret once after it was made, the delivery log."""

    template_name = "webhooks/detail.html"
    form_class = EndpointForm

    def get_initial(self) -> dict[str, Any]:
        endpoint = self.object
        return {
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": endpoint.event_types,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        log = self.restricted(Delivery).filter(endpoint=self.object)
        filter_form = DeliveryFilter(params)
        status = filter_form.cleaned_data["status"] if filter_form.is_valid() else ""
        if status:
            log = log.filter(status=status)
        before = params.get("before", "")
        if before.isdigit():
            log = log.filter(pk__lt=int(before))
        page = list(log.order_by("-id")[: LOG_PAGE_SIZE + 1])
        status_query = f"status={status}&" if status else ""
        context.update(
            endpoint=self.object,
            new_secret=self.request.session.pop(SECRET_SESSION_KEY.format(pk=self.object.pk), ""),
            deliveries=page[:LOG_PAGE_SIZE],
            filter_form=filter_form,
            older_url=(
                f"?{status_query}before={page[LOG_PAGE_SIZE - 1].pk}"
                if len(page) > LOG_PAGE_SIZE
                else None
            ),
            crumb="Webhooks",
        )
        return context

    def form_valid(self, form: EndpointForm) -> HttpResponse:
        endpoint = self.object
        endpoint.url = form.cleaned_data["url"]
        endpoint.description = form.cleaned_data["description"]
        endpoint.event_types = sorted(form.cleaned_data["event_types"])
        try:
            endpoint.full_clean()
        except ValidationError as error:
            _add_errors(form, error)
            return self.form_invalid(form)
        endpoint.save(update_fields=["url", "description", "event_types"])
        messages.success(self.request, "The endpoint was saved.")
        return redirect("webhooks:detail", pk=endpoint.pk)


class EndpointActionView(EndpointMixin, View):
    """The buttons of an endpoint's page (POST): test, rotate, enable, disable, delete,
    redeliver one delivery."""

    http_method_names = ["post"]
    act: ClassVar[str] = ""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        endpoint = self.object
        back = redirect("webhooks:detail", pk=endpoint.pk)
        if self.act == "test":
            delivery = services.send_test(endpoint)
            self._tell(delivery, "The test message")
        elif self.act == "redeliver":
            log = self.restricted(Delivery).filter(endpoint=endpoint)
            delivery = get_object_or_404(log, pk=self.kwargs["delivery_id"])
            self._tell(services.redeliver(delivery), f"Delivery {delivery.message_id}")
        elif self.act == "rotate":
            services.rotate_secret(endpoint)
            _remember_secret(request, endpoint)
            messages.success(request, "A new secret was made; the old one no longer signs.")
        elif self.act in ("enable", "disable"):
            services.set_enabled(endpoint, self.act == "enable", request.user)  # type: ignore[arg-type]
            messages.success(request, f"The endpoint is {self.act}d.")
        elif self.act == "delete":
            endpoint.delete()
            messages.success(request, f"The endpoint {endpoint.url} was deleted.")
            return redirect(reverse("webhooks:list", args=[endpoint.installation_id]))
        return back

    def _tell(self, delivery: Delivery, what: str) -> None:
        if delivery.status == DeliveryStatus.SUCCEEDED:
            messages.success(
                self.request,
                f"{what} was delivered: HTTP {delivery.response_code} in"
                f" {delivery.duration_ms:.0f} ms.",
            )
        elif delivery.status == DeliveryStatus.PENDING:
            messages.info(self.request, f"{what} waits for the sender (a send is under way).")
        else:
            messages.error(self.request, f"{what} failed: {delivery.last_error}.")
