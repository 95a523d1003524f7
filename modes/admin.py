from django.contrib import admin

from modes.models import ChargerMode, ChargingWindow, SessionPlan, SurplusSettings, SurplusState


@admin.register(ChargerMode)
class ChargerModeAdmin(admin.ModelAdmin):
    list_display = ["charger", "mode", "updated_at"]
    list_filter = ["mode"]
    raw_id_fields = ["charger", "updated_by"]


@admin.register(SessionPlan)
class SessionPlanAdmin(admin.ModelAdmin):
    list_display = ["id", "charger", "session", "mode", "departure_at", "status", "cap_a"]
    list_filter = ["mode", "status"]
    raw_id_fields = ["charger", "session", "set_by"]


@admin.register(ChargingWindow)
class ChargingWindowAdmin(admin.ModelAdmin):
    list_display = ["installation", "charger", "day_type", "start_time", "end_time"]
    list_filter = ["day_type"]
    raw_id_fields = ["installation", "charger"]


@admin.register(SurplusSettings)
class SurplusSettingsAdmin(admin.ModelAdmin):
    list_display = ["installation", "start_after_minutes", "stop_after_minutes", "surplus_a"]
    raw_id_fields = ["installation"]


@admin.register(SurplusState)
class SurplusStateAdmin(admin.ModelAdmin):
    list_display = ["charger", "active", "one_phase", "enough_since", "short_since"]
    raw_id_fields = ["charger", "session"]
