from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = _("Pipeline")

    def ready(self) -> None:
        from crm import rollups
        from pipeline.rollups import (
            CLOSES,
            COLD_CALLS,
            FUNNEL,
            PIPELINE,
            PIPELINE_MONTHS,
            WON_OVER,
        )

        rollups.register("deal_closes", CLOSES)
        rollups.register("pipeline", PIPELINE)
        rollups.register("pipeline_months", PIPELINE_MONTHS)
        rollups.register("funnel", FUNNEL)
        rollups.register("cold_calls", COLD_CALLS)
        rollups.register("won_over", WON_OVER)
