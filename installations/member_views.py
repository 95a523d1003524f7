"""Web pages of an installation's members and invitations, and the invitation link page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.generic import (
    FormView,
    TemplateView,
)
from django.views.generic.detail import SingleObjectMixin

from installations import services
from installations.choices import Role
from installations.forms import (
    InviteForm,
    MemberRoleForm,
)
from installations.models import Invitation, Membership
from portal.tenancy import Action

if TYPE_CHECKING:
    pass

from installations.views import InstallationObjectMixin, InstallationPageMixin

ROLE_ORDER = [Role.OWNER, Role.INSTALLER, Role.DRIVER]


@dataclass
class MemberRow:
    membership: Membership
    is_self: bool
    may_manage: bool


class MembersContextMixin(InstallationPageMixin):
    """Members with what the user may do to each, open invitations, and the invite form."""

    template_name = "installations/members.html"
    tab = "members"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        access = self.access
        memberships = (
            self.restricted(Membership, Action.VIEW)
            .filter(installation=self.installation)
            .select_related("user")
            .prefetch_related("charger_permissions__charger")
        )
        rows = [
            MemberRow(
                membership=membership,
                is_self=membership.user_id == self.request.user.pk,
                may_manage=Role(membership.role) in access.manageable_roles,
            )
            for membership in memberships
        ]
        rows.sort(
            key=lambda row: (ROLE_ORDER.index(Role(row.membership.role)), row.membership.user.email)
        )
        context["members"] = rows
        context["role_choices"] = [
            (r.value, r.label) for r in ROLE_ORDER if r in access.manageable_roles
        ]
        if access.may_administer:
            context["invitations"] = (
                self.restricted(Invitation, Action.ADMINISTER)
                .filter(installation=self.installation, accepted_at__isnull=True)
                .select_related("invited_by")
            )
            context.setdefault("form", InviteForm(roles=access.manageable_roles))
        return context


class InstallationMembersView(MembersContextMixin, TemplateView):
    """Owners and installers see everyone; a driver sees only their own membership (to leave)."""


class InviteView(MembersContextMixin, FormView):
    """Invite a person by e-mail with a role the inviting member may manage."""

    form_class = InviteForm
    installation_action = Action.ADMINISTER
    http_method_names = ["post"]

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["roles"] = self.access.manageable_roles
        return kwargs

    def form_valid(self, form: InviteForm) -> HttpResponse:
        try:
            invitation = services.invite(
                self.request.user,  # type: ignore[arg-type]
                self.installation,
                form.cleaned_data["email"],
                form.cleaned_data["role"],
            )
        except services.MembershipError as error:
            form.add_error("email", str(error))
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"An invitation to join as {invitation.get_role_display().lower()} was sent to {invitation.email}.",
        )
        return redirect("installations:members", pk=self.installation.pk)


class MembershipActionView(InstallationObjectMixin, SingleObjectMixin, View):
    """Base of the member buttons (POST only); the object comes through ``restrict``."""

    model = Membership
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        try:
            return self.act(self.object)
        except services.MembershipError as error:
            messages.error(request, str(error))
            return redirect("installations:members", pk=self.installation.pk)

    def act(self, membership: Membership) -> HttpResponse:
        raise NotImplementedError


class MembershipRoleView(MembershipActionView):
    """Change a member's role (services.change_role checks who may)."""

    required_action = Action.ADMINISTER

    def act(self, membership: Membership) -> HttpResponse:
        form = MemberRoleForm(self.request.POST)
        if not form.is_valid():
            raise services.MembershipError("Choose a valid role.")
        services.change_role(self.request.user, membership, form.cleaned_data["role"])  # type: ignore[arg-type]
        messages.success(
            self.request, f"{membership.user.email} is now {membership.get_role_display().lower()}."
        )
        return redirect("installations:members", pk=self.installation.pk)


class MembershipRemoveView(MembershipActionView):
    """Remove a member, or leave the installation (every member may see their own membership)."""

    required_action = Action.VIEW

    def act(self, membership: Membership) -> HttpResponse:
        services.remove_member(self.request.user, membership)  # type: ignore[arg-type]
        if membership.user_id == self.request.user.pk:
            messages.success(self.request, f"You left {self.installation.name}.")
            return redirect("installations:list")
        messages.success(self.request, f"{membership.user.email} was removed.")
        return redirect("installations:members", pk=self.installation.pk)


class InvitationRevokeView(MembershipActionView):
    """Revoke an open invitation (only for a role the member may manage)."""

    model = Invitation
    required_action = Action.ADMINISTER

    def get_queryset(self) -> QuerySet[Any]:
        return super().get_queryset().filter(accepted_at__isnull=True)

    def act(self, invitation: Invitation) -> HttpResponse:  # type: ignore[override]
        services.revoke_invitation(self.request.user, invitation)  # type: ignore[arg-type]
        messages.success(self.request, f"The invitation to {invitation.email} was revoked.")
        return redirect("installations:members", pk=self.installation.pk)


class InvitationView(View):
    """The link in an invitation e-mail: shows the invitation; a logged-in user accepts or
    declines it with a button (``answer``), never by merely opening the link or logging in.

    The token is the capability (no tenant scope applies): whoever holds the link may see the
    installation's name, the role and who invited them, and answer it while it is open.
    """

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = get_object_or_404(
            Invitation.objects.select_related("installation", "invited_by"), token=token
        )
        next_query = urlencode({"next": request.path})
        context = {
            "invitation": invitation,
            "login_url": f"{reverse('account_login')}?{next_query}",
            "signup_url": f"{reverse('account_signup')}?{next_query}",
            "is_member": request.user.is_authenticated
            and invitation.installation.memberships.filter(user=request.user).exists(),
        }
        return render(request, "installations/invitation.html", context)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = get_object_or_404(Invitation, token=token)
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
        answer = request.POST.get("answer", "accept")
        try:
            if answer == "decline":
                services.decline_invitation(invitation, request.user)  # type: ignore[arg-type]
            else:
                membership = services.accept_invitation(invitation, request.user)  # type: ignore[arg-type]
        except services.MembershipError as error:
            messages.error(request, str(error))
            return redirect("invitation", token=token)
        if answer == "decline":
            messages.success(
                request, f"You declined the invitation to {invitation.installation.name}."
            )
            return redirect("installations:list")
        messages.success(
            request,
            f"You joined {membership.installation.name} as {membership.get_role_display().lower()}.",
        )
        return redirect("installations:detail", pk=membership.installation_id)
