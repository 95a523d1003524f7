from django.apps import AppConfig


class PlanningConfig(AppConfig):
    """Capacity planning: what-if replays of an installation's history through the balancing
    engine, and a planner for new sites (docs/planning.md). No models: a report is computed."""

    name = "planning"
    verbose_name = "Planning"
