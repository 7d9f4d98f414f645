from django.urls import path

from pipeline import views

app_name = "pipeline"

urlpatterns = [
    path("", views.board, name="board"),
    path("deals/<int:pk>/move/", views.board_move, name="board-move"),
]
