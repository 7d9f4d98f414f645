from django.urls import path

from leads import pages

app_name = "offers"
urlpatterns = [path("<slug:slug>/", pages.offer_page, name="offer")]
