from django.contrib import admin

from installations.models import Circuit, Installation, Invitation, Membership


class CircuitInline(admin.TabularInline):
    model = Circuit
    extra = 0
    fk_name = "installation"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Installation)
class InstallationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "authorization_mode",
        "phases",
        "voltage_v",
        "failsafe_current_a",
        "created_at",
    ]
    list_filter = ["authorization_mode", "phases", "network_type"]
    search_fields = ["name", "address"]
    inlines = [CircuitInline, MembershipInline]


@admin.register(Circuit)
class CircuitAdmin(admin.ModelAdmin):
    list_display = ["name", "installation", "parent", "max_current_a"]
    list_select_related = ["installation", "parent"]
    search_fields = ["name", "installation__name"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "installation", "role", "may_charge_everywhere", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "installation"]
    search_fields = ["user__email", "installation__name"]
    autocomplete_fields = ["user", "installation"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "installation",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
    ]
    list_filter = ["role"]
    search_fields = ["email", "installation__name"]
    readonly_fields = ["token"]
