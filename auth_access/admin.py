from django.contrib import admin

from auth_access.models import ChargeCard, ChargerPermission


@admin.register(ChargerPermission)
class ChargerPermissionAdmin(admin.ModelAdmin):
    list_display = ["membership", "charger", "created_at"]
    list_select_related = ["membership__user", "charger"]
    search_fields = ["membership__user__email", "charger__name", "charger__ocpp_identity"]


@admin.register(ChargeCard)
class ChargeCardAdmin(admin.ModelAdmin):
    list_display = ["id_tag", "name", "user", "is_blocked", "expires_at", "created_at"]
    list_filter = ["is_blocked"]
    search_fields = ["id_tag", "name", "user__email"]
    raw_id_fields = ["user"]
