"""The account page's API tokens: list, make one (its key shown once), revoke."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from accounts import api_tokens
from accounts.forms import ApiTokenForm
from accounts.models import ApiToken
from installations.models import Installation
from portal.tenancy import Action

# The key of a token just made, kept in the session until the page shows it (once).
NEW_KEY = "api_token_new_key"


class ApiTokensView(LoginRequiredMixin, View):
    template_name = "account/api_tokens.html"

    def _installations(self, request: HttpRequest) -> Any:
        return Installation.objects.restrict(request.user, Action.VIEW).order_by("name")

    def _page(self, request: HttpRequest, form: ApiTokenForm, status: int = 200) -> HttpResponse:
        tokens = ApiToken.objects.restrict(request.user, Action.VIEW).prefetch_related(
            "installations"
        )
        context = {
            "tokens": tokens,
            "form": form,
            "new_key": request.session.pop(NEW_KEY, None),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, ApiTokenForm(installations=self._installations(request)))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ApiTokenForm(request.POST, installations=self._installations(request))
        if form.is_valid():
            try:
                token, key = api_tokens.create_token(
                    request.user,  # type: ignore[arg-type]
                    form.cleaned_data["name"],
                    expires_at=form.expires_at(),
                    read_only=form.cleaned_data["read_only"],
                    installations=form.cleaned_data["installations"],
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                request.session[NEW_KEY] = key
                messages.success(request, f"Token “{token.name}” made. Copy its key now.")
                return redirect("api_tokens")
        return self._page(request, form, status=400)


class RevokeApiTokenView(LoginRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        token = get_object_or_404(ApiToken.objects.restrict(request.user, Action.ADMINISTER), pk=pk)
        token.delete()
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
        return redirect("api_tokens")
