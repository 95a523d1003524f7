"""Forms of the access-control pages.

The rules live in ``auth_access.services`` and the models: these forms only collect input. The
views call the services, and a ``ValidationError`` they raise (the models' ``clean()``) lands on
the form's field of the same name through ``add_model_errors``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from accounts.models import User
from auth_access.choices import AuthorizationStatus, RunningSessionPolicy
from auth_access.models import AccessPolicy, ChargeCard
from chargers.choices import ChargerAuthorizationMode
from chargers.models import Charger
from installations.choices import AuthorizationMode
from installations.forms import ModelErrorsMixin

ID_TAG_HELP = (
    "The number the charger reads from the card (its RFID idTag): up to 20 letters, digits or "
    "signs, no spaces. Not sure? Show the card at a charger: it appears under Seen cards."
)


def add_model_errors(
    form: forms.Form, error: ValidationError, aliases: dict[str, str] | None = None
) -> None:
    """Put a service's ValidationError on the form's fields (``aliases``: model field -> form
    field); errors of fields the form does not show go above it."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.error_dict.items():
        name = (aliases or {}).get(name, name)
        form.add_error(name if name in form.fields else NON_FIELD_ERRORS, messages)


def start_of_day(day: date, time_zone: str) -> datetime:
    """00:00 of ``day`` in ``time_zone`` (an installation's), as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(time_zone))


class CardForm(forms.Form):
    """A driver adds a card of their own."""

    id_tag = forms.CharField(label="Card number (idTag)", max_length=20, help_text=ID_TAG_HELP)
    name = forms.CharField(
        max_length=60,
        required=False,
        help_text="So you can tell your cards apart, e.g. “Blue key fob”.",
    )


def expires_on_field() -> forms.DateField:
    return forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="From 00:00 on this day (installation time) the card is refused. Empty: never.",
    )


class MemberCardForm(CardForm):
    """An owner or installer adds a card for a member of the installation."""

    field_order = ["user", "id_tag", "name", "expires_on"]

    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Member")
    expires_on = expires_on_field()

    def __init__(self, *args: Any, members: Iterable[User] | Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = members  # type: ignore[attr-defined]
        self.fields["user"].label_from_instance = _person  # type: ignore[attr-defined]
        self.fields["user"].empty_label = "Choose a member…"  # type: ignore[attr-defined]


class CardEditForm(forms.Form):
    """Rename a card; managers of its holder may also change the expiry."""

    name = forms.CharField(max_length=60, required=False)
    expires_on = expires_on_field()

    def __init__(self, *args: Any, may_set_expiry: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_set_expiry:
            del self.fields["expires_on"]


class AssignSeenCardForm(forms.Form):
    """One step: this unknown card becomes a member's card."""

    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Member")
    name = forms.CharField(
        max_length=60, required=False, label="Card name", help_text="E.g. “Van 3”."
    )

    def __init__(self, *args: Any, members: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = members  # type: ignore[attr-defined]
        self.fields["user"].label_from_instance = _person  # type: ignore[attr-defined]
        self.fields["user"].empty_label = "Choose a member…"  # type: ignore[attr-defined]


def _person(user: User) -> str:
    return f"{user.name} ({user.email})" if user.name else user.email


class ChargingRightsForm(forms.Form):
    """A driver's right to charge: the whole installation, or the chargers ticked."""

    EVERYWHERE, NAMED = "everywhere", "named"

    scope = forms.ChoiceField(
        label="May charge on",
        choices=[(EVERYWHERE, "Every charger here"), (NAMED, "Only the chargers ticked")],
        widget=forms.RadioSelect,
    )
    chargers = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Chargers"
    )

    def __init__(self, *args: Any, chargers: Iterable[Charger], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.charger_objects = {str(charger.pk): charger for charger in chargers}
        self.fields["chargers"].choices = [  # type: ignore[attr-defined]
            (pk, charger.name) for pk, charger in self.charger_objects.items()
        ]

    def chosen_chargers(self) -> list[Charger]:
        return [self.charger_objects[pk] for pk in self.cleaned_data["chargers"]]


class AccessRulesForm(forms.Form):
    """Authorization mode of the installation and of each charger, and running sessions on
    revocation."""

    authorization_mode = forms.ChoiceField(
        label="Installation", choices=AuthorizationMode.choices, widget=forms.RadioSelect
    )
    running_session_policy = forms.ChoiceField(
        label="When someone loses the right to charge while charging",
        choices=RunningSessionPolicy.choices,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, chargers: Iterable[Charger], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chargers = list(chargers)
        for charger in self.chargers:
            self.fields[self.charger_field(charger)] = forms.ChoiceField(
                label=charger.name,
                choices=ChargerAuthorizationMode.choices,
                initial=charger.authorization_mode,
            )

    @staticmethod
    def charger_field(charger: Charger) -> str:
        return f"charger_{charger.pk}"

    def charger_fields(self) -> list[forms.BoundField]:
        return [self[self.charger_field(charger)] for charger in self.chargers]

    def charger_modes(self) -> dict[Charger, str]:
        return {
            charger: self.cleaned_data[self.charger_field(charger)] for charger in self.chargers
        }


class ExternalAuthorizerForm(ModelErrorsMixin, forms.ModelForm):
    """The external authorizer of an installation. The secret is write-only: left empty, the
    stored one stays; "remove" clears it."""

    external_url = forms.URLField(
        label="Webhook URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="Where Fusebox POSTs each question, e.g. https://auth.example.com/fusebox.",
    )
    remove_secret = forms.BooleanField(required=False, label="Remove the stored secret")

    class Meta:
        model = AccessPolicy
        fields = [
            "external_enabled",
            "external_url",
            "external_secret",
            "external_deadline_ms",
            "external_fallback",
            "external_require_signed_reply",
        ]
        labels = {
            "external_enabled": "Ask the external authorizer",
            "external_deadline_ms": "Deadline (ms)",
            "external_fallback": "When it does not answer in time",
            "external_require_signed_reply": "Require signed answers",
        }
        help_texts = {
            "external_deadline_ms": (
                "How long a charger waits for the answer, 100 to 10000 ms. Chargers give up after a "
                "few seconds, so keep it short; 2000 is a good start."
            ),
            "external_require_signed_reply": (
                "Treat an answer without a valid X-Fusebox-Signature as a failure (the fallback "
                "decides)."
            ),
        }
        widgets = {
            "external_secret": forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "new-password"}
            ),
            "external_fallback": forms.RadioSelect,
        }

    field_order = [
        "external_enabled",
        "external_url",
        "external_secret",
        "remove_secret",
        "external_deadline_ms",
        "external_fallback",
        "external_require_signed_reply",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secret_is_set = bool(self.instance.external_secret)
        secret = self.fields["external_secret"]
        secret.required = False
        secret.label = "Replace the shared secret" if self.secret_is_set else "Shared secret"
        secret.help_text = (
            "Set: type a new one to replace it, or leave empty to keep it. It is never shown."
            if self.secret_is_set
            else "At least 16 characters; your receiver uses it to check our signatures."
        )
        if not self.secret_is_set:
            del self.fields["remove_secret"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("remove_secret"):
            cleaned["external_secret"] = ""
        elif not cleaned.get("external_secret"):
            cleaned["external_secret"] = self.initial.get("external_secret", "")  # keep it
        return cleaned


class AuthorizationLogFilter(forms.Form):
    """Filters of the authorization log (GET)."""

    charger = forms.ChoiceField(required=False)
    result = forms.ChoiceField(
        required=False, choices=[("", "All results"), *AuthorizationStatus.choices]
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, chargers: Iterable[Charger], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["charger"].choices = [  # type: ignore[attr-defined]
            ("", "All chargers"),
            *((str(charger.pk), charger.name) for charger in chargers),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", "The end is before the start.")
        return cleaned

    def time_range(self, time_zone: str) -> tuple[datetime | None, datetime | None]:
        """[since 00:00, the day after until 00:00) in the installation's time zone."""
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        return (
            start_of_day(since, time_zone) if since else None,
            start_of_day(until + timedelta(days=1), time_zone) if until else None,
        )


def card_expiry_initial(card: ChargeCard, time_zone: str) -> date | None:
    """The date shown in "Expires on" for a card's expiry."""
    if card.expires_at is None:
        return None
    return card.expires_at.astimezone(ZoneInfo(time_zone)).date()


class ReservationForm(forms.Form):
    """An owner or installer holds a connector of a charger for a driver, for a while."""

    connector_id = forms.TypedChoiceField(coerce=int, label="Connector")
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Driver")
    card = forms.ModelChoiceField(
        queryset=ChargeCard.objects.none(),
        required=False,
        label="Card",
        empty_label="Their app (they start from Fusebox)",
        help_text="Only this card (or their start from the app) starts charging there.",
    )
    minutes = forms.IntegerField(
        label="For (minutes)",
        initial=30,
        min_value=1,
        max_value=24 * 60,
        help_text="The charger holds the connector until then; at most 24 hours.",
    )

    def __init__(
        self,
        *args: Any,
        connector_ids: list[int],
        any_connector: bool,
        drivers: Any,
        cards: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = [(cid, f"Connector {cid}") for cid in connector_ids]
        if any_connector:
            choices.append((0, "Any connector"))
        self.fields["connector_id"].choices = choices  # type: ignore[attr-defined]
        self.fields["user"].queryset = drivers  # type: ignore[attr-defined]
        self.fields["user"].label_from_instance = _person  # type: ignore[attr-defined]
        self.fields["user"].empty_label = "Choose a driver…"  # type: ignore[attr-defined]
        self.fields["card"].queryset = cards  # type: ignore[attr-defined]
        self.fields["card"].label_from_instance = _card_of  # type: ignore[attr-defined]


def _card_of(card: ChargeCard) -> str:
    return f"{card.id_tag}{f' “{card.name}”' if card.name else ''} · {_person(card.user)}"
