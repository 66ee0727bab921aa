from django.urls import path

from apps.dashboard import job_views, views

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
    path("projects/<int:project_id>/jobs/", job_views.jobs, name="jobs"),
    path(
        "projects/<int:project_id>/jobs/<str:kind>/<int:job_id>/retry/",
        job_views.job_retry_view,
        name="job-retry",
    ),
    path(
        "projects/<int:project_id>/jobs/<str:kind>/<int:job_id>/cancel/",
        job_views.job_cancel_view,
        name="job-cancel",
    ),
]
