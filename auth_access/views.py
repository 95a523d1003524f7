"""Web pages of access control: "My cards" (every user), and the card buttons shared with the
Access tab (``auth_access.people_views``, ``auth_access.tab_views``).

Every page reaches its objects through ``TenantMixin`` (``Model.objects.restrict(user, action)``),
so another user's card is a 404 like a missing one. Who may do what beyond that (blocking,
unblocking, removing) is decided by ``auth_access.services``; their ``AccessError`` is shown as a
message, their ``ValidationError`` (the models' ``clean()``) on the form field it names.

Starting and stopping charging from the portal is ``auth_access.charging_views``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView
from django.views.generic.detail import SingleObjectMixin

from accounts.models import User
from auth_access import services
from auth_access.forms import (
    CardEditForm,
    CardForm,
    add_model_errors,
    card_expiry_initial,
    start_of_day,
)
from auth_access.models import ChargeCard
from portal.tenancy import Action
from portal.views import TenantMixin

if TYPE_CHECKING:
    from datetime import datetime


def next_url(request: HttpRequest, default: str) -> str:
    """The ``next`` field of a form when it points into this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def person(user: User) -> str:
    return user.name or user.email


@dataclass
class CardRow:
    """A card with what its list shows about it."""

    card: ChargeCard
    now: datetime

    @property
    def state(self) -> str:
        if self.card.is_blocked:
            return "blocked"
        return "active" if self.card.is_valid_at(self.now) else "expired"


# ---------- My cards ----------


class MyCardsView(TenantMixin, TemplateView):
    """The user's own cards: add, rename, block, unblock, remove. Everyone has this page."""

    template_name = "auth_access/cards.html"

    def my_cards(self) -> QuerySet[ChargeCard]:
        return (
            self.restricted(ChargeCard, Action.VIEW)
            .filter(user=self.request.user)
            .select_related("created_by", "blocked_by", "installation")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        context.update(
            nav_section="cards",
            rows=[CardRow(card, now) for card in self.my_cards()],
            form=kwargs.get("form") or CardForm(),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = CardForm(request.POST)
        if form.is_valid():
            user: User = request.user  # type: ignore[assignment]
            try:
                card = services.add_card(
                    user, user, form.cleaned_data["id_tag"], name=form.cleaned_data["name"]
                )
            except ValidationError as error:
                add_model_errors(form, error)
            except services.AccessError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Card {card.id_tag} was added. It works from now on.")
                return redirect("access:cards")
        return self.render_to_response(self.get_context_data(form=form))


class CardActionView(TenantMixin, SingleObjectMixin, View):
    """Base of the card buttons (POST only): the card comes through ``restrict``, the rule
    through the service; back to ``next`` (My cards by default)."""

    model = ChargeCard
    required_action = Action.ADMINISTER
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        card = self.get_object()
        try:
            message = self.act(card)
        except services.AccessError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, message)
        return redirect(next_url(request, reverse("access:cards")))

    def act(self, card: ChargeCard) -> str:
        raise NotImplementedError


class CardBlockView(CardActionView):
    def act(self, card: ChargeCard) -> str:
        services.update_card(self.request.user, card, {"is_blocked": True})  # type: ignore[arg-type]
        where = f"the chargers of {card.installation}" if card.installation else "every charger"
        return f"Card {card.id_tag} is blocked: {where} refuses it from its next use."


class CardUnblockView(CardActionView):
    def act(self, card: ChargeCard) -> str:
        services.update_card(self.request.user, card, {"is_blocked": False})  # type: ignore[arg-type]
        return f"Card {card.id_tag} is unblocked."


class CardDeleteView(CardActionView):
    def act(self, card: ChargeCard) -> str:
        services.delete_card(self.request.user, card)  # type: ignore[arg-type]
        return f"Card {card.id_tag} was removed."


class CardEditMixin:
    """Rename a card (and, from an installation's Access tab, change its expiry)."""

    template_name = "auth_access/card_form.html"
    request: HttpRequest

    def card_queryset(self) -> QuerySet[ChargeCard]:
        raise NotImplementedError

    def time_zone(self) -> str | None:
        """The installation time zone of the expiry date; None: the expiry is not editable."""
        return None

    def done_url(self, card: ChargeCard) -> str:
        """Where the page goes back to (after saving, and its Cancel)."""
        raise NotImplementedError

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        card = get_object_or_404(self.card_queryset(), pk=kwargs["card_pk"])
        time_zone = self.time_zone()
        initial = {"name": card.name}
        if time_zone:
            initial["expires_on"] = card_expiry_initial(card, time_zone)
        form = CardEditForm(initial=initial, may_set_expiry=bool(time_zone))
        return self.render_to_response(self.get_context_data(card=card, form=form))  # type: ignore[attr-defined]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        card = get_object_or_404(self.card_queryset(), pk=kwargs["card_pk"])
        time_zone = self.time_zone()
        form = CardEditForm(request.POST, may_set_expiry=bool(time_zone))
        if form.is_valid():
            changes: dict[str, Any] = {"name": form.cleaned_data["name"]}
            if time_zone:
                day = form.cleaned_data["expires_on"]
                changes["expires_at"] = start_of_day(day, time_zone) if day else None
            try:
                services.update_card(request.user, card, changes)  # type: ignore[arg-type]
            except ValidationError as error:
                add_model_errors(form, error, aliases={"expires_at": "expires_on"})
            except services.AccessError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Card {card.id_tag} was saved.")
                return redirect(self.done_url(card))
        return self.render_to_response(self.get_context_data(card=card, form=form))  # type: ignore[attr-defined]


class MyCardEditView(CardEditMixin, TenantMixin, TemplateView):
    """Rename one of your own cards."""

    def card_queryset(self) -> QuerySet[ChargeCard]:
        return self.restricted(ChargeCard, Action.ADMINISTER).filter(user=self.request.user)

    def done_url(self, card: ChargeCard) -> str:
        return reverse("access:cards")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(nav_section="cards", back_url=self.done_url(context["card"]))
        return context
