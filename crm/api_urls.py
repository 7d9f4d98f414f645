from django.urls import path
from rest_framework.routers import DefaultRouter

from crm import export_api, views

router = DefaultRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("companies", views.CompanyViewSet, basename="company")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")
router.register("webhooks", views.WebhookEndpointViewSet, basename="webhook")
router.register("exports", export_api.ExportViewSet, basename="export")

urlpatterns = [
    path("auth/token/", views.TokenLoginView.as_view(), name="token-login"),
    path("auth/logout/", views.TokenLogoutView.as_view(), name="token-logout"),
    path("users/me/", views.MeView.as_view(), name="user-me"),
    *router.urls,
]
