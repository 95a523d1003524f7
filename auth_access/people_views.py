"""The Access tab's "Who may charge" page: each member's right to charge (installation-wide or
on named chargers) and cards, 50 members a page in the order owners, installers, drivers, then by
name, searchable; the forms that grant rights and add or edit members' cards come back to the
member's page (``MemberPlaces``). Owners and installers only, through ``AccessPageMixin``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, Lower, NullIf
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from accounts.models import User
from auth_access import services
from auth_access.forms import (
    ChargingRightsForm,
    MemberCardForm,
    add_model_errors,
    start_of_day,
)
from auth_access.models import ChargeCard
from auth_access.tab_views import AccessPageMixin, ListFormMixin, page_params
from auth_access.views import CardEditMixin, CardRow, person
from chargers.models import Charger
from installations.choices import Role
from installations.models import Membership

if TYPE_CHECKING:
    pass

ROLE_ORDER = [Role.OWNER, Role.INSTALLER, Role.DRIVER]
PEOPLE_PER_PAGE = 50


@dataclass
class MemberAccess:
    """A member on the People page: their right to charge, their cards, the form to change it."""

    membership: Membership
    cards: list[CardRow] = field(default_factory=list)
    rights_form: ChargingRightsForm | None = None
    is_self: bool = False

    @property
    def named_chargers(self) -> list[str]:
        return sorted(p.charger.name for p in self.membership.charger_permissions.all())


class MemberPlaces(AccessPageMixin):
    """Where a member stands in the paged list of "Who may charge"."""

    def people(self, query: str = "") -> QuerySet[Membership]:
        """The members in the page's order: owners, installers, drivers, then by name (or e-mail,
        as ``person()`` shows them), case-insensitive; those matching ``query`` if one is given."""
        members = self.memberships().annotate(
            role_rank=Case(
                *(When(role=role, then=Value(rank)) for rank, role in enumerate(ROLE_ORDER)),
                default=Value(len(ROLE_ORDER)),
            ),
            shown_name=Lower(
                Coalesce(NullIf("user__name", Value("")), "user__email", output_field=CharField())
            ),
        )
        if query:
            members = members.filter(
                Q(user__name__icontains=query) | Q(user__email__icontains=query)
            )
        return members.order_by("role_rank", "shown_name", "pk")

    def place_of(self, membership: Membership) -> tuple[str, int]:
        """The search and page number that show ``membership``: the search the form was sent
        from (``q`` in its action) while the member matches it, else the list of all members."""
        query = self.search_query
        for search in [query, ""] if query else [""]:
            members = self.people(search)
            key = members.filter(pk=membership.pk).values("role_rank", "shown_name").first()
            if key:
                rank, name = key["role_rank"], key["shown_name"]
                before = members.filter(
                    Q(role_rank__lt=rank)
                    | Q(role_rank=rank, shown_name__lt=name)
                    | Q(role_rank=rank, shown_name=name, pk__lt=membership.pk)
                ).count()
                return search, before // PEOPLE_PER_PAGE + 1
        return "", 1

    def member_url(self, membership: Membership) -> str:
        """The page of the list that shows ``membership``, scrolled to it."""
        people_url = reverse("access:people", args=[self.installation.pk])
        params = page_params(*self.place_of(membership))
        return f"{people_url}{'?' if params else ''}{params}#member-{membership.pk}"


class PeopleView(MemberPlaces, TemplateView):
    """Who may charge (installation-wide or on named chargers) and the members' cards: 50 members
    a page (owners, installers, drivers; then by name), searchable by name or e-mail."""

    template_name = "auth_access/people.html"
    section = "people"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        chargers = self.chargers()
        # A form with errors is shown on the page of its member; otherwise the page asked for.
        bound: tuple[Membership, ChargingRightsForm] | None = kwargs.get("rights_form")
        if bound:
            query, number = self.place_of(bound[0])
        else:
            query, number = self.search_query, self.request.GET.get("page")
        members = self.people(query).prefetch_related("charger_permissions__charger")
        page = Paginator(members, PEOPLE_PER_PAGE).get_page(number)
        memberships: list[Membership] = list(page)
        now = timezone.now()
        cards: dict[int, list[CardRow]] = {}
        member_cards = self.restricted(ChargeCard).filter(  # registered here: members' own
            installation=self.installation, user_id__in=[m.user_id for m in memberships]
        )  # cards are theirs alone
        for card in member_cards.select_related("blocked_by"):
            cards.setdefault(card.user_id, []).append(CardRow(card, now))
        may_manage_drivers = Role.DRIVER in self.access.manageable_roles
        rows = []
        for membership in memberships:
            form = None
            if membership.role == Role.DRIVER and may_manage_drivers:
                is_bound = bound is not None and bound[0].pk == membership.pk
                form = bound[1] if bound and is_bound else rights_form(membership, chargers)
            rows.append(
                MemberAccess(
                    membership,
                    cards.get(membership.user_id, []),
                    form,
                    is_self=membership.user_id == self.request.user.pk,
                )
            )
        context.update(
            rows=rows,
            page_obj=page,
            query=query,
            page_params=page_params(query, page.number),
            chargers=chargers,
            card_form=kwargs.get("card_form") or MemberCardForm(members=self.member_users()),
        )
        return context


def rights_form(
    membership: Membership, chargers: list[Charger], data: Any = None
) -> ChargingRightsForm:
    everywhere = membership.may_charge_everywhere
    initial = {
        "scope": ChargingRightsForm.EVERYWHERE if everywhere else ChargingRightsForm.NAMED,
        "chargers": [str(p.charger_id) for p in membership.charger_permissions.all()],
    }
    return ChargingRightsForm(data, initial=initial, prefix=f"m{membership.pk}", chargers=chargers)


class PeopleFormView(ListFormMixin, PeopleView):
    """A form of the People page."""

    list_url_name = "access:people"


class ChargingRightsView(PeopleFormView):
    """Grant or revoke a driver's right to charge: everywhere here, or on the chargers ticked."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = get_object_or_404(self.memberships(), pk=kwargs["membership_pk"])
        if membership.role != Role.DRIVER:
            messages.error(request, "Owners and installers may charge on every charger here.")
            return redirect("access:people", pk=self.installation.pk)
        form = rights_form(membership, self.chargers(), request.POST)
        if not form.is_valid():
            context = self.get_context_data(rights_form=(membership, form))
            return self.render_to_response(context)
        actor: User = request.user  # type: ignore[assignment]
        everywhere = form.cleaned_data["scope"] == ChargingRightsForm.EVERYWHERE
        try:
            with transaction.atomic():
                services.set_installation_wide(actor, membership, everywhere)
                if not everywhere:
                    services.set_charger_permissions(actor, membership, form.chosen_chargers())
        except services.AccessError as error:
            messages.error(request, str(error))
            return redirect(self.member_url(membership))
        if everywhere:
            where = "every charger here"
        else:
            names = [charger.name for charger in form.chosen_chargers()]
            where = ", ".join(names) if names else "no charger here"
        messages.success(request, f"{person(membership.user)} may now charge on {where}.")
        return redirect(self.member_url(membership))


