"""Web pages of installations (placeholder: the full UI follows)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, ListView

from installations import services
from installations.models import Installation, Invitation
from portal.views import TenantMixin


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("installations:list")
    return redirect("account_login")


class InstallationListView(TenantMixin, ListView):
    model = Installation
    template_name = "installations/list.html"


class InstallationDetailView(TenantMixin, DetailView):
    model = Installation
    template_name = "installations/detail.html"


class InvitationView(View):
    """The link in an invitation e-mail: shows the invitation; a logged-in user accepts it."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = get_object_or_404(Invitation.objects.select_related("installation", "invited_by"), token=token)
        return render(request, "installations/invitation.html", {"invitation": invitation})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = get_object_or_404(Invitation, token=token)
        if not request.user.is_authenticated:
            return redirect(f"{LoginRequiredMixin().get_login_url()}?next={request.path}")
        try:
            membership = services.accept_invitation(invitation, request.user)  # type: ignore[arg-type]
        except services.MembershipError as error:
            messages.error(request, str(error))
            return redirect("invitation", token=token)
        messages.success(request, f"You joined {membership.installation.name} as {membership.get_role_display().lower()}.")
        return redirect("installations:detail", pk=membership.installation_id)
