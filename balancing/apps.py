from django.apps import AppConfig


class BalancingConfig(AppConfig):
    """The Django side of balancing (decisions, the live loop). The engine itself imports no Django."""

    name = "balancing"
    verbose_name = "Load balancing"

    def ready(self) -> None:
        from balancing import signals  # noqa: F401  (connects the receivers)
