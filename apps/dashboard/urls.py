from django.urls import path

from apps.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("projects/<int:project_id>/dashboard/", views.overview, name="overview"),
    path("projects/<int:project_id>/dashboard/judgments/", views.judgments, name="judgments"),
    path("projects/<int:project_id>/dashboard/leaderboard/", views.leaderboard, name="leaderboard"),
    path("projects/<int:project_id>/dashboard/runs/compare/", views.compare_runs, name="compare"),
    path(
        "projects/<int:project_id>/dashboard/disagreements/",
        views.disagreements,
        name="disagreements",
    ),
]
