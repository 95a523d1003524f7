"""Workflows that span models: creating an installation, inviting and managing members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from installations.choices import MANAGEABLE_ROLES, Role
from installations.models import Circuit, Installation, Invitation, Membership

if TYPE_CHECKING:
    from accounts.models import User


class MembershipError(Exception):
    """A membership or invitation change that the rules do not allow; the message says why."""


@transaction.atomic
def create_installation(
    owner: User, *, main_fuse_a: float, main_fuse_name: str = "Main fuse", **fields: Any
) -> Installation:
    """Create an installation with its main fuse; the creator becomes its owner."""
    installation = Installation(**fields)
    installation.full_clean()
    installation.save()
    Circuit.objects.create(
        installation=installation, name=main_fuse_name, max_current_a=main_fuse_a
    )
    Membership.objects.create(user=owner, installation=installation, role=Role.OWNER)
    return installation


def check_may_manage(actor: User, installation: Installation, role: str) -> None:
    """Raise MembershipError unless ``actor`` may invite or manage a member with ``role`` here."""
    if actor.is_superuser:
        return
    actor_role = installation.role_of(actor)
    if actor_role is None or Role(role) not in MANAGEABLE_ROLES[actor_role]:
        raise MembershipError(
            f"You may not manage members with the role {Role(role).label.lower()} here."
        )


def invite(actor: User, installation: Installation, email: str, role: str) -> Invitation:
    """Invite ``email`` to ``installation`` with ``role`` and send the invitation e-mail."""
    check_may_manage(actor, installation, role)
    email = email.strip().lower()
    if installation.memberships.filter(user__email__iexact=email).exists():
        raise MembershipError(f"{email} is already a member of {installation.name}.")
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                installation=installation, email=email, role=role, invited_by=actor
            )
    except IntegrityError:
        raise MembershipError(
            f"{email} already has an open invitation to {installation.name}."
        ) from None
    transaction.on_commit(lambda: send_invitation_email(invitation))
    return invitation


def send_invitation_email(invitation: Invitation) -> None:
    url = settings.SITE_URL.rstrip("/") + reverse("invitation", args=[invitation.token])
    context = {"invitation": invitation, "url": url}
    send_mail(
        subject=f"[Fusebox] You are invited to {invitation.installation.name}",
        message=render_to_string("installations/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def accept_invitation(invitation: Invitation, user: User) -> Membership:
    """Turn an open invitation into a membership of ``user`` (an existing membership keeps the higher role)."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise MembershipError("This invitation has expired or has already been used.")
    membership, created = Membership.objects.get_or_create(
        user=user, installation=invitation.installation, defaults={"role": invitation.role}
    )
    rank = [Role.DRIVER, Role.INSTALLER, Role.OWNER]
    if not created and rank.index(Role(invitation.role)) > rank.index(Role(membership.role)):
        membership.role = invitation.role
        membership.save(update_fields=["role"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def revoke_invitation(actor: User, invitation: Invitation) -> None:
    """Withdraw an invitation; the same role rule as inviting (installers cannot touch owner invitations)."""
    check_may_manage(actor, invitation.installation, invitation.role)
    invitation.delete()


@transaction.atomic
def decline_invitation(invitation: Invitation, user: User) -> Invitation:
    """The invitee says no: the invitation stays on record as declined and can no longer be
    accepted (the installation may invite again)."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise MembershipError("This invitation has expired or has already been answered.")
    invitation.declined_at = timezone.now()
    invitation.save(update_fields=["declined_at"])
    return invitation


def pending_invitations(user: User) -> QuerySet[Invitation]:
    """Open invitations addressed to one of the user's verified e-mail addresses: shown to them
    to accept or decline. Logging in or verifying an address accepts nothing: an owner of any
    installation can invite any address, so joining is the invitee's decision alone."""
    from allauth.account.models import EmailAddress

    if not user.is_authenticated:
        return Invitation.objects.none()
    verified = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    return (
        Invitation.objects.filter(
            email__in=[email.lower() for email in verified],
            accepted_at__isnull=True,
            declined_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("installation", "invited_by")
        .order_by("-created_at", "id")
    )


def change_role(actor: User, membership: Membership, role: str) -> Membership:
    check_may_manage(actor, membership.installation, membership.role)
    check_may_manage(actor, membership.installation, role)
    _keep_an_owner(membership, new_role=role)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def remove_member(actor: User, membership: Membership) -> None:
    if membership.user_id != actor.pk:  # anyone may leave; removing others needs the right role
        check_may_manage(actor, membership.installation, membership.role)
    _keep_an_owner(membership, new_role=None)
    membership.delete()


def _keep_an_owner(membership: Membership, new_role: str | None) -> None:
    if membership.role == Role.OWNER and new_role != Role.OWNER:
        owners = membership.installation.memberships.filter(role=Role.OWNER).count()
        if owners <= 1:
            raise MembershipError("An installation must keep at least one owner.")


@transaction.atomic
def delete_installation(actor: User, installation: Installation) -> None:
    """Delete an installation and everything under it; only an owner (or staff) may."""
    if not actor.is_superuser and installation.role_of(actor) != Role.OWNER:
        raise MembershipError("Only an owner may delete an installation.")
    # Chargers protect their circuit (a circuit with chargers cannot be deleted on its own), so
    # remove them first; everything else cascades from the installation.
    installation.chargers.all().delete()
    installation.delete()
