from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = _("Metrics")

    def ready(self) -> None:
        # Cache keys, not domain rules: the dashboard's data version must see
        # in-place edits made by any app's services (metrics.data_version).
        from metrics import data_version

        data_version.connect()
