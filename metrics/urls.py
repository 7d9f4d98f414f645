from django.urls import path
from rest_framework.routers import SimpleRouter

from metrics import views

router = SimpleRouter()
router.register("metrics/targets", views.KpiTargetViewSet, basename="kpi-target")

urlpatterns = [
    path("metrics/kpis/", views.KpiReportView.as_view(), name="metrics-kpis"),
    path("metrics/funnel/", views.FunnelView.as_view(), name="metrics-funnel"),
    path("metrics/churn/", views.ChurnSeriesView.as_view(), name="metrics-churn"),
    *router.urls,
]
