from django.urls import path

from leads import pages

app_name = "offers"
urlpatterns = [
    path(
        "consent/<str:token>/",
        pages.consent_confirm_page,
        name="consent-confirm",
    ),
    path("<slug:slug>/", pages.offer_page, name="offer"),
    path("<slug:slug>/thanks/", pages.offer_thanks_page, name="offer-thanks"),
]
