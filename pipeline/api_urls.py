from django.urls import path
from rest_framework.routers import DefaultRouter

from pipeline import api_views

router = DefaultRouter()
router.register("deals", api_views.DealViewSet, basename="deal")
router.register("activities", api_views.ActivityViewSet, basename="activity")

urlpatterns = [
    path(
        "leads/<int:pk>/convert/",
        api_views.LeadConvertView.as_view(),
        name="lead-convert",
    ),
    *router.urls,
]
