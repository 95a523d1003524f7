from django.contrib import admin

from balancing.models import BalancingDecision, WatchEpisode


@admin.register(BalancingDecision)
class BalancingDecisionAdmin(admin.ModelAdmin):
    list_display = ["installation", "created_at", "trigger", "reason", "solve_ms", "commands_sent"]
    list_filter = ["trigger"]
    list_select_related = ["installation"]
    raw_id_fields = ["installation"]
    show_full_result_count = False


@admin.register(WatchEpisode)
class WatchEpisodeAdmin(admin.ModelAdmin):
    list_display = ["installation", "kind", "subject_id", "started_at", "reported_at"]
    list_filter = ["kind"]
    list_select_related = ["installation"]
    raw_id_fields = ["installation"]
