from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """The read side of charging: history, usage summaries, cost (price history) and exports.

    Sessions stay in ``chargers``; this app queries and renders them, and owns the price history.
    """

    name = "reporting"
    verbose_name = "Reporting"

    def ready(self) -> None:
        from reporting import signals  # noqa: F401  (connects the receivers)
