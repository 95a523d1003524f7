from django.contrib import admin

from auth_access.models import ChargerPermission


@admin.register(ChargerPermission)
class ChargerPermissionAdmin(admin.ModelAdmin):
    list_display = ["membership", "charger", "created_at"]
    list_select_related = ["membership__user", "charger"]
    search_fields = ["membership__user__email", "charger__name", "charger__ocpp_identity"]