class MemberCardAddView(PeopleFormView):
    """Register a card at the installation for one of its members (owners and installers): it
    charges only here."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = MemberCardForm(request.POST, members=self.member_users())
        if form.is_valid():
            data = form.cleaned_data
            day = data["expires_on"]
            expires_at = start_of_day(day, self.installation.time_zone) if day else None
            try:
                card = services.add_card(
                    request.user,  # type: ignore[arg-type]
                    data["user"],
                    data["id_tag"],
                    installation=self.installation,
                    name=data["name"],
                    expires_at=expires_at,
                )
            except ValidationError as error:
                add_model_errors(form, error, aliases={"expires_at": "expires_on"})
            except services.AccessError as error:
                form.add_error("user", str(error))
            else:
                messages.success(
                    request, f"Card {card.id_tag} was added for {person(data['user'])}."
                )
                member = self.memberships().filter(user=data["user"]).first()
                if member is None:  # left the installation meanwhile
                    return redirect("access:people", pk=self.installation.pk)
                return redirect(self.member_url(member))
        # The page the form was sent from (its action carries ``page`` and ``q``).
        return self.render_to_response(self.get_context_data(card_form=form))


class MemberCardEditView(CardEditMixin, MemberPlaces, TemplateView):
    """Rename a member's card or change its expiry (dates in the installation's time zone)."""

    def card_queryset(self) -> QuerySet[ChargeCard]:
        return (
            self.restricted(ChargeCard)
            .filter(installation=self.installation)
            .select_related("user")
        )

    def time_zone(self) -> str | None:
        return self.installation.time_zone

    def done_url(self, card: ChargeCard) -> str:
        """The page of "Who may charge" that shows the card's holder."""
        member = self.memberships().filter(user_id=card.user_id).first()
        if member is None:  # left the installation meanwhile
            return reverse("access:people", args=[self.installation.pk])
        return self.member_url(member)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["back_url"] = self.done_url(context["card"])
        return context
