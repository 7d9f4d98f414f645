from django.urls import path
from rest_framework.routers import DefaultRouter

from leads import views

router = DefaultRouter()
router.include_root_view = False  # crm.api_urls serves the API root
router.register("leads", views.LeadViewSet, basename="lead")
router.register("offers", views.ContentOfferViewSet, basename="offer")
router.register("imports", views.ImportViewSet, basename="import")

urlpatterns = [
    path("capture/", views.CaptureView.as_view(), name="capture"),
    *router.urls,
]
