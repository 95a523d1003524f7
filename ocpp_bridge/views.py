"""Web pages of the OCPP side: send commands to a charger and follow them; refused connections."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.generic import DetailView, ListView

from chargers.models import Charger
from commands import reserved, routing
from commands.choices import CommandSource
from commands.models import Command
from installations.models import Installation
from installations.views import InstallationObjectMixin
from ocpp_bridge.forms import PAYLOAD_PRESETS, CommandForm
from ocpp_bridge.models import ConnectionAttempt
from portal.tenancy import Action
from portal.views import TenantMixin


class ChargerCommandsView(InstallationObjectMixin, DetailView):
    """Send an OCPP command to a charger you may operate, and see what it answered."""

    model = Charger
    required_action = Action.OPERATE
    template_name = "ocpp_bridge/commands.html"
    tab = "chargers"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["form"] = kwargs.get("form") or CommandForm()
        context["commands"] = (
            self.restricted(Command, Action.VIEW)
            .filter(charger=self.object)
            .select_related("requested_by")[:50]
        )
        context["presets"] = {str(action): payload for action, payload in PAYLOAD_PRESETS.items()}
        context["online"] = routing.node_of(self.object.ocpp_identity) is not None
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        form = CommandForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        try:
            command = reserved.send_manual(
                self.object,
                form.cleaned_data["action"],
                form.cleaned_data["payload"],
                user=request.user,  # type: ignore[arg-type]
                source=CommandSource.UI,
            )
        except reserved.CommandRefused as refused:
            form.add_error("payload", refused.reason)
            return self.render_to_response(self.get_context_data(form=form), status=400)
        if command.is_final:
            messages.error(request, f"{command.action} was not sent: {command.error}")
        else:
            messages.success(request, f"{command.action} sent to {self.object.name}.")
        return redirect("ocpp:commands", pk=self.object.pk)


class ConnectionAttemptListView(TenantMixin, ListView):
    """Chargers that tried to connect and were refused: claim unknown ones in one step."""

    model = ConnectionAttempt
    template_name = "ocpp_bridge/connection_attempts.html"
    paginate_by = 50

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["installations"] = self.restricted(Installation, Action.ADMINISTER)
        identities = [attempt.identity for attempt in context["object_list"]]
        known = dict(
            self.restricted(Charger, Action.ADMINISTER)
            .filter(ocpp_identity__in=identities)
            .values_list("ocpp_identity", "pk")
        )
        context["rows"] = [
            (attempt, known.get(attempt.identity)) for attempt in context["object_list"]
        ]
        return context
